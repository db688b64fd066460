//! Fine-tuning: the whole network — the encoder, from the pre-training job's final weights or freshly initialised
//! (`from: scratch`), and a new linear classifier behind dropout (PySlowFast's `ResNetBasicHead`:
//! `head.projection`) — trained end to end with cross-entropy on one augmented clip per training video, then
//! tested on N temporal × M spatial views per validation video with the views' softmax averaged (top-1/top-5).
//! On multi-label data (Charades), as PySlowFast's Charades loader and test: the loss is per-class sigmoid binary
//! cross-entropy against the classes whose actions the training clip overlaps, each class's sigmoid is maximised
//! over the test views, and the result is the mean average precision (`map`, %) against the video's classes.
//!
//! The job checkpoints every `checkpoint_every` epochs (and at the end) into its directory and resumes from there:
//! the loader's batches are a pure function of (seed, epoch, index), the dropout masks of (seed, step), and the
//! weights, batch-norm statistics and momentum buffers are all in the checkpoint, so a killed run ends with the
//! same metrics as an uninterrupted one.

use super::eval::{CLIPS_PER_FORWARD, EvalContext, test_videos_per_batch, top_k_accuracy};
use super::metrics_log::MetricsLog;
use super::multilabel;
use super::{CHECKPOINT_FILE, METRICS_FILE, progress};
use crate::model::{BnUpdates, Mode, ParamRole, ParamRoles, SlowResNetModel};
use crate::train::checkpoint::{
    CheckpointMeta, FORMAT_VERSION, OPTIMIZER_PREFIX, RngState, read_checkpoint, write_checkpoint,
};
use crate::train::{EvalSgd, Optimizer};
use anyhow::{Context, Result, bail};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use vst_data::pipeline::SampleMode;
use vst_engine::{Device, Graph, ParamKind, ParamStore, Tensor, Var};
use vst_spec::{AugmentSpec, FinetuneEvalSpec, FinetuneStart, TemporalAug};

/// The classifier's parameters, PySlowFast's names for a `ResNet` model's head.
const HEAD_WEIGHT: &str = "head.projection.weight";
const HEAD_BIAS: &str = "head.projection.bias";
/// The backbone's prefix: the pre-training checkpoint's names, so its encoder loads entry for entry.
const BACKBONE_PREFIX: &str = "backbone.";
/// PySlowFast's `init_weights(fc_init_std=0.01)`: the head's weight is drawn from N(0, 0.01²), its bias zero.
const HEAD_INIT_STD: f32 = 0.01;
/// Separates the initialisation and dropout streams from the seed's other uses.
const INIT_SALT: u64 = 0x6669_6e65_7475_6e65;
const DROPOUT_SALT: u64 = 0x6472_6f70_6f75_7421;

/// The network being fine-tuned: backbone + head, its parameters, their optimiser roles.
struct Network {
    backbone: SlowResNetModel,
    store: ParamStore,
    roles: ParamRoles,
}

impl Network {
    /// A fresh network for `classes`: the backbone He-initialised from the seed, the head as PySlowFast's.
    fn new(eval: &EvalContext, crop: u32, classes: usize, device: &Device) -> Result<Network> {
        let backbone = SlowResNetModel::new(&eval.spec.backbone, crop, BACKBONE_PREFIX)
            .context("cannot build the backbone")?;
        let mut rng = ChaCha8Rng::seed_from_u64(eval.spec.seed ^ INIT_SALT);
        let mut store = ParamStore::new();
        let mut roles = ParamRoles::new();
        backbone.init(&mut store, &mut roles, &mut rng, device)?;
        let dim = backbone.feature_dim();
        store.insert_param(
            HEAD_WEIGHT,
            Tensor::randn(&[classes, dim], HEAD_INIT_STD, &mut rng, device)?,
        )?;
        store.insert_param(HEAD_BIAS, Tensor::zeros(&[classes], device)?)?;
        roles.set(HEAD_WEIGHT, ParamRole::Weight);
        roles.set(HEAD_BIAS, ParamRole::Bias);
        Ok(Network {
            backbone,
            store,
            roles,
        })
    }

