//! `vst explain FILE KEY`: every value a setting takes in the recipe's cells, and where each came from — a line of
//! the recipe, of an included file, a `when` block, the sweep, or the built-in default.

use crate::Compilation;
use crate::check::value::Value;
use crate::diagnostic::closest;
use crate::expand::{Origin, Resolved, Via, cell_name};
use crate::syntax::Span;
use std::fmt::Write as _;

/// Explains `key` (a setting, `backbone.frames`, or a prefix such as `schedule`); Err with a message (and
/// suggestion) when the recipe has no such key.
pub fn explain(compilation: &Compilation, key: &str) -> Result<String, String> {
    let (Some(recipe), Some(expanded)) = (&compilation.recipe, &compilation.expanded) else {
        return Err("the recipe has errors; run `vst check` first".into());
    };
    let (key, arg) = match expanded.slot_named(key) {
        Some(_) => (key.to_string(), None),
        None => match key.rsplit_once('.') {
            Some((head, arg)) if expanded.slot_named(head).is_some() => {
                (head.to_string(), Some(arg.to_string()))
            }
            _ => (key.to_string(), None),
        },
    };
    let mut slots: Vec<usize> = match expanded.slot_named(&key) {
        Some(slot) => vec![slot],
        None => {
            let prefix = format!("{key}.");
            expanded
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.name.starts_with(&prefix))
                .map(|(i, _)| i)
                .collect()
        }
    };
    if slots.is_empty() {
        let names: Vec<&str> = expanded.slots.iter().map(|s| s.name.as_str()).collect();
        let mut message = format!("the recipe has no setting `{key}`");
        if let Some(s) = closest(&key, names) {
            message.push_str(&format!("; did you mean `{s}`?"));
        }
        return Err(message);
    }
    slots.dedup();
    let mut out = String::new();
    for (n, &slot) in slots.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let name = &expanded.slots[slot].name;
        // Group the cells by (value, origin).
        let mut groups: Vec<Group> = Vec::new();
        for (c, cell) in expanded.cells.iter().enumerate() {
            let resolved = &cell.values[slot];
            let (shown, origin, args) = match &arg {
                None => (
                    show(resolved, compilation, slot, c),
                    resolved.origin,
                    call_arg_origins(resolved),
                ),
                Some(a) => {
                    let v = resolved
                        .value
                        .as_ref()
                        .and_then(Value::as_call)
                        .and_then(|call| call.get(a));
                    let Some(v) = v else {
                        return Err(format!("`{name}` has no argument `{a}`"));
                    };
                    (v.to_string(), resolved.arg_origin(a), Vec::new())
                }
            };
            match groups
                .iter_mut()
                .find(|g| g.0 == shown && g.1 == origin && g.2 == args)
            {
                Some(g) => g.3.push(c),
                None => groups.push((shown, origin, args, vec![c])),
            }
        }
        let title = match &arg {
            Some(a) => format!("{name}.{a}"),
            None => name.clone(),
        };
        for (value, origin, args, cells) in &groups {
            let _ = writeln!(out, "{title}: {value}");
            let _ = writeln!(out, "  {}", describe_origin(compilation, *origin));
            for (arg_name, arg_origin) in args {
                if arg_origin != origin {
                    let _ = writeln!(
                        out,
                        "    {arg_name}: {}",
                        describe_origin(compilation, *arg_origin)
                    );
                }
            }
            if expanded.cells.len() > 1 {
                let names: Vec<String> = cells
                    .iter()
                    .map(|&c| cell_name(recipe, &expanded.cells[c]))
                    .collect();
                let _ = if cells.len() == expanded.cells.len() {
                    writeln!(out, "  in all {} cells", cells.len())
                } else {
                    writeln!(
                        out,
                        "  in {} of {} cells: {}",
                        cells.len(),
                        expanded.cells.len(),
                        names.join("; ")
                    )
                };
            }
        }
    }
    Ok(out)
}

/// Cells that share a value and its origins: (value shown, origin, argument origins, cell indices).
type Group = (String, Origin, Vec<(String, Origin)>, Vec<usize>);

fn call_arg_origins(resolved: &Resolved) -> Vec<(String, Origin)> {
    match resolved.value.as_ref().and_then(Value::as_call) {
        Some(call) => call
            .args
            .iter()
            .map(|(n, _)| (n.clone(), resolved.arg_origin(n)))
            .collect(),
        None => Vec::new(),
    }
}

/// The value, with what it amounts to where that is not obvious (a learning rate at the global batch).
fn show(resolved: &Resolved, compilation: &Compilation, slot: usize, cell: usize) -> String {
    let Some(value) = &resolved.value else {
        return "(not set)".into();
    };
    let mut text = value.to_string();
    if let (Value::Lr { per: Some(_), .. }, Some(plan_values)) =
        (value, compilation.expanded.as_ref())
    {
        let slots = &plan_values.slots;
        let scope = slots[slot].scope;
        // The setting `key` of the same scope, in a group or not (`schedule.batch`, an evaluation's `batch`), but
        // not one whose name merely ends the same way (`bn_batch`).
        let sibling = |key: &str| {
            slots.iter().position(|s| {
                let k = s.setting.key;
                s.scope == scope && (k == key || k.rsplit('.').next() == Some(key))
            })
        };
        let batch = sibling("batch")
            .and_then(|s| plan_values.cells[cell].values[s].value.as_ref())
            .and_then(Value::as_i64);
        let sqrt = sibling("lr_scaling")
            .and_then(|s| plan_values.cells[cell].values[s].value.as_ref())
            .and_then(Value::as_word)
            == Some("sqrt");
        if let (
            Some(batch),
            Value::Lr {
                base,
                per: Some(per),
            },
        ) = (batch, value)
        {
            let ratio = batch as f64 / f64::from(*per);
            let lr = if sqrt {
                base * ratio.sqrt()
            } else {
                base * ratio
            };
            text.push_str(&format!(
                "  (= {} at the global batch of {batch})",
                crate::check::value::number(lr)
            ));
        }
    }
    text
}

fn location(compilation: &Compilation, span: Span) -> String {
    let sources = &compilation.sources;
    let Some(file) = sources.get(span.file) else {
        return "built-in".into();
    };
    let (line, col) = file.line_col(span.start as usize);
    let text = file.line(line).trim();
    format!("{}:{line}:{col}  `{text}`", file.path.display())
}

fn header(compilation: &Compilation, span: Span) -> String {
    let Some(file) = compilation.sources.get(span.file) else {
        return String::new();
    };
    file.text
        .get(span.start as usize..span.end as usize)
        .unwrap_or("")
        .to_string()
}

pub fn describe_origin(compilation: &Compilation, origin: Origin) -> String {
    match origin {
        Origin::Default => "default (built in)".into(),
        Origin::Set { span, via, .. } => {
            let at = location(compilation, span);
            match via {
                Via::Recipe => format!("set at {at}"),
                Via::When(h) => format!("set at {at}, in `{}`", header(compilation, h)),
                Via::Axis => format!("swept at {at}"),
                Via::SweepWhen(h) => {
                    format!("set at {at}, in the sweep's `{}`", header(compilation, h))
                }
            }
        }
    }
}
