//! `vst run FILE --slurm`: every job of the plan that is not done becomes one `sbatch` submission, waiting
//! (`afterok`) for the submitted jobs it needs. Running it again submits nothing that is done, queued or running,
//! and resubmits what failed or was cancelled — with whatever waited on it.

use super::cluster::ClusterConfig;
use super::record::{self, SCRIPT_FILE, Submission};
use super::scheduler;
use super::script::{self, Invocation};
use anyhow::Context as _;
use std::collections::BTreeMap;
use vst_runtime::executor::{JobState, RunLock, RunStore, unix_now, write_atomic};
use vst_spec::{JobId, Plan};

/// What happened to one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Done,
    /// Already queued or running as this SLURM job.
    Kept {
        slurm_job: String,
        state: String,
    },
    Submitted {
        slurm_job: String,
        after: Vec<String>,
    },
    /// Its last SLURM job ended without a result (or waited on one that did): submitted again.
    Resubmitted {
        slurm_job: String,
        earlier: String,
    },
}

/// Submits the jobs of `selected` (all of the plan's, or one and what it needs) that are not done yet.
pub fn submit(
    plan: &Plan,
    selected: &[JobId],
    config: &ClusterConfig,
    invocation: &Invocation,
) -> anyhow::Result<Vec<(String, Action)>> {
    let store = RunStore::new(invocation.workdir.join(invocation.runs));
    // Two submissions at once would both find a job unsubmitted.
    let _lock = RunLock::acquire(store.root(), &plan.recipe)?;
    let recorded: BTreeMap<&JobId, Submission> = plan
        .jobs
        .iter()
        .filter_map(|job| Some((&job.id, record::read(&store.job_dir(&job.id))?)))
        .collect();
    let ids: Vec<String> = recorded.values().map(|s| s.slurm_job.clone()).collect();
    let known = scheduler::query(&ids)?;

    // The SLURM job each unfinished vst job is (or will be) run by, and whether it was submitted just now.
    let mut queued: BTreeMap<&JobId, (String, bool)> = BTreeMap::new();
    let mut actions = Vec::new();
    for job in plan.jobs.iter().filter(|j| selected.contains(&j.id)) {
        if let JobState::Done(_) = store.state(&job.id) {
            actions.push((job.name.clone(), Action::Done));
            continue;
        }
        let waits_on_new = job
            .deps
            .iter()
            .any(|d| queued.get(d).is_some_and(|(_, new)| *new));
        let previous = recorded.get(&job.id);
        if let Some(previous) = previous
            && let Some(active) = known.get(&previous.slurm_job).filter(|j| j.is_active())
        {
            if !waits_on_new {
                queued.insert(&job.id, (previous.slurm_job.clone(), false));
                actions.push((
                    job.name.clone(),
                    Action::Kept {
                        slurm_job: previous.slurm_job.clone(),
                        state: active.state.clone(),
                    },
                ));
                continue;
            }
            // It waits for an attempt of a dependency that ended without a result: it would never start.
            scheduler::cancel(std::slice::from_ref(&previous.slurm_job))?;
        }
        let after: Vec<String> = job
            .deps
            .iter()
            .filter_map(|d| queued.get(d).map(|(id, _)| id.clone()))
            .collect();
        let folder = store.job_dir(&job.id);
        let text = script::render(job, config, invocation)?;
        let path = folder.join(SCRIPT_FILE);
        write_atomic(&path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        let slurm_job = scheduler::submit(&path, &after)
            .with_context(|| format!("submitting `{}` ({})", job.name, path.display()))?;
        let mut earlier = previous.map(|p| p.earlier.clone()).unwrap_or_default();
        earlier.extend(previous.map(|p| p.slurm_job.clone()));
        let submission = Submission {
            slurm_job: slurm_job.clone(),
            submitted_at: unix_now(),
            after: after.clone(),
            earlier,
        };
        record::write(&folder, &submission).with_context(|| {
            format!(
                "cannot record SLURM job {slurm_job} in {}",
                folder.display()
            )
        })?;
        queued.insert(&job.id, (slurm_job.clone(), true));
        actions.push((
            job.name.clone(),
            match previous {
                Some(previous) => Action::Resubmitted {
                    slurm_job,
                    earlier: previous.slurm_job.clone(),
                },
                None => Action::Submitted { slurm_job, after },
            },
        ));
    }
    Ok(actions)
}
