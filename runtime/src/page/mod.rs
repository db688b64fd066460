//! `vst report FILE --html`: one self-contained HTML page for a whole study — every report's table and plot, the
//! plan's jobs with their state and cost, per-job training curves, evaluation results, and what each cell of the
//! sweep changes against the study's base. No script, no network: inline CSS and SVG, opens from disk. Built from
//! the run store's small files only (`done.json`, `metrics.jsonl`, `timing.jsonl`, never a checkpoint), so it is
//! cheap to regenerate while a study runs; tables are filled from whatever evaluations have finished.
//!
//! Every string that comes from a recipe or from data (titles, keys, values, paths, job names) is escaped.

mod curves;
mod graph;
mod reports;
mod training;

use crate::executor::{DONE_FILE, DoneRecord, RunStore, job_states};
use crate::jobs::fill_table;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write;
use vst_spec::{JobId, JobKind, Plan};

pub use crate::report::escape;

/// One setting a cell changes against the base (from the compiler's expansion).
#[derive(Debug, Clone)]
pub struct SettingChange {
    pub key: String,
    pub value: String,
    pub base: Option<String>,
    pub origin: String,
}

/// A sweep cell: its coordinates and what it changes.
#[derive(Debug, Clone)]
pub struct CellSettings {
    pub coords: Vec<(String, String)>,
    pub changes: Vec<SettingChange>,
}

pub struct PageInput<'a> {
    /// The recipe as the user named it.
    pub recipe: &'a str,
    pub plan: &'a Plan,
    pub store: &'a RunStore,
    pub cells: &'a [CellSettings],
}

const STYLE: &str = include_str!("style.css");

/// The whole page.
pub fn render_page(input: &PageInput) -> String {
    let plan = input.plan;
    let done: HashMap<&JobId, DoneRecord> = plan
        .jobs
        .iter()
        .filter_map(|job| {
            let bytes = std::fs::read(input.store.job_dir(&job.id).join(DONE_FILE)).ok()?;
            Some((&job.id, serde_json::from_slice(&bytes).ok()?))
        })
        .collect();
    let states: Vec<&'static str> = job_states(plan, input.store)
        .into_iter()
        .map(|(_, s)| if s == "pending" { "not started" } else { s })
        .collect();
    let state_of = |id: &JobId| {
        plan.jobs
            .iter()
            .position(|j| &j.id == id)
            .map_or("not started", |i| states[i])
    };

    let mut s = String::new();
    let title = format!("vst study: {}", input.recipe);
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        escape(&title)
    );
    let _ = writeln!(s, "<h1>{}</h1>", escape(&title));
    let count = |state: &str| states.iter().filter(|s| **s == state).count();
    let _ = writeln!(
        s,
        r#"<p class="summary">{} jobs: {} done, {} running, {} interrupted, {} failed, {} not started. Run store: <code>{}</code>.</p>"#,
        plan.jobs.len(),
        count("done"),
        count("running"),
        count("interrupted"),
        count("failed"),
        count("not started"),
        escape(&input.store.root().display().to_string())
    );
    s.push_str(r##"<nav><a href="#reports">Reports</a> · <a href="#plan">Plan</a> · <a href="#training">Training</a> · <a href="#evaluations">Evaluations</a> · <a href="#settings">Settings</a></nav>"##);

    s.push_str("<h2 id=\"reports\">Reports</h2>\n");
    let mut any_report = false;
    for job in &plan.jobs {
        if let JobKind::Report(report) = &job.kind {
            any_report = true;
            let table = fill_table(report, plan, input.store.root(), |id| {
                done.get(id).map(|d| d.result.clone())
            });
            s.push_str(&reports::render(&table));
        }
    }
    if !any_report {
        s.push_str("<p>The recipe declares no report.</p>\n");
    }

    s.push_str(&plan_section(plan, &done, &states));
    s.push_str(&training::section(plan, input.store, &state_of));
    s.push_str(&evaluations_section(plan, &done, &state_of));
    s.push_str(&settings_section(plan, input.cells));
    s.push_str("</body></html>\n");
    s
}

