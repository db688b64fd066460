//! SwAV (Caron et al., 2020) over ρ clips: L2-normalised projections are scored against L2-normalised prototypes;
//! each view's codes come from the Sinkhorn-Knopp algorithm on its scores (no gradient through the codes), and the
//! other views predict them with a softmax at temperature T.
//!
//! For a code view j and a predicting view p ≠ j the loss is `−mean_i Σ_k q_j[i,k] · log softmax(s_p[i] / T)_k`,
//! averaged over the (j, p) pairs of the [`PairRule`]: by default [`PairRule::FirstTwo`], codes from clips 0 and 1
//! predicted by every other clip, as the official code's `crops_for_assign` (its mean over predicting clips, then
//! over code clips, is this plain mean: every code clip has V − 1 predictors).
//!
//! The learner re-normalises the prototypes before every step (as the official code does to the prototype weights
//! in place) and drops their gradient while the epoch is at most `freeze_prototypes_epochs` (the official
//! `epoch_exact <= 1.0`). When `queue > 0` it prepends a queue of past embeddings to every Sinkhorn input from
//! epoch [`QUEUE_START_EPOCH`] on, once the queue is full. Where this deliberately differs from the official queue
//! (which the released SwAV configuration does not use: `SWAV_QEUE_LEN: 0`): the official code keeps one ring per
//! code clip and starts filling it only at epoch 15; ours is one ring shared by all views, filled from the start —
//! more rows for the equipartition constraint as soon as it is allowed to act.
//!
//! Several replicas: the loss sees the whole batch's embeddings on every replica (the official code's Sinkhorn
//! likewise sums over every GPU's scores), so the codes and the loss are those of one replica. The queue takes the
//! whole batch's embeddings and is the same on every replica; the official code keeps a separate queue per GPU of
//! that GPU's embeddings only, which would make the model depend on the GPU count.

use vst_engine::{Graph, ParamStore, Result as EngineResult, Tensor, Var};
use vst_spec::{MlpSpec, PairRule, SwavSpec};

use super::interface::{check_positive, not_initialised};
use super::{
    ClipLayout, Embeddings, NORMALIZE_EPS, Objective, ObjectiveInit, RowQueue, check_rows,
};
use crate::model::{ModelError, ParamRole, invalid};
use crate::train::TrainError;
use crate::train::checkpoint::{PROTOTYPES, SWAV_QUEUE};

/// Epoch from which the queue enters the codes (the official code's fixed `epoch_exact >= 15`).
pub const QUEUE_START_EPOCH: f64 = 15.0;

/// Settings of the SwAV loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SwavLoss {
    pub temperature: f32,
    /// Sinkhorn's entropic regularisation ε (scores are divided by it before `exp`).
    pub epsilon: f32,
    pub iterations: u32,
    pub rule: PairRule,
}

/// Sinkhorn-Knopp codes (B×K, each row a distribution over the K prototypes) for scores B×K: `Q = exp(S/ε)`
/// normalised to total mass 1, then `iterations` rounds of giving every prototype mass 1/K and every sample mass
/// 1/B, and finally every sample's row normalised to sum 1 — the official `sinkhorn` (which works on Qᵀ).
pub fn sinkhorn(scores: &Tensor, epsilon: f32, iterations: u32) -> EngineResult<Tensor> {
    let (b, k) = (scores.shape()[0] as f32, scores.shape()[1] as f32);
    // Subtracting the largest score cancels in the first normalisation and keeps exp in range.
    let max = scores.max(&[], false)?.to_scalar()?;
    let q = scores.add_scalar(-max)?.scale(1.0 / epsilon)?.exp()?;
    let total = q.sum(&[], false)?.to_scalar()?;
    let mut q = q.scale(1.0 / total)?;
    let tiny = f32::MIN_POSITIVE;
    for _ in 0..iterations {
        let per_prototype = q.sum(&[0], true)?.clamp_min(tiny)?;
        q = q.div(&per_prototype)?.scale(1.0 / k)?;
        let per_sample = q.sum(&[1], true)?.clamp_min(tiny)?;
        q = q.div(&per_sample)?.scale(1.0 / b)?;
    }
    let per_sample = q.sum(&[1], true)?.clamp_min(tiny)?;
    q.div(&per_sample)
}

