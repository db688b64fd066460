//! Built cells → the [`Plan`]: a DAG of jobs (prepare data → pretrain → evaluate → report) in topological order,
//! each identified by a content hash of what determines its output, so that changing one cell changes only the ids
//! downstream of it.

use crate::build::BuiltCell;
use crate::check::collect::Recipe;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::expand::{Cell, coords_text};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeMap, HashMap};
use vst_spec::*;

mod identity;
#[cfg(test)]
mod tests;

pub use identity::{HASH_SIGNIFICANT_DIGITS, canonical_f64, canonical_json, job_id};

/// The plan and its graph (node weights are indices into `plan.jobs`).
pub struct Lowered {
    pub plan: Plan,
    pub graph: DiGraph<usize, ()>,
}

struct Builder {
    jobs: Vec<Job>,
    index: HashMap<JobId, usize>,
    graph: DiGraph<usize, ()>,
    nodes: Vec<NodeIndex>,
}

impl Builder {
    /// Adds a job (or finds the identical one already there); returns its id and whether it was new.
    fn add(
        &mut self,
        name: String,
        cell: BTreeMap<String, String>,
        deps: Vec<JobId>,
        cost: Cost,
        kind: JobKind,
    ) -> (JobId, bool) {
        let id = job_id(&kind, &deps);
        if self.index.contains_key(&id) {
            return (id, false);
        }
        let position = self.jobs.len();
        let node = self.graph.add_node(position);
        for dep in &deps {
            if let Some(&d) = self.index.get(dep) {
                self.graph.add_edge(self.nodes[d], node, ());
            }
        }
        self.nodes.push(node);
        self.index.insert(id.clone(), position);
        self.jobs.push(Job {
            id: id.clone(),
            name,
            cell,
            deps,
            cost,
            kind,
        });
        (id, true)
    }

    fn prepare(&mut self, data: &DatasetSpec) -> JobId {
        let kind = JobKind::Prepare(PrepareJob {
            dataset: data.clone(),
        });
        // A dataset with official splits is one prepare job per split: the name says which.
        let name = match &data.source {
            DataSource::Ucf101 { split, .. } | DataSource::Hmdb51 { split, .. } => {
                format!("prepare[{},split={split}]", data.name)
            }
            _ => format!("prepare[{}]", data.name),
        };
        self.add(name, BTreeMap::new(), Vec::new(), Cost::default(), kind)
            .0
    }
}

fn bracket(prefix: &str, coords: &[(String, String)]) -> String {
    if coords.is_empty() {
        prefix.to_string()
    } else {
        let inner: Vec<String> = coords.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{prefix}[{}]", inner.join(","))
    }
}

