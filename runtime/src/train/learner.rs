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
//! # Replicas
//! The learner is one replica: batch norm normalises over its own batch, and MoCo's shuffle-BN is a no-op (see
//! [`crate::objective::moco`]). Data-parallel training across devices (SyncBN groups) is not supported yet.
//!
//! # Determinism
//! Initialisation draws from a ChaCha8 generator seeded with `seed`; given the same clips, a run on the CPU is
//! bit-identical, and [`Learner::save`] / [`Learner::load`] resume it bit-identically (all state is in the
//! checkpoint: weights, buffers, momentum buffers, queues and their pointers, the step, the RNG position).

use std::collections::BTreeMap;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use vst_engine::{Device, Graph, ParamKind, ParamStore, Tensor, Var};
use vst_spec::{BackboneSpec, MomentumSpec, ObjectiveSpec, PairRule, ScheduleSpec};

use super::checkpoint::{
    CheckpointMeta, FORMAT_VERSION, MOCO_QUEUE, ONLINE_PREFIX, OPTIMIZER_PREFIX, PROTOTYPES,
    QueueState, RngState, SWAV_QUEUE, TARGET_PREFIX, read_checkpoint, target_file_name,
    write_checkpoint,
};
use super::error::{TrainError, input_err, invalid_setting};
use super::optim::Optimizer;
use super::schedule::Schedule;
use crate::model::{
    BnUpdates, MlpHead, Mode, ModelSummary, ParamRole, ParamRoles, SlowResNetModel,
};
use crate::objective::byol::byol_loss;
use crate::objective::moco::{MocoLoss, initial_queue, moco_loss, no_update_steps};
use crate::objective::simclr::simclr_loss;
use crate::objective::swav::{QUEUE_START_EPOCH, SwavLoss, swav_loss};
use crate::objective::{ClipLayout, ClipLoss, NORMALIZE_EPS, RowQueue};

/// Module path of the projection head (PySlowFast's `backbone.head.projection`).
const PROJECTION: &str = "backbone.head.projection";
/// Module path of BYOL's predictor (PySlowFast's `backbone.head.predictors.0`).
const PREDICTOR: &str = "backbone.head.predictors.0";

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

enum Method {
    SimClr {
        temperature: f32,
        pairs: PairRule,
        clip_loss: ClipLoss,
    },
    Moco {
        temperature: f32,
        pairs: PairRule,
        clip_loss: ClipLoss,
        momentum: MomentumSpec,
        queue: RowQueue,
        /// Steps at the start that make no parameter update (see [`no_update_steps`]).
        no_update_steps: u64,
    },
    Byol {
        momentum: MomentumSpec,
        clip_loss: ClipLoss,
    },
    Swav {
        loss: SwavLoss,
        freeze_prototypes_epochs: f64,
        queue: Option<RowQueue>,
    },
}

impl Method {
    fn momentum(&self) -> Option<&MomentumSpec> {
        match self {
            Method::Moco { momentum, .. } | Method::Byol { momentum, .. } => Some(momentum),
            _ => None,
        }
    }

    fn queue(&self) -> Option<(&'static str, &RowQueue)> {
        match self {
            Method::Moco { queue, .. } => Some((MOCO_QUEUE, queue)),
            Method::Swav {
                queue: Some(queue), ..
            } => Some((SWAV_QUEUE, queue)),
            _ => None,
        }
    }

    fn queue_mut(&mut self) -> Option<&mut RowQueue> {
        match self {
            Method::Moco { queue, .. } => Some(queue),
            Method::Swav { queue, .. } => queue.as_mut(),
            _ => None,
        }
    }
}

/// Outputs of the encoders for one batch.
struct Embeddings {
    /// Online projections, video-major, in the graph.
    z: Var,
    /// BYOL's predictions, video-major, in the graph.
    predictions: Option<Var>,
    /// Momentum-encoder projections, video-major.
    target: Option<Tensor>,
    /// Momentum-encoder projections in view-major order (what MoCo enqueues).
    target_view_major: Option<Tensor>,
}

