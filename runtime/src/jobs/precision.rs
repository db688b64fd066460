//! Average precision for multi-label data (Charades): each class ranks the videos by its score, and its average
//! precision is `Σₙ (Rₙ − Rₙ₋₁) · Pₙ` over the distinct score thresholds from the highest down (videos with equal
//! scores enter together, as one threshold), Pₙ and Rₙ the precision and recall of the videos scoring at least the
//! n-th threshold. This is scikit-learn's `average_precision_score`, which PySlowFast's Charades evaluation
//! (`get_map`) averages over the classes that have a positive video: mean average precision (mAP).
//! `runtime/tests/precision.rs` checks both against scikit-learn (fixtures from `scripts/make_map_fixtures.py`).

use std::cmp::Ordering;

/// Average precision of one class: `scores[i]` the video's score, `positive[i]` whether the class is one of its
/// labels. None when no video is positive (recall is undefined) or the lengths differ. A NaN score ranks below
/// every number, so it cannot lift a class's precision.
pub fn average_precision(scores: &[f32], positive: &[bool]) -> Option<f64> {
    if scores.len() != positive.len() {
        return None;
    }
    let positives = positive.iter().filter(|&&p| p).count();
    if positives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    let rank = |s: f32| if s.is_nan() { f32::NEG_INFINITY } else { s };
    order.sort_by(|&a, &b| {
        rank(scores[b])
            .partial_cmp(&rank(scores[a]))
            .unwrap_or(Ordering::Equal)
    });
    let (mut true_pos, mut seen) = (0usize, 0usize);
    let (mut ap, mut last_recall) = (0.0f64, 0.0f64);
    let mut i = 0;
    while i < order.len() {
        // One threshold: every video tied with this score.
        let threshold = rank(scores[order[i]]);
        while i < order.len() && rank(scores[order[i]]) == threshold {
            true_pos += usize::from(positive[order[i]]);
            seen += 1;
            i += 1;
        }
        let recall = true_pos as f64 / positives as f64;
        let precision = true_pos as f64 / seen as f64;
        ap += (recall - last_recall) * precision;
        last_recall = recall;
    }
    Some(ap)
}

/// Per-class average precision and their mean over `classes` classes of `scores` and `targets` (videos × classes,
/// row-major; a target is 1 for each of the video's labels). Classes without a positive video are left out, as in
/// PySlowFast's Charades mAP; the per-class list holds `(class, AP)` for the others. None when no class has a
/// positive video or the shapes do not fit.
pub fn mean_average_precision(
    scores: &[f32],
    targets: &[bool],
    classes: usize,
) -> Option<(f64, Vec<(usize, f64)>)> {
    if classes == 0 || scores.len() != targets.len() || !scores.len().is_multiple_of(classes) {
        return None;
    }
    let column = |values: &[f32], c: usize| -> Vec<f32> {
        values.iter().skip(c).step_by(classes).copied().collect()
    };
    let per_class: Vec<(usize, f64)> = (0..classes)
        .filter_map(|c| {
            let positive: Vec<bool> = targets.iter().skip(c).step_by(classes).copied().collect();
            average_precision(&column(scores, c), &positive).map(|ap| (c, ap))
        })
        .collect();
    if per_class.is_empty() {
        return None;
    }
    let mean = per_class.iter().map(|(_, ap)| ap).sum::<f64>() / per_class.len() as f64;
    Some((mean, per_class))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_without_positives_has_no_average_precision() {
        assert_eq!(average_precision(&[0.3, 0.2], &[false, false]), None);
        assert_eq!(average_precision(&[0.3], &[true, false]), None);
        // mAP leaves the class out instead of counting it as 0.
        let (map, per_class) =
            mean_average_precision(&[0.9, 0.1, 0.2, 0.8], &[true, false, false, false], 2)
                .expect("class 0 has a positive");
        assert_eq!(per_class, vec![(0, 1.0)]);
        assert_eq!(map, 1.0);
    }

    #[test]
    fn a_nan_score_ranks_last() {
        // The positive's NaN puts it below the negative: precision 1/2 at full recall.
        let ap = average_precision(&[f32::NAN, 0.1], &[true, false]).expect("a positive");
        assert!((ap - 0.5).abs() < 1e-12, "{ap}");
    }
}
