//! Reports: their axes, metrics, papers and expectations.

use super::*;
use crate::check::typecheck::describe;
use crate::diagnostic::{Diagnostic, Kind, closest};
use crate::schema::{REPORT_KEYS, Ty};
use crate::syntax::ast::{Block, Expr, ExprKind, Stmt, StmtKind};
use std::collections::HashMap;
use vst_spec::Expectation;

impl Collector<'_, '_> {
    // -----------------------------------------------------------------------------------------------------------
    // Reports

    pub(super) fn report(&mut self, stmt: &Stmt, block: &Block) {
        let header = header_span(block, stmt);
        if let Some(args) = &block.args {
            self.error(
                Diagnostic::error(Kind::BlockHeader, "`report` takes a title, not arguments")
                    .at(args.span),
            );
        }
        let title = match &block.label {
            Some(label) => label.text().to_string(),
            None => {
                self.error(
                    Diagnostic::error(Kind::BlockHeader, "a report needs a title")
                        .at(block.kind.span)
                        .help("write `report \"Table 2\" { ... }`"),
                );
                return;
            }
        };
        self.recipe.reports.push(ReportDecl {
            title,
            span: header,
            rows: None,
            cols: None,
            over: None,
            cell: None,
            paper: None,
            expect: Vec::new(),
            expect_spans: Vec::new(),
            spans: HashMap::new(),
            body: block.body.clone(),
        });
    }

    pub(super) fn resolve_reports(&mut self) {
        for i in 0..self.recipe.reports.len() {
            let body = std::mem::take(&mut self.recipe.reports[i].body);
            let mut report = self.recipe.reports[i].clone();
            self.report_body(&mut report, &body);
            self.recipe.reports[i] = report;
        }
    }

    pub(super) fn axis_ref(&mut self, value: &Expr, key: &str) -> Option<usize> {
        let name = match &value.kind {
            ExprKind::Path(p) => p.dotted(),
            _ => {
                self.error(
                    Diagnostic::error(
                        Kind::ReportAxes,
                        format!("`{key}` names a sweep axis, found {}", describe(value)),
                    )
                    .at(value.span),
                );
                return None;
            }
        };
        if let Some(i) = self.recipe.axis_named(&name) {
            return Some(i);
        }
        if self.is_poisoned(&name) {
            return None;
        }
        let names: Vec<&str> = self.recipe.axes.iter().map(|a| a.name.as_str()).collect();
        let d = Diagnostic::error(
            Kind::NotAnAxis,
            format!("report {key} `{name}` is not a sweep axis"),
        )
        .at(value.span)
        .suggest(closest(&name, names.iter().copied()))
        .note(if names.is_empty() {
            "the recipe has no sweep".to_string()
        } else {
            format!("the axes: {}", crate::schema::types::backticked_all(&names))
        });
        self.error(d);
        None
    }

