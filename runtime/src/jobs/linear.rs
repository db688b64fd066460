//! The linear probe: a linear classifier on frozen pool5 features, trained with the probe's own augmentation (a
//! fresh random clip and crop of every training video each epoch), tested on N temporal × M spatial views per
//! validation video with the views' softmax averaged.
//!
//! As in MAE/MoCo v3's probes, the features pass through a batch norm without affine parameters before the
//! linear layer. It only re-centres and re-scales the frozen features (the classifier stays linear in them), and
//! makes one learning rate work for encoders whose feature scales differ by orders of magnitude — which matters
//! when a table compares objectives.

use super::eval::{EvalContext, test_videos_per_batch, top_k_accuracy};
use super::metrics_log::MetricsLog;
use super::{METRICS_FILE, progress};
use crate::model::{ParamRole, ParamRoles};
use crate::train::{EvalSgd, Optimizer};
use anyhow::{Context, Result};
use rand::SeedableRng;
use serde_json::{Value, json};
use std::path::Path;
use vst_data::pipeline::SampleMode;
use vst_engine::{BatchNormMode, BatchNormSpec, Graph, ParamStore, Tensor, Var};
use vst_spec::{AugmentSpec, ColorAug, LinearEvalSpec, TemporalAug};

const WEIGHT: &str = "probe.weight";
const BIAS: &str = "probe.bias";
const MEAN: &str = "probe.norm.running_mean";
const VAR: &str = "probe.norm.running_var";
const BN: BatchNormSpec = BatchNormSpec {
    eps: 1e-6,
    relu: false,
};
/// PyTorch's default running-statistics momentum.
const BN_MOMENTUM: f32 = 0.1;

fn logits(
    g: &mut Graph,
    store: &ParamStore,
    features: &Tensor,
    train: bool,
) -> Result<(Var, Option<vst_engine::BatchStats>)> {
    let mode = if train {
        BatchNormMode::train()
    } else {
        BatchNormMode::Eval {
            running_mean: store.get(MEAN)?.clone(),
            running_var: store.get(VAR)?.clone(),
        }
    };
    let x = Var::constant(features.clone());
    let (x, stats) = g.batch_norm(&x, None, None, &mode, &BN)?;
    let (w, b) = (g.param(store, WEIGHT)?, g.param(store, BIAS)?);
    Ok((g.linear(&x, &w, Some(&b))?, stats))
}

