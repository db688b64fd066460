//! Walks a [`Plan`] in topological order: skips complete jobs, resumes interrupted ones, records every outcome
//! under `runs/<job-id>/`, and keeps going past a failed job with everything that does not depend on it.

mod atomic;
mod lock;
mod memory;
mod store;

pub use atomic::{write_atomic, write_json_atomic};
pub use lock::{LockError, LockInfo, RunLock, holder as lock_holder};
pub use store::{DONE_FILE, DoneRecord, FailedRecord, JobState, RunStore, unix_now};

use anyhow::Context as _;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;
use vst_spec::{Job, JobId, Plan};

/// What a job runner gets: its own directory and its dependencies' outputs.
pub struct JobContext<'a> {
    pub plan: &'a Plan,
    pub dir: PathBuf,
    /// Each dependency's directory and the result it recorded in `done.json`.
    pub deps: BTreeMap<JobId, (PathBuf, Value)>,
}

impl JobContext<'_> {
    /// The dependency's output directory and result, or an error naming it.
    pub fn dep(&self, id: &JobId) -> anyhow::Result<&(PathBuf, Value)> {
        self.deps
            .get(id)
            .with_context(|| format!("internal: dependency {id} has no result"))
    }
}

/// Runs one kind of job. The executor owns the bookkeeping; a runner owns the work.
pub trait JobRunner {
    /// Checks, before anything is created on disk, that `job` can run at all (its data exists, its device is
    /// present). A failure here stops the whole run before it starts.
    fn preflight(&self, _job: &Job) -> anyhow::Result<()> {
        Ok(())
    }

    /// Does the job's work in `ctx.dir` (resuming from whatever it saved there before) and returns its result.
    fn run(&self, job: &Job, ctx: &JobContext) -> anyhow::Result<Value>;