/// A model, its objective, optimiser and schedule: the unit the training loop drives.
pub struct Learner {
    device: Device,
    backbone: SlowResNetModel,
    projection: MlpHead,
    predictor: Option<MlpHead>,
    method: Method,
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
}

/// A shallow copy of a store (tensors share storage until one side writes: copy on write).
fn clone_store(store: &ParamStore) -> Result<ParamStore, TrainError> {
    let mut out = ParamStore::new();
    for (name, tensor, kind) in store.iter() {
        match kind {
            ParamKind::Trainable => out.insert_param(name, tensor.clone())?,
            ParamKind::Buffer => out.insert_buffer(name, tensor.clone())?,
        }
    }
    Ok(out)
}

fn check_positive(what: &str, value: f64) -> Result<f32, TrainError> {
    if !(value.is_finite() && value > 0.0) {
        return invalid_setting(format!("{what} must be positive, got {value}"));
    }
    Ok(value as f32)
}

fn check_momentum(what: &str, m: &MomentumSpec) -> Result<(), TrainError> {
    if !(0.0..=1.0).contains(&m.base) {
        return invalid_setting(format!("{what} momentum must be in [0, 1], got {}", m.base));
    }
    Ok(())
}

/// Mean over dimensions of the per-dimension std (across rows) of the L2-normalised rows of `z`.
fn embedding_std(z: &Tensor) -> Result<f64, TrainError> {
    let zn = z.l2_normalize(NORMALIZE_EPS)?;
    let mean = zn.mean(&[0], true)?;
    let var = zn.sub(&mean)?.square()?.mean(&[0], false)?;
    let std = var.sqrt()?.mean(&[], false)?.to_scalar()?;
    Ok(f64::from(std))
}

fn is_target_entry(name: &str) -> bool {
    name.starts_with(ONLINE_PREFIX) && !name.starts_with("backbone.head.predictors.")
}

