//! SimCLR (Chen et al., 2020) over ρ clips: InfoNCE over the whole batch with a temperature.
//!
//! With embeddings z L2-normalised and s(a, b) = z_a·z_b / T, the loss of a query row a with positive row b is
//! `−log( exp s(a,b) / (exp s(a,b) + Σ_{n ∈ negatives(a)} exp s(a,n)) )`. [`PairRule::Consecutive`] (the official
//! code, the default): pairs (k, k + 1) and (k + 1, k) only, each pair a two-view NT-Xent loss (the mean over its
//! 2N rows) whose negatives are the other videos' rows of views k and k + 1; the pair losses add up
//! ([`ClipLoss::Sum`], one backward per pair in the official trainer) or are averaged ([`ClipLoss::Mean`]).
//! [`PairRule::AllPairs`]: every ordered pair of views of a video; the negatives are every view of every other
//! video.

use vst_engine::{Graph, ParamStore, Tensor, Var};
use vst_spec::{MlpSpec, PairRule, SimClrSpec};

use super::interface::{check_positive, not_initialised};
use super::{
    ClipLayout, ClipLoss, Embeddings, NORMALIZE_EPS, Objective, ObjectiveInit, SubLoss, check_rows,
    row_weights, weighted_cross_entropy,
};
use crate::model::{ModelError, invalid};
use crate::train::TrainError;

/// Added to the logits a query must not see (itself, its other positives): exp underflows to exactly 0.
const MASKED: f32 = -1e9;

/// The SimCLR loss of raw projections `z` (rows in `layout` order; normalised here).
pub fn simclr_loss(
    g: &mut Graph,
    z: &Var,
    layout: &ClipLayout,
    temperature: f32,
    rule: PairRule,
    reduction: ClipLoss,
) -> Result<Var, ModelError> {
    check_rows("SimCLR embeddings", z.shape(), layout)?;
    if temperature.is_nan() || temperature <= 0.0 {
        return invalid(format!(
            "SimCLR temperature must be positive, got {temperature}"
        ));
    }
    let rows = layout.rows();
    let views = layout.views();
    let zn = g.l2_normalize(z, NORMALIZE_EPS)?;
    let sim = g.matmul_t(&zn, &zn, false, true)?;
    let sim = g.scale(&sim, 1.0 / temperature)?;

    let (queries, positives) = layout.pair_rows(rule);
    let mut mask = vec![MASKED; queries.len() * rows];
    for (k, (&a, &b)) in queries.iter().zip(&positives).enumerate() {
        let (video, qv, pv) = (a / views, a % views, b % views);
        let row = &mut mask[k * rows..(k + 1) * rows];
        for (col, m) in row.iter_mut().enumerate() {
            let other_video = col / views != video;
            let view_ok = match rule {
                PairRule::AllPairs | PairRule::FirstTwo => true,
                PairRule::Consecutive => col % views == qv || col % views == pv,
            };
            if col == b || (other_video && view_ok) {
                *m = 0.0;
            }
        }
    }
    let mask = Tensor::from_vec(mask, &[queries.len(), rows], z.value().device())?;
    let logits = g.index_select(&sim, 0, &queries)?;
    let logits = g.add(&logits, &Var::constant(mask))?;
    let weights = row_weights(layout, rule, reduction, SubLoss::PerPair);
    weighted_cross_entropy(g, &logits, &positives, &weights)
}

/// SimCLR as the learner trains it: one encoder, no queue.
pub struct SimClr {
    spec: SimClrSpec,
    /// The checked temperature, set by [`Objective::init`].
    temperature: Option<f32>,
}

impl SimClr {
    pub fn new(spec: SimClrSpec) -> SimClr {
        SimClr {
            spec,
            temperature: None,
        }
    }
}

impl Objective for SimClr {
    fn title(&self) -> &'static str {
        "SimCLR"
    }

    fn head(&self) -> &MlpSpec {
        &self.spec.head
    }

    fn init(&mut self, _init: ObjectiveInit<'_>) -> Result<(), TrainError> {
        self.temperature = Some(check_positive("SimCLR temperature", self.spec.temperature)?);
        Ok(())
    }

    fn loss(
        &self,
        g: &mut Graph,
        emb: &Embeddings,
        layout: &ClipLayout,
        _epoch: f64,
        _online: &ParamStore,
    ) -> Result<Var, TrainError> {
        let Some(temperature) = self.temperature else {
            return not_initialised("SimCLR");
        };
        Ok(simclr_loss(
            g,
            &emb.z,
            layout,
            temperature,
            self.spec.pairs,
            self.spec.clip_loss,
        )?)
    }
}
