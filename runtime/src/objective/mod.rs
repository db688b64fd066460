//! The four objectives of the study — SimCLR, MoCo, BYOL, SwAV — each in its own file, generalised to ρ clips as
//! the paper does it.
//!
//! # The ρ-clip rule
//! A batch holds N videos × V views, video-major: view j of video i is row `i·V + j` ([`ClipLayout`]). V = ρ when
//! ρ ≥ 2 (ρ clips at different times of one video, in temporal order); ρ = 1 means two spatial crops of one
//! moment, so V = 2. A [`PairRule`] says which ordered (query, positive) view pairs enter a loss, a [`ClipLoss`]
//! how their sub-losses combine. Every loss here takes the embeddings of the whole batch in this order and returns
//! one scalar; the [`crate::train::Learner`] runs the encoders and feeds them.
//!
//! # The official rules (PySlowFast `slowfast/models/contrastive.py`, the released `configs/contrastive_ssl`)
//! and the defaults that follow them
//! - **MoCo, BYOL** (`SEQUENTIAL: True`): each clip in turn is the query against the keys of all other clips
//!   ([`PairRule::AllPairs`]); each query's loss is the mean over its (V − 1)·N rows and is back-propagated on its
//!   own, so the gradient is that of the *sum* over queries ([`ClipLoss::Sum`]) — V times the mean over all rows.
//! - **SimCLR** (`SEQUENTIAL: True`): one two-clip NT-Xent loss per pair of neighbouring clips (k, k + 1)
//!   ([`PairRule::Consecutive`]), each the mean over its 2N rows, summed over the V − 1 pairs ([`ClipLoss::Sum`]).
//!   The negatives of a row are the other videos' rows of those two clips.
//! - **SwAV** (not sequential): codes from clips 0 and 1 only (`crops_for_assign`), each predicted by every other
//!   clip ([`PairRule::FirstTwo`]); one loss, the mean over predicting clips and code clips. For V = 2 every rule
//!   gives the same pairs, and SwAV's official loss is then the mean of its two directions.
//! - [`ClipLoss::Mean`] (the paper's text: "the loss is the average over the ρ sub-losses") and the other pair
//!   rules stay available as recipe settings (`clip_loss: mean`, `pairs: all`), never silent choices.
//! - **SimCLR over all pairs**: for a query q with positive p the softmax runs over p and every view of every other
//!   video; the query's other positives are left out of its denominator (as the official `pos_mask`/`neg_mask`
//!   formulation does).
//! - **BYOL** there is `−cos/T` with T = 0.5, the same gradient as our `2 − 2·cos`.
//! - **MoCo's queue** starts as uniform noise in ±1/√(dim/3) (as the official code) and the official trainer makes
//!   no parameter update during its first `queue / batch` iterations; see [`moco`].
//! - **SwAV's queue** (none in the official configuration); see [`swav`].
//!
//! # One objective, one file
//! Each file holds an objective's loss and its [`Objective`] implementation: everything the learner does
//! differently for it (target encoder and momentum, predictor, queue and its checkpoint entry, own parameters,
//! frozen parameters, steps without update). [`from_spec`] is the only place that names them all.
//!
//! # How to add an objective
//! 1. `compiler/spec/src/config.rs`: its `…Spec` struct and an [`ObjectiveSpec`] variant (and the recipe
//!    language's keyword for it in the compiler).
//! 2. `runtime/src/objective/<name>.rs`: its loss function and a type implementing [`Objective`]; declare the file
//!    with `pub mod <name>;` below. A queue or parameter of its own gets its checkpoint entry name in
//!    `runtime/src/train/checkpoint.rs`.
//! 3. [`from_spec`] in this file: one line mapping the new [`ObjectiveSpec`] variant to the new type. Nothing else
//!    names objectives: the learner, checkpoints and `vst model`'s summary ask the trait.
//! 4. Tests: its loss in `runtime/tests/objectives.rs` (against a PyTorch fixture), its training in
//!    `runtime/tests/learner.rs`; to time it, a case in `runtime/src/bench.rs`.

