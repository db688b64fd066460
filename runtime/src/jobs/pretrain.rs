//! `pretrain(config)`: self-supervised training of the encoder on ρ clips per video.
//!
//! The job resumes from `checkpoint.safetensors` in its directory when one is there (written atomically every
//! `checkpoint_every` epochs, at the end, and at the step where a stop request — SIGUSR1, SLURM's warning before a
//! time limit — arrives, so no more than one step's work is lost however long an epoch is), so a killed or stopped
//! run continues where its last checkpoint left it and — the loader's batches being a pure function of (seed,
//! epoch, index), the learner's random state part of the checkpoint and the CPU kernels deterministic — ends with
//! the same weights and metrics as an uninterrupted run.

use super::metrics_log::{MetricsLog, read_records};
use super::{CHECKPOINT_FILE, METRICS_FILE, RunnerOptions, device, prepare, progress};
use crate::executor::JobContext;
use crate::train::{Learner, TrainError};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use vst_data::loader::{Loader, LoaderConfig};
use vst_data::metrics::DataMetrics;
use vst_data::pipeline::{ClipShape, SampleMode};
use vst_data::video::cache::CachedBackend;
use vst_engine::Tensor;
use vst_spec::{BnBatch, DeviceSpec, Job, JobKind, PretrainJob};

/// The directory of the prepare job among a job's dependencies.
pub(super) fn prepare_dir<'c>(job: &Job, ctx: &'c JobContext) -> Result<&'c std::path::Path> {
    for dep in &job.deps {
        if let Some(JobKind::Prepare(_)) = ctx.plan.job(dep).map(|j| &j.kind) {
            return Ok(ctx.dep(dep)?.0.as_path());
        }
    }
    bail!(
        "internal: job `{}` has no prepare job among its dependencies",
        job.name
    )
}

/// A learner for `spec` (fresh weights; the caller loads a checkpoint into it).
pub(super) fn learner(
    spec: &PretrainJob,
    total_steps: u64,
    device: &vst_engine::Device,
) -> Result<Learner> {
    Learner::new(
        &spec.backbone,
        spec.augment.spatial.size,
        &spec.objective,
        &spec.schedule,
        total_steps,
        spec.seed,
        device,
    )
    .map(|learner| {
        learner.with_bn_batch(match spec.bn_batch {
            BnBatch::All => None,
            BnBatch::Videos { videos } => Some(videos),
        })
    })
    .context("cannot build the model")
}

