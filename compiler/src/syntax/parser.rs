//! Text → [`ast::File`] with the pest grammar in `grammar/vst.pest`, keeping comments and blank lines.

use super::ast::*;
use super::errors::syntax_error;
use crate::diagnostic::{Diagnostic, Kind};
use crate::source::FileId;
use pest::Parser as _;
use pest::iterators::Pair;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/vst.pest"]
pub(super) struct VstParser;

/// Parses a whole file.
pub fn parse(text: &str, file: FileId) -> Result<File, Diagnostic> {
    let mut pairs = VstParser::parse(Rule::file, text).map_err(|e| syntax_error(text, file, e))?;
    let Some(root) = pairs.next() else {
        return Ok(File::default());
    };
    let builder = Builder { text, file };
    let (stmts, end_comments) = builder.body(root.into_inner().collect(), 0)?;
    Ok(File {
        stmts,
        end_comments,
    })
}

/// Parses a single value (used for the built-in defaults, which are written in the language).
pub fn parse_expr(text: &str, file: FileId) -> Result<Expr, Diagnostic> {
    let source = format!("x: {text}");
    let mut pairs =
        VstParser::parse(Rule::file, &source).map_err(|e| syntax_error(&source, file, e))?;
    let builder = Builder {
        text: &source,
        file,
    };
    let root = pairs
        .next()
        .ok_or_else(|| Diagnostic::error(Kind::Internal, "empty value"))?;
    for pair in root.into_inner() {
        if pair.as_rule() == Rule::entry {
            let mut inner = children(pair);
            inner.next();
            if let Some(value) = inner.next() {
                return builder.expr(value);
            }
        }
    }
    Err(Diagnostic::error(
        Kind::Internal,
        format!("`{text}` is not a single value"),
    ))
}

struct Builder<'a> {
    text: &'a str,
    file: FileId,
}

/// The pairs inside `pair`, without comments.
fn children(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| p.as_rule() != Rule::COMMENT)
}

fn comment_text(pair: &Pair<'_, Rule>) -> String {
    pair.as_str()
        .strip_prefix('#')
        .unwrap_or(pair.as_str())
        .trim_end()
        .to_string()
}

fn is_statement(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::use_stmt
            | Rule::data_stmt
            | Rule::axis_stmt
            | Rule::block
            | Rule::call_stmt
            | Rule::entry
    )
}

