//! SLURM's own commands: `sbatch` submits, `squeue` says what is queued or running (and, for `MinJobAge` seconds,
//! what ended), `scontrol` the requeue count, `scancel` cancels. No accounting database is needed (no `sacct`).

use anyhow::{Context as _, bail};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// One SLURM job as `squeue` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmJob {
    pub id: String,
    /// `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, ...
    pub state: String,
    /// Why it waits (`Dependency`, `Resources`, `BeginTime`, `DependencyNeverSatisfied`, ...), `None` otherwise.
    pub reason: String,
    pub nodes: String,
    pub time_left: String,
}

impl SlurmJob {
    /// Queued, running or on its way back into the queue: it will still run (or finish) by itself.
    pub fn is_active(&self) -> bool {
        matches!(
            self.state.as_str(),
            "PENDING"
                | "RUNNING"
                | "CONFIGURING"
                | "COMPLETING"
                | "REQUEUED"
                | "REQUEUE_HOLD"
                | "REQUEUE_FED"
                | "RESIZING"
                | "SUSPENDED"
                | "STOPPED"
                | "SIGNALING"
                | "STAGE_OUT"
        )
    }
}

fn run(command: &mut Command) -> anyhow::Result<String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command.output().with_context(|| {
        format!("cannot run `{program}`: is SLURM installed here (a cluster's login node)?")
    })?;
    if !output.status.success() {
        bail!(
            "`{program}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Submits `script` (its `#SBATCH` lines say the rest), to start once every job of `after` succeeded; returns
/// SLURM's job id.
pub fn submit(script: &Path, after: &[String]) -> anyhow::Result<String> {
    let mut command = Command::new("sbatch");
    command.arg("--parsable");
    if !after.is_empty() {
        command.arg(format!("--dependency=afterok:{}", after.join(":")));
    }
    command.arg(script);
    let out = run(&mut command)?;
    // `--parsable` prints `id` or `id;cluster`.
    let id = out.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch printed {out:?}, not a job id");
    }
    Ok(id)
}

/// The jobs among `ids` that SLURM still knows (queued, running, or ended less than `MinJobAge` ago).
pub fn query(ids: &[String]) -> anyhow::Result<BTreeMap<String, SlurmJob>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    // All of the user's jobs, filtered here: `squeue -j` fails outright when one of the ids is forgotten.
    let out =
        run(Command::new("squeue").args(["--me", "-h", "-t", "all", "-o", "%i|%T|%r|%N|%L"]))?;
    Ok(parse_squeue(&out)
        .into_iter()
        .filter(|job| ids.contains(&job.id))
        .map(|job| (job.id.clone(), job))
        .collect())
}

fn parse_squeue(out: &str) -> Vec<SlurmJob> {
    out.lines()
        .filter_map(|line| {
            let mut fields = line.trim().splitn(5, '|');
            let mut next = || fields.next().unwrap_or("").to_string();
            let job = SlurmJob {
                id: next(),
                state: next(),
                reason: next(),
                nodes: next(),
                time_left: next(),
            };
            (!job.id.is_empty()).then_some(job)
        })
        .collect()
}

/// How many times SLURM requeued the job (preemption, the time-limit warning), if it still knows the job.
pub fn restarts(id: &str) -> Option<u32> {
    let out = run(Command::new("scontrol").args(["-o", "show", "job", id])).ok()?;
    // The job's name (which may hold anything) comes before `UserId=`; the counter after it.
    let tail = &out[out.find(" UserId=")?..];
    tail.split_whitespace()
        .find_map(|field| field.strip_prefix("Restarts="))
        .and_then(|n| n.parse().ok())
}

pub fn cancel(ids: &[String]) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    run(Command::new("scancel").args(ids)).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_squeue_lines() {
        let jobs = parse_squeue("12|PENDING|Dependency||UNLIMITED\n13|RUNNING|None|vm|9:58\n\n");
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].reason, "Dependency");
        assert_eq!(jobs[1].nodes, "vm");
        assert!(jobs[0].is_active() && jobs[1].is_active());
        let ended = SlurmJob {
            state: "CANCELLED".into(),
            ..jobs[0].clone()
        };
        assert!(!ended.is_active());
    }
}