/// The SwAV loss of raw projections `z` (normalised here) against `prototypes` (K×D, normalised by the caller),
/// rows in `layout` order. `queue` (L×D normalised past embeddings), when given, is prepended to every Sinkhorn
/// input.
pub fn swav_loss(
    g: &mut Graph,
    z: &Var,
    prototypes: &Var,
    layout: &ClipLayout,
    settings: &SwavLoss,
    queue: Option<&Tensor>,
) -> Result<Var, ModelError> {
    check_rows("SwAV embeddings", z.shape(), layout)?;
    let dim = z.shape()[1];
    if prototypes.shape().len() != 2 || prototypes.shape()[1] != dim {
        return invalid(format!(
            "SwAV prototypes must be K×{dim}, got {:?}",
            prototypes.shape()
        ));
    }
    if settings.temperature.is_nan() || settings.temperature <= 0.0 {
        return invalid(format!(
            "SwAV temperature must be positive, got {}",
            settings.temperature
        ));
    }
    if settings.epsilon.is_nan() || settings.epsilon <= 0.0 {
        return invalid(format!(
            "Sinkhorn ε must be positive, got {}",
            settings.epsilon
        ));
    }
    let k = prototypes.shape()[0];
    let zn = g.l2_normalize(z, NORMALIZE_EPS)?;
    let scores = g.matmul_t(&zn, prototypes, false, true)?;
    let scaled = g.scale(&scores, 1.0 / settings.temperature)?;
    let log_p = g.log_softmax(&scaled)?;

    let queue_scores = match queue {
        Some(q) => Some(q.matmul_t(prototypes.value(), false, true)?),
        None => None,
    };
    let pairs = layout.view_pairs(settings.rule);
    let n = layout.videos();
    let mut codes_by_view: Vec<Option<Tensor>> = vec![None; layout.views()];
    let mut code_parts = Vec::with_capacity(pairs.len());
    let mut predict_rows = Vec::with_capacity(pairs.len() * n);
    for &(j, p) in &pairs {
        if codes_by_view[j].is_none() {
            let own = scores.value().index_select(0, &layout.view_rows(j))?;
            let input = match &queue_scores {
                Some(qs) => Tensor::concat(&[qs, &own], 0)?,
                None => own,
            };
            let codes = sinkhorn(&input, settings.epsilon, settings.iterations)?;
            let rows = codes.shape()[0];
            codes_by_view[j] = Some(codes.slice(0, rows - n, n)?);
        }
        if let Some(codes) = &codes_by_view[j] {
            code_parts.push(codes.clone());
        }
        predict_rows.extend(layout.view_rows(p));
    }
    let parts: Vec<&Tensor> = code_parts.iter().collect();
    let codes = Tensor::concat(&parts, 0)?;
    debug_assert_eq!(codes.shape(), [predict_rows.len(), k]);
    let predicted = g.index_select(&log_p, 0, &predict_rows)?;
    let cross = g.mul(&predicted, &Var::constant(codes))?;
    let total = g.sum(&cross, &[], false)?;
    Ok(g.scale(&total, -1.0 / predict_rows.len() as f32)?)
}

/// SwAV as the learner trains it: prototypes in the online network (entry [`PROTOTYPES`]), re-normalised before
/// every step and frozen during the first `freeze_prototypes_epochs`, and an optional queue of past embeddings
/// (checkpoint entry [`SWAV_QUEUE`]) that enters the codes from [`QUEUE_START_EPOCH`] on.
pub struct Swav {
    spec: SwavSpec,
    /// Created by [`Objective::init`].
    loss: Option<SwavLoss>,
    queue: Option<RowQueue>,
}

