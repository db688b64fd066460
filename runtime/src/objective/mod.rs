//! The four objectives of the study — SimCLR, MoCo, BYOL, SwAV — each in its own file, generalised to ρ clips as
//! the paper does it.
//!
//! # The ρ-clip rule
//! A batch holds N videos × V views, video-major: view j of video i is row `i·V + j` ([`ClipLayout`]). V = ρ when
//! ρ ≥ 2 (ρ clips at different times of one video); ρ = 1 means two spatial crops of one moment, so V = 2. Each
//! view in turn is the query and the other V − 1 views of the same video are its positives; the loss is the
//! average over the V sub-losses, i.e. over every ordered (query, positive) pair of views and every video
//! ([`PairRule::AllPairs`]). Every loss here takes the embeddings of the whole batch in this order and returns one
//! scalar; the [`crate::train::Learner`] runs the encoders and feeds them.
//!
//! # Where the official code (PySlowFast `slowfast/models/contrastive.py`, `CONTRASTIVE.SEQUENTIAL: True`) differs
//! - **SimCLR and SwAV use only consecutive clip pairs** there: clip k is paired with clip k + 1 (k = 0..ρ−2), each
//!   pair is a two-view loss over just those two clips (SimCLR's negatives are the other videos' rows of those two
//!   clips). Our default is every pair (the paper's rule); [`PairRule::Consecutive`] reproduces the official pairing
//!   and is a recipe option (`pairs: consecutive`), never a silent choice. For ρ ≤ 2 the two rules coincide.
//! - **SimCLR over all pairs**: for a query q with positive p the softmax runs over p and every view of every other
//!   video; the query's other positives are left out of its denominator (as the official `pos_mask`/`neg_mask`
//!   formulation does). For V = 2 this is exactly the NT-Xent loss.
//! - **Sum versus mean**: the official sequential loop back-propagates the *sum* of its per-query (MoCo, BYOL) or
//!   per-pair (SimCLR, SwAV) losses; we take the mean, as the paper states. Under SGD (MoCo) that is a factor ρ
//!   (ρ − 1 for consecutive pairs) in the effective learning rate; under LARS it only changes how strongly weight
//!   decay and the BN/bias parameters (which LARS does not rescale) act. For ρ = 2 SimCLR and SwAV agree exactly.
//! - **BYOL** there is `−cos/T` with T = 0.5, the same gradient as our `2 − 2·cos`.
//! - **MoCo's queue** starts as uniform noise in ±1/√(dim/3) (as the official code) and the official trainer makes
//!   no parameter update until the queue could have been filled once; see [`moco`].
//! - **SwAV's queue** is one queue shared by all views (the official code keeps one per assigned crop) and, as
//!   there, it enters the codes only from epoch 15 on and once it is full; see [`swav`].

pub mod byol;
pub mod moco;
mod queue;
pub mod simclr;
pub mod swav;

pub use queue::RowQueue;
pub use vst_spec::PairRule;

use crate::model::{ModelError, invalid};

/// ε of the L2 normalisations (PyTorch's `F.normalize` default).
pub const NORMALIZE_EPS: f32 = 1e-12;

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
        let two = ClipLayout::new(4, 2).unwrap();
        assert_eq!(
            two.view_pairs(PairRule::AllPairs),
            two.view_pairs(PairRule::Consecutive)
        );
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
