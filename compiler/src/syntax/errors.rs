//! Syntax errors: pest's failure turned into one message at the first token that cannot belong, saying what was
//! expected there, with a hint for the mistakes people make most.

use super::ast::Span;
use super::parser::{Rule, VstParser};
use crate::diagnostic::{Diagnostic, Kind};
use crate::source::FileId;
use pest::Parser as _;

pub(super) fn syntax_error(
    text: &str,
    file: FileId,
    error: pest::error::Error<Rule>,
) -> Diagnostic {
    let pos = match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let pos = pos.min(text.len());
    if let Some(d) = stray_word_before(text, file, pos) {
        return d;
    }
    let found = describe_found(text, pos);
    let mut expected: Vec<String> = Vec::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for rule in positives {
            if let Some(what) = describe_rule(*rule)
                && !expected.iter().any(|e| e == what)
            {
                expected.push(what.to_string());
            }
        }
    }
    // Literal tokens (`:`, `{`, ...) are only known with pest's detailed errors: reparse once to get them.
    for token in expected_literals(text) {
        if !expected.contains(&token) {
            expected.push(token);
        }
    }
    // "a value" covers numbers, strings, names and lists.
    if expected.iter().any(|e| e == "a value") {
        expected.retain(|e| {
            !matches!(
                e.as_str(),
                "a number" | "a string" | "a name" | "`[`" | "`key: value`"
            )
        });
    }
    let end = text[pos..]
        .chars()
        .next()
        .map(|c| pos + c.len_utf8())
        .unwrap_or(pos);
    let span = Span::new(file, pos, end);
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    let mut d = Diagnostic::error(Kind::Syntax, message).at(span);
    if text[pos..].starts_with('"') && !text[pos + 1..].lines().next().unwrap_or("").contains('"') {
        d = Diagnostic::error(Kind::UnterminatedString, "unterminated string")
            .label(span, "this string has no closing `\"` on its line");
    } else if let Some(hint) = hint_for(text, pos) {
        d = d.help(hint);
    }
    if text[pos..].trim().is_empty()
        && let Some(open) = unclosed_brace(text)
    {
        d = d.secondary(Span::new(file, open, open + 1), "this `{` is not closed");
    }
    d
}

/// The `{` that is most likely not closed, when some is not: as rustc does, the first block whose `}` is not
/// indented as the line that opened it (its `}` was meant for an outer block), else the last one left open.
fn unclosed_brace(text: &str) -> Option<usize> {
    let indent_at = |offset: usize| {
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        text[line_start..].len() - text[line_start..].trim_start_matches([' ', '\t']).len()
    };
    let line_of = |offset: usize| text[..offset].matches('\n').count();
    let mut open: Vec<usize> = Vec::new();
    let mut misaligned = None;
    let (mut in_string, mut in_comment, mut escaped) = (false, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if in_comment => in_comment = c != '\n',
            _ if in_string => {
                in_string = (escaped || c != '"') && c != '\n';
                escaped = c == '\\' && !escaped;
            }
            '#' => in_comment = true,
            '"' => in_string = true,
            '{' => open.push(i),
            '}' => {
                if let Some(start) = open.pop()
                    && misaligned.is_none()
                    && line_of(start) != line_of(i)
                    && indent_at(start) != indent_at(i)
                {
                    misaligned = Some(start);
                }
            }
            _ => {}
        }
    }
    let last_open = *open.last()?;
    Some(misaligned.unwrap_or(last_open))
}

fn expected_literals(text: &str) -> Vec<String> {
    // Never switched off again: the flag is process-wide, and switching it off could race with another thread's
    // reparse (it only costs time on parses that fail).
    pest::set_error_detail(true);
    let result = VstParser::parse(Rule::file, text);
    let Err(error) = result else {
        return Vec::new();
    };
    let Some(attempts) = error.parse_attempts() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for token in attempts.expected_tokens() {
        // Keywords and digits are covered by the rule names; keep the punctuation.
        let token = token.to_string();
        if STRUCTURAL.contains(&token.as_str()) {
            let t = format!("`{token}`");
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out.sort();
    out
}

/// Punctuation worth naming in "expected ..." (the rest is inside numbers and names).
const STRUCTURAL: &[&str] = &[":", "{", "}", "(", ")", "[", "]", ",", "="];

fn describe_rule(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of file",
        Rule::ident | Rule::label => "a name",
        Rule::path | Rule::entry => "`key: value`",
        Rule::string => "a string",
        Rule::number | Rule::num_lit | Rule::int => "a number",
        Rule::per
        | Rule::range
        | Rule::cross
        | Rule::call
        | Rule::list
        | Rule::above
        | Rule::within
        | Rule::at_least => "a value",
        Rule::block | Rule::use_stmt | Rule::data_stmt | Rule::axis_stmt | Rule::call_stmt => {
            "a statement"
        }
        Rule::args => "`(`",
        Rule::block_end => "`}`",
        Rule::kw_of => "`of`",
        Rule::kw_paper => "`paper`",
        Rule::kw_least => "`least`",
        Rule::kw_spread => "`spread`",
        _ => return None,
    })
}