/// Fails at once when the weights a job starts from are not there.
pub fn preflight(spec: &PretrainJob) -> Result<()> {
    if let Some(path) = &spec.weights
        && !path.is_file()
    {
        bail!(
            "the weights file {} (the recipe's `weights`) does not exist; convert a PySlowFast checkpoint with \
             `python3 scripts/convert_pyslowfast.py CHECKPOINT.pyth {}`, or point `weights` at your copy",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// Loads the weights a job starts from. Every backbone entry must be in the file; heads it lacks keep their fresh
/// initialisation (they do not enter the evaluations).
fn start_from(learner: &mut Learner, path: &std::path::Path, job: &Job) -> Result<()> {
    let missing = learner
        .load_weights(path)
        .with_context(|| format!("cannot load the weights {}", path.display()))?;
    let backbone: Vec<&String> = missing
        .iter()
        .filter(|m| m.starts_with("backbone.s"))
        .collect();
    if !backbone.is_empty() {
        bail!(
            "the weights {} lack {} backbone entries (e.g. `{}`): another architecture than the recipe's backbone?",
            path.display(),
            backbone.len(),
            backbone[0]
        );
    }
    if !missing.is_empty() {
        tracing::warn!(job = %job.name, entries = missing.len(), first = %missing[0],
            "the weights file has no heads for this objective; they start freshly initialised");
    }
    tracing::info!(job = %job.name, weights = %path.display(), "starting from weights");
    Ok(())
}

pub fn run(
    job: &Job,
    spec: &PretrainJob,
    ctx: &JobContext,
    options: &RunnerOptions,
) -> Result<Value> {
    let dataset = prepare::open(&spec.dataset, prepare_dir(job, ctx)?, options)?;
    let device = device::open_device(
        &device::replica_device(&spec.device, options.replicas.size()),
        spec.precision,
    )?;
    let train_videos = dataset.train.len();
    let replicas = &options.replicas;
    // Rank 0 writes every file; the other replicas only train (see `super::replicas`).
    let leader = replicas.is_leader();
    let mut config = LoaderConfig::new(
        SampleMode::Pretrain {
            clips: spec.clips.clone(),
            augment: spec.augment.clone(),
        },
        ClipShape::of(&spec.backbone, &spec.dataset.source),
        spec.schedule.batch as usize,
        spec.seed,
    );
    config.threads = options.threads;
    if replicas.size() > 1 {
        config.shard = Some((replicas.rank(), replicas.size()));
    }
    if options.augment_on_gpu {
        config.renderer = Some(gpu_renderer(spec, options)?);
    }
    let data_metrics = Arc::new(DataMetrics::new());
    let backend = Box::new(CachedBackend::new(dataset.backend()?, options.cache_bytes));
    let loader = Loader::new(dataset.train, backend, config, data_metrics.clone())
        .with_context(|| format!("cannot load the training videos of `{}`", spec.dataset.name))?;
    let steps_per_epoch = loader.batches_per_epoch() as u64;
    if steps_per_epoch == 0 {
        bail!(
            "the batch of {} videos is larger than the {train_videos} training videos of `{}`; lower schedule.batch",
            spec.schedule.batch,
            spec.dataset.name
        );
    }
    let epochs = u64::from(spec.schedule.epochs);
    let total_steps = epochs * steps_per_epoch;
    let mut learner = learner(spec, total_steps, &device)?
        .with_replicas(replicas.0.clone())
        .with_low_memory(options.low_memory);

    let checkpoint = ctx.dir.join(CHECKPOINT_FILE);
    let save = |learner: &Learner| -> Result<()> {
        if leader {
            learner
                .save(&checkpoint)
                .context("cannot save the checkpoint")?;
        }
        Ok(())
    };
    if checkpoint.exists() {
        learner
            .load(&checkpoint)
            .context("cannot resume from the last checkpoint")?;
        tracing::info!(job = %job.name, step = learner.steps_done(), "resuming from checkpoint");
    } else {
        if let Some(path) = &spec.weights {
            start_from(&mut learner, path, job)?;
        }
        if epochs == 0 {
            // Nothing to train: the imported weights (or, without any, the fresh initialisation: the
            // random-encoder baseline) are the job's result.
            save(&learner)?;
        }
    }
    let start_step = learner.steps_done();
    if start_step > total_steps {
        bail!(
            "checkpoint {} is at step {start_step}, beyond this job's {total_steps} steps",
            checkpoint.display()
        );
    }
    let mut log = if leader {
        Some(MetricsLog::open(
            &ctx.dir.join(METRICS_FILE),
            start_step,
            steps_per_epoch,
        )?)
    } else {
        None
    };
    let bar = progress::bar(options.progress && leader, total_steps, "pretrain");
    bar.set_position(start_step);
    let every = u64::from(spec.checkpoint_every.max(1));

    let first_epoch = start_step / steps_per_epoch;
    // A checkpoint taken in the middle of an epoch (a stop request): that epoch goes on from its next batch.
    let first_batch = (start_step % steps_per_epoch) as usize;
    for epoch in first_epoch..epochs {
        let started = Instant::now();
        let (mut loss_sum, mut std_sum, mut counted, mut clips) = (0.0, 0.0, 0u64, 0usize);
        let skip = if epoch == first_epoch { first_batch } else { 0 };
        if skip > 0
            && let Some(log) = &log
        {
            // The epoch's averages include its steps before the checkpoint, as read back from the log.
            (loss_sum, std_sum, counted) = log_sums(log, epoch * steps_per_epoch, start_step)?;
        }
        // Time spent waiting for the loader's next batch (a data-loader stall), as opposed to training on it.
        let (mut waiting, mut asked) = (0.0f64, Instant::now());
        let mut stopped_at = None;
        for (index, batch) in (skip..).zip(loader.epoch_from(epoch, skip)) {
            waiting += asked.elapsed().as_secs_f64();
            let batch = batch.with_context(|| format!("epoch {epoch}: cannot load a batch"))?;
            let step = epoch * steps_per_epoch + index as u64;
            let rows = batch.shape[0];
            let tensor = Tensor::from_vec(batch.data, &batch.shape, &device)?;
            let stats = learner.step(&tensor, batch.rows_per_video, step).map_err(|e| match e {
                TrainError::NonFinite { .. } => anyhow::Error::new(e).context(format!(
                    "training diverged at step {step} (epoch {epoch}); nothing of that step was applied. {} \
                     Lower the learning rate or lengthen the warm-up, then run again",
                    last_checkpoint_note(&checkpoint, learner.steps_done(), steps_per_epoch)
                )),
                other => anyhow::Error::new(other).context(format!("step {step} failed")),
            })?;
            clips += rows;
            if stats.updated {
                loss_sum += stats.loss;
                std_sum += stats.embedding_std;
                counted += 1;
            }
            if let Some(log) = &mut log {
                log.write(&stats)?;
            }
            let rate = clips as f64 / started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "epoch {epoch}  loss {:.4}  {rate:.0} clips/s",
                stats.loss
            ));
            bar.inc(1);
            // A stop request (SIGUSR1): every replica must see it at the same step, so they agree on it here.
            let last_of_epoch = index as u64 + 1 == steps_per_epoch;
            if !last_of_epoch && stop_requested(options)? {
                stopped_at = Some(step + 1);
                break;
            }
            asked = Instant::now();
        }
        if let Some(steps_done) = stopped_at {
            if let Some(log) = &mut log {
                log.flush()?;
            }
            save(&learner)?;
            bail!(
                "stopped at step {steps_done} of {total_steps} (in epoch {epoch}) on a stop request (SIGUSR1, e.g. \
                 SLURM's warning before the time limit), with a checkpoint of that step: the same command resumes \
                 from it"
            );
        }
        let seconds = started.elapsed().as_secs_f64();
        // Rank 0 records the epoch; every replica takes part in the stop check below.
        if leader {
            epoch_records(
                ctx,
                job,
                &mut log,
                epoch,
                epoch == first_epoch && (epoch > 0 || first_batch > 0),
                seconds,
                &EpochSums {
                    loss: loss_sum,
                    std: std_sum,
                    counted,
                    clips,
                    waiting,
                },
            )?;
        }
        // A stop request at an epoch's last step: the epoch's record is written first.
        let stop = stop_requested(options)?;
        if (epoch + 1) % every == 0 || epoch + 1 == epochs || stop {
            if let Some(log) = &mut log {
                log.flush()?;
            }
            save(&learner)?;
        }
        if stop && epoch + 1 < epochs {
            bail!(
                "stopped after epoch {epoch} of {epochs} on a stop request (SIGUSR1, e.g. SLURM's warning before the \
                 time limit), with a checkpoint of that epoch: the same command resumes from it"
            );
        }
    }
    bar.finish_and_clear();
    let Some(mut log) = log else {
        // The result is rank 0's to record.
        return Ok(Value::Null);
    };
    log.flush()?;

    let records = read_records(&ctx.dir.join(METRICS_FILE))?;
    let last_epoch = records
        .iter()
        .rev()
        .find(|r| r.get("epoch_end").is_some())
        .cloned()
        .unwrap_or(Value::Null);
    let data = data_metrics.snapshot();
    Ok(json!({
        "steps": total_steps,
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "final_loss": last_epoch.get("loss"),
        "final_embedding_std": last_epoch.get("embedding_std"),
        "checkpoint": CHECKPOINT_FILE,
        "parameters": learner.summary().total_parameters(),
        "augment_on": if options.augment_on_gpu { "gpu" } else { "cpu" },
        "data": {
            "train_videos": train_videos,
            "unreadable_videos": data.skipped.len(),
            "unreadable_examples": data.skipped.iter().take(20).map(|(p, why)| format!("{}: {why}", p.display())).collect::<Vec<_>>(),
            "replaced_samples": data.replaced_samples,
            "looped_videos": data.looped_videos.len(),
        },
    }))
}

/// What one epoch of steps added up.
struct EpochSums {
    loss: f64,
    std: f64,
    counted: u64,
    clips: usize,
    /// Seconds spent waiting for the loader.
    waiting: f64,
}

/// Rank 0's records of a finished epoch: its time (timing.jsonl), its mean loss and embedding spread
/// (metrics.jsonl), and a log line.
fn epoch_records(
    ctx: &JobContext,
    job: &Job,
    log: &mut Option<MetricsLog>,
    epoch: u64,
    resumed: bool,
    seconds: f64,
    sums: &EpochSums,
) -> Result<()> {
    super::append_record(
        &ctx.dir.join(super::TIMING_FILE),
        &json!({
            "epoch": epoch,
            "seconds": seconds,
            "clips_per_s": sums.clips as f64 / seconds.max(1e-9),
            "load_wait_s": sums.waiting,
            "resumed": resumed,
        }),
    )?;
    let n = sums.counted.max(1) as f64;
    let record = json!({
        "epoch_end": epoch,
        "loss": sums.loss / n,
        "embedding_std": sums.std / n,
        "updated_steps": sums.counted,
    });
    if let Some(log) = log {
        log.write(&record)?;
    }
    tracing::info!(
        job = %job.name,
        epoch,
        loss = sums.loss / n,
        embedding_std = sums.std / n,
        clips_per_s = sums.clips as f64 / seconds.max(1e-9),
        "epoch done"
    );
    Ok(())
}

/// The sums of an epoch's updated steps in [from, to) as the metrics log recorded them (f64 values read back
/// exactly), so that an epoch resumed in its middle averages the same numbers as an uninterrupted one.
fn log_sums(log: &MetricsLog, from: u64, to: u64) -> Result<(f64, f64, u64)> {
    let (mut loss, mut std, mut counted) = (0.0, 0.0, 0u64);
    for r in read_records(log.path())? {
        let Some(step) = r.get("step").and_then(Value::as_u64) else {
            continue;
        };
        if step < from || step >= to || r.get("updated").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        loss += r.get("loss").and_then(Value::as_f64).unwrap_or(f64::NAN);
        std += r
            .get("embedding_std")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN);
        counted += 1;
    }
    Ok((loss, std, counted))
}