impl Learner {
    /// A freshly initialised learner for `objective` on `backbone` at `crop`² clips, training for `total_steps`
    /// steps of `schedule`, initialised from `seed`, on `device`.
    pub fn new(
        backbone: &BackboneSpec,
        crop: u32,
        objective: &ObjectiveSpec,
        schedule: &ScheduleSpec,
        total_steps: u64,
        seed: u64,
        device: &Device,
    ) -> Result<Learner, TrainError> {
        let model = SlowResNetModel::new(backbone, crop, ONLINE_PREFIX)?;
        let features = model.feature_dim();
        let head_spec = match objective {
            ObjectiveSpec::SimClr(s) => &s.head,
            ObjectiveSpec::Moco(s) => &s.head,
            ObjectiveSpec::Byol(s) => &s.head,
            ObjectiveSpec::Swav(s) => &s.head,
        };
        let projection = MlpHead::new(head_spec, features, PROJECTION, true)?;
        let dim = projection.out_dim();
        let predictor = match objective {
            ObjectiveSpec::Byol(s) => {
                if s.predictor.out as usize != dim {
                    return invalid_setting(format!(
                        "BYOL's predictor must output the projection's {dim} dimensions, not {}",
                        s.predictor.out
                    ));
                }
                Some(MlpHead::new(&s.predictor, dim, PREDICTOR, false)?)
            }
            _ => None,
        };
        let schedule_model = Schedule::new(schedule, total_steps)?;
        let optimizer = Optimizer::new(&schedule.optimizer)?;

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut online = ParamStore::new();
        let mut roles = ParamRoles::new();
        model.init(&mut online, &mut roles, &mut rng, device)?;
        projection.init(&mut online, &mut roles, &mut rng, device)?;
        if let Some(p) = &predictor {
            p.init(&mut online, &mut roles, &mut rng, device)?;
        }

        let method = match objective {
            ObjectiveSpec::SimClr(s) => Method::SimClr {
                temperature: check_positive("SimCLR temperature", s.temperature)?,
                pairs: s.pairs,
                clip_loss: s.clip_loss,
            },
            ObjectiveSpec::Moco(s) => {
                check_momentum("MoCo", &s.momentum)?;
                if s.queue == 0 {
                    return invalid_setting("MoCo needs a queue of at least one key");
                }
                Method::Moco {
                    temperature: check_positive("MoCo temperature", s.temperature)?,
                    pairs: s.pairs,
                    clip_loss: s.clip_loss,
                    momentum: s.momentum,
                    queue: initial_queue(s.queue as usize, dim, &mut rng, device)?,
                    no_update_steps: no_update_steps(
                        s.queue,
                        schedule.batch,
                        schedule_model.steps_per_epoch(),
                    ),
                }
            }
            ObjectiveSpec::Byol(s) => {
                check_momentum("BYOL", &s.momentum)?;
                Method::Byol {
                    momentum: s.momentum,
                    clip_loss: s.clip_loss,
                }
            }
            ObjectiveSpec::Swav(s) => {
                if s.prototypes == 0 {
                    return invalid_setting("SwAV needs at least one prototype");
                }
                if s.sinkhorn_iterations == 0 {
                    return invalid_setting("SwAV needs at least one Sinkhorn iteration");
                }
                // nn.Linear's default initialisation, then unit rows (re-normalised before every step anyway).
                let bound = 1.0 / (dim as f32).sqrt();
                let prototypes = Tensor::rand_uniform(
                    &[s.prototypes as usize, dim],
                    -bound,
                    bound,
                    &mut rng,
                    device,
                )?
                .l2_normalize(NORMALIZE_EPS)?;
                online.insert_param(PROTOTYPES, prototypes)?;
                roles.set(PROTOTYPES, ParamRole::Weight);
                let queue = if s.queue > 0 {
                    Some(RowQueue::new(Tensor::zeros(
                        &[s.queue as usize, dim],
                        device,
                    )?)?)
                } else {
                    None
                };
                Method::Swav {
                    loss: SwavLoss {
                        temperature: check_positive("SwAV temperature", s.temperature)?,
                        epsilon: check_positive("Sinkhorn ε", s.sinkhorn_epsilon)?,
                        iterations: s.sinkhorn_iterations,
                        rule: s.pairs,
                    },
                    freeze_prototypes_epochs: s.freeze_prototypes_epochs,
                    queue,
                }
            }
        };
        let target = if method.momentum().is_some() {
            let mut t = ParamStore::new();
            for (name, tensor, kind) in online.iter() {
                if !is_target_entry(name) {
                    continue;
                }
                match kind {
                    ParamKind::Trainable => t.insert_param(name, tensor.deep_clone()?)?,
                    ParamKind::Buffer => t.insert_buffer(name, tensor.deep_clone()?)?,
                }
            }
            Some(t)
        } else {
            None
        };
        let config = serde_json::json!({
            "backbone": backbone,
            "crop": crop,
            "objective": objective,
            "schedule": schedule,
            "total_steps": total_steps,
            "seed": seed,
        });
        let summary = ModelSummary::new(backbone, crop)?.with_objective(objective)?;
        Ok(Learner {
            device: device.clone(),
            backbone: model,
            projection,
            predictor,
            method,
            online,
            roles,
            target,
            optimizer,
            schedule: schedule_model,
            steps_done: 0,
            rng,
            config,
            summary,
        })
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
        self.method.queue().map(|(_, q)| q.tensor())
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

    /// Online (and, with a momentum encoder, target) embeddings of every view, each view its own BN batch.
    fn embed(
        &self,
        g: &mut Graph,
        views: &[Tensor],
        layout: &ClipLayout,
        target: Option<&ParamStore>,
        online_bn: &mut BnUpdates,
        target_bn: &mut BnUpdates,
    ) -> Result<Embeddings, TrainError> {
        let reorder = layout.video_major_from_view_major();
        let mut z_parts = Vec::with_capacity(views.len());
        let mut p_parts = Vec::new();
        let mut t_parts = Vec::new();
        for view in views {
            let x = Var::constant(view.clone());
            let f = self
                .backbone
                .forward(g, &self.online, &x, Mode::Train, online_bn)?;
            let z = self
                .projection
                .forward(g, &self.online, &f, Mode::Train, online_bn)?;
            if let Some(pred) = &self.predictor {
                p_parts.push(pred.forward(g, &self.online, &z, Mode::Train, online_bn)?);
            }
            z_parts.push(z);
            if let Some(t) = target {
                let mut tg = Graph::no_grad();
                let f = self
                    .backbone
                    .forward(&mut tg, t, &x, Mode::Train, target_bn)?;
                let k = self
                    .projection
                    .forward(&mut tg, t, &f, Mode::Train, target_bn)?;
                t_parts.push(k.value().clone());
            }
        }
        let video_major = |g: &mut Graph, parts: &[Var]| -> Result<Var, TrainError> {
            let refs: Vec<&Var> = parts.iter().collect();
            let all = g.concat(&refs, 0)?;
            Ok(g.index_select(&all, 0, &reorder)?)
        };
        let z = video_major(g, &z_parts)?;
        let predictions = if p_parts.is_empty() {
            None
        } else {
            Some(video_major(g, &p_parts)?)
        };
        let (target, target_view_major) = if t_parts.is_empty() {
            (None, None)
        } else {
            let refs: Vec<&Tensor> = t_parts.iter().collect();
            let all = Tensor::concat(&refs, 0)?;
            (Some(all.index_select(0, &reorder)?), Some(all))
        };
        Ok(Embeddings {
            z,
            predictions,
            target,
            target_view_major,
        })
    }

    /// One training step on `clips` ((N·V)×T×H×W×3, view j of video i at row i·V + j; V = `views_per_video`,
    /// at least 2) as step `step_index` of the schedule. On error nothing is changed.
    pub fn step(
        &mut self,
        clips: &Tensor,
        views_per_video: usize,
        step_index: u64,
    ) -> Result<StepStats, TrainError> {
        self.check_clips(clips)?;
        if step_index >= self.schedule.total_steps() {
            return input_err(format!(
                "step {step_index} is past the schedule's {} steps",
                self.schedule.total_steps()
            ));
        }
        let layout = ClipLayout::from_rows(clips.shape()[0], views_per_video)?;
        if layout.videos() < 2 {
            return input_err(format!(
                "a training batch needs at least 2 videos (batch norm and negatives), got {}",
                layout.videos()
            ));
        }
        let epoch = self.schedule.epoch_at(step_index);
        let lr = self.schedule.lr_at(step_index);
        let momentum = self
            .method
            .momentum()
            .map(|m| self.schedule.key_momentum_at(m, step_index));

        // The momentum encoder's update goes into a copy, committed only if the step succeeds.
        let target_next = match (&self.target, momentum) {
            (Some(target), Some(m)) => {
                let mut next = clone_store(target)?;
                for name in target.trainable_names() {
                    next.get_mut(&name)?.axpby_(
                        m as f32,
                        (1.0 - m) as f32,
                        self.online.get(&name)?,
                    )?;
                }
                Some(next)
            }
            _ => None,
        };
        if let Method::Swav { .. } = self.method {
            // Idempotent, so harmless even if the step fails below.
            let unit = self.online.get(PROTOTYPES)?.l2_normalize(NORMALIZE_EPS)?;
            self.online.set(PROTOTYPES, unit)?;
        }

        let views: Vec<Tensor> = (0..layout.views())
            .map(|j| clips.index_select(0, &layout.view_rows(j)))
            .collect::<Result<_, _>>()?;
        let mut g = Graph::new();
        let mut online_bn = BnUpdates::new();
        let mut target_bn = BnUpdates::new();
        let emb = self.embed(
            &mut g,
            &views,
            &layout,
            target_next.as_ref(),
            &mut online_bn,
            &mut target_bn,
        )?;

        let mut updated = true;
        let mut swav_queue_rows = None;
        let loss = match &self.method {
            Method::SimClr {
                temperature,
                pairs,
                clip_loss,
            } => simclr_loss(&mut g, &emb.z, &layout, *temperature, *pairs, *clip_loss)?,
            Method::Moco {
                temperature,
                pairs,
                clip_loss,
                queue,
                no_update_steps,
                ..
            } => {
                updated = step_index >= *no_update_steps;
                let keys = emb.target.as_ref().ok_or_else(|| {
                    TrainError::Input("internal: MoCo without key encoder".into())
                })?;
                moco_loss(
                    &mut g,
                    &emb.z,
                    keys,
                    queue.tensor(),
                    &layout,
                    &MocoLoss {
                        temperature: *temperature,
                        rule: *pairs,
                        reduction: *clip_loss,
                    },
                )?
            }
            Method::Byol { clip_loss, .. } => {
                let (Some(p), Some(t)) = (&emb.predictions, &emb.target) else {
                    return input_err("internal: BYOL without predictor or target");
                };
                byol_loss(&mut g, p, t, &layout, *clip_loss)?
            }
            Method::Swav { loss, queue, .. } => {
                let prototypes = g.param(&self.online, PROTOTYPES)?;
                let use_queue = queue
                    .as_ref()
                    .filter(|q| epoch >= QUEUE_START_EPOCH && q.is_full())
                    .map(|q| q.tensor());
                swav_queue_rows = queue
                    .as_ref()
                    .map(|_| {
                        let refs: Vec<usize> = layout.view_major_rows();
                        emb.z
                            .value()
                            .l2_normalize(NORMALIZE_EPS)?
                            .index_select(0, &refs)
                    })
                    .transpose()?;
                swav_loss(&mut g, &emb.z, &prototypes, &layout, loss, use_queue)?
            }
        };
        let loss_value = f64::from(loss.value().to_scalar()?);
        if !loss_value.is_finite() {
            return Err(TrainError::NonFinite {
                step: step_index,
                what: "loss",
                value: loss_value,
            });
        }
        if !(online_bn.all_finite()? && target_bn.all_finite()?) {
            return Err(TrainError::NonFinite {
                step: step_index,
                what: "batch-norm statistics",
                value: f64::NAN,
            });
        }
        let embedding_std = embedding_std(emb.z.value())?;
        let dim = emb.z.shape()[1];

        let mut grad_norm = None;
        if updated {
            let grads = g.backward(&loss)?;
            let freeze = match &self.method {
                Method::Swav {
                    freeze_prototypes_epochs,
                    ..
                } => epoch <= *freeze_prototypes_epochs,
                _ => false,
            };
            let mut list: Vec<(String, Tensor)> = Vec::new();
            // Summed on the device, read back once.
            let mut sum_sq: Option<Tensor> = None;
            for (name, grad) in grads.params() {
                let s = grad.square()?.sum(&[], false)?;
                sum_sq = Some(match sum_sq {
                    Some(t) => t.add(&s)?,
                    None => s,
                });
                if freeze && name == PROTOTYPES {
                    continue;
                }
                list.push((name.to_string(), grad.clone()));
            }
            let norm = match sum_sq {
                Some(t) => f64::from(t.to_scalar()?).sqrt(),
                None => 0.0,
            };
            if !norm.is_finite() {
                return Err(TrainError::NonFinite {
                    step: step_index,
                    what: "gradient norm",
                    value: norm,
                });
            }
            grad_norm = Some(norm);
            // Nothing but `list` may hold the gradients now: the optimiser turns them into updates in place.
            drop(grads);
            self.optimizer
                .step(&mut self.online, list, &self.roles, lr)?;
        }

        // Commit the rest of the step.
        online_bn.apply(&mut self.online)?;
        if let Some(mut next) = target_next {
            target_bn.apply(&mut next)?;
            self.target = Some(next);
        }
        let enqueue = match &self.method {
            Method::Moco { .. } => emb
                .target_view_major
                .as_ref()
                .map(|k| k.l2_normalize(NORMALIZE_EPS))
                .transpose()?,
            Method::Swav { .. } => swav_queue_rows,
            _ => None,
        };
        if let (Some(rows), Some(queue)) = (enqueue, self.method.queue_mut()) {
            queue.push(&rows)?;
        }
        self.steps_done = step_index + 1;
        Ok(StepStats {
            step: step_index,
            epoch,
            loss: loss_value,
            lr,
            momentum,
            embedding_std,
            embedding_std_uniform: 1.0 / (dim as f64).sqrt(),
            grad_norm,
            updated,
        })
    }

    fn meta(&self) -> CheckpointMeta {
        let mut queues = BTreeMap::new();
        if let Some((name, q)) = self.method.queue() {
            queues.insert(
                name.to_string(),
                QueueState {
                    ptr: q.ptr(),
                    filled: q.filled(),
                },
            );
        }
        CheckpointMeta {
            format: FORMAT_VERSION,
            step: self.steps_done,
            epoch: self.schedule.epoch_at(self.steps_done),
            rng: RngState::capture(&self.rng),
            queues,
            config: self.config.clone(),
        }
    }

    /// Writes the whole training state to `path` (safetensors, atomically).
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let mut entries = Vec::new();
        for (name, t, kind) in self.online.iter() {
            entries.push((name.to_string(), t.clone(), kind == ParamKind::Buffer));
        }
        if let Some(target) = &self.target {
            for (name, t, kind) in target.iter() {
                entries.push((target_file_name(name), t.clone(), kind == ParamKind::Buffer));
            }
        }
        for (name, t) in self.optimizer.state() {
            entries.push((format!("{OPTIMIZER_PREFIX}{name}"), t.clone(), true));
        }
        if let Some((name, q)) = self.method.queue() {
            entries.push((name.to_string(), q.tensor().clone(), true));
        }
        write_checkpoint(path, &entries, &self.meta())
    }

