//! One run as several processes (data-parallel replicas). Rank 0 runs the executor exactly as a single process
//! would: it decides what runs, writes every file (job folders, metrics, checkpoints, `done.json`), prepares data
//! and writes reports. Before each pre-training or evaluation job it announces the job, and the other ranks serve
//! it: they train (or extract the features of) their share of every batch together with rank 0
//! ([`crate::train::Learner::with_replicas`], [`vst_data::loader::LoaderConfig::shard`],
//! [`super::eval::EvalContext::gather`]) and write nothing. After the last job rank 0 dismisses them.
//!
//! A pre-training job resumes from rank 0's checkpoint on every rank (the files must be on a file system all ranks
//! see: one machine, or a shared folder across nodes). A failed job ends the run — the ranks work in lockstep, so
//! one cannot go on without the others: the failing rank exits with code 3 (rank 0 after writing `failed.json`)
//! and the launcher (`mpirun`, `srun`) stops the rest. The checkpoint is kept, and the same command resumes.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use vst_spec::{EvalSpec, Job, JobKind, Plan};

use super::{PlanRunner, eval, pretrain};
use crate::distributed::Replicas;
use crate::executor::{JobContext, JobState, RunStore};

/// The message that ends [`serve`].
const DISMISS: f32 = 0.0;

/// Rank 0's message to the others, and theirs (ignored) back: one gather of one number.
fn exchange(replicas: &Replicas, message: f32) -> Result<f32> {
    let all = replicas
        .0
        .all_gather(&[message])
        .context("the replicas cannot reach each other")?;
    Ok(all[0])
}

/// Whether the replicas work on `job` together: pre-trainings, linear probes and kNN. Fine-tuning is not
/// data-parallel yet; rank 0 runs it (and data preparation and reports) alone.
pub fn shared(job: &Job) -> bool {
    match &job.kind {
        JobKind::Pretrain(_) => true,
        JobKind::Eval(e) => !matches!(e.eval, EvalSpec::Finetune(_)),
        _ => false,
    }
}

/// Rank 0: tells the other ranks to train `job` with it (nothing with one replica).
pub fn announce(replicas: &Replicas, plan: &Plan, job: &Job) -> Result<()> {
    if replicas.size() == 1 {
        return Ok(());
    }
    let Some(index) = plan.jobs.iter().position(|j| j.id == job.id) else {
        bail!("internal: job `{}` is not in the plan", job.name);
    };
    exchange(replicas, (index + 1) as f32)?;
    Ok(())
}

/// Rank 0: the run is over; the other ranks return from [`serve`].
pub fn dismiss(replicas: &Replicas) -> Result<()> {
    if replicas.size() > 1 {
        exchange(replicas, DISMISS)?;
    }
    Ok(())
}

/// Ranks other than 0: train the pre-training jobs rank 0 announces until it dismisses them.
pub fn serve(plan: &Plan, store: &RunStore, runner: &PlanRunner) -> Result<()> {
    let replicas = &runner.options.replicas;
    loop {
        let message = exchange(replicas, DISMISS)?;
        if message == DISMISS {
            return Ok(());
        }
        let index = message as usize - 1;
        let Some(job) = plan.jobs.get(index) else {
            bail!("rank 0 announced job {index}, which this plan does not have (another recipe?)");
        };
        let mut deps = BTreeMap::new();
        for dep in &job.deps {
            if let JobState::Done(record) = store.state(dep) {
                deps.insert(dep.clone(), (store.job_dir(dep), record.result));
            }
        }
        let ctx = JobContext {
            plan,
            dir: store.job_dir(&job.id),
            deps,
        };
        tracing::info!(job = %job.name, rank = replicas.rank(), "working as a replica");
        let result = match &job.kind {
            JobKind::Pretrain(spec) => pretrain::run(job, spec, &ctx, &runner.options),
            JobKind::Eval(spec) if shared(job) => eval::run(job, spec, &ctx, &runner.options),
            _ => bail!(
                "rank 0 announced `{}`, which replicas do not share",
                job.name
            ),
        };
        result.with_context(|| format!("replica {}: {}", replicas.rank(), job.name))?;
    }
}