pub fn lower(
    recipe: &Recipe,
    cells: &[(&Cell, BuiltCell)],
    recipe_path: &str,
    diags: &mut Diagnostics,
) -> Lowered {
    let mut b = Builder {
        jobs: Vec::new(),
        index: HashMap::new(),
        graph: DiGraph::new(),
        nodes: Vec::new(),
    };
    // Per cell: its eval job ids, by evaluation index.
    let mut cell_evals: Vec<Vec<Option<JobId>>> = Vec::with_capacity(cells.len());
    // The first cell of each pre-training job: its name and its coordinates.
    let mut first_cell_of: HashMap<JobId, (String, Vec<usize>)> = HashMap::new();
    // The `split` axis of a dataset's official splits changes the evaluations only: cells that differ in it alone
    // share their pre-training by design.
    let declares_splits = recipe.datasets.iter().any(|d| {
        matches!(d.value.get("split"), Some(crate::check::value::Value::List(l)) if l.len() > 1)
    });
    let split_axis = recipe
        .axis_named(crate::check::collect::SPLIT_AXIS)
        .filter(|_| declares_splits);

    for (cell, built) in cells {
        let coords = coords_text(recipe, cell);
        let cell_map: BTreeMap<String, String> = coords.iter().cloned().collect();
        let data_id = b.prepare(&built.pretrain.dataset);
        let kind = JobKind::Pretrain(built.pretrain.clone());
        let (pretrain_id, new) = b.add(
            bracket("pretrain", &coords),
            cell_map.clone(),
            vec![data_id.clone()],
            built.pretrain_cost,
            kind,
        );
        let this = bracket("", &coords);
        let differ_in_split_only = |first: &[usize]| {
            split_axis.is_some_and(|split| {
                first
                    .iter()
                    .zip(&cell.coords)
                    .enumerate()
                    .all(|(axis, (a, b))| axis == split || a == b)
            })
        };
        if new {
            first_cell_of.insert(pretrain_id.clone(), (this, cell.coords.clone()));
        } else if let Some((first, first_coords)) = first_cell_of.get(&pretrain_id)
            && !differ_in_split_only(first_coords)
        {
            diags.push(
                Diagnostic::warning(
                    Kind::SameModel,
                    format!("the cells {first} and {this} train the same model"),
                )
                .at(recipe.sweep.unwrap_or_default())
                .note(
                    "they share one pre-training job: an axis value changes nothing in these cells",
                )
                .help(
                    "give the axis a meaning with `when(...) { ... }`, or drop the duplicate value",
                ),
            );
        }
        let mut evals = vec![None; recipe.evals.len()];
        for e in &built.evals {
            let eval_data = if e.data == built.data {
                data_id.clone()
            } else {
                b.prepare(&e.dataset)
            };
            // A fine-tune from scratch reads no pre-training: it depends only on its data, so the cells that
            // differ only in pre-training share one such job.
            let from_scratch = matches!(
                &e.eval,
                EvalSpec::Finetune(f) if f.from == FinetuneStart::Scratch
            );
            let pretrain = (!from_scratch).then(|| pretrain_id.clone());
            let mut deps: Vec<JobId> = pretrain.iter().cloned().collect();
            if from_scratch || eval_data != data_id {
                deps.push(eval_data);
            }
            let name = recipe.evals[e.index].name.clone();
            let job = EvalJob {
                name: name.clone(),
                eval: e.eval.clone(),
                pretrain,
                dataset: e.dataset.clone(),
                backbone: built.pretrain.backbone.clone(),
                normalize: built.pretrain.augment.normalize,
                seed: built.pretrain.seed,
                device: built.pretrain.device,
            };
            let (id, _) = b.add(
                bracket(&name, &coords),
                cell_map.clone(),
                deps,
                e.cost,
                JobKind::Eval(job),
            );
            evals[e.index] = Some(id);
        }
        cell_evals.push(evals);
    }

    let mut labels = BTreeMap::new();
    for report in &recipe.reports {
        let Some((eval_index, metric)) = &report.cell else {
            continue;
        };
        let axis_name =
            |a: Option<usize>| a.and_then(|i| recipe.axes.get(i)).map(|x| x.name.clone());
        let spec = ReportSpec {
            title: report.title.clone(),
            rows: axis_name(report.rows),
            cols: axis_name(report.cols),
            cell: format!("{}.{metric}", recipe.evals[*eval_index].name),
            paper: report.paper.clone(),
            expect: report.expect.clone(),
            over: axis_name(report.over),
        };
        for key in [&spec.rows, &spec.cols, &spec.over].into_iter().flatten() {
            if let Some(label) = crate::schema::axis_label(key) {
                labels.insert(key.clone(), label);
            }
        }
        let block = &recipe.evals[*eval_index];
        if let Some(label) = block.kind.metric_label(&block.name, metric) {
            labels.insert(spec.cell.clone(), label);
        }
        let label = |cell: &Cell, axis: Option<usize>| {
            axis.and_then(|a| {
                recipe
                    .axes
                    .get(a)
                    .and_then(|x| x.values.get(cell.coords[a]))
                    .map(|v| v.label.clone())
            })
        };
        let mut report_cells = Vec::new();
        let mut deps: Vec<JobId> = Vec::new();
        let mut measured: Vec<(&[usize], &JobId)> = Vec::new();
        for ((cell, _), evals) in cells.iter().zip(&cell_evals) {
            let Some(Some(eval)) = evals.get(*eval_index) else {
                continue;
            };
            measured.push((&cell.coords, eval));
            report_cells.push(ReportCell {
                row: label(cell, report.rows),
                col: label(cell, report.cols),
                over: label(cell, report.over),
                eval: eval.clone(),
            });
            if !deps.contains(eval) {
                deps.push(eval.clone());
            }
        }
        check_near_paper(report, &spec, &report_cells, diags);
        check_metric_fits_labels(report, (*eval_index, metric), cells, diags);
        for (i, axis) in recipe.axes.iter().enumerate() {
            let shown = [report.rows, report.cols, report.over].contains(&Some(i));
            if !shown && axis.values.len() > 1 && changes_the_job(&measured, i) {
                diags.push(
                    Diagnostic::warning(Kind::UnreportedAxis, format!(
                        "axis `{}` is neither the rows nor the columns of report \"{}\"",
                        axis.name, report.title
                    ))
                    .at(report.span)
                    .note(format!(
                        "its {} values share each table cell (the report averages them)",
                        axis.values.len()
                    ))
                    .help(match report.over {
                        None => format!(
                            "to show the mean ± s.d. over it instead, add `over: {}` to the report",
                            axis.name
                        ),
                        Some(o) => format!(
                            "within each `{over}` value the report averages over `{axis}`, then shows the mean \
                             ± s.d. over `{over}`",
                            over = recipe.axes[o].name,
                            axis = axis.name
                        ),
                    }),
                );
            }
        }
        let kind = JobKind::Report(ReportJob {
            report: spec,
            cells: report_cells,
        });
        b.add(
            format!("report[{}]", report.title),
            BTreeMap::new(),
            deps,
            Cost::default(),
            kind,
        );
    }

    // Jobs were added after their dependencies, so insertion order is topological; the graph confirms it.
    debug_assert!(petgraph::algo::toposort(&b.graph, None).is_ok());
    Lowered {
        plan: Plan {
            recipe: recipe_path.to_string(),
            jobs: b.jobs,
            labels,
        },
        graph: b.graph,
    }
}