    /// Restores the whole training state from a checkpoint [`Learner::save`] wrote for the same configuration.
    /// Nothing changes if the file does not fit.
    pub fn load(&mut self, path: &Path) -> Result<(), TrainError> {
        let err = |message: String| TrainError::Checkpoint {
            path: path.display().to_string(),
            message,
        };
        let mut file = read_checkpoint(path, &self.device)?;
        let Some(meta) = file.meta.take() else {
            return Err(err(
                "has no training state (converted weights? use `load_weights`)".into(),
            ));
        };
        if meta.config != self.config {
            let differ: Vec<String> = match (meta.config.as_object(), self.config.as_object()) {
                (Some(a), Some(b)) => b
                    .iter()
                    .filter(|(k, v)| a.get(*k) != Some(*v))
                    .map(|(k, _)| k.clone())
                    .collect(),
                _ => vec!["everything".into()],
            };
            return Err(err(format!(
                "belongs to another configuration (differs in: {})",
                differ.join(", ")
            )));
        }
        let take = |file: &mut crate::train::checkpoint::CheckpointFile,
                    name: &str,
                    like: &Tensor|
         -> Result<Tensor, TrainError> {
            let t = file
                .tensors
                .remove(name)
                .ok_or_else(|| err(format!("entry `{name}` is missing")))?;
            if t.shape() != like.shape() {
                return Err(err(format!(
                    "entry `{name}` has shape {:?}, expected {:?}",
                    t.shape(),
                    like.shape()
                )));
            }
            Ok(t)
        };
        // Read everything first; assign only once all of it fits.
        let mut online = Vec::new();
        for (name, t, _) in self.online.iter() {
            online.push((name.to_string(), take(&mut file, name, t)?));
        }
        let mut target = Vec::new();
        if let Some(store) = &self.target {
            for (name, t, _) in store.iter() {
                target.push((
                    name.to_string(),
                    take(&mut file, &target_file_name(name), t)?,
                ));
            }
        }
        let mut momentum_buffers = BTreeMap::new();
        let optimizer_names: Vec<String> = file
            .tensors
            .keys()
            .filter(|k| k.starts_with(OPTIMIZER_PREFIX))
            .cloned()
            .collect();
        for file_name in optimizer_names {
            let name = file_name[OPTIMIZER_PREFIX.len()..].to_string();
            let like = self
                .online
                .get(&name)
                .map_err(|_| err(format!("momentum buffer for unknown parameter `{name}`")))?
                .clone();
            momentum_buffers.insert(name, take(&mut file, &file_name, &like)?);
        }
        let queue = match self.method.queue() {
            Some((name, q)) => {
                let rows = take(&mut file, name, q.tensor())?;
                let state = meta
                    .queues
                    .get(name)
                    .ok_or_else(|| err(format!("no pointer for queue `{name}`")))?;
                Some(RowQueue::restore(rows, state.ptr, state.filled)?)
            }
            None => None,
        };
        let rng = meta
            .rng
            .restore()
            .ok_or_else(|| err("RNG state is malformed".into()))?;
        if let Some(extra) = file.tensors.keys().next() {
            return Err(err(format!("unexpected entry `{extra}`")));
        }

        for (name, t) in online {
            self.online.set(&name, t)?;
        }
        if let Some(store) = &mut self.target {
            for (name, t) in target {
                store.set(&name, t)?;
            }
        }
        self.optimizer.restore(momentum_buffers);
        if let (Some(q), Some(slot)) = (queue, self.method.queue_mut()) {
            *slot = q;
        }
        self.rng = rng;
        self.steps_done = meta.step;
        Ok(())
    }

