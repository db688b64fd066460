//! `report(table)`: fill a report block from its evaluations' results and write it as Markdown, CSV, JSON and an
//! SVG plot, with the paper's numbers beside ours and a verdict on every declared expectation.

use crate::executor::{DONE_FILE, DoneRecord, JobContext, write_atomic};
use crate::report::{Cell, PaperValue, Table, render_csv, render_markdown, render_svg};
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

pub fn run(job: &ReportJob, ctx: &JobContext) -> Result<Value> {
    let spec = &job.report;
    let key = metric_key(&spec.cell);
    let paper_table = spec.paper.as_deref().and_then(paper::table);
    let label = |v: &Option<String>| v.clone().unwrap_or_else(|| "–".to_string());

    // Cells that share a row and column (a sweep axis the report does not show) are averaged.
    let mut grouped: Vec<((String, String), Vec<f64>, usize)> = Vec::new();
    for cell in &job.cells {
        let (_, result) = ctx.dep(&cell.eval)?;
        let value = result.get(key).and_then(Value::as_f64);
        let at = (label(&cell.row), label(&cell.col));
        match grouped.iter_mut().find(|(k, _, _)| *k == at) {
            Some((_, values, n)) => {
                values.extend(value);
                *n += 1;
            }
            None => grouped.push((at, value.into_iter().collect(), 1)),
        }
    }
    let cells: Vec<Cell> = grouped
        .into_iter()
        .map(|((row, col), values, n)| {
            let ours = (values.len() == n && n > 0).then(|| values.iter().sum::<f64>() / n as f64);
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
            Cell {
                row,
                col,
                ours,
                paper,
            }
        })
        .collect();

    let mut table = Table::new(spec, cells);
    let store_root = ctx.dir.parent().map(PathBuf::from).unwrap_or_default();
    table.notes = data_notes(ctx.plan, &store_root, job);
    if let Some(t) = paper_table {
        let mut line = format!("Paper ({}): {}.", t.title, t.setting);
        if !t.trend.is_empty() {
            line.push_str(&format!(" Trend: {}.", t.trend.trim_end_matches('.')));
        }
        table.notes.push(line);
    }

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
        let unreadable = done(&e.pretrain)
            .and_then(|r| r["data"]["unreadable_videos"].as_u64())
            .unwrap_or(0);
        let Some(pretrain) = plan.job(&e.pretrain) else {
            continue;
        };
        for dep in &pretrain.deps {
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
            format!(
                "Data `{name}` ({}): {} train / {} val videos, fingerprint {}; {} listed videos missing, {unreadable} unreadable.",
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