pub mod byol;
mod interface;
pub mod moco;
mod queue;
pub mod simclr;
pub mod swav;

pub use interface::{Embeddings, Objective, ObjectiveInit};
pub use queue::RowQueue;
pub use vst_spec::{ClipLoss, PairRule};

use vst_spec::ObjectiveSpec;

use vst_engine::{Graph, Var};

use crate::model::{ModelError, invalid};

/// ε of the L2 normalisations (PyTorch's `F.normalize` default).
pub const NORMALIZE_EPS: f32 = 1e-12;

/// The objective a recipe asks for, its state not yet created (see [`Objective::init`]). The one place that maps
/// recipe objectives to their implementations.
pub fn from_spec(spec: &ObjectiveSpec) -> Box<dyn Objective> {
    match spec {
        ObjectiveSpec::SimClr(s) => Box::new(simclr::SimClr::new(s.clone())),
        ObjectiveSpec::Moco(s) => Box::new(moco::Moco::new(s.clone())),
        ObjectiveSpec::Byol(s) => Box::new(byol::Byol::new(s.clone())),
        ObjectiveSpec::Swav(s) => Box::new(swav::Swav::new(s.clone())),
    }
}

/// How a batch of N videos × V views is laid out: view `j` of video `i` is row `i·V + j`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipLayout {
    videos: usize,
    views: usize,
}

impl ClipLayout {
    /// N videos with V ≥ 2 views each.
    pub fn new(videos: usize, views: usize) -> Result<ClipLayout, ModelError> {
        if views < 2 {
            return invalid(format!(
                "a contrastive batch needs at least 2 views per video (ρ = 1 means 2 spatial crops), got {views}"
            ));
        }
        if videos == 0 {
            return invalid("a batch needs at least one video");
        }
        Ok(ClipLayout { videos, views })
    }

    /// The layout of `rows` rows with `views` views per video (rows must be a multiple of views).
    pub fn from_rows(rows: usize, views: usize) -> Result<ClipLayout, ModelError> {
        if views == 0 || !rows.is_multiple_of(views) {
            return invalid(format!(
                "{rows} rows are not a whole number of videos with {views} views each"
            ));
        }
        ClipLayout::new(rows / views, views)
    }

    pub fn videos(&self) -> usize {
        self.videos
    }

    pub fn views(&self) -> usize {
        self.views
    }

    pub fn rows(&self) -> usize {
        self.videos * self.views
    }

    /// Row of view `view` of video `video`.
    pub fn row(&self, video: usize, view: usize) -> usize {
        video * self.views + view
    }

    /// The rows of one view, in video order.
    pub fn view_rows(&self, view: usize) -> Vec<usize> {
        (0..self.videos).map(|i| self.row(i, view)).collect()
    }

    /// For each row of the view-major order (all videos' view 0, then view 1, ...), its video-major row; and
    /// the inverse permutation is [`ClipLayout::video_major_from_view_major`].
    pub fn view_major_rows(&self) -> Vec<usize> {
        (0..self.views).flat_map(|j| self.view_rows(j)).collect()
    }

    /// For each video-major row, its position in the view-major order.
    pub fn video_major_from_view_major(&self) -> Vec<usize> {
        (0..self.rows())
            .map(|r| (r % self.views) * self.videos + r / self.views)
            .collect()
    }

    /// The ordered (query view, positive view) pairs that enter a loss.
    pub fn view_pairs(&self, rule: PairRule) -> Vec<(usize, usize)> {
        let v = self.views;
        match rule {
            PairRule::AllPairs => (0..v)
                .flat_map(|q| (0..v).filter(move |&p| p != q).map(move |p| (q, p)))
                .collect(),
            PairRule::Consecutive => (0..v - 1).flat_map(|k| [(k, k + 1), (k + 1, k)]).collect(),
            PairRule::FirstTwo => (0..2)
                .flat_map(|q| (0..v).filter(move |&p| p != q).map(move |p| (q, p)))
                .collect(),
        }
    }

