//! Completion from the schema, by what the line says before the cursor: keys and block names at the start of a
//! line, a setting's values after `key: ` (words, functions, `true`/`false`, data names), a function's arguments
//! inside its parentheses, axis names in a `when(...)` and in a report's `rows`/`cols`/`over`.

use super::context::{self, Block, Key};
use super::documents::Document;
use super::position;
use lsp_types::{CompletionItem, CompletionItemKind, Position};
use vst_compiler::schema::{self, BLOCKS, GROUPS, REPORT_KEYS, Scope, Ty};

pub fn complete(doc: &Document, at: Position) -> Vec<CompletionItem> {
    let offset = position::to_offset(&doc.text, at);
    let blocks = context::blocks_at(&doc.text, offset);
    let line = context::line_before(&doc.text, offset);
    let mut out = Vec::new();
    if let Some((name, inside)) = open_call(line) {
        call_items(doc, &blocks, name, inside, &mut out);
    } else if let Some((key, _)) = line.split_once(':') {
        let key = key.trim();
        if !key.contains(char::is_whitespace) {
            value_items(doc, &blocks, key, &mut out);
        }
    } else if line
        .trim_start()
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    {
        key_items(doc, &blocks, &mut out);
    }
    out
}

fn item(label: &str, kind: CompletionItemKind, detail: &str) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: (!detail.is_empty()).then(|| detail.to_string()),
        ..CompletionItem::default()
    }
}

/// The innermost call left open on the line: its name and the text after its `(`.
fn open_call(line: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in line.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth > 0 => depth -= 1,
            '(' => {
                let head = &line[..i];
                let start = head
                    .char_indices()
                    .rev()
                    .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
                    .last()
                    .map_or(i, |(j, _)| j);
                return Some((&head[start..], &line[i + 1..]));
            }
            _ => {}
        }
    }
    None
}

fn key_items(doc: &Document, blocks: &[Block], out: &mut Vec<CompletionItem>) {
    if blocks.is_empty() {
        for (name, about) in BLOCKS {
            out.push(item(name, CompletionItemKind::MODULE, about));
        }
        for word in ["use", "data", "axis"] {
            out.push(item(word, CompletionItemKind::KEYWORD, ""));
        }
        return;
    }
    let Some((scope, prefix, _)) = context::scope_of(blocks, doc) else {
        for key in REPORT_KEYS {
            out.push(item(key.key, CompletionItemKind::PROPERTY, key.doc));
        }
        return;
    };
    for setting in schema::settings(scope) {
        if let Some(key) = setting.key.strip_prefix(prefix.as_str()) {
            out.push(item(key, CompletionItemKind::PROPERTY, setting.doc));
        }
    }
    if prefix.is_empty() && scope == Scope::Pretrain {
        for (name, about) in GROUPS {
            out.push(item(name, CompletionItemKind::MODULE, about));
        }
        if blocks.iter().any(|b| b.kind == "sweep") {
            out.push(item("when", CompletionItemKind::KEYWORD, ""));
            out.push(item("exclude", CompletionItemKind::KEYWORD, ""));
        }
    }
}

fn value_items(doc: &Document, blocks: &[Block], key: &str, out: &mut Vec<CompletionItem>) {
    match context::key(blocks, key, doc) {
        Some(Key::Setting { setting, .. }) => ty_items(doc, &setting.ty, out),
        Some(Key::Report(report)) if matches!(report.key, "rows" | "cols" | "over") => {
            axis_items(doc, out)
        }
        Some(Key::Report(report)) if report.key == "cell" => {
            for (name, kind) in evals(doc) {
                for metric in kind.metrics() {
                    out.push(item(
                        &format!("{name}.{metric}"),
                        CompletionItemKind::VALUE,
                        "",
                    ));
                }
            }
        }
        _ => {}
    }
}

fn ty_items(doc: &Document, ty: &Ty, out: &mut Vec<CompletionItem>) {
    let words = |out: &mut Vec<CompletionItem>, words: &[&str]| {
        for w in words {
            out.push(item(w, CompletionItemKind::ENUM_MEMBER, ""));
        }
    };
    match ty {
        Ty::Word(ws) => words(out, ws),
        Ty::Bool => words(out, &["true", "false"]),
        Ty::Timespan => words(out, &["anywhere"]),
        Ty::BnBatch => words(out, &["all"]),
        Ty::PathStr => out.push(item(
            "env",
            CompletionItemKind::FUNCTION,
            "env(\"VAR\", default: \"...\")",
        )),
        Ty::Call(names) => {
            for name in *names {
                let about = schema::function(name).map_or("", |f| f.doc);
                out.push(item(name, CompletionItemKind::FUNCTION, about));
            }
        }
        Ty::List(inner) | Ty::Range(inner) => ty_items(doc, inner, out),
        Ty::Dataset => {
            for name in data_names(doc) {
                out.push(item(&name, CompletionItemKind::VARIABLE, "data"));
            }
        }
        _ => {}
    }
}

/// Inside `name(...)`: argument names at an argument's start, the argument's values after `arg: `; in a `when(`
/// or `exclude(`, axis names and their values.
fn call_items(
    doc: &Document,
    blocks: &[Block],
    name: &str,
    inside: &str,
    out: &mut Vec<CompletionItem>,
) {
    let current = inside.rsplit(',').next().unwrap_or("");
    let condition = matches!(name, "when" | "exclude");
    match current.split_once(':') {
        None if condition => axis_items(doc, out),
        None => {
            for p in schema::function(name)
                .map(|f| f.params.as_slice())
                .unwrap_or(&[])
            {
                let mut it = item(p.name, CompletionItemKind::FIELD, p.doc);
                it.insert_text = Some(format!("{}: ", p.name));
                out.push(it);
            }
        }
        Some((arg, _)) if condition => value_items(doc, blocks, arg.trim(), out),
        Some((arg, _)) => {
            if let Some(p) = schema::function(name).and_then(|f| f.param(arg.trim())) {
                ty_items(doc, &p.ty, out);
            }
        }
    }
}

fn axis_items(doc: &Document, out: &mut Vec<CompletionItem>) {
    let Some(recipe) = doc.names().and_then(|c| c.recipe.as_ref()) else {
        return;
    };
    for axis in &recipe.axes {
        out.push(item(&axis.name, CompletionItemKind::VARIABLE, "sweep axis"));
    }
}

/// Data names of the last compilation, and those declared in the text as it is now.
fn data_names(doc: &Document) -> Vec<String> {
    let mut names: Vec<String> = doc
        .names()
        .iter()
        .flat_map(|c| c.recipe.iter())
        .flat_map(|r| r.datasets.iter().map(|d| d.name.clone()))
        .collect();
    for line in doc.text.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("data ")
            && let Some((name, _)) = rest.split_once('=')
        {
            names.push(name.trim().to_string());
        }
    }
    names.sort();
    names.dedup();
    names
}

fn evals(doc: &Document) -> Vec<(String, schema::EvalKind)> {
    doc.names()
        .iter()
        .flat_map(|c| c.recipe.iter())
        .flat_map(|r| r.evals.iter().map(|e| (e.name.clone(), e.kind)))
        .collect()
}
