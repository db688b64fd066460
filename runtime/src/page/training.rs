//! The page's training section: one figure per training job (pre-training and linear probes) with its curves
//! from `metrics.jsonl` and `timing.jsonl`, its progress so far while it runs, and the epochs where it resumed.

use super::curves::{self, Series};
use super::escape;
use crate::executor::RunStore;
use crate::jobs::{METRICS_FILE, TIMING_FILE, read_records};
use serde_json::Value;
use std::fmt::Write;
use vst_spec::{EvalSpec, Job, JobId, JobKind, Plan};

pub fn section(plan: &Plan, store: &RunStore, state_of: &dyn Fn(&JobId) -> &'static str) -> String {
    let mut s = String::from("<h2 id=\"training\">Training</h2>\n");
    let mut any = false;
    for job in &plan.jobs {
        let epochs = match &job.kind {
            JobKind::Pretrain(p) => p.schedule.epochs,
            JobKind::Eval(e) => match &e.eval {
                EvalSpec::Linear(l) => l.epochs,
                EvalSpec::Finetune(f) => f.epochs,
                EvalSpec::Knn(_) => continue,
            },
            _ => continue,
        };
        any = true;
        s.push_str(&figure(job, store, state_of(&job.id), epochs));
    }
    if !any {
        s.push_str("<p>The plan has no training job.</p>\n");
    }
    s
}

/// `key` of every record that has it, against `x` of that record.
fn curve(records: &[Value], x: &str, key: &str) -> Vec<(f64, f64)> {
    records
        .iter()
        .filter_map(|r| Some((r.get(x)?.as_f64()?, r.get(key)?.as_f64()?)))
        .collect()
}

fn figure(job: &Job, store: &RunStore, state: &str, epochs: u32) -> String {
    let dir = store.job_dir(&job.id);
    // A file that cannot be read shows as no records: the page is still written.
    let records = read_records(&dir.join(METRICS_FILE)).unwrap_or_default();
    let timing = read_records(&dir.join(TIMING_FILE)).unwrap_or_default();
    let steps: Vec<Value> = records
        .iter()
        .filter(|r| r.get("step").is_some())
        .cloned()
        .collect();
    let finished_epochs = records
        .iter()
        .filter(|r| r.get("epoch_end").is_some())
        .count();
    let x = if steps.iter().any(|r| r.get("epoch").is_some()) {
        "epoch"
    } else {
        "step"
    };
    let mut series = Vec::new();
    for (key, title) in [
        ("loss", "loss"),
        ("lr", "learning rate"),
        ("momentum", "target momentum"),
        ("embedding_std", "embedding std"),
        ("grad_norm", "gradient norm"),
    ] {
        let points = curve(&steps, x, key);
        if !points.is_empty() || key == "loss" {
            series.push(Series {
                title: title.into(),
                points: curves::downsample(points),
            });
        }
    }
    // Timing: the last record of each epoch (an epoch redone after a resume counts once), at the epoch's end.
    let mut per_epoch: Vec<(u64, &Value)> = Vec::new();
    for r in &timing {
        if let Some(e) = r.get("epoch").and_then(Value::as_u64) {
            per_epoch.retain(|(k, _)| *k != e);
            per_epoch.push((e, r));
        }
    }
    per_epoch.sort_by_key(|(e, _)| *e);
    for (key, title) in [
        ("clips_per_s", "clips/s"),
        ("load_wait_s", "data-loader wait (s per epoch)"),
    ] {
        let points: Vec<(f64, f64)> = per_epoch
            .iter()
            .filter_map(|(e, r)| Some((*e as f64 + 1.0, r.get(key)?.as_f64()?)))
            .collect();
        if !points.is_empty() {
            series.push(Series {
                title: title.into(),
                points,
            });
        }
    }
    let marks: Vec<f64> = timing
        .iter()
        .filter(|r| r.get("resumed").and_then(Value::as_bool) == Some(true))
        .filter_map(|r| r.get("epoch").and_then(Value::as_f64))
        .filter(|_| x == "epoch")
        .collect();
    let progress = match state {
        "done" => String::new(),
        _ if records.is_empty() => " — no records yet".to_string(),
        _ => {
            let at = steps
                .last()
                .and_then(|r| r.get("epoch"))
                .and_then(Value::as_f64)
                .unwrap_or(finished_epochs as f64);
            format!(
                " — <span class=\"progress\">progress: epoch {} of {epochs}</span>",
                curves::short(at)
            )
        }
    };
    let resumed = if marks.is_empty() {
        String::new()
    } else {
        let at: Vec<String> = marks.iter().map(|m| curves::short(*m)).collect();
        format!(" — resumed at epoch {}", at.join(", "))
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<figure class="curves" id="curves-{}"><figcaption><code>{}</code> — {}{progress}{resumed}</figcaption>"#,
        escape(&job.id.0),
        escape(&job.name),
        escape(state)
    );
    s.push_str(&curves::render(&series, x, &marks));
    s.push_str("</figure>\n");
    s
}
