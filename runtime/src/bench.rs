//! Whole-step benchmarks: one training step of a Slow ResNet on random clips, timed on any device, for any of the
//! four objectives. Two presets of heads and optimiser:
//! - [`Preset::Paper`]: the paper's heads and LARS (BYOL: projector and predictor 2 × 4096 → 256 with BN). `vst
//!   bench gpu` runs it; the GPU check script compares it with PyTorch + cuDNN (scripts/bench_gpu_torch.py).
//! - [`Preset::Mini`]: the objective settings of `recipes/mini/base.vst` (2-layer heads 128 → 64, SGD), the
//!   CPU-sized study; `cargo bench -p vst-runtime --bench mini_step` compares it with its PyTorch twin
//!   (scripts/bench_mini_step_torch.py).
//!
//! Steps are timed in the middle of a 30-epoch schedule, so that every objective does its steady-state work: MoCo
//! updates the weights, SwAV's prototypes are no longer frozen and its queue (full after the warm-up) enters the
//! codes.

use crate::train::Learner;
use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use serde::Serialize;
use std::time::Instant;
use vst_engine::{Device, Tensor};
use vst_spec::{
    Anneal, BackboneSpec, ByolSpec, ClipLoss, Decay, LrRule, MlpSpec, MocoSpec, MomentumSpec,
    ObjectiveSpec, OptimizerSpec, PairRule, Scaling, ScheduleSpec, SimClrSpec, SwavSpec,
};

/// Epochs of the benchmark's schedule and steps per epoch (the mini study's 384 videos / 32).
const EPOCHS: u32 = 30;
const STEPS_PER_EPOCH: u64 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    SimClr,
    Moco,
    Byol,
    Swav,
}

impl Objective {
    pub const ALL: [Objective; 4] = [
        Objective::SimClr,
        Objective::Moco,
        Objective::Byol,
        Objective::Swav,
    ];

    pub fn parse(name: &str) -> Option<Objective> {
        Objective::ALL.into_iter().find(|o| o.name() == name)
    }

    /// The recipe keyword (`simclr`, `moco`, `byol`, `swav`).
    pub fn name(self) -> &'static str {
        match self {
            Objective::SimClr => "simclr",
            Objective::Moco => "moco",
            Objective::Byol => "byol",
            Objective::Swav => "swav",
        }
    }

    /// As the papers write it (`SimCLR`, `MoCo`, `BYOL`, `SwAV`).
    pub fn title(self) -> &'static str {
        match self {
            Objective::SimClr => "SimCLR",
            Objective::Moco => "MoCo",
            Objective::Byol => "BYOL",
            Objective::Swav => "SwAV",
        }
    }
}

/// Heads, objective constants and optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The paper's heads (the language's defaults), LARS at lr 4.8 per 512.
    Paper,
    /// recipes/mini/base.vst: 2-layer heads (hidden 128, out 64), SGD with momentum at lr 0.1/0.3.
    Mini,
}

impl Preset {
    pub fn parse(name: &str) -> Option<Preset> {
        match name {
            "paper" => Some(Preset::Paper),
            "mini" => Some(Preset::Mini),
            _ => None,
        }
    }

    /// (hidden, out) of the projection head (and BYOL's predictor) when not overridden.
    pub fn head_sizes(self, objective: Objective) -> (u32, u32) {
        match (self, objective) {
            (Preset::Mini, _) => (128, 64),
            (Preset::Paper, Objective::Byol) => (4096, 256),
            (Preset::Paper, _) => (2048, 128),
        }
    }
}

#[derive(Debug, Clone)]
pub struct StepBench {
    pub objective: Objective,
    pub preset: Preset,
    pub depth: u32,
    pub width: f64,
    pub frames: u32,
    pub size: u32,
    /// Videos per step.
    pub batch: u32,
    /// Clips per video (ρ; at least 2).
    pub clips: u32,
    /// Hidden and output widths of the heads; None: the preset's.
    pub head_hidden: Option<u32>,
    pub head_out: Option<u32>,
    pub warmup: u32,
    pub steps: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepTiming {
    pub ms_per_step: f64,
    /// Clips through the online encoder per second: clips × batch per step.
    pub clips_per_s: f64,
    pub loss: f64,
}

fn momentum(base: f64) -> MomentumSpec {
    MomentumSpec {
        base,
        anneal: Anneal::Cosine,
    }
}

impl StepBench {
    /// The objective's settings in this preset.
    pub fn objective_spec(&self) -> ObjectiveSpec {
        let (hidden, out) = self.preset.head_sizes(self.objective);
        let (hidden, out) = (
            self.head_hidden.unwrap_or(hidden),
            self.head_out.unwrap_or(out),
        );
        let mini = self.preset == Preset::Mini;
        let paper_layers = match self.objective {
            Objective::Byol => 2,
            _ => 3,
        };
        let head = |bn| MlpSpec {
            layers: if mini { 2 } else { paper_layers },
            hidden,
            out,
            bn,
            final_bn: false,
        };
        match self.objective {
            Objective::SimClr => ObjectiveSpec::SimClr(SimClrSpec {
                temperature: if mini { 0.2 } else { 0.1 },
                head: head(true),
                pairs: PairRule::Consecutive,
                clip_loss: ClipLoss::Sum,
            }),
            Objective::Moco => ObjectiveSpec::Moco(MocoSpec {
                temperature: if mini { 0.2 } else { 0.1 },
                head: head(!mini),
                queue: if mini { 128 } else { 65536 },
                momentum: momentum(if mini { 0.98 } else { 0.994 }),
                shuffle_bn: true,
                pairs: PairRule::AllPairs,
                clip_loss: ClipLoss::Sum,
            }),
            Objective::Byol => ObjectiveSpec::Byol(ByolSpec {
                head: head(true),
                predictor: head(true),
                momentum: momentum(if mini { 0.98 } else { 0.996 }),
                clip_loss: ClipLoss::Sum,
            }),
            Objective::Swav => ObjectiveSpec::Swav(SwavSpec {
                temperature: if mini { 0.2 } else { 0.1 },
                head: head(true),
                prototypes: if mini { 32 } else { 1000 },
                sinkhorn_epsilon: 0.05,
                sinkhorn_iterations: 3,
                freeze_prototypes_epochs: 1.0,
                queue: if mini { 256 } else { 0 },
                pairs: PairRule::FirstTwo,
            }),
        }
    }

