//! `vst cancel FILE [--only JOB]`: cancels the SLURM jobs `vst run --slurm` submitted for a recipe's plan (or for
//! one job and the jobs that need it, which could not run without it). What they saved stays: submitting again
//! resumes from their last checkpoints.

use crate::slurm::{record, scheduler};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use vst_runtime::executor::{RunStore, find_job};
use vst_spec::{JobId, Plan};

#[derive(clap::Args)]
pub struct Args {
    /// The recipe
    file: PathBuf,
    /// Cancel only this job (its name as `vst plan` prints it, or an id prefix) and the jobs that need it
    #[arg(long)]
    only: Option<String>,
    /// Where job outputs live
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
}

pub fn run(args: Args) -> ExitCode {
    let (plan, _) = match super::compile_plan(&args.file, "nothing to cancel") {
        Ok(compiled) => compiled,
        Err(code) => return ExitCode::from(code),
    };
    super::report_errors(cancel(&plan, &args))
}

fn cancel(plan: &Plan, args: &Args) -> anyhow::Result<()> {
    let store = RunStore::new(&args.runs);
    let chosen = match &args.only {
        Some(wanted) => with_dependents(plan, &find_job(plan, wanted)?.id),
        None => plan.jobs.iter().map(|j| j.id.clone()).collect(),
    };
    let submitted: Vec<(String, String)> = plan
        .jobs
        .iter()
        .filter(|j| chosen.contains(&j.id))
        .filter_map(|j| {
            Some((
                j.name.clone(),
                record::read(&store.job_dir(&j.id))?.slurm_job,
            ))
        })
        .collect();
    let ids: Vec<String> = submitted.iter().map(|(_, id)| id.clone()).collect();
    let active = scheduler::query(&ids)?;
    let mut cancelled = Vec::new();
    for (name, id) in &submitted {
        if active.get(id).is_some_and(|j| j.is_active()) {
            println!("cancelling `{name}` (SLURM job {id})");
            cancelled.push(id.clone());
        }
    }
    scheduler::cancel(&cancelled)?;
    println!("{} SLURM jobs cancelled", cancelled.len());
    Ok(())
}

/// `target` and every job that needs it, directly or not.
fn with_dependents(plan: &Plan, target: &JobId) -> BTreeSet<JobId> {
    let mut chosen = BTreeSet::from([target.clone()]);
    // Plans are in topological order: one pass sees every dependency before its dependents.
    for job in &plan.jobs {
        if job.deps.iter().any(|d| chosen.contains(d)) {
            chosen.insert(job.id.clone());
        }
    }
    chosen
}
