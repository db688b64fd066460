//! BYOL (Grill et al., 2020) over ρ clips: an online encoder with a predictor regresses the projections of a
//! momentum ("target") encoder: `2 − 2·cos(p_a, z̄_b)` for every ordered pair of views (a query's prediction, the
//! target projection of another view of the same video). Every view runs through both encoders. By default each
//! query's loss is the mean over its rows and the query losses add up ([`ClipLoss::Sum`], one backward per query
//! in the official trainer); [`ClipLoss::Mean`] averages over all rows.
//!
//! The official code computes `−cos/T` with T = 0.5, which has the same gradient; the value reported here is the
//! official one plus 2 per query loss. The target encoder is updated by
//! momentum at the start of each step (as the official code does), with the momentum annealed by a half cosine
//! from `base` to 1 when asked.

use vst_engine::{Graph, ParamStore, Tensor, Var};
use vst_spec::{ByolSpec, MlpSpec, MomentumSpec, PairRule};

use super::interface::check_momentum;
use super::{
    ClipLayout, ClipLoss, Embeddings, NORMALIZE_EPS, Objective, ObjectiveInit, SubLoss, check_rows,
    row_weights, weighted_sum,
};
use crate::model::ModelError;
use crate::train::TrainError;

/// The BYOL loss of raw online predictions (with gradient) against raw target projections (no gradient), rows in
/// `layout` order; every ordered pair of views enters.
pub fn byol_loss(
    g: &mut Graph,
    predictions: &Var,
    targets: &Tensor,
    layout: &ClipLayout,
    reduction: ClipLoss,
) -> Result<Var, ModelError> {
    check_rows("BYOL predictions", predictions.shape(), layout)?;
    check_rows("BYOL targets", targets.shape(), layout)?;
    let (queries, positives) = layout.pair_rows(PairRule::AllPairs);
    let p = g.l2_normalize(predictions, NORMALIZE_EPS)?;
    let p = g.index_select(&p, 0, &queries)?;
    let t = targets
        .l2_normalize(NORMALIZE_EPS)?
        .index_select(0, &positives)?;
    let cos = g.mul(&p, &Var::constant(t))?;
    let cos = g.sum(&cos, &[-1], false)?;
    // Σ w·(2 − 2·cos) = 2·Σw − 2·Σ w·cos.
    let weights = row_weights(layout, PairRule::AllPairs, reduction, SubLoss::PerQuery);
    let total: f32 = weights.iter().sum();
    let loss = weighted_sum(g, &cos, &weights, -2.0)?;
    Ok(g.add_scalar(&loss, 2.0 * total)?)
}

/// BYOL as the learner trains it: a predictor on the online side, a momentum target encoder, no queue.
pub struct Byol {
    spec: ByolSpec,
}

impl Byol {
    pub fn new(spec: ByolSpec) -> Byol {
        Byol { spec }
    }
}

impl Objective for Byol {
    fn title(&self) -> &'static str {
        "BYOL"
    }

    fn head(&self) -> &MlpSpec {
        &self.spec.head
    }

    fn predictor(&self) -> Option<&MlpSpec> {
        Some(&self.spec.predictor)
    }

    fn target_momentum(&self) -> Option<&MomentumSpec> {
        Some(&self.spec.momentum)
    }

    fn init(&mut self, _init: ObjectiveInit<'_>) -> Result<(), TrainError> {
        check_momentum("BYOL", &self.spec.momentum)?;
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
        let (Some(p), Some(t)) = (&emb.predictions, &emb.target) else {
            return Err(TrainError::Input(
                "internal: BYOL without predictor or target".into(),
            ));
        };
        Ok(byol_loss(g, p, t, layout, self.spec.clip_loss)?)
    }
}
