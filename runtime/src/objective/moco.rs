//! MoCo (He et al., 2020; v2 head) over ρ clips: queries from the online encoder, keys from a momentum ("key")
//! encoder, negatives from a queue of past keys.
//!
//! For a query row a and positive key row b the logits are `[q_a·k_b, q_a·queue₁, …, q_a·queue_K] / T` with the
//! positive at index 0, and the row's loss is their cross-entropy. Every view runs through both encoders, so every
//! view is a query once and a key for the others (multi-view queries as the official `SEQUENTIAL` mode does); by
//! default each query's loss is the mean over its rows and the query losses add up ([`ClipLoss::Sum`], one backward
//! per query in the official trainer). All queries of a step see the same queue; after the step all V·N keys are
//! enqueued, clip by clip (the official `MOCO_MULTI_VIEW_QUEUE`).
//!
//! Details kept from the official code:
//! - The queue starts as uniform noise in ±1/√(dim/3), not normalised.
//! - The key encoder is updated by momentum at the start of each step, before the keys are computed.
//! - No parameter update is made during the first `queue / batch` iterations of the first epoch (batch in videos:
//!   the official `contrastive_parameter_surgery`, which counts one key per video although all V are enqueued);
//!   the learner reports those steps with `updated: false`. See [`no_update_steps`].
//!
//! Queue refresh rate, against the official multi-GPU code: there every GPU keeps its own queue of `QUEUE_LEN`
//! keys and enqueues only its local keys (its 8 videos × ρ clips per step; `_dequeue_and_enqueue` gathers
//! nothing), so a key stays in a queue for 65,536 / (8ρ) steps — 4,096 steps, about 9 epochs of K400, at ρ = 2.
//! vst enqueues the whole global batch's keys (512 × ρ per step), gathered from every replica, so every replica
//! holds the same queue — the one a single replica would — and it holds the last 64 steps: 64 times fresher keys,
//! from a key encoder closer to the current one, and a model that does not depend on the replica count. The
//! official no-update rule (`QUEUE_LEN // batch // shards` = 128 steps) counts global batches, which matches vst's
//! refresh, not its own per-GPU one.
//!
//! Shuffle-BN ([`Objective::shuffles_key_batch`]): when a view spans several batch-norm batches (`bn_batch`), the
//! learner permutes the key encoder's batch across them and back, as the official `_batch_shuffle` /
//! `_batch_unshuffle` do across GPUs, so that a query and its key are not normalised with the same statistics.
//! With one BN batch per view shuffling would change nothing but the order of float sums, and nothing is drawn.

use rand::{Rng, RngExt};
use vst_engine::{Device, Graph, ParamStore, Tensor, Var};
use vst_spec::{MlpSpec, MocoSpec, MomentumSpec, PairRule};

use super::interface::{check_momentum, check_positive, not_initialised};
use super::{
    ClipLayout, ClipLoss, Embeddings, NORMALIZE_EPS, Objective, ObjectiveInit, RowQueue, SubLoss,
    check_rows, row_weights, weighted_cross_entropy,
};
use crate::model::{ModelError, invalid};
use crate::train::TrainError;
use crate::train::checkpoint::MOCO_QUEUE;

/// The initial queue: uniform in ±1/√(dim/3), as PySlowFast's `queue_x`.
pub fn initial_queue(
    len: usize,
    dim: usize,
    rng: &mut impl Rng,
    device: &Device,
) -> Result<RowQueue, ModelError> {
    let stdv = 1.0 / (dim as f64 / 3.0).sqrt();
    let data: Vec<f32> = (0..len * dim)
        .map(|_| (rng.random::<f64>() * 2.0 * stdv - stdv) as f32)
        .collect();
    RowQueue::new(Tensor::from_vec(data, &[len, dim], device)?)
}

/// The steps at the start of training that make no parameter update: the official `queue // batch` (global batch in
/// videos), counted only within the first epoch.
pub fn no_update_steps(queue: u32, batch: u32, steps_per_epoch: f64) -> u64 {
    let official = u64::from(queue) / u64::from(batch.max(1));
    official.min(steps_per_epoch.ceil().max(0.0) as u64)
}

/// Settings of the MoCo loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MocoLoss {
    pub temperature: f32,
    pub rule: PairRule,
    pub reduction: ClipLoss,
}

