//! `when` conditions, resolved after all axes are known (a base file's `when` may test an axis of the recipe's
//! sweep).

use super::*;
use crate::check::typecheck::Typer;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind, closest};
use crate::syntax::ast::{Arg, Expr, ExprKind};
use crate::syntax::{Span, format_expr};

impl Collector<'_, '_> {
    // -----------------------------------------------------------------------------------------------------------
    // Conditions (after all axes are known: a base file's `when` may test an axis of the recipe's sweep)

    pub(super) fn resolve_conditions(&mut self) {
        for i in 0..self.recipe.whens.len() {
            let args = std::mem::take(&mut self.recipe.whens[i].args);
            let clauses = self.clauses(&args, false);
            self.recipe.whens[i].clauses = clauses;
        }
        for i in 0..self.recipe.excludes.len() {
            let args = std::mem::take(&mut self.recipe.excludes[i].args);
            let clauses = self.clauses(&args, true);
            self.recipe.excludes[i].clauses = clauses;
        }
    }

    pub(super) fn clauses(&mut self, args: &[Arg], axes_only: bool) -> Vec<Clause> {
        let mut out = Vec::new();
        for arg in args {
            let Some(name) = &arg.name else {
                self.error(
                    Diagnostic::error(
                        Kind::MalformedCondition,
                        "a condition is written `key: value`",
                    )
                    .at(arg.span)
                    .help("e.g. `objective: moco`"),
                );
                continue;
            };
            let key = name.dotted();
            if let Some(axis) = self.recipe.axis_named(&key) {
                if let Some(value) = self.axis_value_or_never(axis, &arg.value) {
                    out.push(Clause {
                        key: value
                            .map_or(ClauseKey::Never, |value| ClauseKey::Axis { axis, value }),
                        span: arg.span,
                    });
                }
                continue;
            }
            // An axis that failed to check: its error is reported, the condition is dropped.
            if self.is_poisoned(&key) {
                continue;
            }
            if axes_only {
                let names: Vec<&str> = self.recipe.axes.iter().map(|a| a.name.as_str()).collect();
                let d = Diagnostic::error(Kind::NotAnAxis, format!("`{key}` is not a sweep axis"))
                    .at(name.span)
                    .suggest(closest(&key, names.iter().copied()))
                    .note(if names.is_empty() {
                        "the sweep has no axes".to_string()
                    } else {
                        format!("the axes: {}", crate::schema::types::backticked_all(&names))
                    });
                self.error(d);
                continue;
            }
            let ctx = Ctx::pretrain(None, true, "pretrain");
            let Some(target) = self.target(name, ctx) else {
                continue;
            };
            if target.arg.is_some() {
                self.error(
                    Diagnostic::error(
                        Kind::MalformedCondition,
                        "a condition tests a whole setting, not one argument of it",
                    )
                    .at(name.span)
                    .help(
                        "sweep the argument (`sweep { backbone.frames: [...] }`) and test the axis",
                    ),
                );
                continue;
            }
            let ty = target.ty();
            if let Some(value) = self.typer().check(&arg.value, &ty, &target.name) {
                out.push(Clause {
                    key: ClauseKey::Setting { target, value },
                    span: arg.span,
                });
            }
        }
        out
    }

    /// For a condition: the index of the axis value `expr` names, or `Some(None)` for a valid value of a swept
    /// setting that the sweep leaves out (a base file may configure values a recipe does not sweep).
    pub(super) fn axis_value_or_never(
        &mut self,
        axis: usize,
        expr: &Expr,
    ) -> Option<Option<usize>> {
        if let Some(target) = self.recipe.axes[axis].target.clone() {
            let mut scratch = Diagnostics::default();
            let value = Typer {
                env: self.env,
                diags: &mut scratch,
            }
            .check(expr, &target.ty(), &target.name);
            let label = format_expr(expr);
            let a = &self.recipe.axes[axis];
            let found = a.values.iter().position(|v| {
                v.label == label || (value.is_some() && v.value.as_ref() == value.as_ref())
            });
            if found.is_some() {
                return Some(found);
            }
            if value.is_some() {
                return Some(None);
            }
            for d in scratch.items {
                self.error(d);
            }
            return None;
        }
        self.axis_value(axis, expr).map(Some)
    }

    /// The index of the axis value `expr` names.
    pub(super) fn axis_value(&mut self, axis: usize, expr: &Expr) -> Option<usize> {
        let a = &self.recipe.axes[axis];
        let found = match &a.target {
            Some(target) => {
                let target = target.clone();
                let mut scratch = Diagnostics::default();
                let value = Typer {
                    env: self.env,
                    diags: &mut scratch,
                }
                .check(expr, &target.ty(), &target.name);
                let a = &self.recipe.axes[axis];
                let label = format_expr(expr);
                a.values.iter().position(|v| {
                    v.label == label || (value.is_some() && v.value.as_ref() == value.as_ref())
                })
            }
            None => {
                let label = match &expr.kind {
                    ExprKind::Str(s) => s.clone(),
                    _ => format_expr(expr),
                };
                a.values.iter().position(|v| v.label == label)
            }
        };
        if found.is_none() {
            let a = &self.recipe.axes[axis];
            let labels: Vec<&str> = a.values.iter().map(|v| v.label.as_str()).collect();
            let shown = format_expr(expr);
            let d = Diagnostic::error(
                Kind::NotAnAxisValue,
                format!("`{shown}` is not a value of the sweep axis `{}`", a.name),
            )
            .at(expr.span)
            .suggest(closest(&shown, labels.iter().copied()))
            .note(format!("`{}` takes {}", a.name, labels.join(", ")));
            self.error(d);
        }
        found
    }

    /// A `when` must not set what a condition reads (the conditions would depend on the order of evaluation).
    pub(super) fn check_when_targets(&mut self) {
        let mut read: Vec<(Target, Span)> = Vec::new();
        for when in &self.recipe.whens {
            for clause in &when.clauses {
                if let ClauseKey::Setting { target, .. } = &clause.key {
                    read.push((target.clone(), clause.span));
                }
            }
        }
        let mut found = Vec::new();
        for a in &self.recipe.assignments {
            if a.when.is_none() {
                continue;
            }
            if let Some((_, span)) = read.iter().find(|(t, _)| t.same_setting(&a.target)) {
                found.push(
                    Diagnostic::error(Kind::WhenSetsCondition, format!("a `when` block sets `{}`, which a condition tests", a.target.name))
                        .at(a.span)
                        .secondary(*span, "tested here")
                        .help("conditions see the values before any `when` applies; sweep the setting instead"),
                );
            }
        }
        for d in found {
            self.error(d);
        }
    }
}
