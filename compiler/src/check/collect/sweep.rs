//! The sweep: its axes (over settings or labels) and their values.

use super::*;
use crate::check::typecheck::describe;
use crate::check::value::Value;
use crate::diagnostic::{Diagnostic, Kind, closest};
use crate::schema::{Scope, settings};
use crate::syntax::ast::{Expr, ExprKind, Path, Stmt, StmtKind};
use crate::syntax::{Span, format_expr};

impl Collector<'_, '_> {
    // -----------------------------------------------------------------------------------------------------------
    // Sweep

    pub(super) fn sweep_body(&mut self, body: &[Stmt]) {
        for stmt in body {
            match &stmt.kind {
                StmtKind::Entry { key, value } => {
                    self.poison_on_error(&key.dotted(), |c| c.setting_axis(key, value))
                }
                StmtKind::Axis { name, value } => {
                    self.poison_on_error(&name.name, |c| c.label_axis(name, value))
                }
                StmtKind::Call { name, args } if name.name == "exclude" => {
                    if args.items.is_empty() {
                        self.error(
                            Diagnostic::error(
                                Kind::MalformedCondition,
                                "`exclude` needs conditions",
                            )
                            .at(args.span),
                        );
                        continue;
                    }
                    self.recipe.excludes.push(Exclude {
                        clauses: Vec::new(),
                        span: stmt.span,
                        args: args.items.clone(),
                    });
                }
                StmtKind::Call { name, .. } => {
                    self.error(
                        Diagnostic::error(
                            Kind::MisplacedStatement,
                            format!("unexpected `{}(...)` in `sweep`", name.name),
                        )
                        .at(name.span)
                        .suggest(closest(&name.name, ["exclude"])),
                    );
                }
                StmtKind::Block(block) if block.kind.name == "when" => {
                    self.when_block(stmt, block, true)
                }
                StmtKind::Block(block) => {
                    self.error(
                        Diagnostic::error(
                            Kind::UnknownBlock,
                            format!("unexpected block `{}` in `sweep`", block.kind.name),
                        )
                        .at(block.kind.span)
                        .suggest(closest(&block.kind.name, ["when"])),
                    );
                }
                StmtKind::Use(_) | StmtKind::Data { .. } => {
                    self.error(
                        Diagnostic::error(
                            Kind::MisplacedStatement,
                            "this statement belongs at the top level of a file",
                        )
                        .at(stmt.span),
                    );
                }
            }
        }
    }