fn describe_found(text: &str, pos: usize) -> String {
    let rest = &text[pos..];
    match rest.chars().next() {
        None => "end of file".to_string(),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                .collect();
            format!("`{word}`")
        }
        Some('\n') => "end of line".to_string(),
        Some(c) => format!("`{c}`"),
    }
}

/// A hint for the mistakes people make most.
fn hint_for(text: &str, pos: usize) -> Option<String> {
    let before = text[..pos].trim_end();
    let rest = &text[pos..];
    if rest.starts_with('=') {
        return Some("settings are written `key: value` (only `data NAME = ...` uses `=`)".into());
    }
    if before.ends_with(',') && rest.starts_with([')', ']']) {
        return None;
    }
    if rest.trim().is_empty() && text.matches('{').count() > text.matches('}').count() {
        return Some("a block opened with `{` is not closed".into());
    }
    // `2x` is the start of test views `10x3` that lost its second number.
    let word_start = before
        .trim_end_matches(|c: char| c.is_ascii_alphanumeric())
        .len();
    let word = &before[word_start..];
    if word.len() > 1
        && word.ends_with('x')
        && word[..word.len() - 1].chars().all(|c| c.is_ascii_digit())
    {
        return Some("test views are written `TEMPORALxSPATIAL`, e.g. `10x3`".into());
    }
    if text[..pos].ends_with(|c: char| c.is_ascii_digit())
        && rest.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Some(
            "a number may be followed only by a unit (`epochs`, `s`, `px`, `%`) or a count suffix (`k`, `M`)".into(),
        );
    }
    if rest.starts_with(|c: char| c.is_ascii_digit() || c == '"')
        && before.ends_with(|c: char| c.is_alphanumeric() || c == '_')
    {
        return Some("settings are written `key: value`".into());
    }
    if rest.starts_with('.') && !rest.starts_with("..") {
        return Some("write numbers with a leading digit (`0.5`), and ranges as `lo..hi`".into());
    }
    None
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// To pest newlines are whitespace, so a stray word at the end of a line (`lr: 0.1 per 256 videos`) reads as the
/// start of a block whose header goes on on the next line, and the parse fails there (at the `:` of
/// `weight_decay: 1e-4`). The mistake is the stray word: it is the culprit when the error is on the line after it
/// and the text parses past the error once the word is blanked out.
fn stray_word_before(text: &str, file: FileId, pos: usize) -> Option<Diagnostic> {
    let line_start = text[..pos].rfind('\n')? + 1;
    let head = text[line_start..pos].trim();
    if !head
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    {
        return None;
    }
    let previous = text[..line_start - 1].trim_end();
    let previous_line = &previous[previous.rfind('\n').map_or(0, |i| i + 1)..];
    if previous_line.contains('#') {
        return None;
    }
    let word_start = previous
        .trim_end_matches(|c: char| c.is_alphanumeric() || c == '_')
        .len();
    let word = &previous[word_start..];
    let before_word = previous[..word_start].trim_end();
    let starts_like_a_name = word.starts_with(|c: char| c.is_alphabetic() || c == '_');
    // A word alone on its line starts a statement (perhaps a block header split over lines): not a stray word.
    if !starts_like_a_name || previous_line.trim() == word {
        return None;
    }
    let mut blanked = text.to_string();
    blanked.replace_range(word_start..previous.len(), &" ".repeat(word.len()));
    let parses_further = match VstParser::parse(Rule::file, &blanked) {
        Ok(_) => true,
        Err(e) => match e.location {
            pest::error::InputLocation::Pos(p) | pest::error::InputLocation::Span((p, _)) => {
                p > pos
            }
        },
    };
    if !parses_further {
        return None;
    }
    let span = Span::new(file, word_start, previous.len());
    let mut d = Diagnostic::error(
        Kind::Syntax,
        format!("expected `,`, `}}` or the end of the line, found `{word}`"),
    )
    .label(span, "a statement ends with its value");
    if before_word.ends_with(|c: char| c.is_ascii_digit()) {
        d = d.help(
            "a number may be followed only by a unit (`epochs`, `s`, `px`, `%`) or a count suffix (`k`, `M`)",
        );
    }
    Some(d)
}