/// Whether any replica was asked to stop (one collective per step with several replicas).
fn stop_requested(options: &RunnerOptions) -> Result<bool> {
    let mine = options.stop.load(std::sync::atomic::Ordering::Relaxed);
    let replicas = &options.replicas;
    if replicas.size() == 1 {
        return Ok(mine);
    }
    let mut flag = [if mine { 1.0 } else { 0.0 }];
    replicas
        .0
        .all_reduce_sum(&mut flag)
        .context("the replicas cannot agree on a stop request")?;
    Ok(flag[0] > 0.0)
}

fn last_checkpoint_note(path: &std::path::Path, steps_done: u64, steps_per_epoch: u64) -> String {
    if path.exists() {
        format!(
            "The last good checkpoint (after epoch {}) is kept at {}.",
            steps_done / steps_per_epoch,
            path.display()
        )
    } else {
        "No checkpoint had been written yet.".to_string()
    }
}

/// The GPU augmentation on the device this replica trains on, one stream per loader thread.
fn gpu_renderer(
    spec: &PretrainJob,
    options: &RunnerOptions,
) -> Result<vst_data::augment::renderer::SharedRenderer> {
    let DeviceSpec::Cuda { index } = device::replica_device(&spec.device, options.replicas.size())
    else {
        bail!("--augment-on gpu needs a pre-training on a CUDA device (this one is on the CPU)");
    };
    let renderer = vst_cuda::augment::GpuClipRenderer::new(index as usize, options.threads.max(1))
        .context("starting the GPU augmentation")?;
    Ok(vst_data::augment::renderer::SharedRenderer(
        std::sync::Arc::new(renderer),
    ))
}
