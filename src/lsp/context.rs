//! Where a position is in a recipe, read from the text itself (it is usually half-typed and does not parse): the
//! blocks around it and the line before it; and which setting a key written there names.

use super::documents::Document;
use vst_compiler::schema::{self, EvalKind, REPORT_KEYS, ReportKey, Scope, Setting};

/// An open block around a position: `pretrain`, `schedule`, `evaluate linear`, `sweep`, `when`, `report`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: String,
    /// The name after the kind (`evaluate NAME`), when it is a plain word.
    pub label: Option<String>,
}

/// The blocks open at byte `offset` of `text`, outermost first. Braces in strings and comments do not count.
pub fn blocks_at(text: &str, offset: usize) -> Vec<Block> {
    let mut stack = Vec::new();
    let mut header_start = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut in_comment = false;
    for (i, c) in text.char_indices() {
        if i >= offset {
            break;
        }
        if in_comment {
            if c == '\n' {
                in_comment = false;
                header_start = i + 1;
            }
            continue;
        }
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' | '\n' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '#' => in_comment = true,
            '\n' => header_start = i + 1,
            '{' => {
                stack.push(header(&text[header_start..i]));
                header_start = i + 1;
            }
            '}' => {
                stack.pop();
                header_start = i + 1;
            }
            _ => {}
        }
    }
    stack
}

fn header(text: &str) -> Block {
    let mut words = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    let kind = words.next().unwrap_or("").to_string();
    let rest = text.trim_start().get(kind.len()..).unwrap_or("").trim();
    let label = rest
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_')
        .then(|| rest.to_string())
        .filter(|l| !l.is_empty());
    Block { kind, label }
}

/// What a key written inside `blocks` names.
#[derive(Debug, Clone)]
pub enum Key {
    /// A setting: its scope, its schema entry and the name `vst explain` knows it by.
    Setting {
        setting: &'static Setting,
        slot: String,
    },
    Report(&'static ReportKey),
}

/// The setting prefix (`schedule.`, `evaluate.linear.`) and scope the blocks put a key in; None where keys are not
/// settings (a report).
pub fn scope_of(blocks: &[Block], doc: &Document) -> Option<(Scope, String, String)> {
    let mut scope = Scope::Pretrain;
    let mut prefix = String::new();
    let mut slot_prefix = String::new();
    for block in blocks {
        match block.kind.as_str() {
            "pretrain" | "sweep" | "when" => {}
            "report" => return None,
            "evaluate" => {
                let name = block.label.clone().unwrap_or_default();
                scope = Scope::Eval(eval_kind(&name, doc));
                slot_prefix = format!("evaluate.{name}.");
            }
            group => prefix.push_str(&format!("{group}.")),
        }
    }
    Some((scope, prefix, slot_prefix))
}

/// The kind of the evaluation named `name`: as the compiler found it, else the name itself (`linear`, `knn`).
fn eval_kind(name: &str, doc: &Document) -> EvalKind {
    doc.names()
        .and_then(|c| c.recipe.as_ref())
        .and_then(|r| r.evals.iter().find(|e| e.name == name))
        .map(|e| e.kind)
        .or_else(|| EvalKind::from_name(name))
        .unwrap_or(EvalKind::Linear)
}

/// The setting or report key `key` (as written) names inside `blocks`.
pub fn key(blocks: &[Block], key: &str, doc: &Document) -> Option<Key> {
    let Some((mut scope, prefix, mut slot_prefix)) = scope_of(blocks, doc) else {
        return REPORT_KEYS.iter().find(|k| k.key == key).map(Key::Report);
    };
    let mut relative = format!("{prefix}{key}");
    // `evaluate.NAME.key` written in a sweep or a `when`.
    if let Some(rest) = relative.strip_prefix("evaluate.")
        && let Some((name, k)) = rest.split_once('.')
    {
        scope = Scope::Eval(eval_kind(name, doc));
        slot_prefix = format!("evaluate.{name}.");
        relative = k.to_string();
    }
    let setting = schema::settings(scope).iter().find(|s| s.key == relative)?;
    Some(Key::Setting {
        setting,
        slot: format!("{slot_prefix}{relative}"),
    })
}

/// The word (letters, digits, `_`, `.`) around byte `offset`, with its byte range.
pub fn word_at(text: &str, offset: usize) -> Option<(usize, usize, &str)> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    let offset = offset.min(text.len());
    let before = text.get(..offset)?;
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_word(*c))
        .last()
        .map_or(offset, |(i, _)| i);
    let end = text
        .get(offset..)?
        .char_indices()
        .find(|(_, c)| !is_word(*c))
        .map_or(text.len(), |(i, _)| offset + i);
    (start < end).then(|| (start, end, &text[start..end]))
}

/// The text of the line before byte `offset`.
pub fn line_before(text: &str, offset: usize) -> &str {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or("");
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    &before[start..]
}
