//! Token classes for highlighting: every non-blank piece of a recipe with the class the pest grammar gives it (key,
//! value, number, unit, string, comment, ...), read off the parse tree, so that an editor's highlighting grammar
//! (editors/vscode/syntaxes) can be checked against the parser instead of against someone's idea of it.

use super::ast::Span;
use super::errors::syntax_error;
use super::parser::{Rule, VstParser};
use crate::diagnostic::{Diagnostic, Kind};
use crate::source::FileId;
use pest::Parser as _;
use pest::iterators::Pair;
use std::ops::Range;

/// What a token is, as far as highlighting goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenClass {
    /// `# ...` to the end of the line.
    Comment,
    /// `use`, `data`, `axis`, `per`, and the words of report expectations (`above`, `by`, `within`, ...).
    Keyword,
    /// The key of an entry or of a named argument: `clips` in `clips: 2`, `schedule.lr`, `p` in `flip(p: 0.5)`.
    Key,
    /// A name used as a value: `moco`, `linear.top1`, `true`, `k400` in `data: k400`.
    Value,
    /// The kind of a block: `pretrain`, `evaluate`, `when`, `sweep`, `report`.
    Block,
    /// A block's word label: `linear` in `evaluate linear { ... }`.
    Label,
    /// The name of a call: `slow_r50(...)`, `exclude(...)`.
    Function,
    /// A name being declared: `k400` in `data k400 = ...`, `depth` in `axis depth: ...`.
    Name,
    /// A number with its count suffix (`240k`), or test views (`10x3`).
    Number,
    /// The unit after a number: `epochs`, `s`, `px`, `%`.
    Unit,
    /// `"text"`, quotes included.
    String,
    /// `=` and `..`.
    Operator,
    /// `:` `,` `(` `)` `[` `]` `{` `}`.
    Punctuation,
}

impl TokenClass {
    /// The lower-case name used in JSON dumps.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenClass::Comment => "comment",
            TokenClass::Keyword => "keyword",
            TokenClass::Key => "key",
            TokenClass::Value => "value",
            TokenClass::Block => "block",
            TokenClass::Label => "label",
            TokenClass::Function => "function",
            TokenClass::Name => "name",
            TokenClass::Number => "number",
            TokenClass::Unit => "unit",
            TokenClass::String => "string",
            TokenClass::Operator => "operator",
            TokenClass::Punctuation => "punctuation",
        }
    }
}

/// One token: a byte range of the text and its class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub range: Range<usize>,
    pub class: TokenClass,
}

/// Every non-blank piece of `text`, in order, with its class; a syntax error if `text` does not parse. Together the
/// tokens cover all of the text but its whitespace.
pub fn token_classes(text: &str, file: FileId) -> Result<Vec<Token>, Diagnostic> {
    let pairs = VstParser::parse(Rule::file, text).map_err(|e| syntax_error(text, file, e))?;
    let mut leaves = Vec::new();
    for pair in pairs {
        walk(pair, &mut leaves);
    }
    leaves.sort_by_key(|t| t.range.start);
    let mut tokens = Vec::with_capacity(leaves.len() * 2);
    let mut at = 0;
    for leaf in leaves {
        gap(text, file, at..leaf.range.start, &mut tokens)?;
        at = leaf.range.end;
        tokens.push(leaf);
    }
    gap(text, file, at..text.len(), &mut tokens)?;
    Ok(tokens)
}

fn push(out: &mut Vec<Token>, pair: &Pair<'_, Rule>, class: TokenClass) {
    let span = pair.as_span();
    if span.start() < span.end() {
        out.push(Token {
            range: span.start()..span.end(),
            class,
        });
    }
}

/// Collects the classified leaves under `pair`; what lies between them is punctuation (see [`gap`]).
fn walk(pair: Pair<'_, Rule>, out: &mut Vec<Token>) {
    match pair.as_rule() {
        Rule::COMMENT => push(out, &pair, TokenClass::Comment),
        Rule::string => push(out, &pair, TokenClass::String),
        Rule::cross => push(out, &pair, TokenClass::Number),
        Rule::number => number(pair, out),
        Rule::path | Rule::ident => push(out, &pair, TokenClass::Value),
        Rule::kw_use
        | Rule::kw_data
        | Rule::kw_axis
        | Rule::kw_per
        | Rule::kw_above
        | Rule::kw_by
        | Rule::kw_beyond
        | Rule::kw_spread
        | Rule::kw_within
        | Rule::kw_of
        | Rule::kw_paper
        | Rule::kw_at
        | Rule::kw_least => push(out, &pair, TokenClass::Keyword),
        Rule::entry => first_as(pair, TokenClass::Key, out),
        // `name: value` or a bare value: only a path followed by another child is a key.
        Rule::arg => {
            let named = pair
                .clone()
                .into_inner()
                .filter(|p| p.as_rule() != Rule::COMMENT)
                .count()
                == 2;
            if named {
                first_as(pair, TokenClass::Key, out);
            } else {
                children(pair, out);
            }
        }
        Rule::block => first_as(pair, TokenClass::Block, out),
        Rule::label => {
            for inner in pair.into_inner() {
                match inner.as_rule() {
                    Rule::ident => push(out, &inner, TokenClass::Label),
                    _ => walk(inner, out),
                }
            }
        }
        Rule::call | Rule::call_stmt => first_as(pair, TokenClass::Function, out),
        Rule::data_stmt | Rule::axis_stmt => {
            for inner in pair.into_inner() {
                match inner.as_rule() {
                    Rule::ident => push(out, &inner, TokenClass::Name),
                    _ => walk(inner, out),
                }
            }
        }
        _ => children(pair, out),
    }
}