    /// Replaces every backbone entry with the pre-trained encoder's (the evaluation's learner).
    fn load_pretrained(&mut self, pretrained: &ParamStore) -> Result<()> {
        let names: Vec<String> = self
            .store
            .names()
            .filter(|n| n.starts_with(BACKBONE_PREFIX))
            .map(str::to_string)
            .collect();
        for name in names {
            let source = pretrained.get(&name).with_context(|| {
                format!("the pre-trained encoder has no entry `{name}` (another architecture?)")
            })?;
            if source.shape() != self.store.get(&name)?.shape() {
                bail!(
                    "the pre-trained entry `{name}` has shape {:?}, the fine-tuned network {:?}",
                    source.shape(),
                    self.store.get(&name)?.shape()
                );
            }
            self.store.set(&name, source.deep_clone()?)?;
        }
        Ok(())
    }

    /// Class scores of `clips`, the pooled features multiplied by `dropout_mask` when one is given.
    fn logits(
        &self,
        g: &mut Graph,
        clips: &Tensor,
        mode: Mode,
        dropout_mask: Option<Tensor>,
        updates: &mut BnUpdates,
    ) -> Result<Var> {
        let x = Var::constant(clips.clone());
        let mut features = self.backbone.forward(g, &self.store, &x, mode, updates)?;
        if let Some(mask) = dropout_mask {
            features = g.mul(&features, &Var::constant(mask))?;
        }
        let (w, b) = (
            g.param(&self.store, HEAD_WEIGHT)?,
            g.param(&self.store, HEAD_BIAS)?,
        );
        Ok(g.linear(&features, &w, Some(&b))?)
    }
}

/// The inverted-dropout mask of step `step` (rows × dim): 0 with probability `p`, 1/(1 − p) otherwise, drawn
/// from (seed, step) alone so that a resumed run draws the same masks.
fn dropout_mask(
    seed: u64,
    step: u64,
    p: f64,
    shape: [usize; 2],
    device: &Device,
) -> Result<Option<Tensor>> {
    if p <= 0.0 {
        return Ok(None);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ DROPOUT_SALT);
    rng.set_stream(step);
    let keep = (1.0 / (1.0 - p)) as f32;
    let values: Vec<f32> = (0..shape[0] * shape[1])
        .map(|_| if rng.random_bool(p) { 0.0 } else { keep })
        .collect();
    Ok(Some(Tensor::from_vec(values, &shape, device)?))
}

/// What a checkpoint belongs to: a fine-tune refuses to resume from another one's file.
fn checkpoint_config(eval: &EvalContext, spec: &FinetuneEvalSpec, classes: usize) -> Value {
    json!({
        "finetune": spec,
        "backbone": eval.spec.backbone,
        "dataset": eval.spec.dataset.name,
        "classes": classes,
        "seed": eval.spec.seed,
    })
}

fn save(
    path: &Path,
    net: &Network,
    optimizer: &Optimizer,
    step: u64,
    steps_per_epoch: u64,
    config: &Value,
) -> Result<()> {
    let mut entries: Vec<(String, Tensor, bool)> = net
        .store
        .iter()
        .map(|(name, t, kind)| (name.to_string(), t.clone(), kind == ParamKind::Buffer))
        .collect();
    for (name, t) in optimizer.state() {
        entries.push((format!("{OPTIMIZER_PREFIX}{name}"), t.clone(), true));
    }
    let meta = CheckpointMeta {
        format: FORMAT_VERSION,
        step,
        epoch: step as f64 / steps_per_epoch.max(1) as f64,
        // Nothing random is drawn from a running generator (dropout masks come from (seed, step)): the field
        // records the fixed stream, for the format's sake.
        rng: RngState::capture(&ChaCha8Rng::seed_from_u64(DROPOUT_SALT)),
        queues: BTreeMap::new(),
        config: config.clone(),
    };
    write_checkpoint(path, &entries, &meta).context("cannot save the fine-tuning checkpoint")
}