impl Builder<'_> {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    fn newlines_between(&self, from: usize, to: usize) -> usize {
        self.text
            .get(from..to)
            .map(|s| s.matches('\n').count())
            .unwrap_or(0)
    }

    /// A statement list (a file or a block body): statements with their comments attached, and the comments left
    /// over after the last statement. `start` is where the list begins (after `{`).
    fn body(
        &self,
        pairs: Vec<Pair<'_, Rule>>,
        start: usize,
    ) -> Result<(Vec<Stmt>, Vec<Comment>), Diagnostic> {
        let mut stmts: Vec<Stmt> = Vec::new();
        let mut pending: Vec<Comment> = Vec::new();
        let mut prev_end = start;
        for pair in pairs {
            let rule = pair.as_rule();
            let at = pair.as_span().start();
            // Nothing precedes the first comment or statement of a body, so no blank line either.
            let first = stmts.is_empty() && pending.is_empty();
            let blank_before = !first && self.newlines_between(prev_end, at) >= 2;
            if rule == Rule::COMMENT {
                let same_line = self.newlines_between(prev_end, at) == 0;
                match stmts.last_mut() {
                    Some(last) if pending.is_empty() && last.trailing.is_none() && same_line => {
                        last.trailing = Some(comment_text(&pair));
                    }
                    _ => pending.push(Comment {
                        text: comment_text(&pair),
                        blank_before,
                    }),
                }
                prev_end = pair.as_span().end();
            } else if is_statement(rule) {
                let span = self.span(&pair);
                let mut stmt = self.stmt(pair)?;
                let mut leading = std::mem::take(&mut pending);
                leading.append(&mut stmt.leading);
                stmt.leading = leading;
                stmt.blank_before = blank_before;
                prev_end = span.end as usize;
                stmts.push(stmt);
            }
        }
        Ok((stmts, pending))
    }

    fn stmt(&self, pair: Pair<'_, Rule>) -> Result<Stmt, Diagnostic> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        // Comments inside a statement's value (e.g. between list items) move above it.
        let inner_comments: Vec<Comment> = if rule == Rule::block {
            Vec::new()
        } else {
            pair.clone()
                .into_inner()
                .flatten()
                .filter(|p| p.as_rule() == Rule::COMMENT)
                .map(|p| Comment {
                    text: comment_text(&p),
                    blank_before: false,
                })
                .collect()
        };
        let kind = match rule {
            Rule::use_stmt => {
                let string = children(pair)
                    .find(|p| p.as_rule() == Rule::string)
                    .ok_or_else(|| internal(span))?;
                StmtKind::Use(self.string(string))
            }
            Rule::data_stmt | Rule::axis_stmt => {
                let mut it = children(pair)
                    .filter(|p| !matches!(p.as_rule(), Rule::kw_data | Rule::kw_axis));
                let name = self.ident(it.next().ok_or_else(|| internal(span))?);
                let value = self.expr(it.next().ok_or_else(|| internal(span))?)?;
                if rule == Rule::data_stmt {
                    StmtKind::Data { name, value }
                } else {
                    StmtKind::Axis { name, value }
                }
            }
            Rule::call_stmt => {
                let mut it = children(pair);
                let name = self.ident(it.next().ok_or_else(|| internal(span))?);
                let args = self.args(it.next().ok_or_else(|| internal(span))?)?;
                StmtKind::Call { name, args }
            }
            Rule::entry => {
                let mut it = children(pair);
                let key = self.path(it.next().ok_or_else(|| internal(span))?);
                let value = self.expr(it.next().ok_or_else(|| internal(span))?)?;
                StmtKind::Entry { key, value }
            }
            Rule::block => StmtKind::Block(self.block(pair)?),
            _ => return Err(internal(span)),
        };
        Ok(Stmt {
            leading: inner_comments,
            blank_before: false,
            trailing: None,
            kind,
            span,
        })
    }

    fn block(&self, pair: Pair<'_, Rule>) -> Result<Block, Diagnostic> {
        let span = self.span(&pair);
        let mut kind = None;
        let mut label = None;
        let mut args = None;
        let mut body_pairs = Vec::new();
        let mut header_end = span.start as usize;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident if kind.is_none() => {
                    header_end = p.as_span().end();
                    kind = Some(self.ident(p));
                }
                Rule::label if body_pairs.is_empty() => {
                    header_end = p.as_span().end();
                    let inner = children(p).next().ok_or_else(|| internal(span))?;
                    label = Some(match inner.as_rule() {
                        Rule::string => Label::Str(self.string(inner)),
                        _ => Label::Ident(self.ident(inner)),
                    });
                }
                Rule::args if body_pairs.is_empty() => {
                    header_end = p.as_span().end();
                    args = Some(self.args(p)?);
                }
                Rule::block_end => {}
                _ => body_pairs.push(p),
            }
        }
        let (body, end_comments) = self.body(body_pairs, header_end)?;
        Ok(Block {
            kind: kind.ok_or_else(|| internal(span))?,
            label,
            args,
            body,
            end_comments,
        })
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn path(&self, pair: Pair<'_, Rule>) -> Path {
        let span = self.span(&pair);
        Path {
            parts: children(pair).map(|p| self.ident(p)).collect(),
            span,
        }
    }

    fn string(&self, pair: Pair<'_, Rule>) -> StrLit {
        let span = self.span(&pair);
        let raw = children(pair).next().map(|p| p.as_str()).unwrap_or("");
        let mut value = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some(other) => value.push(other),
                    None => {}
                }
            } else {
                value.push(c);
            }
        }
        StrLit { value, span }
    }

    fn args(&self, pair: Pair<'_, Rule>) -> Result<Args, Diagnostic> {
        let span = self.span(&pair);
        let mut items = Vec::new();
        for arg in children(pair) {
            let arg_span = self.span(&arg);
            let mut name = None;
            let mut value = None;
            for p in children(arg) {
                if p.as_rule() == Rule::path
                    && name.is_none()
                    && value.is_none()
                    && arg_has_name(&p)
                {
                    name = Some(self.path(p));
                } else {
                    value = Some(self.expr(p)?);
                }
            }
            items.push(Arg {
                name,
                value: value.ok_or_else(|| internal(arg_span))?,
                span: arg_span,
            });
        }
        Ok(Args { items, span })
    }

    fn number(&self, pair: Pair<'_, Rule>) -> Number {
        let mut digits = String::new();
        let mut scale = None;
        let mut unit = None;
        for p in children(pair) {
            match p.as_rule() {
                Rule::num_lit => digits = p.as_str().to_string(),
                Rule::scale => {
                    scale = Some(if p.as_str() == "k" {
                        Scale::Thousand
                    } else {
                        Scale::Million
                    })
                }
                Rule::unit => {
                    unit = Some(match p.as_str() {
                        "epochs" | "epoch" => Unit::Epochs,
                        "px" => Unit::Pixels,
                        "%" => Unit::Percent,
                        _ => Unit::Seconds,
                    })
                }
                _ => {}
            }
        }
        Number {
            digits,
            scale,
            unit,
        }
    }

    fn boxed(&self, pair: Option<Pair<'_, Rule>>, span: Span) -> Result<Box<Expr>, Diagnostic> {
        Ok(Box::new(self.expr(pair.ok_or_else(|| internal(span))?)?))
    }

    fn expr(&self, pair: Pair<'_, Rule>) -> Result<Expr, Diagnostic> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::number => ExprKind::Number(self.number(pair)),
            Rule::string => ExprKind::Str(self.string(pair).value),
            Rule::path => ExprKind::Path(self.path(pair)),
            Rule::call => {
                let mut it = children(pair);
                let name = self.ident(it.next().ok_or_else(|| internal(span))?);
                let args = self.args(it.next().ok_or_else(|| internal(span))?)?;
                ExprKind::Call { name, args }
            }
            Rule::list => ExprKind::List(
                children(pair)
                    .map(|p| self.expr(p))
                    .collect::<Result<_, _>>()?,
            ),
            Rule::range => {
                let mut it = children(pair);
                ExprKind::Range(self.boxed(it.next(), span)?, self.boxed(it.next(), span)?)
            }
            Rule::per => {
                let mut it = children(pair).filter(|p| p.as_rule() != Rule::kw_per);
                ExprKind::Per(self.boxed(it.next(), span)?, self.boxed(it.next(), span)?)
            }
            Rule::cross => {
                let mut numbers = children(pair).map(|p| p.as_str().parse::<u64>());
                match (numbers.next(), numbers.next()) {
                    (Some(Ok(a)), Some(Ok(b))) => ExprKind::Cross(a, b),
                    _ => {
                        return Err(
                            Diagnostic::error(Kind::NumberTooLarge, "number too large").at(span)
                        );
                    }
                }
            }
            Rule::above => {
                let mut it =
                    children(pair).filter(|p| !matches!(p.as_rule(), Rule::kw_above | Rule::kw_by));
                let axis = self.path(it.next().ok_or_else(|| internal(span))?);
                let higher = self.boxed(it.next(), span)?;
                let lower = self.boxed(it.next(), span)?;
                let (by, spread) = match it.next() {
                    Some(p) if p.as_rule() == Rule::beyond_spread => (None, Some(self.span(&p))),
                    Some(p) => (Some(Box::new(self.expr(p)?)), None),
                    None => (None, None),
                };
                ExprKind::Above {
                    axis,
                    higher,
                    lower,
                    by,
                    spread,
                }
            }
            Rule::within => {
                let number = children(pair).find(|p| p.as_rule() == Rule::number);
                ExprKind::Within(self.boxed(number, span)?)
            }
            Rule::at_least => {
                let number = children(pair).find(|p| p.as_rule() == Rule::number);
                ExprKind::AtLeast(self.boxed(number, span)?)
            }
            _ => return Err(internal(span)),
        };
        Ok(Expr { kind, span })
    }
}

/// In `arg = { (path ~ ":")? ~ expr }` a path is the argument's name only when a `:` follows it.
fn arg_has_name(path: &Pair<'_, Rule>) -> bool {
    let rest = &path.get_input()[path.as_span().end()..];
    skip_space_and_comments(rest).starts_with(':')
}

fn skip_space_and_comments(mut s: &str) -> &str {
    loop {
        let trimmed = s.trim_start();
        if let Some(comment) = trimmed.strip_prefix('#') {
            s = comment.find('\n').map(|i| &comment[i..]).unwrap_or("");
        } else {
            return trimmed;
        }
    }
}

fn internal(span: Span) -> Diagnostic {
    Diagnostic::error(Kind::Internal, "internal error: unexpected parse tree").at(span)
}