pub fn run(eval: &EvalContext, spec: &LinearEvalSpec, dir: &Path) -> Result<Value> {
    let dim = eval.learner()?.feature_dim();
    let classes = eval.classes;
    let device = &eval.device;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(eval.spec.seed ^ 0x6c69_6e65_6172);
    let mut store = ParamStore::new();
    store.insert_param(
        WEIGHT,
        Tensor::randn(&[classes, dim], 0.01, &mut rng, device)?,
    )?;
    store.insert_param(BIAS, Tensor::zeros(&[classes], device)?)?;
    store.insert_buffer(MEAN, Tensor::zeros(&[dim], device)?)?;
    store.insert_buffer(VAR, Tensor::ones(&[dim], device)?)?;
    let mut roles = ParamRoles::new();
    roles.set(WEIGHT, ParamRole::Weight);
    roles.set(BIAS, ParamRole::Bias);

    let augment = AugmentSpec {
        temporal: TemporalAug {
            random_start: true,
            frame_rate_jitter: None,
            temporal_difference: None,
        },
        spatial: spec.train_spatial.clone(),
        color: ColorAug {
            jitter: None,
            grayscale: None,
            blur: None,
        },
        normalize: eval.spec.normalize,
    };
    let train = eval.loader(
        &eval.dataset.train,
        SampleMode::Single { augment },
        spec.batch as usize,
        true,
    )?;
    let steps_per_epoch = train.batches_per_epoch() as u64;
    let total_steps = u64::from(spec.epochs) * steps_per_epoch;
    let (optimizer_spec, schedule) = EvalSgd {
        epochs: spec.epochs,
        batch: spec.batch,
        lr: spec.lr,
        lr_rule: spec.lr_rule,
        warmup_epochs: spec.warmup_epochs,
        warmup_start_lr: 0.0,
        decay: vst_spec::Decay::Cosine,
        momentum: spec.momentum,
        weight_decay: spec.weight_decay,
    }
    .setup(total_steps)?;
    let mut optimizer = Optimizer::new(&optimizer_spec)?;
    // Rank 0 writes (see `super::replicas`).
    let leader = eval.options.replicas.is_leader();
    let mut log = if leader {
        Some(MetricsLog::open(
            &dir.join(METRICS_FILE),
            0,
            steps_per_epoch.max(1),
        )?)
    } else {
        None
    };
    let bar = progress::bar(eval.options.progress && leader, total_steps, "linear probe");

    let mut step = 0u64;
    let mut last_loss = f64::NAN;
    for epoch in 0..u64::from(spec.epochs) {
        let (mut loss_sum, mut batches) = (0.0, 0usize);
        for batch in train.epoch(epoch) {
            let batch = batch.context("cannot load a probe training batch")?;
            let clips = Tensor::from_vec(batch.data, &batch.shape, device)?;
            let (features, labels) = eval.gather(eval.features_of(&clips)?, batch.labels, 1)?;
            let targets: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
            let mut g = Graph::new();
            let (out, stats) = logits(&mut g, &store, &features, true)?;
            let loss = g.cross_entropy(&out, &targets)?;
            let value = f64::from(loss.value().to_scalar()?);
            if !value.is_finite() {
                anyhow::bail!(
                    "the linear probe diverged at step {step} (loss {value}); lower evaluate linear.lr"
                );
            }
            let grads = g.backward(&loss)?;
            let grads: Vec<(String, Tensor)> = grads
                .params_of(&store)
                .map(|(n, t)| (n.to_string(), t.clone()))
                .collect();
            optimizer.step(&mut store, grads, &roles, schedule.lr_at(step))?;
            if let Some(stats) = stats {
                store.update_running_stats(MEAN, VAR, &stats, BN_MOMENTUM)?;
            }
            if let Some(log) = &mut log {
                log.write(&json!({ "step": step, "loss": value, "lr": schedule.lr_at(step) }))?;
            }
            loss_sum += value;
            batches += 1;
            step += 1;
            bar.inc(1);
        }
        last_loss = loss_sum / batches.max(1) as f64;
        if let Some(log) = &mut log {
            log.write(&json!({ "epoch_end": epoch, "loss": last_loss }))?;
        }
        tracing::debug!(epoch, loss = last_loss, "linear probe epoch");
    }
    bar.finish_and_clear();
    if let Some(log) = &mut log {
        log.flush()?;
    }

    // Test: softmax of every view, averaged per video.
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
        eval.test_batch(test_videos_per_batch(per_video)),
        false,
    )?;
    // Only the averaged probabilities are kept (videos × classes), never all views' features at once.
    let mut averaged: Vec<f32> = Vec::new();
    let mut labels: Vec<u32> = Vec::new();
    let videos = eval.for_each_features(&test, 0, |features, batch_labels, per_video| {
        let mut g = Graph::no_grad();
        let (out, _) = logits(&mut g, &store, features, false)?;
        let probabilities = out.value().softmax()?;
        averaged.extend(
            probabilities
                .reshape(&[batch_labels.len(), per_video, classes])?
                .mean(&[1], false)?
                .to_vec()?,
        );
        labels.extend_from_slice(batch_labels);
        Ok(())
    })?;
    let (top1, top5) = top_k_accuracy(&averaged, classes, &labels);
    Ok(json!({
        "top1": top1,
        "top5": top5,
        "train_loss": last_loss,
        "classes": classes,
        "test_videos": videos,
        "views_per_video": per_video,
        "feature_dim": dim,
    }))
}