/// Restores weights, statistics and momentum buffers from `path`; returns the steps done.
fn resume(
    path: &Path,
    net: &mut Network,
    optimizer: &mut Optimizer,
    config: &Value,
    device: &Device,
) -> Result<u64> {
    let mut file = read_checkpoint(path, device)?;
    let Some(meta) = file.meta.take() else {
        bail!("{} has no training state", path.display());
    };
    if &meta.config != config {
        bail!(
            "{} belongs to another fine-tuning configuration; delete it to start over",
            path.display()
        );
    }
    let names: Vec<String> = net.store.names().map(str::to_string).collect();
    let mut restored = Vec::with_capacity(names.len());
    for name in names {
        let t = file
            .tensors
            .remove(&name)
            .with_context(|| format!("{}: entry `{name}` is missing", path.display()))?;
        if t.shape() != net.store.get(&name)?.shape() {
            bail!(
                "{}: entry `{name}` has shape {:?}, expected {:?}",
                path.display(),
                t.shape(),
                net.store.get(&name)?.shape()
            );
        }
        restored.push((name, t));
    }
    let mut buffers = BTreeMap::new();
    for (file_name, t) in std::mem::take(&mut file.tensors) {
        let Some(name) = file_name.strip_prefix(OPTIMIZER_PREFIX) else {
            bail!("{}: unexpected entry `{file_name}`", path.display());
        };
        if !net.store.contains(name) {
            bail!(
                "{}: momentum buffer for unknown parameter `{name}`",
                path.display()
            );
        }
        buffers.insert(name.to_string(), t);
    }
    for (name, t) in restored {
        net.store.set(&name, t)?;
    }
    optimizer.restore(buffers);
    Ok(meta.step)
}

