//! `eval(kind, pretrain)`: evaluate a pre-trained encoder (frozen, or fine-tuned by [`super::finetune`]). The encoder is the pre-training job's final
//! checkpoint loaded into the same model; clips come from the same dataset (train split to fit, val split to test).

use super::{CHECKPOINT_FILE, RunnerOptions, device, finetune, knn, linear, prepare, pretrain};
use crate::distributed::all_gather_varying;
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
use vst_data::pipeline::{ClipShape, SampleMode};
use vst_data::video::cache::CachedBackend;
use vst_engine::{Device, Tensor};
use vst_spec::{EvalJob, EvalSpec, Job, JobId, JobKind, Plan};

/// What an evaluation works with: the pre-trained encoder, the opened dataset, and how to load it.
pub struct EvalContext<'a> {
    /// The pre-training's final state; None for a fine-tune from scratch, which reads none.
    pub pretrained: Option<Learner>,
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
    /// The pre-trained encoder (every evaluation but a fine-tune from scratch has one).
    pub fn learner(&self) -> Result<&Learner> {
        self.pretrained.as_ref().with_context(|| {
            format!(
                "internal: `{}` evaluates a pre-trained encoder but its plan entry names none",
                self.spec.name
            )
        })
    }

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
            ClipShape::of(&self.spec.backbone, &self.spec.dataset.source),
            batch.max(1),
            self.spec.seed,
        );
        config.threads = self.options.threads;
        config.shuffle = shuffle;
        config.drop_last = false;
        let replicas = &self.options.replicas;
        if replicas.size() > 1 {
            // Each replica makes its share of every batch; `gather` puts the batch together again.
            config.shard = Some((replicas.rank(), replicas.size()));
        }
        Loader::new(
            entries.to_vec(),
            Box::new(self.videos.clone()),
            config,
            self.data_metrics.clone(),
        )
        .context("cannot load the evaluation videos")
    }

    /// Pool5 features of `clips` (N × T × H × W × C), computed [`CLIPS_PER_FORWARD`] clips at a time so that the
    /// device holds one chunk's activations whatever the batch.
    pub fn features_of(&self, clips: &Tensor) -> Result<Tensor> {
        let rows = clips.shape()[0];
        if rows == 0 {
            // A replica's empty share of a dataset's last batch.
            return Ok(Tensor::zeros(
                &[0, self.learner()?.feature_dim()],
                &self.device,
            )?);
        }
        if rows <= CLIPS_PER_FORWARD {
            return Ok(self.learner()?.features(clips)?);
        }
        let mut parts = Vec::with_capacity(rows.div_ceil(CLIPS_PER_FORWARD));
        for start in (0..rows).step_by(CLIPS_PER_FORWARD) {
            let chunk = clips.slice(0, start, CLIPS_PER_FORWARD.min(rows - start))?;
            parts.push(self.learner()?.features(&chunk)?);
        }
        let refs: Vec<&Tensor> = parts.iter().collect();
        Ok(Tensor::concat(&refs, 0)?)
    }

    /// Streams the pool5 features of `loader`'s `epoch`: `each(features rows×C, label per video, rows per video)`
    /// once per batch, in list order. Nothing is kept between batches, so memory does not grow with the dataset
    /// or the number of views. Returns the number of videos seen.
    pub fn for_each_features(
        &self,
        loader: &Loader,
        epoch: u64,
        mut each: impl FnMut(&Tensor, &[u32], usize) -> Result<()>,
    ) -> Result<usize> {
        let mut videos = 0;
        for batch in loader.epoch(epoch) {
            let batch = batch.context("cannot load an evaluation batch")?;
            let per_video = batch.rows_per_video.max(1);
            let labels: Vec<u32> = batch.labels.iter().step_by(per_video).copied().collect();
            let clips = Tensor::from_vec(batch.data, &batch.shape, &self.device)?;
            let (features, labels) = self.gather(self.features_of(&clips)?, labels, per_video)?;
            each(&features, &labels, per_video)?;
            videos += labels.len();
        }
        if videos == 0 {
            bail!("no evaluation clips");
        }
        Ok(videos)
    }
}

impl EvalContext<'_> {
    /// The whole batch from every replica's share (`features`: rows × C of this replica's videos, `rows_per_label`
    /// rows for each of `labels`), in the order one process would have them; itself with one replica. Features of
    /// frozen encoders do not depend on how clips are grouped, so every replica then holds exactly what one process
    /// computes. One collective: each label travels as a float behind its rows (exact: labels are far below 2^24).
    pub fn gather(
        &self,
        features: Tensor,
        labels: Vec<u32>,
        rows_per_label: usize,
    ) -> Result<(Tensor, Vec<u32>)> {
        let replicas = &self.options.replicas;
        if replicas.size() == 1 {
            return Ok((features, labels));
        }
        let dim = self.learner()?.feature_dim();
        let block = rows_per_label.max(1) * dim;
        let mine = features.to_vec()?;
        let mut packed = Vec::with_capacity(mine.len() + labels.len());
        for (rows, &label) in mine.chunks(block).zip(&labels) {
            packed.extend_from_slice(rows);
            packed.push(label as f32);
        }
        let all = all_gather_varying(replicas.0.as_ref(), &packed)?;
        let mut features = Vec::with_capacity(all.len());
        let mut labels = Vec::with_capacity(all.len() / (block + 1));
        for chunk in all.chunks(block + 1) {
            let (rows, label) = chunk.split_at(block);
            features.extend_from_slice(rows);
            labels.push(label[0] as u32);
        }
        let rows = features.len() / dim.max(1);
        Ok((
            Tensor::from_vec(features, &[rows, dim], &self.device)?,
            labels,
        ))
    }

    /// Videos per test batch holding about `wanted` videos: a multiple of the replica count, so every replica
    /// makes a share of each batch.
    pub fn test_batch(&self, wanted: usize) -> usize {
        let replicas = self.options.replicas.size();
        wanted.div_ceil(replicas) * replicas
    }
}

