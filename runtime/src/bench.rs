//! Whole-step benchmarks: one BYOL ρ = 2 training step of a Slow ResNet on random clips, as the paper trains it
//! (projector and predictor 2 × 4096 → 256 with BN, LARS), timed on any device. `vst bench step` runs it; the GPU
//! check script compares it with PyTorch + cuDNN on the same GPU (scripts/bench_gpu_torch.py).

use crate::train::Learner;
use anyhow::{Context, Result};
use rand::SeedableRng;
use serde::Serialize;
use std::time::Instant;
use vst_engine::{Device, Tensor};
use vst_spec::{
    Anneal, BackboneSpec, ByolSpec, ClipLoss, Decay, LrRule, MlpSpec, MomentumSpec, ObjectiveSpec,
    OptimizerSpec, Scaling, ScheduleSpec,
};

#[derive(Debug, Clone)]
pub struct StepBench {
    pub depth: u32,
    pub width: f64,
    pub frames: u32,
    pub size: u32,
    /// Videos per step (2 clips each).
    pub batch: u32,
    pub warmup: u32,
    pub steps: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepTiming {
    pub ms_per_step: f64,
    /// Clips through the online encoder per second: 2 × batch per step.
    pub clips_per_s: f64,
    pub loss: f64,
}

fn paper_byol() -> ObjectiveSpec {
    let mlp = MlpSpec {
        layers: 2,
        hidden: 4096,
        out: 256,
        bn: true,
        final_bn: false,
    };
    ObjectiveSpec::Byol(ByolSpec {
        head: mlp.clone(),
        predictor: mlp,
        momentum: MomentumSpec {
            base: 0.996,
            anneal: Anneal::Cosine,
        },
        clip_loss: ClipLoss::Sum,
    })
}

pub fn byol_rho2_step(bench: &StepBench, device: &Device) -> Result<StepTiming> {
    let backbone = BackboneSpec {
        depth: bench.depth,
        frames: bench.frames,
        stride: 8,
        width: bench.width,
    };
    let lr_rule = LrRule {
        base: 4.8,
        per: 512,
        scaling: Scaling::Linear,
    };
    let schedule = ScheduleSpec {
        epochs: 1,
        batch: bench.batch,
        optimizer: OptimizerSpec::Lars {
            momentum: 0.9,
            weight_decay: 1e-6,
            trust: 0.001,
            exclude_bn_bias: true,
            nesterov: true,
        },
        lr: 4.8 * f64::from(bench.batch) / 512.0,
        lr_rule,
        warmup_epochs: 0.0,
        warmup_start_lr: 0.0,
        decay: Decay::Cosine,
    };
    let total = u64::from(bench.warmup + bench.steps);
    let mut learner = Learner::new(
        &backbone,
        bench.size,
        &paper_byol(),
        &schedule,
        total,
        0,
        device,
    )
    .context("cannot build the benchmark model")?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let rows = 2 * bench.batch as usize;
    let (t, s) = (bench.frames as usize, bench.size as usize);
    let clips = Tensor::randn(&[rows, t, s, s, 3], 1.0, &mut rng, device)?;
    let mut loss = f64::NAN;
    for k in 0..u64::from(bench.warmup) {
        loss = learner.step(&clips, 2, k)?.loss;
    }
    let started = Instant::now();
    for k in 0..u64::from(bench.steps) {
        // The step's loss is read back to the host, which waits for the device: each step is timed whole.
        loss = learner.step(&clips, 2, u64::from(bench.warmup) + k)?.loss;
    }
    let seconds = started.elapsed().as_secs_f64() / f64::from(bench.steps.max(1));
    Ok(StepTiming {
        ms_per_step: seconds * 1e3,
        clips_per_s: rows as f64 / seconds,
        loss,
    })
}