    pub(super) fn axis_values<'e>(&mut self, value: &'e Expr, name: &str) -> Option<&'e [Expr]> {
        match &value.kind {
            ExprKind::List(items) if !items.is_empty() => Some(items.as_slice()),
            ExprKind::List(_) => {
                self.error(
                    Diagnostic::error(
                        Kind::BadAxis,
                        format!("the sweep of `{name}` has no values"),
                    )
                    .at(value.span),
                );
                None
            }
            _ => {
                self.error(
                    Diagnostic::error(
                        Kind::BadAxis,
                        format!(
                            "a sweep axis takes a list of values, found {}",
                            describe(value)
                        ),
                    )
                    .at(value.span)
                    .help(format!("write `{name}: [{}]`", format_expr(value))),
                );
                None
            }
        }
    }

    pub(super) fn push_axis(&mut self, axis: Axis, key_span: Span) {
        if let Some(i) = self.recipe.axis_named(&axis.name) {
            let first = self.recipe.axes[i].span;
            self.error(
                Diagnostic::error(
                    Kind::DuplicateAxis,
                    format!("`{}` is swept twice", axis.name),
                )
                .at(key_span)
                .secondary(first, "first swept here"),
            );
            return;
        }
        for (i, v) in axis.values.iter().enumerate() {
            if let Some(j) = axis.values[..i].iter().position(|w| w.label == v.label) {
                let first = axis.values[j].span;
                self.error(
                    Diagnostic::error(
                        Kind::DuplicateAxisValue,
                        format!(
                            "`{}` appears twice in the sweep of `{}`",
                            v.label, axis.name
                        ),
                    )
                    .at(v.span)
                    .secondary(first, "first here"),
                );
                return;
            }
        }
        self.recipe.axes.push(axis);
    }

    /// Declares an axis with `declare`; when that reports an error and no axis `name` results, `name` is poisoned.
    fn poison_on_error(&mut self, name: &str, declare: impl FnOnce(&mut Self)) {
        let errors = self.error_count();
        declare(self);
        if self.error_count() > errors && self.recipe.axis_named(name).is_none() {
            self.poisoned.push(name.to_string());
        }
    }

    pub(super) fn setting_axis(&mut self, key: &Path, value: &Expr) {
        let ctx = Ctx::pretrain(None, true, "pretrain");
        let written = key.dotted();
        let known = {
            let table = settings(Scope::Pretrain);
            table
                .iter()
                .any(|s| s.key == written || written.starts_with(&format!("{}.", s.key)))
                || written.starts_with("evaluate.")
        };
        if !known {
            let keys: Vec<&str> = settings(Scope::Pretrain).iter().map(|s| s.key).collect();
            let d = Diagnostic::error(Kind::UnknownSweepKey, format!("sweep over unknown key `{written}`"))
                .at(key.span)
                .suggest(closest(&written, keys))
                .help("to sweep something that is not a setting, declare a labelled axis: `axis NAME: [...]` and give \
                       its meaning with `when(NAME: value) { ... }`");
            self.error(d);
            return;
        }
        let Some(target) = self.target(key, ctx) else {
            return;
        };
        let Some(items) = self.axis_values(value, &written) else {
            return;
        };
        let ty = target.ty();
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let Some(mut v) = self.typer().check(item, &ty, &target.name) else {
                return;
            };
            if let Value::List(list) = v {
                let mut done = Vec::new();
                for element in list {
                    match element {
                        Value::Call(call) => match self.typer().complete(call) {
                            Some(c) => done.push(Value::Call(c)),
                            None => return,
                        },
                        other => done.push(other),
                    }
                }
                v = Value::List(done);
            }
            values.push(AxisValue {
                label: format_expr(item),
                value: Some(v),
                span: item.span,
            });
        }
        self.push_axis(
            Axis {
                name: written,
                target: Some(target),
                values,
                span: key.span,
            },
            key.span,
        );
    }

    pub(super) fn label_axis(&mut self, name: &crate::syntax::ast::Ident, value: &Expr) {
        if settings(Scope::Pretrain).iter().any(|s| s.key == name.name) {
            self.error(
                Diagnostic::error(Kind::BadAxis, format!("`{}` is a setting", name.name))
                    .at(name.span)
                    .help(format!("sweep it directly: `{}: [...]`", name.name)),
            );
            return;
        }
        let Some(items) = self.axis_values(value, &name.name) else {
            return;
        };
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let label = match &item.kind {
                ExprKind::Str(s) => s.clone(),
                ExprKind::Path(_) | ExprKind::Number(_) => format_expr(item),
                _ => {
                    self.error(
                        Diagnostic::error(
                            Kind::BadAxis,
                            format!("the values of axis `{}` are labels", name.name),
                        )
                        .label(item.span, "expected a name, a number or a string"),
                    );
                    return;
                }
            };
            values.push(AxisValue {
                label,
                value: None,
                span: item.span,
            });
        }
        self.push_axis(
            Axis {
                name: name.name.clone(),
                target: None,
                values,
                span: name.span,
            },
            name.span,
        );
    }
    /// A dataset declared with several official splits (`ucf101(root: ..., split: [1, 2, 3])`) sweeps them: the
    /// label axis `split` gets their values, each cell reads its split, and a report averages with `over: split`.
    /// Every dataset with several splits must list the same ones (one axis for all).
    pub(super) fn split_axes(&mut self) {
        for i in 0..self.recipe.datasets.len() {
            let decl = &self.recipe.datasets[i];
            let Some(Value::List(items)) = decl.value.get("split") else {
                continue;
            };
            if items.len() < 2 {
                continue;
            }
            let labels: Vec<String> = items
                .iter()
                .filter_map(Value::as_i64)
                .map(|n| n.to_string())
                .collect();
            let (name, span) = (decl.name.clone(), decl.value.span);
            match self.recipe.axis_named(SPLIT_AXIS) {
                None => {
                    let values = labels
                        .into_iter()
                        .map(|label| AxisValue {
                            label,
                            value: None,
                            span,
                        })
                        .collect();
                    self.push_axis(
                        Axis {
                            name: SPLIT_AXIS.to_string(),
                            target: None,
                            values,
                            span,
                        },
                        span,
                    );
                }
                Some(a) => {
                    let axis = &self.recipe.axes[a];
                    let swept: Vec<&str> = axis.values.iter().map(|v| v.label.as_str()).collect();
                    if swept != labels {
                        let first = axis.span;
                        let d = Diagnostic::error(
                            Kind::BadAxis,
                            format!(
                                "dataset `{name}` lists the splits [{}], but `split` is already swept over [{}]",
                                labels.join(", "),
                                swept.join(", ")
                            ),
                        )
                        .at(span)
                        .secondary(first, "`split` is swept here")
                        .help("every dataset with several splits reads the same ones: list the same splits");
                        self.error(d);
                    }
                }
            }
        }
    }
}