impl Swav {
    pub fn new(spec: SwavSpec) -> Swav {
        Swav {
            spec,
            loss: None,
            queue: None,
        }
    }
}

impl Objective for Swav {
    fn title(&self) -> &'static str {
        "SwAV"
    }

    fn head(&self) -> &MlpSpec {
        &self.spec.head
    }

    fn own_layer(&self) -> Option<(&'static str, usize)> {
        Some(("prototypes", self.spec.prototypes as usize))
    }

    fn init(&mut self, init: ObjectiveInit<'_>) -> Result<(), TrainError> {
        let s = &self.spec;
        if s.prototypes == 0 {
            return invalid("SwAV needs at least one prototype").map_err(TrainError::from);
        }
        if s.sinkhorn_iterations == 0 {
            return invalid("SwAV needs at least one Sinkhorn iteration").map_err(TrainError::from);
        }
        let dim = init.dim;
        // nn.Linear's default initialisation, then unit rows (re-normalised before every step anyway).
        let bound = 1.0 / (dim as f32).sqrt();
        let prototypes = Tensor::rand_uniform(
            &[s.prototypes as usize, dim],
            -bound,
            bound,
            init.rng,
            init.device,
        )?
        .l2_normalize(NORMALIZE_EPS)?;
        init.online.insert_param(PROTOTYPES, prototypes)?;
        init.roles.set(PROTOTYPES, ParamRole::Weight);
        let queue = if s.queue > 0 {
            Some(RowQueue::new(Tensor::zeros(
                &[s.queue as usize, dim],
                init.device,
            )?)?)
        } else {
            None
        };
        self.loss = Some(SwavLoss {
            temperature: check_positive("SwAV temperature", s.temperature)?,
            epsilon: check_positive("Sinkhorn ε", s.sinkhorn_epsilon)?,
            iterations: s.sinkhorn_iterations,
            rule: s.pairs,
        });
        self.queue = queue;
        Ok(())
    }

    /// The official code re-normalises the prototype weights in place before every step.
    fn before_step(&self, online: &mut ParamStore) -> Result<(), TrainError> {
        let unit = online.get(PROTOTYPES)?.l2_normalize(NORMALIZE_EPS)?;
        online.set(PROTOTYPES, unit)?;
        Ok(())
    }

    fn loss(
        &self,
        g: &mut Graph,
        emb: &Embeddings,
        layout: &ClipLayout,
        epoch: f64,
        online: &ParamStore,
    ) -> Result<Var, TrainError> {
        let Some(loss) = &self.loss else {
            return not_initialised("SwAV");
        };
        let prototypes = g.param(online, PROTOTYPES)?;
        let use_queue = self
            .queue
            .as_ref()
            .filter(|q| epoch >= QUEUE_START_EPOCH && q.is_full())
            .map(|q| q.tensor());
        Ok(swav_loss(g, &emb.z, &prototypes, layout, loss, use_queue)?)
    }

    /// The official `epoch_exact <= 1.0` with 1 the setting.
    fn frozen(&self, epoch: f64) -> &'static [&'static str] {
        if epoch <= self.spec.freeze_prototypes_epochs {
            &[PROTOTYPES]
        } else {
            &[]
        }
    }

    fn queue(&self) -> Option<(&'static str, &RowQueue)> {
        self.queue.as_ref().map(|q| (SWAV_QUEUE, q))
    }

    fn queue_mut(&mut self) -> Option<&mut RowQueue> {
        self.queue.as_mut()
    }

    /// Every view's normalised embeddings, view by view.
    fn queue_rows(
        &self,
        emb: &Embeddings,
        layout: &ClipLayout,
    ) -> Result<Option<Tensor>, TrainError> {
        if self.queue.is_none() {
            return Ok(None);
        }
        let rows = layout.view_major_rows();
        Ok(Some(
            emb.z
                .value()
                .l2_normalize(NORMALIZE_EPS)?
                .index_select(0, &rows)?,
        ))
    }
}