    /// Whether `job` still runs, on the dependencies that finished, when others failed (a report prints what a
    /// partly failed sweep has). Such a run is recorded as failed ("partial"), so that the next run redoes it.
    fn runs_partial(&self, _job: &Job) -> bool {
        false
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run only the job with this name (or id prefix), with whatever it needs.
    pub only: Option<String>,
    /// Report what would run, run nothing, create nothing.
    pub dry_run: bool,
    /// Stop at the first failed job (runs of several replicas: they cannot go on without the failed one).
    pub stop_on_failure: bool,
    /// Once set (a stop request: SIGUSR1), no further job starts.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Run the `only` job alone: its dependencies must be done already, and only its own folder is locked, so
    /// that a scheduler (SLURM) can run independent jobs of one study at once in one runs folder.
    pub no_deps: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    AlreadyDone,
    WouldRun {
        resume: bool,
    },
    Ran,
    Failed(String),
    /// Not attempted because a dependency failed.
    Blocked(String),
    /// Ran on the dependencies that finished while others failed ([`JobRunner::runs_partial`]); recorded as
    /// failed, with this message, so that it runs again.
    Partial(String),
}

#[derive(Debug, Default)]
pub struct RunSummary {
    pub outcomes: Vec<(String, Outcome)>,
}

impl RunSummary {
    pub fn failures(&self) -> impl Iterator<Item = (&str, &Outcome)> {
        self.outcomes
            .iter()
            .filter(|(_, o)| {
                matches!(
                    o,
                    Outcome::Failed(_) | Outcome::Blocked(_) | Outcome::Partial(_)
                )
            })
            .map(|(n, o)| (n.as_str(), o))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("no job named `{0}` in this plan (see `vst plan`)")]
    UnknownJob(String),
    #[error("`{0}` matches several jobs: {1}")]
    AmbiguousJob(String, String),
    #[error("cannot run `{job}`: {error:#}")]
    Preflight { job: String, error: anyhow::Error },
    /// Several jobs' preflights failed: each `cannot run ...` on its line.
    #[error("{0}")]
    Preflights(String),
    #[error(
        "`{job}` needs `{dep}`, which is not done (--no-deps runs one job whose dependencies are done)"
    )]
    DependencyNotDone { job: String, dep: String },
    #[error("--no-deps needs --only JOB: the one job to run")]
    NoDepsWithoutOnly,
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("run directory {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Finds the job a user named, by exact name or by a unique prefix of its id.
pub fn find_job<'p>(plan: &'p Plan, wanted: &str) -> Result<&'p Job, ExecError> {
    if let Some(job) = plan
        .jobs
        .iter()
        .find(|j| j.name == wanted || j.id.0 == wanted)
    {
        return Ok(job);
    }
    let matches: Vec<&Job> = plan
        .jobs
        .iter()
        .filter(|j| j.id.0.starts_with(wanted) && wanted.len() >= 4)
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(ExecError::UnknownJob(wanted.to_string())),
        many => Err(ExecError::AmbiguousJob(
            wanted.to_string(),
            many.iter()
                .map(|j| j.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

/// The jobs to consider: all of them, or the one asked for and its ancestors.
fn selection(plan: &Plan, only: Option<&str>) -> Result<BTreeSet<JobId>, ExecError> {
    let Some(wanted) = only else {
        return Ok(plan.jobs.iter().map(|j| j.id.clone()).collect());
    };
    let target = find_job(plan, wanted)?;
    let mut chosen = BTreeSet::new();
    let mut stack = vec![target.id.clone()];
    while let Some(id) = stack.pop() {
        if chosen.insert(id.clone())
            && let Some(job) = plan.job(&id)
        {
            stack.extend(job.deps.iter().cloned());
        }
    }
    Ok(chosen)
}

pub struct Executor<'a> {
    pub plan: &'a Plan,
    pub store: RunStore,
    pub runner: &'a dyn JobRunner,
}

impl Executor<'_> {
    pub fn run(&self, options: &RunOptions) -> Result<RunSummary, ExecError> {
        let chosen = match options.no_deps {
            true => self.lone_job(options.only.as_deref())?,
            false => selection(self.plan, options.only.as_deref())?,
        };
        let todo: Vec<&Job> = self
            .plan
            .jobs
            .iter()
            .filter(|j| {
                chosen.contains(&j.id) && !matches!(self.store.state(&j.id), JobState::Done(_))
            })
            .collect();

        // Everything that can be known to fail is found before the first byte is written, every failure at once
        // (each missing dataset named, not only the first).
        let mut failures: Vec<(String, anyhow::Error)> = todo
            .iter()
            .filter_map(|job| {
                let error = self.runner.preflight(job).err()?;
                Some((job.name.clone(), error))
            })
            .collect();
        if failures.len() == 1 {
            let (job, error) = failures.remove(0);
            return Err(ExecError::Preflight { job, error });
        }
        if !failures.is_empty() {
            // One line per distinct reason (a missing GPU stops every job that needs it: said once).
            let mut reasons: Vec<(String, Vec<String>)> = Vec::new();
            for (job, error) in failures {
                let reason = format!("{error:#}");
                match reasons.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, jobs)) => jobs.push(job),
                    None => reasons.push((reason, vec![job])),
                }
            }
            let lines: Vec<String> = reasons
                .into_iter()
                .map(|(reason, jobs)| {
                    let named = match jobs.len() {
                        1 => format!("`{}`", jobs[0]),
                        n => format!("`{}` and {} more jobs", jobs[0], n - 1),
                    };
                    format!("cannot run {named}: {reason}")
                })
                .collect();
            return Err(ExecError::Preflights(lines.join("\n")));
        }

        let mut summary = RunSummary::default();
        if options.dry_run {
            for job in self.plan.jobs.iter().filter(|j| chosen.contains(&j.id)) {
                let outcome = match self.store.state(&job.id) {
                    JobState::Done(_) => Outcome::AlreadyDone,
                    JobState::Started | JobState::Failed(_) => Outcome::WouldRun { resume: true },
                    JobState::Pending => Outcome::WouldRun { resume: false },
                };
                summary.outcomes.push((job.name.clone(), outcome));
            }
            return Ok(summary);
        }

        let mut lock = match options.no_deps {
            // Only one job's folder: other jobs of the study may be running in other processes.
            true => match chosen.first() {
                Some(id) => RunLock::acquire(&self.store.job_dir(id), &self.plan.recipe)?,
                None => return Ok(summary),
            },
            false => RunLock::acquire(self.store.root(), &self.plan.recipe)?,
        };
        let mut broken: BTreeMap<JobId, String> = BTreeMap::new();
        for job in self.plan.jobs.iter().filter(|j| chosen.contains(&j.id)) {
            if options
                .stop
                .as_ref()
                .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
            {
                tracing::warn!("stop requested: no further job starts");
                break;
            }
            if let JobState::Done(_) = self.store.state(&job.id) {
                summary
                    .outcomes
                    .push((job.name.clone(), Outcome::AlreadyDone));
                continue;
            }
            let mut partial = None;
            if let Some(cause) = job.deps.iter().find_map(|d| broken.get(d)) {
                let cause = cause.clone();
                let finished = job
                    .deps
                    .iter()
                    .filter(|d| matches!(self.store.state(d), JobState::Done(_)))
                    .count();
                if !self.runner.runs_partial(job) || finished == 0 {
                    broken.insert(job.id.clone(), cause.clone());
                    summary
                        .outcomes
                        .push((job.name.clone(), Outcome::Blocked(cause)));
                    continue;
                }
                partial = Some(format!(
                    "partial: {} of the {} jobs it needs have no result (`{cause}` failed)",
                    job.deps.len() - finished,
                    job.deps.len()
                ));
            }
            let _ = lock.set_job(Some(&job.name));
            let outcome = self.run_one(job, partial.as_deref())?;
            if let Outcome::Partial(_) = &outcome {
                // What needs a partial result is not run on it.
                broken.insert(job.id.clone(), job.name.clone());
            }
            let failed = matches!(outcome, Outcome::Failed(_));
            if failed {
                broken.insert(job.id.clone(), job.name.clone());
            }
            summary.outcomes.push((job.name.clone(), outcome));
            if failed && options.stop_on_failure {
                break;
            }
        }
        let _ = lock.set_job(None);
        Ok(summary)
    }

    /// The `only` job alone, after checking that everything it needs is done.
    fn lone_job(&self, only: Option<&str>) -> Result<BTreeSet<JobId>, ExecError> {
        let job = find_job(self.plan, only.ok_or(ExecError::NoDepsWithoutOnly)?)?;
        for dep in &job.deps {
            if !matches!(self.store.state(dep), JobState::Done(_)) {
                let dep = self.plan.job(dep).map_or(dep.0.clone(), |d| d.name.clone());
                return Err(ExecError::DependencyNotDone {
                    job: job.name.clone(),
                    dep,
                });
            }
        }
        Ok(BTreeSet::from([job.id.clone()]))
    }

    /// Runs `job`; with `partial` (some dependencies have no result) a success is recorded as a failure with that
    /// message, so that the job runs again once they have one.
    fn run_one(&self, job: &Job, partial: Option<&str>) -> Result<Outcome, ExecError> {
        let io = |source| ExecError::Io {
            path: self.store.job_dir(&job.id),
            source,
        };
        let resumed = matches!(
            self.store.state(&job.id),
            JobState::Started | JobState::Failed(_)
        );
        let dir = self.store.begin(job).map_err(io)?;
        let mut deps = BTreeMap::new();
        for dep in &job.deps {
            if let JobState::Done(record) = self.store.state(dep) {
                deps.insert(dep.clone(), (self.store.job_dir(dep), record.result));
            }
        }
        tracing::info!(job = %job.name, id = %job.id, resumed, "starting");
        let started = Instant::now();
        let memory_reset = memory::reset_peak();
        let ctx = JobContext {
            plan: self.plan,
            dir,
            deps,
        };
        match self.runner.run(job, &ctx) {
            Ok(_) if let Some(message) = partial => {
                tracing::warn!(job = %job.name, "{message}");
                self.store.fail(job, message).map_err(io)?;
                Ok(Outcome::Partial(message.to_string()))
            }
            Ok(result) => {
                let seconds = started.elapsed().as_secs_f64();
                let peak_rss_mib = memory::peak_mib(memory_reset);
                self.store
                    .finish(job, seconds, peak_rss_mib, result)
                    .map_err(io)?;
                tracing::info!(job = %job.name, seconds, peak_rss_mib, "done");
                Ok(Outcome::Ran)
            }
            Err(error) => {
                let message = format!("{error:#}");
                tracing::error!(job = %job.name, "failed: {message}");
                self.store.fail(job, &message).map_err(io)?;
                Ok(Outcome::Failed(message))
            }
        }
    }
}

/// Each job's state, for `vst status`; a started job is "running" while another process holds the lock on it.
pub fn job_states(plan: &Plan, store: &RunStore) -> Vec<(String, &'static str)> {
    let running = lock::holder(store.root()).and_then(|h| h.job);
    plan.jobs
        .iter()
        .map(|job| {
            let state = store.state(&job.id);
            let label = match state {
                JobState::Started if running.as_deref() == Some(job.name.as_str()) => "running",
                // A `--no-deps` run (a SLURM job) locks the job's own folder.
                JobState::Started if lock::holder(&store.job_dir(&job.id)).is_some() => "running",
                _ => state.label(),
            };
            (job.name.clone(), label)
        })
        .collect()
}
