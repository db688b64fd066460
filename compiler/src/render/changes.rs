//! What each cell of a sweep changes against the study's base: the settings whose value in the cell comes from a
//! sweep axis or a `when` block and differs from the value the recipe's body (or the built-in default) gives. The
//! HTML page shows it per cell, so that why two cells differ is read, not diffed by hand.

use crate::Compilation;
use crate::expand::{Origin, Via, coords_text, default_value};

/// One setting a cell changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `schedule.lr`, `objective`
    pub key: String,
    /// The value in this cell, as a recipe writes it.
    pub value: String,
    /// The base's value (the recipe's body or the built-in default); None where the base leaves it unset.
    pub base: Option<String>,
    /// Where the cell's value came from (a line of the recipe, the sweep, a `when` block).
    pub origin: String,
}

/// One cell of the sweep: its coordinates (`axis`, `value`) and what it changes.
#[derive(Debug, Clone, PartialEq)]
pub struct CellChanges {
    pub coords: Vec<(String, String)>,
    pub changes: Vec<Change>,
}

/// Every cell's changes against the base, in sweep order; empty for a recipe with errors.
pub fn cell_changes(compilation: &Compilation) -> Vec<CellChanges> {
    let (Some(recipe), Some(expanded)) = (&compilation.recipe, &compilation.expanded) else {
        return Vec::new();
    };
    let in_base = |origin: &Origin| match origin {
        Origin::Default => true,
        Origin::Set { via, .. } => *via == Via::Recipe,
    };
    // The base's value of each slot: from a cell where the body or the default decided it, else the default.
    let base: Vec<Option<String>> = expanded
        .slots
        .iter()
        .enumerate()
        .map(|(slot, s)| {
            let from_cell = expanded
                .cells
                .iter()
                .map(|c| &c.values[slot])
                .find(|r| in_base(&r.origin))
                .map(|r| r.value.as_ref().map(ToString::to_string));
            match from_cell {
                Some(value) => value,
                None => default_value(recipe.scope_kind(s.scope), s.setting.key)
                    .map(ToString::to_string),
            }
        })
        .collect();
    expanded
        .cells
        .iter()
        .map(|cell| {
            let changes = cell
                .values
                .iter()
                .enumerate()
                .filter(|(_, r)| !in_base(&r.origin))
                .filter_map(|(slot, r)| {
                    let value = r.value.as_ref()?.to_string();
                    (base[slot].as_ref() != Some(&value)).then(|| Change {
                        key: expanded.slots[slot].name.clone(),
                        value,
                        base: base[slot].clone(),
                        origin: super::explain::describe_origin(compilation, r.origin),
                    })
                })
                .collect();
            CellChanges {
                coords: coords_text(recipe, cell),
                changes,
            }
        })
        .collect()
}
