//! Warnings about settings that do nothing: set but always overridden, set for an objective no cell trains, read
//! only under a condition that never holds. Only the recipe's own file is linted: included base files configure
//! everything a recipe might use.

use crate::check::collect::{Recipe, ScopeRef};
use crate::check::value::Value;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::expand::{Expanded, Origin, Via};

pub fn lint(recipe: &Recipe, expanded: &Expanded, diags: &mut Diagnostics) {
    let objective_slot = expanded.slot(ScopeRef::Pretrain, "objective");
    let n = recipe.assignments.len();
    // Per assignment: was it effective in a cell that reads it?
    let mut read = vec![false; n];
    let mut overridden_by: Vec<Option<Origin>> = vec![None; n];
    for cell in &expanded.cells {
        let objective = objective_slot
            .and_then(|s| cell.values[s].value.as_ref())
            .and_then(Value::as_word);
        for (slot, resolved) in expanded.slots.iter().zip(&cell.values) {
            let origins =
                std::iter::once(resolved.origin).chain(resolved.args.iter().map(|(_, o)| *o));
            for origin in origins {
                let Origin::Set {
                    assignment: Some(i),
                    ..
                } = origin
                else {
                    continue;
                };
                let relevant = match slot.setting.objective {
                    Some(o) => objective == Some(o),
                    None => true,
                };
                if relevant && !unread_here(expanded, cell, slot.setting.key, slot.scope) {
                    read[i] = true;
                }
            }
        }
        // For assignments that lost: what beat them (first cell only).
        for (i, a) in recipe.assignments.iter().enumerate() {
            if overridden_by[i].is_some() || expanded.effective[i] {
                continue;
            }
            if let Some(slot) = expanded.slot(a.target.scope, a.target.setting.key) {
                overridden_by[i] = Some(cell.values[slot].origin);
            }
        }
    }
    for (i, a) in recipe.assignments.iter().enumerate() {
        if a.span.file != recipe.root || !expanded.applied[i] {
            continue;
        }
        let name = &a.target.name;
        if !expanded.effective[i] {
            let mut d = Diagnostic::warning(Kind::NoEffect, format!("this `{name}` has no effect"))
                .at(a.span);
            d = match overridden_by[i] {
                Some(Origin::Set { via: Via::Axis, .. }) => {
                    d.note(format!("the sweep sets `{name}` in every cell"))
                }
                Some(Origin::Set { span, .. }) => d.secondary(span, "it is set again here"),
                _ => d,
            };
            diags.push(d);
        } else if !read[i] {
            let d = match a.target.setting.objective {
                Some(objective) => Diagnostic::warning(
                    Kind::NoEffect,
                    format!("`{name}` is set, but no cell trains with `{objective}`"),
                )
                .at(a.span)
                .note(format!(
                    "`{objective}`'s settings are read only when `objective: {objective}`"
                )),
                None => Diagnostic::warning(Kind::NoEffect, format!("`{name}` is never read"))
                    .at(a.span)
                    .note(unread_reason(a.target.setting.key)),
            };
            diags.push(d);
        }
    }
    // Datasets the recipe declares but never uses.
    for decl in recipe
        .datasets
        .iter()
        .filter(|d| d.name_span.file == recipe.root)
    {
        let used = expanded.cells.iter().any(|cell| {
            expanded.slots.iter().zip(&cell.values).any(|(slot, r)| {
                slot.setting.key == "data"
                    && r.value.as_ref().and_then(Value::as_word) == Some(decl.name.as_str())
            })
        });
        if !used && !expanded.cells.is_empty() {
            diags.push(
                Diagnostic::warning(
                    Kind::UnusedDataset,
                    format!("dataset `{}` is never used", decl.name),
                )
                .at(decl.name_span),
            );
        }
    }
}

/// Settings that exist but that a cell ignores given its other settings.
fn unread_here(
    expanded: &Expanded,
    cell: &crate::expand::Cell,
    key: &str,
    scope: ScopeRef,
) -> bool {
    let value = |k: &str| {
        expanded
            .slot(scope, k)
            .and_then(|s| cell.values[s].value.as_ref())
    };
    match key {
        // The scaling rule applies only to `x per n`.
        "schedule.lr_scaling" => {
            !matches!(value("schedule.lr"), Some(Value::Lr { per: Some(_), .. }))
                && !matches!(
                    value("schedule.warmup_start"),
                    Some(Value::Lr { per: Some(_), .. })
                )
        }
        "lr_scaling" => !matches!(value("lr"), Some(Value::Lr { per: Some(_), .. })),
        // One clip has no timespan.
        "span" => matches!(value("clips"), Some(Value::Int(1))),
        _ => false,
    }
}

fn unread_reason(key: &str) -> &'static str {
    match key {
        "schedule.lr_scaling" | "lr_scaling" => {
            "the scaling rule applies to a learning rate written `x per n`"
        }
        "span" => "with `clips: 1` there is no second clip to place in time",
        _ => "no cell reads it",
    }
}
