//! The plan as a graph (inline SVG): one column per job kind (prepare → pretrain → evaluations → reports), a box
//! per job coloured by its state, a line per dependency. Each column is spread over the full height, so that a
//! pre-training sits level with its evaluations.

use super::escape;
use std::fmt::Write;
use vst_spec::{JobKind, Plan};

const COLUMN_W: f64 = 220.0;
const GAP_X: f64 = 40.0;
const BOX_H: f64 = 16.0;
const ROW_H: f64 = 20.0;
const PAD: f64 = 8.0;
/// Characters of a job's name a box has room for.
const NAME_CHARS: usize = 34;

fn column(kind: &JobKind) -> usize {
    match kind {
        JobKind::Prepare(_) => 0,
        JobKind::Pretrain(_) => 1,
        JobKind::Eval(_) => 2,
        JobKind::Report(_) => 3,
    }
}

fn colour(state: &str) -> (&'static str, &'static str) {
    match state {
        "done" => ("#e3f4e3", "#2ca02c"),
        "running" => ("#fff0dc", "#ff7f0e"),
        "failed" | "interrupted" => ("#fbe1e1", "#d62728"),
        _ => ("#f4f4f4", "#aaaaaa"),
    }
}

/// `states[i]` is the state of `plan.jobs[i]`.
pub fn render(plan: &Plan, states: &[&str]) -> String {
    let mut counts = [0usize; 4];
    let mut slot = Vec::with_capacity(plan.jobs.len());
    for job in &plan.jobs {
        let c = column(&job.kind);
        slot.push((c, counts[c]));
        counts[c] += 1;
    }
    let rows = counts.iter().copied().max().unwrap_or(0).max(1);
    let height = rows as f64 * ROW_H + 2.0 * PAD;
    let used = counts.iter().rposition(|&n| n > 0).map_or(1, |c| c + 1);
    let width = used as f64 * (COLUMN_W + GAP_X) - GAP_X + 2.0 * PAD;
    // The centre of a job's box: its column, and its place spread over the whole height.
    let centre = |i: usize| {
        let (c, k) = slot[i];
        let x = PAD + c as f64 * (COLUMN_W + GAP_X);
        let y = PAD + (k as f64 + 0.5) * (height - 2.0 * PAD) / counts[c] as f64;
        (x, y)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width}" height="{height:.0}" viewBox="0 0 {width} {height:.0}" font-size="10">"#
    );
    for (i, job) in plan.jobs.iter().enumerate() {
        let (x, y) = centre(i);
        for dep in &job.deps {
            if let Some(d) = plan.jobs.iter().position(|j| &j.id == dep) {
                let (dx, dy) = centre(d);
                let _ = writeln!(
                    s,
                    r##"<line x1="{:.1}" y1="{dy:.1}" x2="{x:.1}" y2="{y:.1}" stroke="#bbb"/>"##,
                    dx + COLUMN_W
                );
            }
        }
    }
    for (i, job) in plan.jobs.iter().enumerate() {
        let (x, y) = centre(i);
        let state = states.get(i).copied().unwrap_or("not started");
        let (fill, stroke) = colour(state);
        let name: String = job.name.chars().take(NAME_CHARS).collect();
        let cut = if job.name.chars().count() > NAME_CHARS {
            "…"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            r#"<g class="node"><title>{} ({})</title><rect x="{x:.1}" y="{:.1}" width="{COLUMN_W}" height="{BOX_H}" rx="3" fill="{fill}" stroke="{stroke}"/><text x="{:.1}" y="{:.1}">{}{cut}</text></g>"#,
            escape(&job.name),
            escape(state),
            y - BOX_H / 2.0,
            x + 4.0,
            y + 3.5,
            escape(&name)
        );
    }
    s.push_str("</svg>\n");
    s
}