/// Clips one forward pass of an evaluation takes at most. Evaluation runs the encoder without gradients, so a
/// chunk's result does not depend on the chunk size (BN uses its running statistics); the bound keeps a probe's
/// batch of 512 videos, or 30 test views of each video, from needing memory for all of them at once.
pub const CLIPS_PER_FORWARD: usize = 32;

/// Test videos per loader batch for `views` views each: whole videos, about [`CLIPS_PER_FORWARD`] clips.
pub fn test_videos_per_batch(views: usize) -> usize {
    (CLIPS_PER_FORWARD / views.max(1)).max(1)
}

/// The prepare job a job ultimately reads its data from (found through its ancestors in the plan).
fn prepare_ancestor(plan: &Plan, id: &JobId) -> Option<JobId> {
    let job = plan.job(id)?;
    if let JobKind::Prepare(_) = job.kind {
        return Some(job.id.clone());
    }
    job.deps.iter().find_map(|d| prepare_ancestor(plan, d))
}

/// The final state of the pre-training job `id`, loaded on `device`.
fn pretrained(job: &Job, id: &JobId, ctx: &JobContext, device: &Device) -> Result<Learner> {
    let Some(JobKind::Pretrain(pretrain_spec)) = ctx.plan.job(id).map(|j| &j.kind) else {
        bail!(
            "internal: `{}` evaluates {id} which is not a pretrain job",
            job.name
        );
    };
    let (pretrain_dir, pretrain_result) = ctx.dep(id)?;
    let total_steps = pretrain_result["steps"]
        .as_u64()
        .context("the pretrain job recorded no step count")?;
    let mut learner = pretrain::learner(pretrain_spec, total_steps, device)?;
    let checkpoint = pretrain_dir.join(CHECKPOINT_FILE);
    learner.load(&checkpoint).with_context(|| {
        format!(
            "cannot load the pre-trained encoder {}",
            checkpoint.display()
        )
    })?;
    Ok(learner)
}