    pub(super) fn report_body(&mut self, report: &mut ReportDecl, body: &[Stmt]) {
        let mut expect_exprs: Option<&Expr> = None;
        for stmt in body {
            let StmtKind::Entry { key, value } = &stmt.kind else {
                self.error(
                    Diagnostic::error(
                        Kind::ReportEntry,
                        "a report holds `key: value` entries only",
                    )
                    .at(stmt.span),
                );
                continue;
            };
            let name = key.dotted();
            let Some(spec) = REPORT_KEYS.iter().find(|k| k.key == name) else {
                self.error(
                    Diagnostic::error(
                        Kind::UnknownKey,
                        format!("unknown key `{name}` in `report`"),
                    )
                    .at(key.span)
                    .suggest(closest(&name, REPORT_KEYS.iter().map(|k| k.key))),
                );
                continue;
            };
            if let Some(&first) = report.spans.get(spec.key) {
                self.error(
                    Diagnostic::error(Kind::DuplicateSetting, format!("`{name}` is set twice"))
                        .label(key.span, "set again here")
                        .secondary(first, "first set here"),
                );
                continue;
            }
            report.spans.insert(spec.key, value.span);
            match spec.key {
                "rows" => report.rows = self.axis_ref(value, "rows"),
                "cols" => report.cols = self.axis_ref(value, "cols"),
                "over" => report.over = self.axis_ref(value, "over"),
                "cell" => report.cell = self.metric(value),
                "paper" => report.paper = self.paper(value),
                _ => expect_exprs = Some(value),
            }
        }
        if report.cell.is_none() && !report.spans.contains_key("cell") {
            self.error(
                Diagnostic::error(
                    Kind::ReportWithoutCell,
                    format!(
                        "report \"{}\" does not say what goes in its cells",
                        report.title
                    ),
                )
                .at(report.span)
                .help("add e.g. `cell: linear.top1`"),
            );
        }
        if let (Some(r), Some(c)) = (report.rows, report.cols)
            && r == c
            && let Some(&span) = report.spans.get("cols")
        {
            self.error(
                Diagnostic::error(
                    Kind::ReportAxes,
                    "a report's rows and columns are the same axis",
                )
                .at(span),
            );
        }
        if let Some(o) = report.over
            && let Some(&span) = report.spans.get("over")
        {
            for (key, shown) in [("rows", report.rows), ("cols", report.cols)] {
                if shown == Some(o) {
                    let name = &self.recipe.axes[o].name;
                    self.error(
                        Diagnostic::error(
                            Kind::ReportAxes,
                            format!(
                                "`over: {name}` aggregates the axis that the report's {key} show"
                            ),
                        )
                        .at(span)
                        .secondary(report.spans[key], format!("`{key}: {name}` is here"))
                        .help("`over` names a third axis, e.g. `over: seed`"),
                    );
                    report.over = None;
                }
            }
        }
        if let Some(expr) = expect_exprs {
            let items: Vec<&Expr> = match &expr.kind {
                ExprKind::List(items) => items.iter().collect(),
                _ => vec![expr],
            };
            for item in items {
                if let Some(e) = self.expectation(report, item) {
                    report.expect.push(e);
                    report.expect_spans.push(item.span);
                }
            }
        }
    }

    pub(super) fn metric(&mut self, value: &Expr) -> Option<(usize, String)> {
        let ExprKind::Path(path) = &value.kind else {
            self.error(
                Diagnostic::error(
                    Kind::UnknownMetric,
                    format!("`cell` names a metric, found {}", describe(value)),
                )
                .at(value.span)
                .help("e.g. `cell: linear.top1`"),
            );
            return None;
        };
        let [eval, metric] = path.parts.as_slice() else {
            self.error(
                Diagnostic::error(Kind::UnknownMetric, "`cell` is `<evaluation>.<metric>`")
                    .at(value.span)
                    .help("e.g. `cell: linear.top1`"),
            );
            return None;
        };
        let Some(index) = self.recipe.eval_named(&eval.name) else {
            self.unknown_eval(&eval.name, eval.span);
            return None;
        };
        let metrics = self.recipe.evals[index].kind.metrics();
        if !metrics.contains(&metric.name.as_str()) {
            self.error(
                Diagnostic::error(
                    Kind::UnknownMetric,
                    format!(
                        "evaluation `{}` reports no metric `{}`",
                        eval.name, metric.name
                    ),
                )
                .at(metric.span)
                .suggest(closest(&metric.name, metrics.iter().copied()))
                .note(format!(
                    "its metrics: {}",
                    crate::schema::types::backticked_all(metrics)
                )),
            );
            return None;
        }
        Some((index, metric.name.clone()))
    }

    pub(super) fn paper(&mut self, value: &Expr) -> Option<String> {
        let key = match &value.kind {
            ExprKind::Path(p) => p.dotted(),
            ExprKind::Str(s) => s.clone(),
            _ => {
                self.error(
                    Diagnostic::error(
                        Kind::UnknownPaperTable,
                        format!("`paper` names a table, found {}", describe(value)),
                    )
                    .at(value.span),
                );
                return None;
            }
        };
        if vst_spec::paper::table(&key).is_some() {
            return Some(key);
        }
        let keys: Vec<&str> = vst_spec::paper::tables().iter().map(|t| t.key).collect();
        self.error(
            Diagnostic::error(
                Kind::UnknownPaperTable,
                format!("the paper has no table `{key}`"),
            )
            .at(value.span)
            .suggest(closest(&key, keys.iter().copied()))
            .note(format!("tables: {}", keys.join(", "))),
        );
        None
    }

