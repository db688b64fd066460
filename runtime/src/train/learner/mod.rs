//! The trainer-facing API: one [`Learner`] owns a model, its objective, its optimiser and schedule, and turns
//! batches of clips into training steps.
//!
//! ```text
//! let mut learner = Learner::new(&backbone, crop, &objective, &schedule, total_steps, seed, &device)?;
//! for k in learner.steps_done()..total_steps {
//!     let clips = loader.next()?;                       // (N·V)×T×H×W×3, view j of video i at row i·V + j
//!     let stats = learner.step(&clips, views_per_video, k)?;   // forward, backward, update; Err on NaN/inf
//!     metrics.write(&stats)?;
//!     if k % every == 0 { learner.save(&dir.join("checkpoint.safetensors"))?; }
//! }
//! let features = learner.features(&eval_clips)?;       // frozen encoder, eval-mode BN: N×C pool5 features
//! ```
//!
//! # One step
//! 1. The schedule gives the step's learning rate, fractional epoch and (MoCo/BYOL) target momentum (the value
//!    annealed for the previous step, as the official trainer's order has it: [`Schedule::key_momentum_at`]).
//! 2. MoCo/BYOL: the momentum encoder moves towards the online one, `θ̄ ← m·θ̄ + (1 − m)·θ` (before the keys are
//!    computed, as the official code does). SwAV: the prototypes are re-normalised.
//! 3. Each view (the N clips j of every video) runs through the online encoder as its own batch-norm batch — as
//!    the official code forwards one clip index at a time — and, for MoCo/BYOL, through the momentum encoder
//!    (training-mode batch norm, no gradient).
//! 4. The objective's loss over all ρ views ([`crate::objective`]). A NaN or infinite loss or gradient returns
//!    [`TrainError::NonFinite`] and changes nothing (weights, BN statistics, queues, momentum encoder).
//! 5. Backward; SwAV drops the prototypes' gradient while the epoch is at most `freeze_prototypes_epochs`; the
//!    optimiser steps (MoCo: not during its first `queue / batch` steps, see [`crate::objective::moco`]).
//! 6. The batch-norm running statistics recorded in the forward passes are applied, the queues take this step's
//!    embeddings (MoCo: every view's keys; SwAV: every view's embeddings).
//!
//! # Replicas and batch-norm batches
//! A learner is one of R data-parallel replicas ([`Learner::with_replicas`]; one by default): each step gets this
//! replica's videos of the global batch (replica r the r-th contiguous share), and the replicas agree through a
//! [`Communicator`]. The batch-norm batch is stated in videos of the global batch ([`Learner::with_bn_batch`]), not
//! in devices, and realised on whatever replicas there are (`replicas.rs`): several BN batches on one replica run
//! as separate forward passes (micro-batches), one BN batch over several replicas as SyncBN. The loss is computed
//! on every replica from the gathered embeddings of the whole batch, exactly as one replica would compute it; each
//! replica back-propagates its own share, and the parameter gradients are summed. So the same recipe trains the
//! same model on 1, 2 or 64 replicas, up to float rounding (tests/replicas.rs). MoCo's shuffle-BN permutes the
//! key encoder's batch across BN batches (`replicas.rs`).
//!
//! # Determinism
//! Initialisation draws from a ChaCha8 generator seeded with `seed`; given the same clips, a run on the CPU is
//! bit-identical, and [`Learner::save`] / [`Learner::load`] resume it bit-identically (all state is in the
//! checkpoint: weights, buffers, momentum buffers, queues and their pointers, the step, the RNG position).
//!
//! # Files
//! What differs between objectives is behind [`crate::objective::Objective`]; the learner only asks it. Here:
//! the learner's state and accessors; `build.rs` creates it, `step.rs` trains it, `state.rs` saves and restores
//! it (checkpoints, converted weights).

use std::collections::HashMap;
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use vst_engine::{Device, Graph, ParamStore, Tensor, Var};

use super::error::{TrainError, input_err};
use super::optim::Optimizer;
use super::schedule::Schedule;
use crate::distributed::Communicator;
use crate::model::{BnUpdates, MlpHead, Mode, ModelSummary, ParamRoles, SlowResNetModel};
use crate::objective::Objective;

mod build;
mod replicas;
mod state;
mod step;

/// What one step did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepStats {
    /// The step's index (0-based).
    pub step: u64,
    /// Fractional epoch at the start of the step.
    pub epoch: f64,
    pub loss: f64,
    pub lr: f64,
    /// Momentum of the target/key encoder (MoCo, BYOL).
    pub momentum: Option<f64>,
    /// Mean over dimensions of the per-dimension standard deviation of the L2-normalised projections across the
    /// batch: about 1/√dim for well-spread embeddings, 0 when they collapse to one point.
    pub embedding_std: f64,
    /// 1/√dim, the value of `embedding_std` for embeddings spread uniformly on the sphere.
    pub embedding_std_uniform: f64,
    /// L2 norm of all gradients (before LARS); None when no update was made.
    pub grad_norm: Option<f64>,
    /// False for MoCo's first steps, while its queue still holds initial noise (no parameter update).
    pub updated: bool,
}