fn children(pair: Pair<'_, Rule>, out: &mut Vec<Token>) {
    for inner in pair.into_inner() {
        walk(inner, out);
    }
}

/// The first child that is not a comment gets `class`; the others are walked.
fn first_as(pair: Pair<'_, Rule>, class: TokenClass, out: &mut Vec<Token>) {
    let mut first = true;
    for inner in pair.into_inner() {
        if first && inner.as_rule() != Rule::COMMENT {
            first = false;
            push(out, &inner, class);
        } else {
            walk(inner, out);
        }
    }
}

/// `35 epochs`: the literal and its count suffix are the number, the unit is a token of its own.
fn number(pair: Pair<'_, Rule>, out: &mut Vec<Token>) {
    let mut literal: Option<Range<usize>> = None;
    for inner in pair.into_inner() {
        let span = inner.as_span();
        match inner.as_rule() {
            Rule::unit => push(out, &inner, TokenClass::Unit),
            _ => {
                let start = literal.as_ref().map_or(span.start(), |r| r.start);
                literal = Some(start..span.end());
            }
        }
    }
    if let Some(range) = literal {
        out.push(Token {
            range,
            class: TokenClass::Number,
        });
    }
}

/// The text between two leaves: the grammar's literal punctuation and operators, and whitespace.
fn gap(
    text: &str,
    file: FileId,
    range: Range<usize>,
    out: &mut Vec<Token>,
) -> Result<(), Diagnostic> {
    let Some(slice) = text.get(range.clone()) else {
        return Err(unclassified(file, range));
    };
    let mut chars = slice.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let start = range.start + i;
        let (len, class) = match c {
            _ if c.is_whitespace() => continue,
            '.' if chars.peek().map(|&(_, n)| n) == Some('.') => {
                chars.next();
                (2, TokenClass::Operator)
            }
            '=' => (1, TokenClass::Operator),
            ':' | ',' | '(' | ')' | '[' | ']' | '{' | '}' => (1, TokenClass::Punctuation),
            _ => return Err(unclassified(file, start..start + c.len_utf8())),
        };
        out.push(Token {
            range: start..start + len,
            class,
        });
    }
    Ok(())
}

fn unclassified(file: FileId, range: Range<usize>) -> Diagnostic {
    Diagnostic::error(
        Kind::Internal,
        "internal error: text that the parse tree gives no token class",
    )
    .at(Span::new(file, range.start, range.end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(text: &str) -> Vec<(&str, &'static str)> {
        token_classes(text, FileId(0))
            .expect("parses")
            .into_iter()
            .map(|t| (&text[t.range], t.class.as_str()))
            .collect()
    }

    #[test]
    fn entries_blocks_calls_and_units() {
        let text = "evaluate linear { warmup: 8 epochs  backbone: r50(frames: 8) # c\n}";
        assert_eq!(
            classes(text),
            [
                ("evaluate", "block"),
                ("linear", "label"),
                ("{", "punctuation"),
                ("warmup", "key"),
                (":", "punctuation"),
                ("8", "number"),
                ("epochs", "unit"),
                ("backbone", "key"),
                (":", "punctuation"),
                ("r50", "function"),
                ("(", "punctuation"),
                ("frames", "key"),
                (":", "punctuation"),
                ("8", "number"),
                (")", "punctuation"),
                ("# c", "comment"),
                ("}", "punctuation"),
            ]
        );
    }

    #[test]
    fn declarations_ranges_and_phrases() {
        let text = "data d = f(\"x\", 1..2)\nsweep { axis a: [240k, 10x3] }\nr { e: [c 2 above 1 by 5, at least 4] }";
        let got = classes(text);
        for expected in [
            ("data", "keyword"),
            ("d", "name"),
            ("=", "operator"),
            ("f", "function"),
            ("\"x\"", "string"),
            ("..", "operator"),
            ("a", "name"),
            ("240k", "number"),
            ("10x3", "number"),
            ("c", "value"),
            ("above", "keyword"),
            ("least", "keyword"),
        ] {
            assert!(got.contains(&expected), "{expected:?} not in {got:?}");
        }
    }

    #[test]
    fn a_syntax_error_is_an_error() {
        assert!(token_classes("pretrain { clips: }", FileId(0)).is_err());
    }
}