    fn schedule(&self) -> ScheduleSpec {
        let (optimizer, lr, lr_rule) = match self.preset {
            Preset::Paper => (
                OptimizerSpec::Lars {
                    momentum: 0.9,
                    weight_decay: 1e-6,
                    trust: 0.001,
                    exclude_bn_bias: true,
                    nesterov: true,
                },
                4.8 * f64::from(self.batch) / 512.0,
                LrRule {
                    base: 4.8,
                    per: 512,
                    scaling: Scaling::Linear,
                },
            ),
            Preset::Mini => {
                let lr = if self.objective == Objective::SimClr {
                    0.1
                } else {
                    0.3
                };
                (
                    OptimizerSpec::Sgd {
                        momentum: 0.9,
                        weight_decay: 1e-4,
                        nesterov: true,
                    },
                    lr,
                    LrRule {
                        base: lr,
                        per: self.batch,
                        scaling: Scaling::Linear,
                    },
                )
            }
        };
        ScheduleSpec {
            epochs: EPOCHS,
            batch: self.batch,
            optimizer,
            lr,
            lr_rule,
            warmup_epochs: 0.0,
            warmup_start_lr: 0.0,
            decay: Decay::Cosine,
        }
    }

    /// "BYOL rho=2 step" (the workload name of `vst bench gpu`'s JSON lines).
    pub fn workload(&self) -> String {
        format!("{} rho={} step", self.objective.title(), self.clips)
    }
}

/// A learner and a batch of random clips, ready to be stepped again and again.
pub struct StepRunner {
    learner: Learner,
    clips: Tensor,
    views: usize,
    next_step: u64,
    total: u64,
}

impl StepRunner {
    pub fn new(bench: &StepBench, device: &Device) -> Result<StepRunner> {
        if bench.clips < 2 {
            bail!(
                "a step needs at least 2 clips per video, got {}",
                bench.clips
            );
        }
        let backbone = BackboneSpec {
            depth: bench.depth,
            frames: bench.frames,
            stride: 8,
            width: bench.width,
        };
        let total = u64::from(EPOCHS) * STEPS_PER_EPOCH;
        let learner = Learner::new(
            &backbone,
            bench.size,
            &bench.objective_spec(),
            &bench.schedule(),
            total,
            0,
            device,
        )
        .context("cannot build the benchmark model")?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let rows = (bench.clips * bench.batch) as usize;
        let (t, s) = (bench.frames as usize, bench.size as usize);
        let clips = Tensor::randn(&[rows, t, s, s, 3], 1.0, &mut rng, device)?;
        Ok(StepRunner {
            learner,
            clips,
            views: bench.clips as usize,
            next_step: total / 2,
            total,
        })
    }

    /// Clips through the online encoder per step.
    pub fn rows(&self) -> usize {
        self.clips.shape()[0]
    }

    /// One step (the second half of the schedule, over and over); returns its loss. The loss is read back to the
    /// host, which waits for the device, so a step timed around this call is timed whole.
    pub fn step(&mut self) -> Result<f64> {
        let stats = self.learner.step(&self.clips, self.views, self.next_step)?;
        self.next_step += 1;
        if self.next_step == self.total {
            self.next_step = self.total / 2;
        }
        Ok(stats.loss)
    }
}

/// `bench.warmup` untimed steps, then the mean time of `bench.steps` steps.
/// Times `bench.steps` steps after `bench.warmup` untimed ones; `after_warmup` runs between the two (where a GPU
/// benchmark resets its peak-memory counter, as PyTorch's side does, so the peak is the timed steps').
pub fn time_steps(
    bench: &StepBench,
    device: &Device,
    after_warmup: impl FnOnce(),
) -> Result<StepTiming> {
    let mut runner = StepRunner::new(bench, device)?;
    let mut loss = f64::NAN;
    for _ in 0..bench.warmup {
        loss = runner.step()?;
    }
    after_warmup();
    let started = Instant::now();
    for _ in 0..bench.steps {
        loss = runner.step()?;
    }
    let seconds = started.elapsed().as_secs_f64() / f64::from(bench.steps.max(1));
    Ok(StepTiming {
        ms_per_step: seconds * 1e3,
        clips_per_s: runner.rows() as f64 / seconds,
        loss,
    })
}