pub fn run(job: &Job, spec: &EvalJob, ctx: &JobContext, options: &RunnerOptions) -> Result<Value> {
    // Evaluations compute in f32: `precision` is the pre-training's.
    let device = device::open_device(
        &device::replica_device(&spec.device, options.replicas.size()),
        vst_spec::Precision::F32,
    )?;
    let pretrained = match &spec.pretrain {
        Some(id) => Some(pretrained(job, id, ctx, &device)?),
        None => None,
    };

    let prepare_id = prepare_ancestor(ctx.plan, &job.id)
        .context("internal: no prepare job above this evaluation")?;
    let store_root = ctx.dir.parent().map(PathBuf::from).unwrap_or_default();
    let dataset = prepare::open(&spec.dataset, &store_root.join(&prepare_id.0), options)?;
    // A multi-label dataset's labels index its class sets; its classes are the dataset's.
    let classes = match &dataset.label_sets {
        Some(sets) => sets.classes as usize,
        None => dataset
            .train
            .iter()
            .chain(&dataset.val)
            .map(|e| e.label as usize + 1)
            .max()
            .unwrap_or(0),
    };
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
        pretrained,
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
        EvalSpec::Finetune(finetune) => finetune::run(&eval, finetune, &ctx.dir)?,
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

/// Whether `label` is a top-`k` prediction of one row of class scores, counted so that it can never flatter
/// a model: the label's score must be finite, and strictly fewer than `k` other classes may score at least as
/// high. A tie at the boundary is a miss (an all-equal row is a miss for every `k` below the number of classes),
/// and a NaN in another class counts as scoring at least as high (as `torch.topk` ranks NaN first), so a broken
/// row never counts as a hit. With `k` at least the number of classes every finite label score is a hit. A label
/// outside the row is a miss.
pub fn top_k_hit(row: &[f32], label: usize, k: usize) -> bool {
    let Some(&own) = row.get(label) else {
        return false;
    };
    if !own.is_finite() {
        return false;
    }
    let at_least_as_high = row
        .iter()
        .enumerate()
        .filter(|&(c, &s)| c != label && (s >= own || s.is_nan()))
        .count();
    at_least_as_high < k
}

/// Top-1 and top-5 accuracy (%) of per-video class scores (videos × classes, row-major), each video counted by
/// [`top_k_hit`]. A video without a full row of scores is a miss.
pub fn top_k_accuracy(scores: &[f32], classes: usize, labels: &[u32]) -> (f64, f64) {
    let mut top1 = 0usize;
    let mut top5 = 0usize;
    if classes > 0 {
        for (row, &label) in scores.chunks_exact(classes).zip(labels) {
            top1 += usize::from(top_k_hit(row, label as usize, 1));
            top5 += usize::from(top_k_hit(row, label as usize, 5));
        }
    }
    let n = labels.len().max(1) as f64;
    (100.0 * top1 as f64 / n, 100.0 * top5 as f64 / n)
}

#[cfg(test)]
mod tests {
    use super::{top_k_accuracy, top_k_hit};

    #[test]
    fn top_k_counts_ranks() {
        // 3 videos, 6 classes: label ranked 1st, 3rd and 6th.
        let scores = [
            0.9, 0.1, 0.0, 0.0, 0.0, 0.0, //
            0.5, 0.4, 0.3, 0.0, 0.0, 0.0, //
            0.6, 0.5, 0.4, 0.3, 0.2, 0.1,
        ];
        let (t1, t5) = top_k_accuracy(&scores, 6, &[0, 2, 5]);
        assert!((t1 - 100.0 / 3.0).abs() < 1e-9);
        assert!((t5 - 200.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn a_tie_at_the_boundary_is_a_miss() {
        // The label ties for first place: not a top-1 hit, but a top-2 hit (one other class at least as high).
        let row = [0.4, 0.4, 0.2];
        assert!(!top_k_hit(&row, 0, 1));
        assert!(!top_k_hit(&row, 1, 1));
        assert!(top_k_hit(&row, 0, 2));
        // Tied with two others below one higher class: rank 2..4, so only a top-4 hit.
        let row = [0.9, 0.5, 0.5, 0.5, 0.1];
        assert!(!top_k_hit(&row, 1, 2));
        assert!(!top_k_hit(&row, 1, 3));
        assert!(top_k_hit(&row, 1, 4));
        // kNN with no vote for the label: the label's 0 ties with the other unvoted classes.
        let row = [3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert!(!top_k_hit(&row, 5, 5));
    }

    #[test]
    fn an_all_equal_row_is_a_miss() {
        let scores = [0.125f32; 8 * 2];
        let (t1, t5) = top_k_accuracy(&scores, 8, &[0, 7]);
        assert_eq!((t1, t5), (0.0, 0.0));
        let zeros = [0f32; 6];
        assert!(!top_k_hit(&zeros, 3, 1));
        assert!(!top_k_hit(&zeros, 3, 5));
    }

    #[test]
    fn a_nan_or_infinite_label_score_is_a_miss() {
        let row = [0.1, f32::NAN, 0.2];
        for k in 1..=5 {
            assert!(!top_k_hit(&row, 1, k), "k = {k}");
        }
        let row = [0.1, f32::INFINITY, 0.2];
        assert!(!top_k_hit(&row, 1, 1));
        let row = [f32::NAN; 4];
        assert!(!top_k_hit(&row, 0, 5));
        let (t1, t5) = top_k_accuracy(&[f32::NAN, 0.0, 0.0], 3, &[0]);
        assert_eq!((t1, t5), (0.0, 0.0));
    }

    #[test]
    fn a_nan_elsewhere_ranks_above_the_label() {
        // The label has the best finite score, but another class's score is unknown: not a top-1 hit.
        let row = [0.9, f32::NAN, 0.1, 0.0];
        assert!(!top_k_hit(&row, 0, 1));
        assert!(top_k_hit(&row, 0, 2));
        // Two NaNs push the label out of the top 2.
        let row = [f32::NAN, 0.9, f32::NAN, 0.0];
        assert!(!top_k_hit(&row, 1, 2));
        assert!(top_k_hit(&row, 1, 3));
    }

    #[test]
    fn k_beyond_the_classes_is_a_hit_for_any_finite_score() {
        // 3 classes, top-5: every label with a finite score is among the top 5, even the lowest.
        let scores = [
            0.9,
            0.5,
            0.1, //
            0.2,
            0.2,
            0.2, //
            0.0,
            f32::NAN,
            1.0,
        ];
        let (t1, t5) = top_k_accuracy(&scores, 3, &[2, 1, 1]);
        assert!((t1 - 0.0).abs() < 1e-9);
        assert!((t5 - 200.0 / 3.0).abs() < 1e-9);
        assert!(top_k_hit(&[0.2, 0.2], 0, 5));
    }

    #[test]
    fn a_label_outside_the_row_is_a_miss() {
        assert!(!top_k_hit(&[0.5, 0.2], 2, 5));
        let (t1, t5) = top_k_accuracy(&[0.5, 0.2], 2, &[0, 1, 0]);
        // Only the first video has a row; the other two are misses, still counted in the denominator.
        assert!((t1 - 100.0 / 3.0).abs() < 1e-9);
        assert!((t5 - 100.0 / 3.0).abs() < 1e-9);
    }
}
