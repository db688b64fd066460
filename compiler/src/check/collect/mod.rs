//! The statements of all files → the recipe's declarations: datasets, evaluations, settings (each key resolved
//! against the schema, each value type-checked), the sweep (axes, exclusions, per-cell overrides), conditional
//! settings and reports. Nothing is expanded here; `expand` builds the cells from this.

mod blocks;
mod conditions;
mod recipe;
mod reports;
mod settings;
mod sweep;
mod transcode;

use super::typecheck::{EnvLookup, Typer};
use crate::diagnostic::{Diagnostic, Diagnostics, closest};
use crate::source::FileId;
use crate::syntax::Span;
use crate::syntax::ast::{Block, File, Stmt};
use std::collections::HashMap;

pub use recipe::*;

pub fn collect(
    files: &[(FileId, File)],
    root: FileId,
    env: EnvLookup<'_>,
    diags: &mut Diagnostics,
) -> Recipe {
    let mut c = Collector {
        recipe: Recipe {
            root,
            ..Recipe::default()
        },
        env,
        diags,
        seen: HashMap::new(),
        poisoned: Vec::new(),
    };
    for (id, file) in files {
        c.declare_evals(*id, file);
    }
    for (id, file) in files {
        c.file(*id, file);
    }
    c.split_axes();
    c.resolve_conditions();
    c.resolve_reports();
    c.check_when_targets();
    c.recipe
}

struct Collector<'a, 'd> {
    recipe: Recipe,
    env: EnvLookup<'a>,
    diags: &'d mut Diagnostics,
    /// (file, condition, key) → where it was first set, for duplicate keys.
    seen: HashMap<(FileId, Option<usize>, String), Span>,
    /// Names of sweep axes and evaluations whose declaration failed to check (one mistake, one error): a
    /// condition, a report or a key that names one (or a likely misspelling of one) is not reported again.
    poisoned: Vec<String>,
}

/// Where a statement list sits.
#[derive(Clone, Copy)]
struct Ctx<'p> {
    scope: ScopeRef,
    prefix: &'p str,
    when: Option<usize>,
    /// In a `when` body: `evaluate NAME { ... }` and `evaluate.NAME.key` are allowed.
    evaluate_allowed: bool,
    /// Shown in messages: `pretrain`, `schedule`, `evaluate linear`.
    block: &'p str,
}

impl Ctx<'static> {
    /// Settings of `pretrain` (the block itself, a `when` body or a sweep key); `evaluate_allowed` outside the
    /// `pretrain` block.
    fn pretrain(when: Option<usize>, evaluate_allowed: bool, block: &'static str) -> Ctx<'static> {
        Ctx {
            scope: ScopeRef::Pretrain,
            prefix: "",
            when,
            evaluate_allowed,
            block,
        }
    }
}

fn header_span(block: &Block, stmt: &Stmt) -> Span {
    let end = block
        .args
        .as_ref()
        .map(|a| a.span)
        .or(block.label.as_ref().map(|l| l.span()))
        .unwrap_or(block.kind.span);
    Span {
        file: stmt.span.file,
        start: stmt.span.start,
        end: end.end,
    }
}

impl Collector<'_, '_> {
    fn typer(&mut self) -> Typer<'_> {
        Typer {
            env: self.env,
            diags: self.diags,
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn error_count(&self) -> usize {
        self.diags.errors().count()
    }

    /// Whether `name` was declared but failed to check, so that errors about it were already reported.
    /// A misspelt declaration (`sweep { objectiv: [...] }`) poisons the names it was probably meant to have too.
    fn is_poisoned(&self, name: &str) -> bool {
        self.poisoned.iter().any(|p| p == name)
            || closest(name, self.poisoned.iter().map(String::as_str)).is_some()
    }
}
