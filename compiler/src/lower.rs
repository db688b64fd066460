//! Built cells → the [`Plan`]: a DAG of jobs (prepare data → pretrain → evaluate → report) in topological order,
//! each identified by a content hash of what determines its output, so that changing one cell changes only the ids
//! downstream of it.

use crate::build::BuiltCell;
use crate::check::collect::Recipe;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::expand::{Cell, coords_text};
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use vst_spec::*;

/// A job's id: blake3 over the canonical JSON of its configuration, its inputs' ids and [`RESULTS_VERSION`]
/// (first 16 hex digits: 64 bits, plenty for the jobs of one machine's `runs/`). Every float is canonicalised
/// first ([`canonical_json`]), so that a computed `0.75 × 0.8 = 0.6000000000000001` is the same job as `0.6`.
pub fn job_id(kind: &JobKind, deps: &[JobId]) -> JobId {
    #[derive(Serialize)]
    struct Identity<'a> {
        results_version: u32,
        kind: &'a JobKind,
        deps: &'a [JobId],
    }
    let identity = Identity {
        results_version: RESULTS_VERSION,
        kind,
        deps,
    };
    // Serialising plain data cannot fail; the Debug form is a stable fallback all the same.
    let bytes =
        canonical_json(&identity).unwrap_or_else(|| format!("{kind:?}{deps:?}").into_bytes());
    let hash = blake3::hash(&bytes);
    JobId(hash.to_hex()[..16].to_string())
}

/// Significant digits a float keeps in a job's identity: far more than any setting means, far fewer than the
/// 15–17 at which floating-point arithmetic leaves its noise.
pub const HASH_SIGNIFICANT_DIGITS: usize = 12;

/// `x` rounded to [`HASH_SIGNIFICANT_DIGITS`] significant digits (the nearest f64 to that decimal), and -0 as 0.
/// A float that already has at most that many digits is returned unchanged.
pub fn canonical_f64(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return if x == 0.0 { 0.0 } else { x };
    }
    let text = format!("{x:.prec$e}", prec = HASH_SIGNIFICANT_DIGITS - 1);
    text.parse().unwrap_or(x)
}

