//! The cells of a study and every setting's value in each, with where the value came from.
//!
//! Cells are the cartesian product of the sweep's axes (first axis outermost) minus the excluded ones; a recipe
//! without a sweep has one cell. A setting's value in a cell is found in layers, later layers winning:
//!
//! 1. the built-in default;
//! 2. the recipe's settings in file order (included files first), a top-level `when` only where its conditions hold;
//! 3. the cell's value on the sweep's axes;
//! 4. the sweep's own `when` blocks (per-cell overrides), in order.
//!
//! A call replaces the previous value; the arguments it does not give are taken from the previous call where the new
//! function has them (so `backbone: slow_r18(width: 0.25)` keeps the frames and stride set before), then from the
//! function's defaults. `backbone.frames: 16` sets one argument of the current call.
//!
//! Conditions test the values of layers 1–3, so no `when` can change whether another `when` applies.

use crate::check::collect::{Assignment, ClauseKey, Recipe, ScopeRef, Target};
use crate::check::typecheck::{Typer, builtin_value};
use crate::check::value::Value;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::schema::{Scope, Setting, function, settings};
use crate::syntax::Span;
use std::collections::HashMap;
use std::sync::LazyLock;

/// More cells than this is a mistake, not a study.
pub const MAX_CELLS: usize = 4096;

/// Where a value came from. Two origins are equal when they are the same place (unlike [`Span`], whose equality
/// ignores positions so that syntax trees compare by meaning).
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    Default,
    /// The `key: value` statement that set it (`span`; `value` is the value's own span), and how.
    Set {
        span: Span,
        value: Span,
        via: Via,
        assignment: Option<usize>,
    },
}

#[derive(Debug, Clone, Copy)]
pub enum Via {
    Recipe,
    /// A top-level `when` (header span).
    When(Span),
    /// The cell's value on a sweep axis.
    Axis,
    /// A `when` inside the sweep (header span).
    SweepWhen(Span),
}

fn same_place(a: Span, b: Span) -> bool {
    (a.file, a.start, a.end) == (b.file, b.start, b.end)
}

impl PartialEq for Via {
    fn eq(&self, other: &Via) -> bool {
        match (self, other) {
            (Via::Recipe, Via::Recipe) | (Via::Axis, Via::Axis) => true,
            (Via::When(a), Via::When(b)) | (Via::SweepWhen(a), Via::SweepWhen(b)) => {
                same_place(*a, *b)
            }
            _ => false,
        }
    }
}

impl PartialEq for Origin {
    fn eq(&self, other: &Origin) -> bool {
        match (self, other) {
            (Origin::Default, Origin::Default) => true,
            (
                Origin::Set {
                    span: a,
                    value: av,
                    via: aw,
                    assignment: ai,
                },
                Origin::Set {
                    span: b,
                    value: bv,
                    via: bw,
                    assignment: bi,
                },
            ) => same_place(*a, *b) && same_place(*av, *bv) && aw == bw && ai == bi,
            _ => false,
        }
    }
}

impl Origin {
    pub fn span(&self) -> Option<Span> {
        match self {
            Origin::Default => None,
            Origin::Set { span, .. } => Some(*span),
        }
    }

    /// The span of the value itself (for messages about the value).
    pub fn value_span(&self) -> Option<Span> {
        match self {
            Origin::Default => None,
            Origin::Set { value, .. } => Some(*value),
        }
    }
}

/// A setting's value in one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// None for a required setting left unset (or the evaluation data, which defaults to the pre-training data).
    pub value: Option<Value>,
    pub origin: Origin,
    /// Origins of a call's arguments, for those some layer gave.
    pub args: Vec<(String, Origin)>,
}

impl Resolved {
    /// Where an argument of a call value came from (arguments no layer gave are the function's defaults).
    pub fn arg_origin(&self, arg: &str) -> Origin {
        self.args
            .iter()
            .find(|(n, _)| n == arg)
            .map(|(_, o)| *o)
            .unwrap_or(Origin::Default)
    }
}