/// Up to `max` items joined by `; `, with how many were left out.
fn listed(items: &[String], max: usize) -> String {
    let mut text = items[..items.len().min(max)].join("; ");
    if items.len() > max {
        text.push_str(&format!("; and {} more", items.len() - max));
    }
    text
}

/// A report's metric must be one its evaluation's data gives: mean average precision (`map`) for multi-label data
/// (Charades), top-1/top-5 for single-label data.
fn check_metric_fits_labels(
    report: &crate::check::collect::ReportDecl,
    (eval_index, metric): (usize, &str),
    cells: &[(&Cell, BuiltCell)],
    diags: &mut Diagnostics,
) {
    let Some(eval) = cells
        .iter()
        .flat_map(|(_, built)| &built.evals)
        .find(|e| e.index == eval_index)
    else {
        return;
    };
    let multi_label = eval.dataset.source.multi_label();
    let fits = match metric {
        "map" => multi_label,
        _ => !multi_label,
    };
    if fits {
        return;
    }
    let (message, help) = if multi_label {
        (
            format!(
                "`{}` is {}, a multi-label dataset: its fine-tune reports mean average precision, not `{metric}`",
                eval.data,
                eval.dataset.source.title()
            ),
            "write `cell: NAME.map`",
        )
    } else {
        (
            format!(
                "`{}` has one label per video: its evaluation reports top-1 and top-5, not mean average precision",
                eval.data
            ),
            "write `cell: NAME.top1` (mean average precision is for multi-label data such as `charades(...)`)",
        )
    };
    diags.push(
        Diagnostic::error(Kind::UnknownMetric, message)
            .at(report.spans.get("cell").copied().unwrap_or(report.span))
            .help(help),
    );
}