    pub(super) fn expectation(&mut self, report: &ReportDecl, expr: &Expr) -> Option<Expectation> {
        let non_negative = Ty::non_negative();
        match &expr.kind {
            ExprKind::Above {
                axis,
                higher,
                lower,
                by,
                spread,
            } => {
                let name = axis.dotted();
                // `cols` written but not an axis: that error is reported, this would only follow from it.
                if report.cols.is_none() && report.spans.contains_key("cols") {
                    return None;
                }
                let cols = report.cols.map(|c| self.recipe.axes[c].name.clone());
                if cols.as_deref() != Some(name.as_str()) {
                    let d = Diagnostic::error(
                        Kind::BadExpectation,
                        format!(
                            "`above` compares columns, but `{name}` is not the report's `cols`"
                        ),
                    )
                    .at(axis.span);
                    let d = match &cols {
                        Some(c) => d.help(format!("write `{c} ... above ...`")),
                        None => d.help(format!("add `cols: {name}`")),
                    };
                    self.error(d);
                    return None;
                }
                let axis_index = report.cols?;
                let hi = self.axis_value(axis_index, higher)?;
                let lo = self.axis_value(axis_index, lower)?;
                let margin = match by {
                    Some(m) => self.typer().check(m, &non_negative, "by")?.as_f64()?,
                    None => 0.0,
                };
                if let Some(spread) = spread {
                    // As for `cols`: a written `over` that is not an axis is already reported.
                    if report.over.is_none() && report.spans.contains_key("over") {
                        return None;
                    }
                    let Some(over) = report.over else {
                        self.error(
                            Diagnostic::error(
                                Kind::BadExpectation,
                                "`beyond spread` needs the axis the report aggregates (`over`)",
                            )
                            .at(*spread)
                            .note("the spread is the standard deviation over that axis (the seeds)")
                            .help("add e.g. `over: seed` to the report"),
                        );
                        return None;
                    };
                    let over_axis = &self.recipe.axes[over];
                    if over_axis.values.len() < 2 {
                        self.error(
                            Diagnostic::error(Kind::BadExpectation, format!(
                                "`beyond spread` needs two values of `{}` or more: one has no spread",
                                over_axis.name
                            ))
                            .at(*spread)
                            .secondary(over_axis.span, format!("`{}` is swept here", over_axis.name)),
                        );
                        return None;
                    }
                }
                let labels = &self.recipe.axes[axis_index].values;
                let (higher, lower) = (labels[hi].label.clone(), labels[lo].label.clone());
                Some(match spread {
                    Some(_) => Expectation::AboveBeyondSpread { higher, lower },
                    None => Expectation::Above {
                        higher,
                        lower,
                        margin,
                    },
                })
            }
            ExprKind::Within(tolerance) => {
                let tolerance = self
                    .typer()
                    .check(tolerance, &non_negative, "within")?
                    .as_f64()?;
                if report.paper.is_none() {
                    self.error(
                        Diagnostic::error(
                            Kind::BadExpectation,
                            "`within ... of paper` needs the report's `paper` table",
                        )
                        .at(expr.span)
                        .help("add e.g. `paper: table2`"),
                    );
                    return None;
                }
                Some(Expectation::NearPaper { tolerance })
            }
            ExprKind::AtLeast(value) => {
                let value = self.typer().check(
                    value,
                    &Ty::Float {
                        min: f64::MIN,
                        max: f64::MAX,
                        min_open: false,
                        max_open: false,
                    },
                    "at least",
                )?;
                Some(Expectation::AtLeast {
                    value: value.as_f64()?,
                })
            }
            _ => {
                self.error(
                    Diagnostic::error(
                        Kind::BadExpectation,
                        format!("expected an expectation, found {}", describe(expr)),
                    )
                    .at(expr.span)
                    .help(
                        "write `COLS a above b (by m | beyond spread)`, `within t of paper` or \
                             `at least v`",
                    ),
                );
                None
            }
        }
    }
}