    /// Loads pretrained weights (e.g. converted from PySlowFast by `scripts/convert_pyslowfast.py`) into the
    /// entries of the same name: online entries under their names, momentum-encoder entries under
    /// `backbone_hist.`, and MoCo's queue from `queue_x` when the file has it (PySlowFast checkpoints do; its
    /// write pointer restarts at 0, as converted files do not keep it). A file without `backbone_hist.` entries
    /// sets the momentum encoder to a copy of the loaded online network. Returns the names of this learner's
    /// entries the file did not have. Shapes must match. The optimiser, the SwAV queue and the step are left alone.
    pub fn load_weights(&mut self, path: &Path) -> Result<Vec<String>, TrainError> {
        let file = read_checkpoint(path, &self.device)?;
        let err = |message: String| TrainError::Checkpoint {
            path: path.display().to_string(),
            message,
        };
        let mut updates = Vec::new();
        let mut missing = Vec::new();
        let mut plan = |store: &ParamStore, file_name: &dyn Fn(&str) -> String, target: bool| {
            let mut out = Vec::new();
            for (name, t, _) in store.iter() {
                match file.tensors.get(&file_name(name)) {
                    Some(v) if v.shape() == t.shape() => {
                        out.push((target, name.to_string(), v.clone()))
                    }
                    Some(v) => {
                        return Err(err(format!(
                            "entry `{}` has shape {:?}, expected {:?}",
                            file_name(name),
                            v.shape(),
                            t.shape()
                        )));
                    }
                    None => missing.push(file_name(name)),
                }
            }
            Ok(out)
        };
        updates.extend(plan(&self.online, &|n| n.to_string(), false)?);
        if let Some(target) = &self.target {
            updates.extend(plan(target, &|n| target_file_name(n), true)?);
        }
        if !file
            .tensors
            .keys()
            .any(|k| k.starts_with(ONLINE_PREFIX) || k.starts_with(TARGET_PREFIX))
        {
            return Err(err(
                "holds no `backbone.` entries: not a vst or converted PySlowFast checkpoint".into(),
            ));
        }
        let moco_queue = match (&self.method, file.tensors.get(MOCO_QUEUE)) {
            (Method::Moco { queue, .. }, Some(rows)) => {
                if rows.shape() != queue.tensor().shape() {
                    return Err(err(format!(
                        "entry `{MOCO_QUEUE}` has shape {:?}, expected {:?}",
                        rows.shape(),
                        queue.tensor().shape()
                    )));
                }
                Some(RowQueue::new(rows.deep_clone()?)?)
            }
            _ => None,
        };
        let target_loaded = updates.iter().any(|(is_target, _, _)| *is_target);
        for (is_target, name, t) in updates {
            match (&mut self.target, is_target) {
                (Some(store), true) => store.set(&name, t)?,
                _ => self.online.set(&name, t)?,
            }
        }
        // A file without a momentum encoder (a supervised or converted online network): the momentum encoder
        // starts as a copy of the loaded online network, as the official code's first key update copies it.
        if let (Some(store), false) = (&mut self.target, target_loaded) {
            let names: Vec<String> = store.iter().map(|(n, _, _)| n.to_string()).collect();
            for name in names {
                store.set(&name, self.online.get(&name)?.deep_clone()?)?;
            }
            missing.retain(|m| !m.starts_with(TARGET_PREFIX));
        }
        if let (Some(loaded), Method::Moco { queue, .. }) = (moco_queue, &mut self.method) {
            *queue = loaded;
        }
        Ok(missing)
    }
}
