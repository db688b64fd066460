//! Hover: on a key, its documentation from the schema and — from the last compilation — the value it takes in each
//! cell and where that came from (`vst explain`'s text); on a sweep axis, its cells and their job ids; on a
//! function, block or group name, its documentation.

use super::context::{self, Key};
use super::documents::Document;
use super::position;
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use vst_compiler::Compilation;
use vst_compiler::expand::{cell_name, coords_text};
use vst_compiler::schema::{self, BLOCKS, GROUPS, ParamDefault};

pub fn hover(doc: &Document, at: Position) -> Option<Hover> {
    let offset = position::to_offset(&doc.text, at);
    let (start, end, word) = context::word_at(&doc.text, offset)?;
    let blocks = context::blocks_at(&doc.text, start);
    let before = context::line_before(&doc.text, start).trim();
    let after = doc.text[end..].trim_start();
    let compilation = doc.compilation.as_ref();
    let mut text = String::new();
    if after.starts_with(':') && (before.is_empty() || before == "axis") {
        match context::key(&blocks, word, doc) {
            Some(Key::Setting { setting, slot }) => {
                let _ = write!(
                    text,
                    "**`{slot}`**: {}\n\n{}",
                    setting.ty.describe(),
                    setting.doc
                );
                if let Some(default) = setting.default {
                    let _ = write!(text, "\n\ndefault: `{default}`");
                }
                if let Some(objective) = setting.objective {
                    let _ = write!(text, " (read when `objective: {objective}`)");
                }
                if let Some(explained) =
                    compilation.and_then(|c| vst_compiler::render::explain::explain(c, &slot).ok())
                {
                    let _ = write!(text, "\n\n```text\n{explained}```");
                }
            }
            Some(Key::Report(key)) => {
                let _ = write!(text, "**`{}`** (report): {}", key.key, key.doc);
            }
            None => {}
        }
        let in_sweep = blocks.last().is_some_and(|b| b.kind == "sweep") || before == "axis";
        if in_sweep && let Some(cells) = compilation.and_then(|c| axis_cells(c, word)) {
            push_section(&mut text, &cells);
        }
    } else if after.starts_with('{') || after.starts_with('(') && before.is_empty() {
        let doc = BLOCKS.iter().chain(GROUPS).find(|(name, _)| *name == word);
        if let Some((name, about)) = doc {
            let _ = write!(text, "**`{name}`**: {about}");
        }
    }
    if text.is_empty()
        && let Some(f) = schema::function(word)
    {
        let _ = writeln!(text, "**`{}(…)`** ({}): {}\n", f.name, f.family, f.doc);
        for p in &f.params {
            let default = match &p.default {
                ParamDefault::Required => " (required)".to_string(),
                ParamDefault::Value(v) => format!(" = `{v}`"),
                ParamDefault::Optional => " (optional)".to_string(),
            };
            let _ = writeln!(text, "- `{}`{default}: {}", p.name, p.doc);
        }
    }
    if text.is_empty()
        && let Some(cells) = compilation.and_then(|c| axis_cells(c, word))
    {
        text = cells;
    }
    if text.is_empty() {
        return None;
    }
    let file = vst_compiler::source::SourceFile::new(doc.path.clone(), doc.text.clone());
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(position::range(&file, start, end)),
    })
}

fn push_section(text: &mut String, section: &str) {
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(section);
}

/// The sweep axis `name`: its values, then every cell with the ids of its jobs.
pub fn axis_cells(compilation: &Compilation, name: &str) -> Option<String> {
    let recipe = compilation.recipe.as_ref()?;
    let axis = recipe.axes.iter().find(|a| a.name == name)?;
    let labels: Vec<&str> = axis.values.iter().map(|v| v.label.as_str()).collect();
    let mut text = format!("**axis `{name}`**: {}\n", labels.join(", "));
    let Some(expanded) = &compilation.expanded else {
        return Some(text);
    };
    let _ = writeln!(text, "\n{} cells:\n", expanded.cells.len());
    for cell in &expanded.cells {
        let coords: BTreeMap<String, String> = coords_text(recipe, cell).into_iter().collect();
        let jobs: Vec<String> = compilation
            .plan
            .iter()
            .flat_map(|plan| &plan.jobs)
            .filter(|job| job.cell == coords)
            .map(|job| format!("`{}` {}", job.id.0, job.name))
            .collect();
        let _ = writeln!(text, "- `{}`: {}", cell_name(recipe, cell), jobs.join(", "));
    }
    Some(text)
}
