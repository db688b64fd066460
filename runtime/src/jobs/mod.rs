//! The jobs a Plan is made of, run for the executor: prepare a dataset, pre-train an encoder, evaluate it (linear
//! probe, kNN, fine-tuning), fill a report. [`PlanRunner`] dispatches on the job kind and owns what every job shares (threads,
//! the video decoder, whether to draw progress bars).

mod device;
mod eval;
mod finetune;
mod knn;
mod linear;
mod metrics_log;
mod multilabel;
mod precision;
mod prepare;
mod pretrain;
mod progress;
pub mod replicas;
mod report;
mod transcode;

pub use device::open_device;
pub use metrics_log::{append_record, read_records};
pub use precision::{average_precision, mean_average_precision};
pub use report::{ReportOutput, fill_table, partial_report_output, report_output};
pub use transcode::show_on_bar;

use crate::distributed::Replicas;
use crate::executor::{JobContext, JobRunner, RunStore};
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::PathBuf;
use vst_data::dataset::OpenedDataset;
use vst_data::video::DecoderKind;
use vst_spec::{Job, JobKind, Plan};

/// The checkpoint a pre-training job keeps in its directory (the latest; the final one once the job is done).
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// Per-step and per-epoch records of a job, one JSON object per line.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// Per-epoch wall-clock records of a pre-training job (seconds, clips/s, time spent waiting for the data loader,
/// whether the epoch opened a resumed session), appended and never rewritten: unlike [`METRICS_FILE`] it differs
/// between an interrupted and an uninterrupted run, which is what it is for.
pub const TIMING_FILE: &str = "timing.jsonl";

#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Worker threads for data loading (the engine's kernels use rayon's pool).
    pub threads: usize,
    pub decoder: DecoderKind,
    /// Render pre-training clips with the GPU augmentation on the pre-training's CUDA device (`--augment-on gpu`).
    pub augment_on_gpu: bool,
    /// Draw progress bars on stderr (otherwise one log line per epoch).
    pub progress: bool,
    /// Memory for decoded frames a job may keep (each video decoded once and served from memory after that).
    pub cache_bytes: usize,
    /// The processes training together (pre-training jobs only; see [`replicas`]).
    pub replicas: Replicas,
    /// Back-propagate one batch-norm batch of one view at a time ([`crate::train::Learner::with_low_memory`]).
    pub low_memory: bool,
    /// Set (by `vst run` on SIGUSR1: SLURM's warning before a time limit) to stop a pre-training at the end of its
    /// current epoch, with a checkpoint there.
    pub stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            decoder: DecoderKind::best_available(),
            augment_on_gpu: false,
            progress: false,
            cache_bytes: 4 << 30,
            replicas: Replicas::default(),
            low_memory: false,
            stop: Default::default(),
        }
    }
}

/// The prepare job above a pre-training job (the data it trains on), and the pre-training's spec.
fn prepare_of<'p>(plan: &'p Plan, job: &'p Job) -> Result<(&'p Job, &'p vst_spec::PretrainJob)> {
    let JobKind::Pretrain(spec) = &job.kind else {
        anyhow::bail!("`{}` is not a pre-training job", job.name);
    };
    let prepare = job
        .deps
        .iter()
        .filter_map(|id| plan.job(id))
        .find(|dep| matches!(dep.kind, JobKind::Prepare(_)))
        .with_context(|| format!("internal: no prepare job above `{}`", job.name))?;
    Ok((prepare, spec))
}

/// Where `vst run` keeps the synthetic videos a pre-training job `job` trains on under `store`:
/// `<runs>/<prepare job id>/synthetic`. None for a real dataset.
pub fn pretrain_synthetic_dir(plan: &Plan, job: &Job, store: &RunStore) -> Result<Option<PathBuf>> {
    let (prepare, spec) = prepare_of(plan, job)?;
    Ok(
        matches!(spec.dataset.source, vst_spec::DataSource::Synthetic(_))
            .then(|| prepare::synthetic_dir(&store.job_dir(&prepare.id))),
    )
}

/// The dataset a plan's pre-training job `job` reads, opened exactly where and as its jobs open it under `store`:
/// a real dataset's lists (checked first, with the same advice as `vst run`), or the synthetic videos in
/// [`pretrain_synthetic_dir`] — generated there if not complete yet, so that a later `vst run` finds them done.
/// What `vst data preview --recipe` shows.
pub fn open_pretrain_data(
    plan: &Plan,
    job: &Job,
    store: &RunStore,
    options: &RunnerOptions,
) -> Result<OpenedDataset> {
    let (prepare, spec) = prepare_of(plan, job)?;
    prepare::preflight(&spec.dataset)?;
    let source = &spec.dataset.source;
    if let (Some(t), Some(root)) = (source.transcode(), source.root())
        && !transcode::is_prepared(root, &transcode::settings(source, t))
    {
        anyhow::bail!(
            "dataset `{}` is made by the recipe's prepare job (`transcode(source: \"{}\")`), which has not \
             finished the copy at {} yet: `vst run` prepares it first",
            spec.dataset.name,
            t.source.display(),
            root.display()
        );
    }
    prepare::open(&spec.dataset, &store.job_dir(&prepare.id), options)
}

/// Runs every kind of job of a plan.
#[derive(Debug, Clone, Default)]
pub struct PlanRunner {
    pub options: RunnerOptions,
}

impl JobRunner for PlanRunner {
    fn preflight(&self, job: &Job) -> Result<()> {
        match &job.kind {
            JobKind::Prepare(p) => prepare::preflight(&p.dataset),
            JobKind::Pretrain(p) => {
                pretrain::preflight(p)?;
                device::check_device(&p.device, p.precision)
            }
            JobKind::Eval(e) => device::check_device(&e.device, vst_spec::Precision::F32),
            JobKind::Report(_) => Ok(()),
        }
    }

    fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value> {
        match &job.kind {
            JobKind::Prepare(p) => prepare::run(&p.dataset, ctx, &self.options),
            JobKind::Pretrain(p) => {
                replicas::announce(&self.options.replicas, ctx.plan, job)?;
                pretrain::run(job, p, ctx, &self.options)
            }
            JobKind::Eval(e) => {
                if replicas::shared(job) {
                    replicas::announce(&self.options.replicas, ctx.plan, job)?;
                    eval::run(job, e, ctx, &self.options)
                } else {
                    // Fine-tuning is not data-parallel yet: rank 0 trains it alone, as one process.
                    let alone = RunnerOptions {
                        replicas: Default::default(),
                        ..self.options.clone()
                    };
                    eval::run(job, e, ctx, &alone)
                }
            }
            JobKind::Report(r) => report::run(r, ctx),
        }
    }

    /// A report prints what the evaluations that finished have, when others failed (marked partial).
    fn runs_partial(&self, job: &Job) -> bool {
        matches!(job.kind, JobKind::Report(_))
    }
}
