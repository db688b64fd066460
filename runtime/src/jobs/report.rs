//! `report(table)`: fill a report block from its evaluations' results and write it as Markdown, CSV, JSON and an
//! SVG plot, with the paper's numbers beside ours and a verdict on every declared expectation.
//!
//! A report `over` an axis (seeds) gathers each table cell's runs along it and shows their mean ± sample standard
//! deviation. An evaluation without a result (not run, or failed) leaves its run out: the table says how many are
//! missing and marks the cells that have fewer runs than the plan.

use crate::executor::{DONE_FILE, DoneRecord, JobContext, write_atomic};
use crate::report::{
    AxisLabels, Cell, PaperValue, Sample, Table, render_csv, render_markdown, render_svg,
};
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vst_spec::paper::{self, PaperValue as Published};
use vst_spec::{JobId, JobKind, Plan, ReportJob};

pub const FILES: [&str; 4] = ["report.md", "report.csv", "report.json", "report.svg"];

/// The metric key inside an evaluation's result: `linear.top1` → `top1`.
fn metric_key(cell: &str) -> &str {
    cell.rsplit('.').next().unwrap_or(cell)
}

/// The runs of one table cell at one value of the `over` axis: that value, their numbers, how many there are.
type Runs = (Option<String>, Vec<f64>, usize);