pub fn run(eval: &EvalContext, spec: &FinetuneEvalSpec, dir: &Path) -> Result<Value> {
    let classes = eval.classes;
    let device = &eval.device;
    let mut net = Network::new(eval, spec.train_spatial.size, classes, device)?;
    if spec.from == FinetuneStart::Pretrained {
        net.load_pretrained(eval.learner()?.online())?;
    }
    let dim = net.backbone.feature_dim();

    let augment = AugmentSpec {
        temporal: TemporalAug {
            random_start: true,
            frame_rate_jitter: None,
            temporal_difference: None,
        },
        spatial: spec.train_spatial.clone(),
        color: spec.train_color.clone(),
        normalize: eval.spec.normalize,
    };
    let train = eval.loader(
        &eval.dataset.train,
        SampleMode::Single { augment },
        spec.batch as usize,
        true,
    )?;
    let steps_per_epoch = train.batches_per_epoch() as u64;
    if steps_per_epoch == 0 {
        bail!(
            "the fine-tuning batch of {} videos is larger than the {} training videos of `{}`; lower its batch",
            spec.batch,
            eval.dataset.train.len(),
            eval.spec.dataset.name
        );
    }
    let epochs = u64::from(spec.epochs);
    let total_steps = epochs * steps_per_epoch;
    let (optimizer_spec, schedule) = EvalSgd {
        epochs: spec.epochs,
        batch: spec.batch,
        lr: spec.lr,
        lr_rule: spec.lr_rule,
        warmup_epochs: spec.warmup_epochs,
        warmup_start_lr: spec.warmup_start_lr,
        decay: spec.decay.clone(),
        momentum: spec.momentum,
        weight_decay: spec.weight_decay,
    }
    .setup(total_steps)?;
    let mut optimizer = Optimizer::new(&optimizer_spec)?;

    let config = checkpoint_config(eval, spec, classes);
    let checkpoint = dir.join(CHECKPOINT_FILE);
    let start_step = if checkpoint.exists() {
        let step = resume(&checkpoint, &mut net, &mut optimizer, &config, device)
            .context("cannot resume the fine-tuning from its last checkpoint")?;
        tracing::info!(step, "fine-tuning resumes from its checkpoint");
        step
    } else {
        0
    };
    if !start_step.is_multiple_of(steps_per_epoch) || start_step > total_steps {
        bail!(
            "checkpoint {} is not at an epoch boundary of this fine-tuning (step {start_step})",
            checkpoint.display()
        );
    }
    let mut log = MetricsLog::open(&dir.join(METRICS_FILE), start_step, steps_per_epoch)?;
    let bar = progress::bar(eval.options.progress, total_steps, "fine-tune");
    bar.set_position(start_step);
    let every = u64::from(spec.checkpoint_every.max(1));

    for epoch in start_step / steps_per_epoch..epochs {
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
        for (index, batch) in train.epoch(epoch).enumerate() {
            let batch = batch.context("cannot load a fine-tuning batch")?;
            let step = epoch * steps_per_epoch + index as u64;
            let clips = Tensor::from_vec(batch.data, &batch.shape, device)?;
            let rows = batch.shape[0];
            let targets: Vec<usize> = batch.labels.iter().map(|&l| l as usize).collect();
            let mask = dropout_mask(eval.spec.seed, step, spec.dropout, [rows, dim], device)?;
            let mut g = Graph::new();
            let mut updates = BnUpdates::new();
            let out = net.logits(&mut g, &clips, Mode::Train, mask, &mut updates)?;
            let loss = match &eval.dataset.label_sets {
                Some(sets) => {
                    let targets =
                        multilabel::clip_targets(sets, &batch.labels, &batch.row_seconds)?;
                    multilabel::bce_with_logits(&mut g, &out, &targets, device)?
                }
                None => g.cross_entropy(&out, &targets)?,
            };
            let value = f64::from(loss.value().to_scalar()?);
            if !value.is_finite() || !updates.all_finite()? {
                bail!(
                    "the fine-tuning diverged at step {step} (loss {value}); lower its lr or add warm-up"
                );
            }
            // Training top-1 means nothing for a multi-label video (its label indexes its class set).
            if eval.dataset.label_sets.is_none() {
                let scores = out.value().to_vec()?;
                correct += scores
                    .chunks_exact(classes)
                    .zip(&targets)
                    .filter(|(row, t)| super::eval::top_k_hit(row, **t, 1))
                    .count();
            }
            seen += rows;
            let grads = g.backward(&loss)?;
            let grads: Vec<(String, Tensor)> = grads
                .params_of(&net.store)
                .map(|(n, t)| (n.to_string(), t.clone()))
                .collect();
            let lr = schedule.lr_at(step);
            optimizer.step(&mut net.store, grads, &net.roles, lr)?;
            updates.apply(&mut net.store)?;
            log.write(&json!({ "step": step, "loss": value, "lr": lr }))?;
            loss_sum += value;
            bar.inc(1);
        }
        let epoch_loss = loss_sum / steps_per_epoch as f64;
        let train_top1 = match eval.dataset.label_sets {
            Some(_) => None,
            None => Some(100.0 * correct as f64 / seen.max(1) as f64),
        };
        log.write(&json!({ "epoch_end": epoch, "loss": epoch_loss, "train_top1": train_top1 }))?;
        tracing::info!(
            epoch,
            loss = epoch_loss,
            train_top1,
            "fine-tuning epoch done"
        );
        if (epoch + 1) % every == 0 || epoch + 1 == epochs {
            log.flush()?;
            save(
                &checkpoint,
                &net,
                &optimizer,
                (epoch + 1) * steps_per_epoch,
                steps_per_epoch,
                &config,
            )?;
        }
    }
    bar.finish_and_clear();
    log.flush()?;
    let records = super::read_records(&dir.join(METRICS_FILE))?;
    let last_epoch = records
        .iter()
        .rev()
        .find(|r| r.get("epoch_end").is_some())
        .cloned()
        .unwrap_or(Value::Null);

    // Test: softmax of every view averaged per video (sigmoids maximised on multi-label data), batch norm on its
    // running statistics, no dropout.
    let views = spec.views;
    let mode = SampleMode::Test {
        temporal: views.temporal,
        spatial: views.spatial,
        size: views.size,
        normalize: eval.spec.normalize,
    };
    let per_video = (views.temporal * views.spatial) as usize;
    let test = eval.loader(
        &eval.dataset.val,
        mode,
        test_videos_per_batch(per_video),
        false,
    )?;
    let multi_label = eval.dataset.label_sets.is_some();
    let mut combined: Vec<f32> = Vec::new();
    let mut labels: Vec<u32> = Vec::new();
    for batch in test.epoch(0) {
        let batch = batch.context("cannot load a fine-tuning test batch")?;
        let per_video = batch.rows_per_video.max(1);
        let clips = Tensor::from_vec(batch.data, &batch.shape, device)?;
        let rows = clips.shape()[0];
        let mut parts = Vec::with_capacity(rows.div_ceil(CLIPS_PER_FORWARD));
        for start in (0..rows).step_by(CLIPS_PER_FORWARD) {
            let chunk = clips.slice(0, start, CLIPS_PER_FORWARD.min(rows - start))?;
            let mut g = Graph::no_grad();
            let mut unused = BnUpdates::new();
            let out = net.logits(&mut g, &chunk, Mode::Eval, None, &mut unused)?;
            parts.push(match multi_label {
                // Per-class probabilities: each class's sigmoid, independent of the others.
                true => {
                    let logits = out.value();
                    Tensor::from_vec(
                        multilabel::sigmoid(&logits.to_vec()?),
                        logits.shape(),
                        device,
                    )?
                }
                false => out.value().softmax()?,
            });
        }
        let refs: Vec<&Tensor> = parts.iter().collect();
        let probabilities = Tensor::concat(&refs, 0)?;
        let videos = rows / per_video;
        if multi_label {
            // PySlowFast's multi-label test (`TEST.ENSEMBLE_METHOD: max` in its Charades configs): each class's
            // largest probability over the video's views — an action seen in one view is in the video.
            combined.extend(multilabel::max_over_views(
                &probabilities.to_vec()?,
                per_video,
                classes,
            ));
        } else {
            combined.extend(
                probabilities
                    .reshape(&[videos, per_video, classes])?
                    .mean(&[1], false)?
                    .to_vec()?,
            );
        }
        labels.extend(batch.labels.iter().step_by(per_video).copied());
    }
    if labels.is_empty() {
        bail!("no fine-tuning test clips");
    }
    let measured = match &eval.dataset.label_sets {
        Some(sets) => {
            let targets = multilabel::targets(sets, &labels)?;
            let (map, per_class) = super::mean_average_precision(&combined, &targets, classes)
                .context("no test video has a label: mean average precision is undefined")?;
            json!({ "map": 100.0 * map, "classes_with_positives": per_class.len() })
        }
        None => {
            let (top1, top5) = top_k_accuracy(&combined, classes, &labels);
            json!({ "top1": top1, "top5": top5 })
        }
    };
    let mut result = json!({
        "from": spec.from,
        "train_loss": last_epoch.get("loss"),
        "train_top1": last_epoch.get("train_top1"),
        "steps": total_steps,
        "classes": classes,
        "test_videos": labels.len(),
        "views_per_video": per_video,
        "parameters": net.store.trainable_numel(),
    });
    if let (Some(result), Value::Object(measured)) = (result.as_object_mut(), measured) {
        result.extend(measured);
    }
    Ok(result)
}