    /// Row lists (queries, positives) of every (query view, positive view) pair for every video, pair by pair.
    pub fn pair_rows(&self, rule: PairRule) -> (Vec<usize>, Vec<usize>) {
        let mut queries = Vec::new();
        let mut positives = Vec::new();
        for (q, p) in self.view_pairs(rule) {
            for i in 0..self.videos {
                queries.push(self.row(i, q));
                positives.push(self.row(i, p));
            }
        }
        (queries, positives)
    }
}

/// What one sub-loss of the official sequential trainer is, for [`ClipLoss::Sum`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubLoss {
    /// One loss per query clip (MoCo, BYOL): the mean over that query's rows.
    PerQuery,
    /// One loss per unordered clip pair (SimCLR): the mean over both directions' rows.
    PerPair,
}

/// The weight of each row of [`ClipLayout::pair_rows`] in the loss: the loss is `Σ_r w_r · ℓ_r` over the rows'
/// losses ℓ_r. [`ClipLoss::Mean`]: 1 / rows. [`ClipLoss::Sum`]: one over (the number of rows of the row's
/// sub-loss), so that each sub-loss is a mean and the sub-losses add up.
pub fn row_weights(
    layout: &ClipLayout,
    rule: PairRule,
    reduction: ClipLoss,
    unit: SubLoss,
) -> Vec<f32> {
    let pairs = layout.view_pairs(rule);
    let n = layout.videos();
    let total = (pairs.len() * n) as f64;
    let mut weights = Vec::with_capacity(pairs.len() * n);
    for &(q, p) in &pairs {
        let w = match reduction {
            ClipLoss::Mean => 1.0 / total,
            ClipLoss::Sum => {
                let in_sub_loss = pairs
                    .iter()
                    .filter(|&&(a, b)| match unit {
                        SubLoss::PerQuery => a == q,
                        SubLoss::PerPair => (a, b) == (q, p) || (a, b) == (p, q),
                    })
                    .count();
                1.0 / (in_sub_loss * n) as f64
            }
        };
        weights.extend(std::iter::repeat_n(w as f32, n));
    }
    weights
}

/// `Σ_r w_r · (−log softmax(logits_r)[target_r])`: the weighted cross-entropy of rows×classes logits. Equal
/// weights take the fused cross-entropy (a mean) scaled by their sum.
pub(crate) fn weighted_cross_entropy(
    g: &mut Graph,
    logits: &Var,
    targets: &[usize],
    weights: &[f32],
) -> Result<Var, ModelError> {
    if weights.len() != targets.len() {
        return invalid(format!(
            "internal: {} row weights for {} rows",
            weights.len(),
            targets.len()
        ));
    }
    if let Some(&first) = weights.first()
        && weights.iter().all(|&w| w == first)
    {
        let mean = g.cross_entropy(logits, targets)?;
        return Ok(g.scale(&mean, first * weights.len() as f32)?);
    }
    let log_p = g.log_softmax(logits)?;
    let picked = g.pick(&log_p, targets)?;
    weighted_sum(g, &picked, weights, -1.0)
}

/// `sign · Σ_r w_r · x_r` for a vector x of per-row values.
pub(crate) fn weighted_sum(
    g: &mut Graph,
    rows: &Var,
    weights: &[f32],
    sign: f32,
) -> Result<Var, ModelError> {
    let signed: Vec<f32> = weights.iter().map(|w| w * sign).collect();
    let w = vst_engine::Tensor::from_vec(signed, rows.shape(), rows.value().device())?;
    let weighted = g.mul(rows, &Var::constant(w))?;
    Ok(g.sum(&weighted, &[], false)?)
}

