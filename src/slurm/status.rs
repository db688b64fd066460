//! What SLURM says about each submitted job, in words, for `vst status`: queued (and why), running (where, time
//! left, requeues), or ended — with the tail of its log when it ended without a result.

use super::record::{self, Submission};
use super::scheduler::{self, SlurmJob};
use std::collections::BTreeMap;
use std::path::Path;
use vst_runtime::executor::{JobState, RunStore};
use vst_spec::{JobId, Plan};

/// Lines of a failed job's log that `vst status` shows.
const LOG_TAIL_LINES: usize = 5;

/// One line (and maybe a log tail) per submitted job; jobs never submitted are absent. Err when SLURM cannot be
/// asked (no `squeue` here).
pub fn describe(plan: &Plan, store: &RunStore) -> anyhow::Result<BTreeMap<JobId, String>> {
    let submissions: BTreeMap<&JobId, Submission> = plan
        .jobs
        .iter()
        .filter_map(|job| Some((&job.id, record::read(&store.job_dir(&job.id))?)))
        .collect();
    if submissions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let ids: Vec<String> = submissions.values().map(|s| s.slurm_job.clone()).collect();
    let known = scheduler::query(&ids)?;
    let mut lines = BTreeMap::new();
    for job in &plan.jobs {
        let Some(submission) = submissions.get(&job.id) else {
            continue;
        };
        let folder = store.job_dir(&job.id);
        let id = &submission.slurm_job;
        let state = store.state(&job.id);
        let line = match known.get(id) {
            Some(slurm) if slurm.is_active() => active(slurm, job, plan, store),
            Some(slurm) if matches!(state, JobState::Done(_)) => {
                format!("SLURM {id}: {}", slurm.state.to_lowercase())
            }
            Some(slurm) => format!(
                "SLURM {id}: {} without a result{}",
                slurm.state.to_lowercase(),
                log_tail(&submission.log(&folder))
            ),
            None if matches!(state, JobState::Done(_)) => format!("SLURM {id}: ended"),
            None => format!(
                "SLURM {id}: ended without a result (SLURM no longer lists it){}",
                log_tail(&submission.log(&folder))
            ),
        };
        lines.insert(job.id.clone(), line);
    }
    Ok(lines)
}

fn active(slurm: &SlurmJob, job: &vst_spec::Job, plan: &Plan, store: &RunStore) -> String {
    let id = &slurm.id;
    let restarts = match scheduler::restarts(id) {
        Some(n) if n > 0 => format!(", requeued {n} times"),
        _ => String::new(),
    };
    match slurm.state.as_str() {
        "RUNNING" => format!(
            "SLURM {id}: running on {}, {} left{restarts}",
            slurm.nodes, slurm.time_left
        ),
        "PENDING" if slurm.reason == "DependencyNeverSatisfied" => {
            let failed: Vec<String> = job
                .deps
                .iter()
                .filter(|d| !matches!(store.state(d), JobState::Done(_)))
                .filter_map(|d| plan.job(d).map(|j| format!("`{}`", j.name)))
                .collect();
            format!(
                "SLURM {id}: blocked: it needs {}, which ended without a result (run `vst run --slurm` again to \
                 resubmit)",
                failed.join(", ")
            )
        }
        "PENDING" => format!("SLURM {id}: queued ({}){restarts}", slurm.reason),
        other => format!("SLURM {id}: {}{restarts}", other.to_lowercase()),
    }
}

/// The last lines of SLURM's log of a job, indented under its status line.
fn log_tail(path: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return format!("; no log at {}", path.display());
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    let mut out = format!("; the end of {}:", path.display());
    for line in tail {
        out.push_str("\n               | ");
        out.push_str(line);
    }
    out
}