/// `states[i]` is the state of `plan.jobs[i]`.
fn plan_section(plan: &Plan, done: &HashMap<&JobId, DoneRecord>, states: &[&str]) -> String {
    let mut s = String::from("<h2 id=\"plan\">Plan</h2>\n");
    let _ = writeln!(
        s,
        r#"<figure class="graph"><div class="wide">{}</div><figcaption>Green done, orange running, red failed or interrupted, grey not started; hover a box for its full name.</figcaption></figure>"#,
        graph::render(plan, states)
    );
    s.push_str(
        "<table class=\"plan\"><thead><tr><th>job</th><th>state</th><th>clips</th><th>GMACs</th><th>time</th><th>needs</th></tr></thead><tbody>\n",
    );
    let name_of = |id: &JobId| {
        plan.job(id)
            .map_or_else(|| id.0.clone(), |j| j.name.clone())
    };
    for (job, &state) in plan.jobs.iter().zip(states) {
        let time = done
            .get(&job.id)
            .map(|d| format!("{:.0} s", d.seconds))
            .unwrap_or_default();
        let needs: Vec<String> = job.deps.iter().map(|d| escape(&name_of(d))).collect();
        let _ = writeln!(
            s,
            r#"<tr class="{}"><td><code>{}</code> <span class="id">{}</span></td><td>{}</td><td>{}</td><td>{:.1}</td><td>{time}</td><td>{}</td></tr>"#,
            state.replace(' ', "-"),
            escape(&job.name),
            escape(&job.id.0),
            state,
            job.cost.clips,
            job.cost.gmacs,
            needs.join("<br>")
        );
    }
    s.push_str("</tbody></table>\n");
    s
}

fn evaluations_section(
    plan: &Plan,
    done: &HashMap<&JobId, DoneRecord>,
    state_of: &dyn Fn(&JobId) -> &'static str,
) -> String {
    let evals: Vec<_> = plan
        .jobs
        .iter()
        .filter(|j| matches!(j.kind, JobKind::Eval(_)))
        .collect();
    let mut keys: Vec<String> = Vec::new();
    for job in &evals {
        if let Some(Value::Object(map)) = done.get(&job.id).map(|d| &d.result) {
            for (key, value) in map {
                if value.is_number() && !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
    }
    let mut s = String::from(
        "<h2 id=\"evaluations\">Evaluations</h2>\n<div class=\"wide\"><table class=\"evals\"><thead><tr><th>job</th><th>state</th>",
    );
    for key in &keys {
        let _ = write!(s, "<th>{}</th>", escape(key));
    }
    s.push_str("</tr></thead><tbody>\n");
    for job in &evals {
        let _ = write!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td>",
            escape(&job.name),
            state_of(&job.id)
        );
        let result = done.get(&job.id).map(|d| &d.result);
        for key in &keys {
            let cell = result
                .and_then(|r| r.get(key))
                .and_then(Value::as_f64)
                .map(curves::short)
                .unwrap_or_default();
            let _ = write!(s, "<td>{cell}</td>");
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table></div>\n");
    s
}

fn settings_section(plan: &Plan, cells: &[CellSettings]) -> String {
    let mut s = String::from(
        "<h2 id=\"settings\">Settings</h2>\n<p>What each cell of the sweep changes against the study's base (the recipe's body and the built-in defaults).</p>\n",
    );
    if cells.len() <= 1 && cells.iter().all(|c| c.changes.is_empty()) {
        s.push_str("<p>The recipe has one cell: every job runs the base settings.</p>\n");
        return s;
    }
    for cell in cells {
        let name: Vec<String> = cell
            .coords
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let jobs: Vec<String> = plan
            .jobs
            .iter()
            .filter(|j| {
                !j.cell.is_empty()
                    && j.cell
                        .iter()
                        .all(|(k, v)| cell.coords.iter().any(|(ck, cv)| ck == k && cv == v))
            })
            .map(|j| format!("<code>{}</code>", escape(&j.name)))
            .collect();
        let _ = writeln!(
            s,
            r#"<section class="cell"><h3>{}</h3><p class="jobs">jobs: {}</p>"#,
            escape(&name.join(", ")),
            jobs.join(" ")
        );
        if cell.changes.is_empty() {
            s.push_str("<p>No change: this cell runs the base settings.</p></section>\n");
            continue;
        }
        s.push_str("<table class=\"diff\"><thead><tr><th>setting</th><th>base</th><th>this cell</th><th>from</th></tr></thead><tbody>\n");
        for change in &cell.changes {
            let _ = writeln!(
                s,
                r#"<tr><td><code>{}</code></td><td class="base">{}</td><td class="changed">{}</td><td class="origin">{}</td></tr>"#,
                escape(&change.key),
                escape(change.base.as_deref().unwrap_or("(not set)")),
                escape(&change.value),
                escape(&change.origin)
            );
        }
        s.push_str("</tbody></table></section>\n");
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            super::escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
    }
}