pub fn run(job: &ReportJob, ctx: &JobContext) -> Result<Value> {
    let store_root = ctx.dir.parent().map(PathBuf::from).unwrap_or_default();
    let table = fill_table(job, ctx.plan, &store_root, |id| {
        ctx.deps.get(id).map(|(_, result)| result.clone())
    });
    let markdown = render_markdown(&table);
    let outputs: [(&str, Vec<u8>); 4] = [
        (FILES[0], markdown.clone().into_bytes()),
        (FILES[1], render_csv(&table).into_bytes()),
        (FILES[2], serde_json::to_vec_pretty(&table)?),
        (FILES[3], render_svg(&table).into_bytes()),
    ];
    for (name, bytes) in outputs {
        let path = ctx.dir.join(name);
        write_atomic(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(json!({
        "title": table.title,
        "all_met": table.all_met(),
        "verdicts": table.verdicts,
        "files": FILES,
    }))
}

/// The report's table from the evaluations' results (`result_of` an evaluation job: its `done.json` result, None
/// while it has none), with the data notes read from the run store at `store_root`. Used by the report job and by
/// the HTML page, which fills the tables of a study that is still running.
pub fn fill_table(
    job: &ReportJob,
    plan: &Plan,
    store_root: &Path,
    result_of: impl Fn(&JobId) -> Option<Value>,
) -> Table {
    let spec = &job.report;
    let key = metric_key(&spec.cell);
    let paper_table = spec.paper.as_deref().and_then(paper::table);
    let label = |v: &Option<String>| v.clone().unwrap_or_else(|| "–".to_string());

    // Per table cell, per value of the `over` axis (one group without `over`): the runs' numbers. Runs that share
    // all three (a sweep axis the report does not show) are averaged, and the average is missing if one is.
    let mut runs = 0;
    let mut missing_runs = 0;
    let mut grouped: Vec<((String, String), Vec<Runs>)> = Vec::new();
    for cell in &job.cells {
        // An evaluation that has not finished (or failed) has no result here: its run is missing.
        let value =
            result_of(&cell.eval).and_then(|result| result.get(key).and_then(Value::as_f64));
        runs += 1;
        missing_runs += usize::from(value.is_none());
        let at = (label(&cell.row), label(&cell.col));
        let groups = match grouped.iter_mut().find(|(k, _)| *k == at) {
            Some((_, groups)) => groups,
            None => {
                grouped.push((at, Vec::new()));
                &mut grouped.last_mut().expect("just pushed").1
            }
        };
        match groups.iter_mut().find(|(o, _, _)| *o == cell.over) {
            Some((_, values, n)) => {
                values.extend(value);
                *n += 1;
            }
            None => groups.push((cell.over.clone(), value.into_iter().collect(), 1)),
        }
    }
    let mean = |values: &[f64], n: usize| {
        (values.len() == n && n > 0).then(|| values.iter().sum::<f64>() / n as f64)
    };
    let cells: Vec<Cell> = grouped
        .into_iter()
        .map(|((row, col), groups)| {
            let coords = spec.paper_coords(Some(&row), Some(&col));
            let paper = paper_table
                .and_then(|t| t.lookup(&spec.cell, &coords))
                .and_then(|c| match c.value {
                    Published::Reported(v) => Some(PaperValue {
                        value: v,
                        approximate: false,
                    }),
                    Published::Derived(v) => Some(PaperValue {
                        value: v,
                        approximate: true,
                    }),
                    Published::Unknown => None,
                });
            match &spec.over {
                Some(_) => {
                    let samples = groups
                        .iter()
                        .map(|(over, values, n)| Sample {
                            label: label(over),
                            value: mean(values, *n),
                        })
                        .collect();
                    Cell::aggregated(&row, &col, samples, paper)
                }
                None => {
                    let (_, values, n) = &groups[0];
                    Cell::single(&row, &col, mean(values, *n), paper)
                }
            }
        })
        .collect();

    let mut table = Table::new(spec, cells);
    table.runs = runs;
    table.missing_runs = missing_runs;
    table.notes = data_notes(plan, store_root, job);
    let label = |key: &Option<String>| key.as_ref().and_then(|k| plan.labels.get(k)).cloned();
    table.labels = AxisLabels {
        rows: label(&spec.rows),
        cols: label(&spec.cols),
        metric: plan.labels.get(&spec.cell).cloned(),
    };
    if let Some(t) = paper_table {
        let mut line = format!("Paper ({}): {}.", t.title, t.setting);
        if !t.trend.is_empty() {
            line.push_str(&format!(" Trend: {}.", t.trend.trim_end_matches('.')));
        }
        table.notes.push(line);
    }
    table
}

/// One line per dataset the report's numbers come from: size, fingerprint, missing and unreadable videos.
fn data_notes(plan: &Plan, store_root: &Path, job: &ReportJob) -> Vec<String> {
    let done = |id: &JobId| -> Option<Value> {
        let bytes = std::fs::read(store_root.join(&id.0).join(DONE_FILE)).ok()?;
        serde_json::from_slice::<DoneRecord>(&bytes)
            .ok()
            .map(|r| r.result)
    };
    // dataset name → (prepare result, most unreadable videos any pre-training met)
    let mut datasets: BTreeMap<String, (Value, u64)> = BTreeMap::new();
    for cell in &job.cells {
        let Some(eval) = plan.job(&cell.eval) else {
            continue;
        };
        let Some(JobKind::Eval(e)) = Some(&eval.kind) else {
            continue;
        };
        // The data the cell's encoder was trained on: the pre-training's, or for a fine-tune from scratch (which
        // has none) the data it reads itself.
        let source_id = e.pretrain.as_ref().unwrap_or(&eval.id);
        let unreadable = done(source_id)
            .and_then(|r| r["data"]["unreadable_videos"].as_u64())
            .unwrap_or(0);
        let Some(source) = plan.job(source_id) else {
            continue;
        };
        for dep in &source.deps {
            if let Some(JobKind::Prepare(p)) = plan.job(dep).map(|j| &j.kind) {
                let entry = datasets
                    .entry(p.dataset.name.clone())
                    .or_insert_with(|| (done(dep).unwrap_or(Value::Null), 0));
                entry.1 = entry.1.max(unreadable);
            }
        }
    }
    datasets
        .into_iter()
        .map(|(name, (prepared, unreadable))| {
            let how = prepared["prepared_by"]
                .as_str()
                .map(|how| format!(" The copy was {how}."))
                .unwrap_or_default();
            format!(
                "Data `{name}` ({}): {} train / {} val videos, fingerprint {}; {} listed videos missing, {unreadable} unreadable.{how}",
                prepared["kind"].as_str().unwrap_or("?"),
                prepared["train_videos"],
                prepared["val_videos"],
                prepared["fingerprint"].as_str().unwrap_or("?"),
                prepared["missing_videos"],
            )
        })
        .collect()
}

/// A finished report job's Markdown and files, for the CLI to print.
pub struct ReportOutput {
    pub markdown: String,
    pub files: Vec<PathBuf>,
    pub all_met: bool,
}

pub fn report_output(job_dir: &Path) -> Option<ReportOutput> {
    let record: DoneRecord =
        serde_json::from_slice(&std::fs::read(job_dir.join(DONE_FILE)).ok()?).ok()?;
    let markdown = std::fs::read_to_string(job_dir.join(FILES[0])).ok()?;
    Some(ReportOutput {
        markdown,
        files: FILES.iter().map(|f| job_dir.join(f)).collect(),
        all_met: record.result["all_met"].as_bool().unwrap_or(false),
    })
}

/// The Markdown and files of a report that ran partially in this run (some evaluations failed): recorded as
/// failed so that it runs again, its expectations never count as met.
pub fn partial_report_output(job_dir: &Path) -> Option<ReportOutput> {
    let markdown = std::fs::read_to_string(job_dir.join(FILES[0])).ok()?;
    Some(ReportOutput {
        markdown,
        files: FILES.iter().map(|f| job_dir.join(f)).collect(),
        all_met: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vst_spec::{Expectation, ReportCell, ReportSpec};

    fn job_over_seeds() -> ReportJob {
        let mut cells = Vec::new();
        for objective in ["moco", "byol"] {
            for clips in ["1", "2"] {
                for seed in ["0", "1", "2"] {
                    cells.push(ReportCell {
                        row: Some(objective.into()),
                        col: Some(clips.into()),
                        over: Some(seed.into()),
                        eval: JobId(format!("{objective}-{clips}-{seed}")),
                    });
                }
            }
        }
        ReportJob {
            report: ReportSpec {
                title: "T".into(),
                rows: Some("objective".into()),
                cols: Some("clips".into()),
                cell: "linear.top1".into(),
                paper: Some("table2".into()),
                expect: vec![Expectation::AboveBeyondSpread {
                    higher: "2".into(),
                    lower: "1".into(),
                }],
                over: Some("seed".into()),
            },
            cells,
        }
    }

    /// Runs the report job with the evaluations' `top1` given by `result` (None: that evaluation has no result).
    fn run_with(
        job: &ReportJob,
        test: &str,
        result: impl Fn(&str) -> Option<f64>,
    ) -> (Value, Table) {
        let dir = std::env::temp_dir().join(format!("vst-report-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let deps = job
            .cells
            .iter()
            .filter_map(|c| {
                let top1 = result(&c.eval.0)?;
                Some((c.eval.clone(), (dir.clone(), json!({ "top1": top1 }))))
            })
            .collect();
        let plan = Plan {
            recipe: "t.vst".into(),
            jobs: Vec::new(),
            labels: Default::default(),
        };
        let ctx = JobContext {
            plan: &plan,
            dir: dir.clone(),
            deps,
        };
        let value = run(job, &ctx).unwrap();
        let table: Table =
            serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        (value, table)
    }

    /// 40 + 10·(ρ − 1) for BYOL, 40 + 1·(ρ − 1) for MoCo, ± 1 for seeds 0 and 2.
    fn top1(eval: &str) -> f64 {
        let parts: Vec<&str> = eval.split('-').collect();
        let gain = if parts[0] == "byol" { 10.0 } else { 1.0 };
        let clips: f64 = parts[1].parse().unwrap();
        let seed: f64 = parts[2].parse().unwrap();
        40.0 + gain * (clips - 1.0) + (seed - 1.0)
    }

    #[test]
    fn the_report_job_aggregates_each_cells_seeds() {
        let (value, table) = run_with(&job_over_seeds(), "all", |e| Some(top1(e)));
        assert_eq!(table.rows, ["moco", "byol"]);
        assert_eq!(table.over_values, ["0", "1", "2"]);
        assert_eq!((table.runs, table.missing_runs), (12, 0));
        let byol2 = table.cell("byol", "2").unwrap();
        let over = byol2.over.as_ref().unwrap();
        assert_eq!((byol2.ours, over.sd, over.n), (Some(50.0), Some(1.0), 3));
        let values: Vec<_> = over.values.iter().map(|s| s.value).collect();
        assert_eq!(values, [Some(49.0), Some(50.0), Some(51.0)]);
        // The paper's number is found without the seed: table 2 has MoCo at ρ = 2 (derived from its text).
        let moco2 = table.cell("moco", "2").unwrap();
        assert_eq!(moco2.paper.as_ref().map(|p| p.value), Some(65.8));
        // MoCo gains 1 point with an s.d. of 1: not beyond the spread.
        assert_eq!(value["all_met"], false);
        assert!(
            table.verdicts[0]
                .detail
                .starts_with("moco: 41.0 ± 1.0 vs 40.0 ± 1.0")
        );
    }

    #[test]
    fn the_report_job_prints_what_a_partial_sweep_has() {
        // Seed 2 has not run anywhere, and BYOL ρ = 2 has no seed at all.
        let (_, table) = run_with(&job_over_seeds(), "partial", |e| {
            (!e.ends_with("-2") && !e.starts_with("byol-2")).then(|| top1(e))
        });
        assert_eq!((table.runs, table.missing_runs), (12, 6));
        assert!(table.partial());
        let moco1 = table.cell("moco", "1").unwrap();
        assert_eq!(moco1.over.as_ref().unwrap().n, 2);
        assert_eq!(moco1.ours, Some(39.5));
        assert_eq!(table.cell("byol", "2").unwrap().ours, None);
        let markdown = render_markdown(&table);
        assert!(
            markdown.contains("| moco | 39.5 ± 0.7 [n = 2] | 40.5 ± 0.7 [n = 2] (~65.8) |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("PARTIAL: 6 of 12 runs have no result yet"),
            "{markdown}"
        );
    }
}