/// A model, its objective, optimiser and schedule: the unit the training loop drives.
pub struct Learner {
    device: Device,
    backbone: SlowResNetModel,
    projection: MlpHead,
    predictor: Option<MlpHead>,
    objective: Box<dyn Objective>,
    /// Online network: backbone, heads, prototypes (parameters and BN buffers).
    online: ParamStore,
    roles: ParamRoles,
    /// Momentum encoder (backbone + projection), same names as the online entries.
    target: Option<ParamStore>,
    optimizer: Optimizer,
    schedule: Schedule,
    steps_done: u64,
    rng: ChaCha8Rng,
    config: serde_json::Value,
    summary: ModelSummary,
    /// Every replica of this run (this one among them).
    world: Arc<dyn Communicator>,
    /// Videos per batch-norm batch, over the global batch; None: the whole batch.
    bn_videos: Option<usize>,
    /// SyncBN groups already formed, by their size in replicas.
    sync_groups: HashMap<usize, Arc<dyn Communicator>>,
    /// Back-propagate one batch-norm batch of one view at a time, recomputing its forward pass.
    low_memory: bool,
}

impl Learner {
    /// Makes this learner one of `world.size()` data-parallel replicas (rank `world.rank()`). Every replica must
    /// be built from the same settings and seed.
    pub fn with_replicas(mut self, world: Arc<dyn Communicator>) -> Learner {
        self.world = world;
        self.sync_groups.clear();
        self
    }

    /// Batch-norm batches of `videos` videos of the global batch (None: the whole batch, the default). Part of
    /// the model: it is recorded in the checkpoint's configuration.
    pub fn with_bn_batch(mut self, videos: Option<u32>) -> Learner {
        self.bn_videos = videos.map(|v| v as usize);
        if let (Some(v), Some(config)) = (videos, self.config.as_object_mut()) {
            config.insert("bn_batch".into(), serde_json::json!(v));
        }
        self
    }

    /// Back-propagates one batch-norm batch of one view at a time (recomputing its forward pass: about a third
    /// more compute), so that a device holds the activations of one BN batch instead of all of its clips — as
    /// PySlowFast's `SEQUENTIAL` mode back-propagates one view at a time. The model is the same (gradients summed
    /// in another order). Not part of the checkpoint's configuration: a run may switch between the modes.
    pub fn with_low_memory(mut self, low_memory: bool) -> Learner {
        self.low_memory = low_memory;
        self
    }

    /// The replicas this learner trains with.
    pub fn replicas(&self) -> &dyn Communicator {
        self.world.as_ref()
    }

    /// Steps completed so far (the index of the next step).
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }

    pub fn total_steps(&self) -> u64 {
        self.schedule.total_steps()
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The layers, parameters and cost of the model (backbone and heads).
    pub fn summary(&self) -> &ModelSummary {
        &self.summary
    }

    /// The online network's parameters and buffers (PySlowFast names).
    pub fn online(&self) -> &ParamStore {
        &self.online
    }

    /// The momentum encoder (MoCo, BYOL), under the online names.
    pub fn target(&self) -> Option<&ParamStore> {
        self.target.as_ref()
    }

    /// The objective's queue (MoCo's negative keys, SwAV's past embeddings) as stored: rows in ring order, the
    /// next write at the pointer the checkpoint records.
    pub fn queue_rows(&self) -> Option<&Tensor> {
        self.objective.queue().map(|(_, q)| q.tensor())
    }

    /// Channels of the pool5 features [`Learner::features`] returns.
    pub fn feature_dim(&self) -> usize {
        self.backbone.feature_dim()
    }

    /// The learner's random generator (for anything random the trainer adds; its position is checkpointed).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    fn check_clips(&self, clips: &Tensor) -> Result<(), TrainError> {
        let s = clips.shape();
        if s.len() != 5 || s[4] != 3 {
            return input_err(format!(
                "clips must be rows×T×H×W×3 (channels-last), got {s:?}"
            ));
        }
        if !clips.device().same(&self.device) {
            return input_err(format!(
                "clips are on {} but the learner is on {}",
                clips.device().name(),
                self.device.name()
            ));
        }
        Ok(())
    }

    /// Pool5 features (N×C) of clips N×T×H×W×3 from the frozen online encoder, batch norm in evaluation mode.
    pub fn features(&self, clips: &Tensor) -> Result<Tensor, TrainError> {
        self.check_clips(clips)?;
        let mut g = Graph::no_grad();
        let mut unused = BnUpdates::new();
        let f = self.backbone.forward(
            &mut g,
            &self.online,
            &Var::constant(clips.clone()),
            Mode::Eval,
            &mut unused,
        )?;
        Ok(f.value().clone())
    }
}
