//! `eval(kind, pretrain)`: evaluate a frozen pre-trained encoder. The encoder is the pre-training job's final
//! checkpoint loaded into the same model; clips come from the same dataset (train split to fit, val split to test).

use super::{CHECKPOINT_FILE, RunnerOptions, device, knn, linear, prepare, pretrain};
use crate::executor::JobContext;
use crate::train::Learner;
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use vst_data::dataset::OpenedDataset;
use vst_data::list::VideoEntry;
use vst_data::loader::{Loader, LoaderConfig};
use vst_data::metrics::DataMetrics;
use vst_data::pipeline::SampleMode;
use vst_data::video::cache::CachedBackend;
use vst_engine::{Device, Tensor};
use vst_spec::{EvalJob, EvalSpec, Job, JobId, JobKind, Plan};

/// What an evaluation works with: the frozen encoder, the opened dataset, and how to load it.
pub struct EvalContext<'a> {
    pub learner: Learner,
    pub device: Device,
    pub dataset: OpenedDataset,
    pub spec: &'a EvalJob,
    pub options: &'a RunnerOptions,
    pub data_metrics: Arc<DataMetrics>,
    pub classes: usize,
    /// Decoded frames shared by the job's loaders (the probe reads the training videos every epoch).
    pub videos: Arc<CachedBackend>,
}

impl EvalContext<'_> {
    /// A loader over `entries` making `mode` samples, in list order unless `shuffle`.
    pub fn loader(
        &self,
        entries: &[VideoEntry],
        mode: SampleMode,
        batch: usize,
        shuffle: bool,
    ) -> Result<Loader> {
        let mut config = LoaderConfig::new(
            mode,
            pretrain::clip_shape(&self.spec.backbone, &self.spec.dataset),
            batch.max(1),
            self.spec.seed,
        );
        config.threads = self.options.threads;
        config.shuffle = shuffle;
        config.drop_last = false;
        Loader::new(
            entries.to_vec(),
            Box::new(self.videos.clone()),
            config,
            self.data_metrics.clone(),
        )
        .context("cannot load the evaluation videos")
    }

    /// Pool5 features of every row of every batch of `epoch`: (features rows×C, label per video, rows per video).
    pub fn features(&self, loader: &Loader, epoch: u64) -> Result<(Tensor, Vec<u32>, usize)> {
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        let mut per_video = 1;
        for batch in loader.epoch(epoch) {
            let batch = batch.context("cannot load an evaluation batch")?;
            per_video = batch.rows_per_video;
            labels.extend(batch.labels.iter().step_by(per_video.max(1)).copied());
            let clips = Tensor::from_vec(batch.data, &batch.shape, &self.device)?;
            rows.push(self.learner.features(&clips)?);
        }
        let refs: Vec<&Tensor> = rows.iter().collect();
        let all = Tensor::concat(&refs, 0).context("no evaluation clips")?;
        Ok((all, labels, per_video))
    }
}

/// The prepare job a job ultimately reads its data from (found through its ancestors in the plan).
fn prepare_ancestor(plan: &Plan, id: &JobId) -> Option<JobId> {
    let job = plan.job(id)?;
    if let JobKind::Prepare(_) = job.kind {
        return Some(job.id.clone());
    }
    job.deps.iter().find_map(|d| prepare_ancestor(plan, d))
}

pub fn run(job: &Job, spec: &EvalJob, ctx: &JobContext, options: &RunnerOptions) -> Result<Value> {
    let Some(JobKind::Pretrain(pretrain_spec)) = ctx.plan.job(&spec.pretrain).map(|j| &j.kind)
    else {
        bail!(
            "internal: `{}` evaluates {} which is not a pretrain job",
            job.name,
            spec.pretrain
        );
    };
    let (pretrain_dir, pretrain_result) = ctx.dep(&spec.pretrain)?;
    let total_steps = pretrain_result["steps"]
        .as_u64()
        .context("the pretrain job recorded no step count")?;
    let device = device::open_device(&spec.device)?;
    let mut learner = pretrain::learner(pretrain_spec, total_steps, &device)?;
    let checkpoint = pretrain_dir.join(CHECKPOINT_FILE);
    learner.load(&checkpoint).with_context(|| {
        format!(
            "cannot load the pre-trained encoder {}",
            checkpoint.display()
        )
    })?;

    let prepare_id = prepare_ancestor(ctx.plan, &job.id)
        .context("internal: no prepare job above this evaluation")?;
    let store_root = ctx.dir.parent().map(PathBuf::from).unwrap_or_default();
    let dataset = prepare::open(&spec.dataset, &store_root.join(&prepare_id.0), options)?;
    let classes = dataset
        .train
        .iter()
        .chain(&dataset.val)
        .map(|e| e.label as usize + 1)
        .max()
        .unwrap_or(0);
    if classes < 2 {
        bail!(
            "dataset `{}` has fewer than two classes; nothing to evaluate",
            spec.dataset.name
        );
    }
    let data_metrics = Arc::new(DataMetrics::new());
    let videos = Arc::new(CachedBackend::new(dataset.backend()?, options.cache_bytes));
    let eval = EvalContext {
        videos,
        learner,
        device,
        dataset,
        spec,
        options,
        data_metrics: data_metrics.clone(),
        classes,
    };
    let mut result = match &spec.eval {
        EvalSpec::Linear(linear) => linear::run(&eval, linear, &ctx.dir)?,
        EvalSpec::Knn(knn) => knn::run(&eval, knn)?,
    };
    let counts = data_metrics.snapshot();
    result["data"] = serde_json::json!({
        "train_videos": eval.dataset.train.len(),
        "val_videos": eval.dataset.val.len(),
        "unreadable_videos": counts.skipped.len(),
        "replaced_samples": counts.replaced_samples,
    });
    Ok(result)
}

/// Top-1 and top-5 accuracy (%) of per-video class scores (videos × classes, row-major).
pub fn top_k_accuracy(scores: &[f32], classes: usize, labels: &[u32]) -> (f64, f64) {
    let mut top1 = 0usize;
    let mut top5 = 0usize;
    for (row, &label) in scores.chunks(classes).zip(labels) {
        let own = row[label as usize];
        // Rank = how many classes score strictly higher (ties resolved in the label's favour, as torch.topk
        // with distinct scores would).
        let higher = row.iter().filter(|&&s| s > own).count();
        top1 += usize::from(higher < 1);
        top5 += usize::from(higher < 5);
    }
    let n = labels.len().max(1) as f64;
    (100.0 * top1 as f64 / n, 100.0 * top5 as f64 / n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn top_k_counts_ranks() {
        // 3 videos, 6 classes: label ranked 1st, 3rd and 6th.
        let scores = [
            0.9, 0.1, 0.0, 0.0, 0.0, 0.0, //
            0.5, 0.4, 0.3, 0.0, 0.0, 0.0, //
            0.6, 0.5, 0.4, 0.3, 0.2, 0.1,
        ];
        let (t1, t5) = super::top_k_accuracy(&scores, 6, &[0, 2, 5]);
        assert!((t1 - 100.0 / 3.0).abs() < 1e-9);
        assert!((t5 - 200.0 / 3.0).abs() < 1e-9);
    }
}