/// A setting in a scope: one column of every cell's values.
#[derive(Debug, Clone)]
pub struct Slot {
    pub scope: ScopeRef,
    pub setting: &'static Setting,
    /// `schedule.lr`, `evaluate.linear.epochs`
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Cell {
    /// Index of the value on each axis.
    pub coords: Vec<usize>,
    /// By slot.
    pub values: Vec<Resolved>,
}

#[derive(Debug, Clone)]
pub struct Expanded {
    pub slots: Vec<Slot>,
    pub cells: Vec<Cell>,
    index: HashMap<(ScopeRef, &'static str), usize>,
    /// Assignments that decided a value in some cell (for the "has no effect" warnings).
    pub effective: Vec<bool>,
    /// Assignments applied in some cell (their conditions held).
    pub applied: Vec<bool>,
}

impl Expanded {
    pub fn slot(&self, scope: ScopeRef, key: &str) -> Option<usize> {
        self.index
            .iter()
            .find(|((s, k), _)| *s == scope && *k == key)
            .map(|(_, i)| *i)
    }

    pub fn slot_named(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.name == name)
    }
}

/// The cell's coordinates as `axis=value` pairs.
pub fn coords_text(recipe: &Recipe, cell: &Cell) -> Vec<(String, String)> {
    recipe
        .axes
        .iter()
        .zip(&cell.coords)
        .map(|(axis, &v)| {
            (
                axis.name.clone(),
                axis.values
                    .get(v)
                    .map(|x| x.label.clone())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

pub fn cell_name(recipe: &Recipe, cell: &Cell) -> String {
    coords_text(recipe, cell)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

static DEFAULTS: LazyLock<HashMap<(Scope, &'static str), Value>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    let scopes = [
        Scope::Pretrain,
        Scope::Eval(crate::schema::EvalKind::Linear),
        Scope::Eval(crate::schema::EvalKind::Knn),
        Scope::Eval(crate::schema::EvalKind::Finetune),
    ];
    for scope in scopes {
        for setting in settings(scope) {
            if let Some(text) = setting.default {
                map.insert(
                    (scope, setting.key),
                    builtin_value(text, &setting.ty, setting.key),
                );
            }
        }
    }
    map
});

/// The built-in default of a setting.
pub fn default_value(scope: Scope, key: &str) -> Option<&'static Value> {
    DEFAULTS
        .iter()
        .find(|((s, k), _)| *s == scope && *k == key)
        .map(|(_, v)| v)
}

pub fn expand(recipe: &Recipe, diags: &mut Diagnostics) -> Expanded {
    let mut slots = Vec::new();
    let mut index = HashMap::new();
    let mut scopes = vec![ScopeRef::Pretrain];
    scopes.extend((0..recipe.evals.len()).map(ScopeRef::Eval));
    for scope in scopes {
        let prefix = match scope {
            ScopeRef::Pretrain => String::new(),
            ScopeRef::Eval(i) => format!("evaluate.{}.", recipe.evals[i].name),
        };
        for setting in settings(recipe.scope_kind(scope)) {
            index.insert((scope, setting.key), slots.len());
            slots.push(Slot {
                scope,
                setting,
                name: format!("{prefix}{}", setting.key),
            });
        }
    }

    let mut by_slot: Vec<Vec<usize>> = vec![Vec::new(); slots.len()];
    for (i, a) in recipe.assignments.iter().enumerate() {
        if let Some(&slot) = index.get(&(a.target.scope, a.target.setting.key)) {
            by_slot[slot].push(i);
        }
    }
    let mut axes_by_slot: Vec<Vec<usize>> = vec![Vec::new(); slots.len()];
    for (i, axis) in recipe.axes.iter().enumerate() {
        if let Some(t) = &axis.target
            && let Some(&slot) = index.get(&(t.scope, t.setting.key))
        {
            axes_by_slot[slot].push(i);
        }
    }

    let coords = cells(recipe, diags);
    let base = BaseValues::new(recipe);
    let mut expanded = Expanded {
        slots,
        cells: Vec::with_capacity(coords.len()),
        index,
        effective: vec![false; recipe.assignments.len()],
        applied: vec![false; recipe.assignments.len()],
    };
    let mut when_used = vec![false; recipe.whens.len()];
    for coords in coords {
        let holds: Vec<bool> = recipe
            .whens
            .iter()
            .map(|w| {
                w.clauses
                    .iter()
                    .all(|c| clause_holds(&c.key, &coords, &base))
                    && !w.clauses.is_empty()
            })
            .collect();
        for (used, &h) in when_used.iter_mut().zip(&holds) {
            *used |= h;
        }
        let mut values = Vec::with_capacity(expanded.slots.len());
        for (slot_index, slot) in expanded.slots.iter().enumerate() {
            let scope = recipe.scope_kind(slot.scope);
            let mut r = Resolved {
                value: default_value(scope, slot.setting.key).cloned(),
                origin: Origin::Default,
                args: vec![],
            };
            for &i in &by_slot[slot_index] {
                let a = &recipe.assignments[i];
                let via = match a.when {
                    None => Via::Recipe,
                    Some(w) if !recipe.whens[w].in_sweep && holds[w] => {
                        Via::When(recipe.whens[w].span)
                    }
                    Some(_) => continue,
                };
                expanded.applied[i] = true;
                apply(
                    &mut r,
                    &a.target,
                    &a.value,
                    Origin::Set {
                        span: a.span,
                        value: a.value_span,
                        via,
                        assignment: Some(i),
                    },
                    a.span,
                    diags,
                );
            }
            for &axis_index in &axes_by_slot[slot_index] {
                let axis = &recipe.axes[axis_index];
                if let (Some(target), Some(value)) =
                    (&axis.target, axis.values.get(coords[axis_index]))
                    && let Some(v) = &value.value
                {
                    let origin = Origin::Set {
                        span: value.span,
                        value: value.span,
                        via: Via::Axis,
                        assignment: None,
                    };
                    apply(&mut r, target, v, origin, value.span, diags);
                }
            }
            for &i in &by_slot[slot_index] {
                let a = &recipe.assignments[i];
                if let Some(w) = a.when
                    && recipe.whens[w].in_sweep
                    && holds[w]
                {
                    expanded.applied[i] = true;
                    let origin = Origin::Set {
                        span: a.span,
                        value: a.value_span,
                        via: Via::SweepWhen(recipe.whens[w].span),
                        assignment: Some(i),
                    };
                    apply(&mut r, &a.target, &a.value, origin, a.span, diags);
                }
            }
            // What decided the value (or one of its arguments) had an effect.
            for origin in std::iter::once(r.origin).chain(r.args.iter().map(|(_, o)| *o)) {
                if let Origin::Set {
                    assignment: Some(i),
                    ..
                } = origin
                {
                    expanded.effective[i] = true;
                }
            }
            // Fill the arguments no layer gave.
            if let Some(Value::Call(call)) = &r.value {
                let mut scratch = Diagnostics::default();
                let no_env = |_: &str| None;
                let mut typer = Typer {
                    env: &no_env,
                    diags: &mut scratch,
                };
                if let Some(done) = typer.complete(call.clone()) {
                    r.value = Some(Value::Call(done));
                }
                for d in scratch.items {
                    diags.push(d);
                }
            }
            values.push(r);
        }
        expanded.cells.push(Cell { coords, values });
    }
    for (w, used) in recipe.whens.iter().zip(when_used) {
        // Included files configure cases a recipe may not have (e.g. every objective): only the recipe is told.
        if !used
            && !w.clauses.is_empty()
            && !expanded.cells.is_empty()
            && w.span.file == recipe.root
        {
            diags.push(
                Diagnostic::warning(Kind::UnmatchedWhen, "no cell matches these conditions")
                    .at(w.span)
                    .note("the settings in this `when` are never used"),
            );
        }
    }
    expanded
}

/// Applies one value; false (with a diagnostic) when it cannot apply.
fn apply(
    r: &mut Resolved,
    target: &Target,
    value: &Value,
    origin: Origin,
    span: Span,
    diags: &mut Diagnostics,
) -> bool {
    match target.arg {
        None => {
            let mut args: Vec<(String, Origin)> = Vec::new();
            let mut next = value.clone();
            if let (Some(Value::Call(current)), Value::Call(new)) = (&r.value, value) {
                // Arguments the new call does not give carry over where its function has them.
                let new_fn = function(&new.name);
                if let Value::Call(merged) = &mut next {
                    for (name, v) in &current.args {
                        if !new.has(name) && new_fn.is_some_and(|f| f.param(name).is_some()) {
                            merged.set(name, v.clone());
                            args.push((name.clone(), r.arg_origin(name)));
                        }
                    }
                }
            }
            if let Value::Call(new) = value {
                args.extend(new.args.iter().map(|(name, _)| (name.clone(), origin)));
            }
            r.value = Some(next);
            r.origin = origin;
            r.args = args;
            true
        }
        Some(arg) => match &mut r.value {
            Some(Value::Call(current))
                if function(&current.name).is_some_and(|f| f.param(arg).is_some()) =>
            {
                current.set(arg, value.clone());
                r.args.retain(|(n, _)| n != arg);
                r.args.push((arg.to_string(), origin));
                true
            }
            Some(Value::Call(current)) => {
                let head = target.setting.key;
                diags.push(
                    Diagnostic::error(
                        Kind::InapplicableArgument,
                        format!(
                            "`{}` does not apply: `{head}` is `{}`, which has no `{arg}`",
                            target.name, current.name
                        ),
                    )
                    .at(span),
                );
                false
            }
            _ => false,
        },
    }
}

/// Values of settings before any `when`: what conditions on settings that are not swept compare against.
struct BaseValues<'r> {
    recipe: &'r Recipe,
}

impl<'r> BaseValues<'r> {
    fn new(recipe: &'r Recipe) -> BaseValues<'r> {
        BaseValues { recipe }
    }

    fn value(&self, target: &Target) -> Option<Value> {
        let last: Option<&Assignment> =
            self.recipe.assignments.iter().rev().find(|a| {
                a.when.is_none() && a.target.same_setting(target) && a.target.arg.is_none()
            });
        match last {
            Some(a) => Some(a.value.clone()),
            None => {
                default_value(self.recipe.scope_kind(target.scope), target.setting.key).cloned()
            }
        }
    }
}

fn clause_holds(key: &ClauseKey, coords: &[usize], base: &BaseValues<'_>) -> bool {
    match key {
        ClauseKey::Axis { axis, value } => coords.get(*axis) == Some(value),
        ClauseKey::Never => false,
        ClauseKey::Setting { target, value } => {
            let current = base.value(target);
            match (&current, value) {
                // A call matches when it is the same function with the same arguments given in the condition.
                (Some(Value::Call(have)), Value::Call(want)) => {
                    have.name == want.name && want.args.iter().all(|(n, v)| have.get(n) == Some(v))
                }
                _ => current.as_ref() == Some(value),
            }
        }
    }
}

/// The coordinates of every cell, excluded ones removed.
fn cells(recipe: &Recipe, diags: &mut Diagnostics) -> Vec<Vec<usize>> {
    let sizes: Vec<usize> = recipe.axes.iter().map(|a| a.values.len()).collect();
    let total = sizes
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
        .unwrap_or(usize::MAX);
    if total > MAX_CELLS {
        diags.push(
            Diagnostic::error(
                Kind::TooManyCells,
                format!("the sweep has {total} cells; at most {MAX_CELLS} are allowed"),
            )
            .at(recipe.sweep.unwrap_or_default())
            .help("sweep fewer values, or exclude cells with `exclude(...)`"),
        );
        return Vec::new();
    }
    let mut out = Vec::with_capacity(total);
    let mut used = vec![false; recipe.excludes.len()];
    let mut coords = vec![0usize; sizes.len()];
    'cells: for n in 0..total {
        // Row-major: the first axis varies slowest.
        let mut rest = n;
        for (i, &size) in sizes.iter().enumerate().rev() {
            coords[i] = rest % size;
            rest /= size;
        }
        for (e, exclude) in recipe.excludes.iter().enumerate() {
            let matches = !exclude.clauses.is_empty()
                && exclude.clauses.iter().all(
                    |c| matches!(c.key, ClauseKey::Axis { axis, value } if coords[axis] == value),
                );
            if matches {
                used[e] = true;
                continue 'cells;
            }
        }
        out.push(coords.clone());
    }
    for (exclude, used) in recipe.excludes.iter().zip(used) {
        if !used && !exclude.clauses.is_empty() {
            diags.push(
                Diagnostic::warning(Kind::UnmatchedExclusion, "this exclusion matches no cell")
                    .at(exclude.span),
            );
        }
    }
    if out.is_empty() && total > 0 {
        diags.push(
            Diagnostic::error(
                Kind::EverythingExcluded,
                "every cell of the sweep is excluded",
            )
            .at(recipe.sweep.unwrap_or_default()),
        );
    }
    out
}