/// Checks that an embedding matrix has one row per clip of `layout`.
pub(crate) fn check_rows(
    what: &str,
    shape: &[usize],
    layout: &ClipLayout,
) -> Result<(), ModelError> {
    if shape.len() != 2 || shape[0] != layout.rows() {
        return invalid(format!(
            "{what} must be {}×D ({} videos × {} views), got {shape:?}",
            layout.rows(),
            layout.videos(),
            layout.views()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_video_major() {
        let l = ClipLayout::new(3, 2).unwrap();
        assert_eq!(l.row(2, 1), 5);
        assert_eq!(l.view_rows(1), vec![1, 3, 5]);
        assert_eq!(l.view_major_rows(), vec![0, 2, 4, 1, 3, 5]);
        // Gathering view-major rows back into video-major order.
        let vm = l.view_major_rows();
        let back: Vec<usize> = l
            .video_major_from_view_major()
            .iter()
            .map(|&i| vm[i])
            .collect();
        assert_eq!(back, (0..6).collect::<Vec<_>>());
    }

    #[test]
    fn pair_rules() {
        let l = ClipLayout::new(1, 3).unwrap();
        assert_eq!(
            l.view_pairs(PairRule::AllPairs),
            vec![(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
        );
        assert_eq!(
            l.view_pairs(PairRule::Consecutive),
            vec![(0, 1), (1, 0), (1, 2), (2, 1)]
        );
        assert_eq!(
            l.view_pairs(PairRule::FirstTwo),
            vec![(0, 1), (0, 2), (1, 0), (1, 2)]
        );
        let two = ClipLayout::new(4, 2).unwrap();
        for rule in [PairRule::Consecutive, PairRule::FirstTwo] {
            assert_eq!(two.view_pairs(PairRule::AllPairs), two.view_pairs(rule));
        }
    }

    #[test]
    fn official_sums_weigh_each_sub_loss_as_a_mean() {
        let sum_of = |w: &[f32]| w.iter().map(|&x| f64::from(x)).sum::<f64>();
        // ρ = 4, 3 videos. MoCo/BYOL: 4 queries, each a mean over its 3·3 rows: total weight 4 = V × the mean's.
        let l = ClipLayout::new(3, 4).unwrap();
        let q = row_weights(&l, PairRule::AllPairs, ClipLoss::Sum, SubLoss::PerQuery);
        assert_eq!(q.len(), 36);
        assert!(q.iter().all(|&w| (w - 1.0 / 9.0).abs() < 1e-7));
        assert!((sum_of(&q) - 4.0).abs() < 1e-5);
        // SimCLR: 3 neighbouring pairs, each a mean over its 2·3 rows: total weight 3.
        let p = row_weights(&l, PairRule::Consecutive, ClipLoss::Sum, SubLoss::PerPair);
        assert!(p.iter().all(|&w| (w - 1.0 / 6.0).abs() < 1e-7));
        assert!((sum_of(&p) - 3.0).abs() < 1e-5);
        // Queries with different numbers of positives (consecutive MoCo): the end clips' rows weigh double.
        let c = row_weights(&l, PairRule::Consecutive, ClipLoss::Sum, SubLoss::PerQuery);
        assert!((c[0] - 1.0 / 3.0).abs() < 1e-7 && (c[3] - 1.0 / 6.0).abs() < 1e-7);
        // The mean: total weight 1, whatever the rule.
        for rule in [
            PairRule::AllPairs,
            PairRule::Consecutive,
            PairRule::FirstTwo,
        ] {
            let m = row_weights(&l, rule, ClipLoss::Mean, SubLoss::PerQuery);
            assert!((sum_of(&m) - 1.0).abs() < 1e-5);
        }
        // Two views: MoCo's sum is twice the mean, SimCLR's single pair is the mean.
        let two = ClipLayout::new(5, 2).unwrap();
        let q2 = row_weights(&two, PairRule::AllPairs, ClipLoss::Sum, SubLoss::PerQuery);
        assert!((sum_of(&q2) - 2.0).abs() < 1e-5);
        let p2 = row_weights(&two, PairRule::Consecutive, ClipLoss::Sum, SubLoss::PerPair);
        assert!((sum_of(&p2) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn rejects_single_views_and_ragged_batches() {
        assert!(
            ClipLayout::new(4, 1)
                .unwrap_err()
                .to_string()
                .contains("2 views")
        );
        assert!(ClipLayout::from_rows(7, 2).is_err());
        assert!(ClipLayout::from_rows(0, 2).is_err());
    }
}