/// The MoCo loss of raw online projections `q` (with gradient) against raw key-encoder projections `keys` (no
/// gradient; both normalised here) and the queue (K×D, used as is), rows in `layout` order.
pub fn moco_loss(
    g: &mut Graph,
    q: &Var,
    keys: &Tensor,
    queue: &Tensor,
    layout: &ClipLayout,
    settings: &MocoLoss,
) -> Result<Var, ModelError> {
    let MocoLoss {
        temperature,
        rule,
        reduction,
    } = *settings;
    check_rows("MoCo queries", q.shape(), layout)?;
    check_rows("MoCo keys", keys.shape(), layout)?;
    if queue.rank() != 2 || queue.shape()[1] != q.shape()[1] {
        return invalid(format!(
            "MoCo queue must be K×{}, got {:?}",
            q.shape()[1],
            queue.shape()
        ));
    }
    if temperature.is_nan() || temperature <= 0.0 {
        return invalid(format!(
            "MoCo temperature must be positive, got {temperature}"
        ));
    }
    let qn = g.l2_normalize(q, NORMALIZE_EPS)?;
    let kn = keys.l2_normalize(NORMALIZE_EPS)?;
    let (queries, positives) = layout.pair_rows(rule);

    let q_pairs = g.index_select(&qn, 0, &queries)?;
    let k_pairs = Var::constant(kn.index_select(0, &positives)?);
    let pos = g.mul(&q_pairs, &k_pairs)?;
    let pos = g.sum(&pos, &[-1], true)?;
    let neg_all = g.matmul_t(&qn, &Var::constant(queue.clone()), false, true)?;
    let neg = g.index_select(&neg_all, 0, &queries)?;
    let logits = g.concat(&[&pos, &neg], 1)?;
    let logits = g.scale(&logits, 1.0 / temperature)?;
    let targets = vec![0; queries.len()];
    let weights = row_weights(layout, rule, reduction, SubLoss::PerQuery);
    weighted_cross_entropy(g, &logits, &targets, &weights)
}

/// MoCo as the learner trains it: a momentum key encoder, a queue of past keys (checkpoint entry
/// [`MOCO_QUEUE`], PySlowFast's name), and no update during the first steps.
pub struct Moco {
    spec: MocoSpec,
    /// Created by [`Objective::init`].
    state: Option<MocoState>,
}

struct MocoState {
    loss: MocoLoss,
    queue: RowQueue,
    /// Steps at the start that make no parameter update (see [`no_update_steps`]).
    no_update_steps: u64,
}

impl Moco {
    pub fn new(spec: MocoSpec) -> Moco {
        Moco { spec, state: None }
    }
}

impl Objective for Moco {
    fn title(&self) -> &'static str {
        "MoCo"
    }

    fn head(&self) -> &MlpSpec {
        &self.spec.head
    }

    fn target_momentum(&self) -> Option<&MomentumSpec> {
        Some(&self.spec.momentum)
    }

    fn shuffles_key_batch(&self) -> bool {
        self.spec.shuffle_bn
    }

    fn init(&mut self, init: ObjectiveInit<'_>) -> Result<(), TrainError> {
        let s = &self.spec;
        check_momentum("MoCo", &s.momentum)?;
        if s.queue == 0 {
            return invalid("MoCo needs a queue of at least one key").map_err(TrainError::from);
        }
        let temperature = check_positive("MoCo temperature", s.temperature)?;
        self.state = Some(MocoState {
            loss: MocoLoss {
                temperature,
                rule: s.pairs,
                reduction: s.clip_loss,
            },
            queue: initial_queue(s.queue as usize, init.dim, init.rng, init.device)?,
            no_update_steps: no_update_steps(s.queue, init.batch, init.steps_per_epoch),
        });
        Ok(())
    }

    fn updates_at(&self, step: u64) -> bool {
        self.state
            .as_ref()
            .is_some_and(|s| step >= s.no_update_steps)
    }

    fn loss(
        &self,
        g: &mut Graph,
        emb: &Embeddings,
        layout: &ClipLayout,
        _epoch: f64,
        _online: &ParamStore,
    ) -> Result<Var, TrainError> {
        let Some(state) = &self.state else {
            return not_initialised("MoCo");
        };
        let keys = emb
            .target
            .as_ref()
            .ok_or_else(|| TrainError::Input("internal: MoCo without key encoder".into()))?;
        Ok(moco_loss(
            g,
            &emb.z,
            keys,
            state.queue.tensor(),
            layout,
            &state.loss,
        )?)
    }

    fn queue(&self) -> Option<(&'static str, &RowQueue)> {
        self.state.as_ref().map(|s| (MOCO_QUEUE, &s.queue))
    }

    fn queue_mut(&mut self) -> Option<&mut RowQueue> {
        self.state.as_mut().map(|s| &mut s.queue)
    }

    /// Every view's keys, clip by clip (the official `MOCO_MULTI_VIEW_QUEUE`), normalised.
    fn queue_rows(
        &self,
        emb: &Embeddings,
        _layout: &ClipLayout,
    ) -> Result<Option<Tensor>, TrainError> {
        Ok(emb
            .target_view_major
            .as_ref()
            .map(|k| k.l2_normalize(NORMALIZE_EPS))
            .transpose()?)
    }

    fn queue_in_converted_weights(&self) -> bool {
        true
    }
}