/// `within t of paper` on a report none of whose cells has a paper number could never be missed: an error.
fn check_near_paper(
    report: &crate::check::collect::ReportDecl,
    spec: &ReportSpec,
    cells: &[ReportCell],
    diags: &mut Diagnostics,
) {
    let Some(table) = spec.paper.as_deref().and_then(vst_spec::paper::table) else {
        return;
    };
    let compared = cells
        .iter()
        .filter(|cell| {
            table
                .lookup(
                    &spec.cell,
                    &spec.paper_coords(cell.row.as_deref(), cell.col.as_deref()),
                )
                .and_then(|c| c.value.value())
                .is_some()
        })
        .count();
    if compared > 0 {
        return;
    }
    let words = |coords: &[(&str, &str)]| {
        let parts: Vec<String> = coords.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        if parts.is_empty() {
            "the only cell".to_string()
        } else {
            parts.join(", ")
        }
    };
    let mut ours: Vec<String> = Vec::new();
    for cell in cells {
        let text = words(&spec.paper_coords(cell.row.as_deref(), cell.col.as_deref()));
        if !ours.contains(&text) {
            ours.push(text);
        }
    }
    // The table's numbers, one note per metric.
    let mut theirs: Vec<(&str, Vec<String>)> = Vec::new();
    for c in table.cells.iter().filter(|c| c.value.value().is_some()) {
        let at = words(c.coords);
        match theirs.iter_mut().find(|(m, _)| *m == c.metric) {
            Some((_, list)) => list.push(at),
            None => theirs.push((c.metric, vec![at])),
        }
    }
    let mut notes: Vec<String> = theirs
        .iter()
        .map(|(metric, at)| {
            format!(
                "paper table `{}` has `{metric}` numbers at {}",
                table.key,
                listed(at, 4)
            )
        })
        .collect();
    if notes.is_empty() {
        notes.push(format!(
            "paper table `{}` has no published number at all",
            table.key
        ));
    }
    for (expectation, span) in report.expect.iter().zip(&report.expect_spans) {
        let Expectation::NearPaper { tolerance } = expectation else {
            continue;
        };
        let mut d = Diagnostic::error(Kind::NothingToCompare, format!(
            "`within {tolerance} of paper` has nothing to compare: paper table `{}` has no number for any cell \
             of report \"{}\"",
            table.key, report.title
        ))
        .at(*span)
        .note(format!(
            "the report's cells: `{}` at {}",
            spec.cell,
            listed(&ours, 4)
        ));
        for note in &notes {
            d = d.note(note.clone());
        }
        diags.push(d.help(
            "sweep values the paper table has numbers for, or state the expectation as `at least v` or \
             `COLS a above b`",
        ));
    }
}

/// The plan with every pre-training and evaluation on `device` (the command line's `--device`), its ids
/// recomputed: a job on another device is another job (its numbers can differ), so it must not reuse results.
pub fn with_device(plan: &Plan, device: DeviceSpec) -> Plan {
    rewritten(plan, |kind| match kind {
        JobKind::Pretrain(p) => p.device = device,
        JobKind::Eval(e) => e.device = device,
        JobKind::Report(_) | JobKind::Prepare(_) => {}
    })
}

/// The plan with every pre-training in `precision` (the command line's `--precision`), ids recomputed as for
/// [`with_device`]: the arithmetic is part of a job's identity.
pub fn with_precision(plan: &Plan, precision: Precision) -> Plan {
    rewritten(plan, |kind| {
        if let JobKind::Pretrain(p) = kind {
            p.precision = precision;
        }
    })
}

/// The plan with `edit` applied to every job, in order, and every id recomputed: a job whose content or whose
/// dependencies changed gets a new id, and everything referring to it follows.
fn rewritten(plan: &Plan, edit: impl Fn(&mut JobKind)) -> Plan {
    let mut renamed: HashMap<JobId, JobId> = HashMap::new();
    let mut jobs = Vec::with_capacity(plan.jobs.len());
    for job in &plan.jobs {
        let mut job = job.clone();
        edit(&mut job.kind);
        match &mut job.kind {
            JobKind::Eval(e) => {
                if let Some(pretrain) = &mut e.pretrain
                    && let Some(moved) = renamed.get(pretrain)
                {
                    *pretrain = moved.clone();
                }
            }
            JobKind::Report(r) => {
                for cell in &mut r.cells {
                    cell.eval = renamed
                        .get(&cell.eval)
                        .cloned()
                        .unwrap_or(cell.eval.clone());
                }
            }
            JobKind::Pretrain(_) | JobKind::Prepare(_) => {}
        }
        for dep in &mut job.deps {
            if let Some(new) = renamed.get(dep) {
                *dep = new.clone();
            }
        }
        let id = job_id(&job.kind, &job.deps);
        renamed.insert(job.id.clone(), id.clone());
        job.id = id;
        jobs.push(job);
    }
    Plan {
        recipe: plan.recipe.clone(),
        jobs,
        labels: plan.labels.clone(),
    }
}

/// Whether axis `axis` changes the job a report cell measures: some two cells that differ only on that axis measure
/// different jobs. An evaluation that does not depend on the pre-training (`from: scratch`) is one job for every
/// objective, so a report of it averages nothing over the objective axis and needs no warning about it.
fn changes_the_job(measured: &[(&[usize], &JobId)], axis: usize) -> bool {
    let others = |coords: &[usize]| -> Vec<usize> {
        coords
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != axis)
            .map(|(_, &c)| c)
            .collect()
    };
    let mut first: BTreeMap<Vec<usize>, &JobId> = BTreeMap::new();
    measured.iter().any(|&(coords, job)| {
        let seen = first.entry(others(coords)).or_insert(job);
        *seen != job
    })
}