/// `value` as compact JSON (fields in declaration order, as serde writes them) with every float replaced by
/// [`canonical_f64`] of it; integers and strings are untouched. None only if `value` cannot be serialised.
///
/// Floats are rewritten in the JSON text rather than in a `serde_json::Value`, whose maps would reorder the
/// fields (changing every id). A float with at most 12 significant digits is written exactly as before, so ids
/// of plans without arithmetic noise do not change.
pub fn canonical_json<T: Serialize>(value: &T) -> Option<Vec<u8>> {
    let json = serde_json::to_string(value).ok()?;
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // A string, copied as is: up to the closing quote that no backslash escapes.
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                out.push_str(&json[start..i]);
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let number = &json[start..i];
                let is_float = number.contains(['.', 'e', 'E']);
                match number.parse::<f64>() {
                    Ok(x) if is_float => {
                        out.push_str(&serde_json::to_string(&canonical_f64(x)).ok()?)
                    }
                    _ => out.push_str(number),
                }
            }
            _ => {
                // Structure and literals (`{`, `:`, `true`, `null`...): ASCII outside strings.
                out.push(bytes[i] as char);
                i += 1;
            }
        }
    }
    Some(out.into_bytes())
}

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
        self.add(
            format!("prepare[{}]", data.name),
            BTreeMap::new(),
            Vec::new(),
            Cost::default(),
            kind,
        )
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
    let mut first_cell_of: HashMap<JobId, String> = HashMap::new();

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
        if new {
            first_cell_of.insert(pretrain_id.clone(), this);
        } else if let Some(first) = first_cell_of.get(&pretrain_id) {
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
            let mut deps = vec![pretrain_id.clone()];
            if eval_data != data_id {
                deps.push(eval_data);
            }
            let name = recipe.evals[e.index].name.clone();
            let job = EvalJob {
                name: name.clone(),
                eval: e.eval.clone(),
                pretrain: pretrain_id.clone(),
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
        for ((cell, _), evals) in cells.iter().zip(&cell_evals) {
            let Some(Some(eval)) = evals.get(*eval_index) else {
                continue;
            };
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
        for (i, axis) in recipe.axes.iter().enumerate() {
            let shown = [report.rows, report.cols, report.over].contains(&Some(i));
            if !shown && axis.values.len() > 1 {
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
    let mut renamed: HashMap<JobId, JobId> = HashMap::new();
    let mut jobs = Vec::with_capacity(plan.jobs.len());
    for job in &plan.jobs {
        let mut job = job.clone();
        match &mut job.kind {
            JobKind::Pretrain(p) => p.device = device,
            JobKind::Eval(e) => {
                e.device = device;
                e.pretrain = renamed
                    .get(&e.pretrain)
                    .cloned()
                    .unwrap_or(e.pretrain.clone());
            }
            JobKind::Report(r) => {
                for cell in &mut r.cells {
                    cell.eval = renamed
                        .get(&cell.eval)
                        .cloned()
                        .unwrap_or(cell.eval.clone());
                }
            }
            JobKind::Prepare(_) => {}
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::MemoryLoader;
    use crate::{Options, compile};
    use std::collections::HashSet;
    use std::path::Path;

    /// `source` compiled in memory as `smoke.vst`; fails the test on any error.
    fn compile_smoke(source: &str) -> crate::Compilation {
        let loader = MemoryLoader::new([("smoke.vst", source)]);
        let env = |_: &str| None;
        let c = compile(
            Path::new("smoke.vst"),
            &Options {
                loader: &loader,
                env: &env,
            },
        )
        .expect("the recipe is in memory");
        assert!(!c.has_errors(), "{}", c.render_diagnostics(false));
        c
    }

    /// The seconds-scale smoke study (every job kind, two evaluations, a report), compiled in memory.
    fn smoke_plan() -> Plan {
        compile_smoke(include_str!("../../tests/recipes/smoke.vst"))
            .plan
            .expect("a plan")
    }

    fn first_pretrain(plan: &Plan) -> (PretrainJob, Vec<JobId>) {
        let job = plan
            .jobs
            .iter()
            .find(|j| matches!(j.kind, JobKind::Pretrain(_)))
            .expect("a pretrain job");
        let JobKind::Pretrain(p) = &job.kind else {
            unreachable!("matched above")
        };
        (p.clone(), job.deps.clone())
    }

    #[test]
    fn floats_are_rounded_to_12_significant_digits() {
        let noisy = 0.75 * 0.8;
        assert_ne!(noisy, 0.6, "the test needs arithmetic noise");
        assert_eq!(canonical_f64(noisy), 0.6);
        assert_eq!(canonical_f64(0.1 + 0.2), 0.3);
        assert_eq!(canonical_f64(-0.0).to_bits(), 0f64.to_bits());
        // Values with at most 12 significant digits are unchanged, bit for bit.
        for clean in [0.6, 1e-4, 4.8, 512.0, 0.994, 123456.789, -2.5e-7, 1e300] {
            assert_eq!(canonical_f64(clean).to_bits(), clean.to_bits(), "{clean}");
        }
        assert!(canonical_f64(f64::NAN).is_nan());
        assert_eq!(canonical_f64(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn canonical_json_rewrites_floats_only() {
        #[derive(Serialize)]
        struct Sample {
            name: &'static str,
            quoted: &'static str,
            count: u64,
            negative: i64,
            lr: f64,
            list: Vec<f64>,
            none: Option<f64>,
        }
        let sample = Sample {
            name: "lr = 0.6000000000000001",
            quoted: "a \"0.30000000000000004\" \\ b",
            count: 12345678901234567890,
            negative: -42,
            lr: 0.75 * 0.8,
            list: vec![0.1 + 0.2, 2.0, -1e-5],
            none: None,
        };
        let json = String::from_utf8(canonical_json(&sample).unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"name":"lr = 0.6000000000000001","quoted":"a \"0.30000000000000004\" \\ b","count":12345678901234567890,"negative":-42,"lr":0.6,"list":[0.3,2.0,-0.00001],"none":null}"#
        );
    }

    #[test]
    fn a_float_differing_only_by_rounding_noise_is_the_same_job() {
        let plan = smoke_plan();
        let (p, deps) = first_pretrain(&plan);
        let with_lr = |lr: f64| {
            let mut p = p.clone();
            p.schedule.lr = lr;
            job_id(&JobKind::Pretrain(p), &deps)
        };
        assert_eq!(with_lr(0.75 * 0.8), with_lr(0.6));
        assert_eq!(with_lr(0.1 + 0.2), with_lr(0.3));
        // A real change is another job, however small in the 12 digits kept.
        assert_ne!(with_lr(0.6), with_lr(0.61));
        assert_ne!(with_lr(0.6), with_lr(0.600000001));
        // The id the plan has is the one job_id gives.
        let job = plan
            .jobs
            .iter()
            .find(|j| matches!(j.kind, JobKind::Pretrain(_)))
            .unwrap();
        assert_eq!(job_id(&job.kind, &job.deps), job.id);
    }

    #[test]
    fn with_device_moves_every_job_and_recomputes_ids_downstream() {
        let plan = smoke_plan();
        let cuda = DeviceSpec::Cuda { index: 1 };
        let moved = with_device(&plan, cuda);
        assert_eq!(moved.recipe, plan.recipe);
        assert_eq!(moved.jobs.len(), plan.jobs.len());
        let ids: HashSet<&JobId> = moved.jobs.iter().map(|j| &j.id).collect();
        assert_eq!(ids.len(), moved.jobs.len(), "ids stay unique");
        let (mut pretrains, mut evals, mut reports) = (0, 0, 0);
        for (old, new) in plan.jobs.iter().zip(&moved.jobs) {
            assert_eq!((&old.name, &old.cell), (&new.name, &new.cell));
            // Every id is the documented hash of the job as it now is.
            assert_eq!(new.id, job_id(&new.kind, &new.deps), "{}", new.name);
            for dep in &new.deps {
                assert!(
                    ids.contains(dep),
                    "{} needs {dep}, not in the plan",
                    new.name
                );
            }
            match &new.kind {
                JobKind::Prepare(_) => {
                    // Data preparation does not run on a device: the same job, the same id.
                    assert_eq!(new.id, old.id);
                }
                JobKind::Pretrain(p) => {
                    pretrains += 1;
                    assert_eq!(p.device, cuda);
                    assert_ne!(new.id, old.id, "{}", new.name);
                }
                JobKind::Eval(e) => {
                    evals += 1;
                    assert_eq!(e.device, cuda);
                    assert_ne!(new.id, old.id, "{}", new.name);
                    assert!(new.deps.contains(&e.pretrain));
                    let pretrain = moved
                        .job(&e.pretrain)
                        .expect("its pre-training is in the plan");
                    assert!(matches!(&pretrain.kind, JobKind::Pretrain(p) if p.device == cuda));
                }
                JobKind::Report(r) => {
                    reports += 1;
                    assert_ne!(new.id, old.id, "its evaluations changed");
                    for cell in &r.cells {
                        let eval = moved
                            .job(&cell.eval)
                            .expect("the cell's evaluation is in the plan");
                        assert!(matches!(&eval.kind, JobKind::Eval(e) if e.device == cuda));
                        assert!(new.deps.contains(&cell.eval));
                    }
                }
            }
        }
        assert_eq!((pretrains, evals, reports), (8, 16, 1));
        // Moving back gives the original plan; moving to the device the recipe names changes nothing.
        assert_eq!(with_device(&moved, DeviceSpec::Cpu), plan);
        assert_eq!(with_device(&plan, DeviceSpec::Cpu), plan);
    }

    /// The smoke study with `extra` appended (a sweep, a report), compiled in memory.
    fn smoke_with(extra: &str) -> Plan {
        let source = format!(
            "{}\n{extra}",
            include_str!("../../tests/recipes/smoke.vst")
                .split("\nsweep")
                .next()
                .expect("text before the sweep")
        );
        let c = compile_smoke(&source);
        // An `over` axis is shown (aggregated): no "neither the rows nor the columns" warning for it.
        assert!(
            !c.diagnostics
                .items
                .iter()
                .any(|d| d.message.contains("neither")),
            "{}",
            c.render_diagnostics(false)
        );
        c.plan.expect("a plan")
    }

    #[test]
    fn a_seed_axis_seeds_each_cells_pretraining_and_evaluations() {
        let plan = smoke_with(
            "sweep {\n  objective: [byol]\n  seed: [0, 7]\n}\n\n\
             report \"R\" {\n  rows: objective\n  over: seed\n  cell: linear.top1\n}\n",
        );
        let mut seen = Vec::new();
        for job in &plan.jobs {
            let seed = match &job.kind {
                JobKind::Pretrain(p) => p.seed,
                JobKind::Eval(e) => {
                    // An evaluation is seeded like the pre-training it evaluates (probe init, data order, crops).
                    let Some(JobKind::Pretrain(p)) = plan.job(&e.pretrain).map(|j| &j.kind) else {
                        panic!("{} evaluates no pre-training", job.name);
                    };
                    assert_eq!(e.seed, p.seed, "{}", job.name);
                    e.seed
                }
                _ => continue,
            };
            assert_eq!(job.cell["seed"], seed.to_string(), "{}", job.name);
            seen.push((job.kind.label(), seed));
        }
        assert_eq!(seen.iter().filter(|(_, s)| *s == 7).count(), 3, "{seen:?}");
        assert_eq!(plan.count("pretrain"), 2);
        let report = plan
            .jobs
            .iter()
            .find_map(|j| match &j.kind {
                JobKind::Report(r) => Some(r),
                _ => None,
            })
            .expect("a report");
        assert_eq!(report.report.over.as_deref(), Some("seed"));
        let over: Vec<_> = report.cells.iter().map(|c| c.over.as_deref()).collect();
        assert_eq!(over, [Some("0"), Some("7")]);
        assert!(
            report
                .cells
                .iter()
                .all(|c| c.row.as_deref() == Some("byol"))
        );
    }

    #[test]
    fn a_report_without_over_keeps_its_id() {
        // `over` and a cell's `over` label are left out of the JSON when unset: ids of existing reports stand.
        let plan = smoke_plan();
        let report = plan
            .jobs
            .iter()
            .find(|j| matches!(j.kind, JobKind::Report(_)))
            .expect("a report");
        let json = serde_json::to_string(&report.kind).unwrap();
        assert!(!json.contains("\"over\""), "{json}");
    }
}
