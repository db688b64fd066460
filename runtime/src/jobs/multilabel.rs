//! Multi-label fine-tuning (Charades): each video's class set as a 0/1 target row, and the per-class sigmoid
//! binary cross-entropy PySlowFast trains Charades with (`MODEL.LOSS_FUNC: bce_logit`), averaged over every
//! (video, class) pair as `torch.nn.BCEWithLogitsLoss` does.

use anyhow::{Context, Result};
use vst_data::dataset::LabelSets;
use vst_engine::{Device, Graph, Tensor, Var};

/// The 0/1 targets (rows × classes, row-major) of videos whose loader labels are `labels` (indices into `sets`):
/// every class of each video, the test label.
pub fn targets(sets: &LabelSets, labels: &[u32]) -> Result<Vec<bool>> {
    rows_of(
        sets.classes,
        labels.iter().map(|&label| {
            sets.sets
                .get(label as usize)
                .cloned()
                .with_context(|| format!("internal: no class set for video label {label}"))
        }),
    )
}

/// The 0/1 targets of training clips: per row, the classes of its video that happen during the clip
/// (`row_seconds`: its first and last frame's time), as PySlowFast trains Charades — a clip of a video whose
/// actions lie elsewhere is a negative for them.
pub fn clip_targets(
    sets: &LabelSets,
    labels: &[u32],
    row_seconds: &[(f64, f64)],
) -> Result<Vec<bool>> {
    if row_seconds.len() != labels.len() {
        anyhow::bail!(
            "internal: {} clip spans for {} rows",
            row_seconds.len(),
            labels.len()
        );
    }
    rows_of(
        sets.classes,
        labels.iter().zip(row_seconds).map(|(&label, &(from, to))| {
            sets.classes_between(label, from, to)
                .with_context(|| format!("internal: no actions for video label {label}"))
        }),
    )
}

fn rows_of(
    classes: u32,
    rows: impl ExactSizeIterator<Item = Result<Vec<u32>>>,
) -> Result<Vec<bool>> {
    let classes = classes as usize;
    let mut out = vec![false; rows.len() * classes];
    for (row, set) in rows.enumerate() {
        for class in set? {
            if let Some(slot) = out.get_mut(row * classes + class as usize) {
                *slot = true;
            }
        }
    }
    Ok(out)
}

/// Each class's largest probability over each video's `per_video` consecutive view rows (`values`: rows ×
/// `classes`): PySlowFast's `TEST.ENSEMBLE_METHOD: max`, which its Charades configs use.
pub fn max_over_views(values: &[f32], per_video: usize, classes: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(values.len() / per_video.max(1));
    for video in values.chunks_exact(per_video.max(1) * classes) {
        let mut best = vec![f32::NEG_INFINITY; classes];
        for view in video.chunks_exact(classes) {
            for (b, &p) in best.iter_mut().zip(view) {
                *b = b.max(p);
            }
        }
        out.extend(best);
    }
    out
}

/// mean over all entries of `max(x, 0) − x·y + log(1 + exp(−|x|))`: the binary cross-entropy of sigmoid(x) against
/// y, written so that no large |x| overflows.
pub fn bce_with_logits(
    g: &mut Graph,
    logits: &Var,
    targets: &[bool],
    device: &Device,
) -> Result<Var> {
    let y: Vec<f32> = targets.iter().map(|&t| if t { 1.0 } else { 0.0 }).collect();
    let y = Var::constant(Tensor::from_vec(y, logits.shape(), device)?);
    let positive = g.relu(logits)?;
    let negated = g.neg(logits)?;
    let negative = g.relu(&negated)?;
    let magnitude = g.add(&positive, &negative)?;
    let minus_magnitude = g.neg(&magnitude)?;
    let decay = g.exp(&minus_magnitude)?;
    let one_plus = g.add_scalar(&decay, 1.0)?;
    let softplus = g.log(&one_plus)?;
    let xy = g.mul(logits, &y)?;
    let margin = g.sub(&positive, &xy)?;
    let per_entry = g.add(&margin, &softplus)?;
    Ok(g.mean(&per_entry, &[], false)?)
}

/// The logistic function of each score.
pub fn sigmoid(scores: &[f32]) -> Vec<f32> {
    scores.iter().map(|&x| 1.0 / (1.0 + (-x).exp())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bce_matches_the_closed_form_and_survives_large_logits() {
        let device = Device::cpu();
        let logits = [0.0f32, 2.0, -3.0, 80.0, -80.0, 1.5];
        let targets = [true, false, true, true, false, false];
        let mut g = Graph::new();
        let x = Var::constant(Tensor::from_vec(logits.to_vec(), &[2, 3], &device).expect("tensor"));
        let loss = bce_with_logits(&mut g, &x, &targets, &device).expect("loss");
        let got = f64::from(loss.value().to_scalar().expect("scalar"));
        let expected: f64 = logits
            .iter()
            .zip(targets)
            .map(|(&x, y)| {
                let (x, y) = (f64::from(x), if y { 1.0 } else { 0.0 });
                // −[y log σ(x) + (1 − y) log(1 − σ(x))], with log σ(x) = −log(1 + e^{−x}).
                y * (-x).exp().ln_1p() + (1.0 - y) * x.exp().ln_1p()
            })
            .sum::<f64>()
            / 6.0;
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    }

    #[test]
    fn targets_mark_each_videos_classes() {
        let sets = LabelSets {
            classes: 3,
            sets: vec![vec![0, 2], vec![], vec![1]],
            intervals: vec![vec![], vec![], vec![]],
        };
        let t = targets(&sets, &[2, 0]).expect("targets");
        assert_eq!(t, vec![false, true, false, true, false, true]);
        assert!(targets(&sets, &[7]).is_err());
    }

    #[test]
    fn views_combine_by_their_maximum_per_class() {
        // Two videos of three views, two classes.
        let values = [0.1, 0.9, 0.7, 0.2, 0.3, 0.4, 0.5, 0.5, 0.6, 0.1, 0.2, 0.8];
        assert_eq!(max_over_views(&values, 3, 2), vec![0.7, 0.9, 0.6, 0.8]);
    }

    /// A clip is labelled with the actions that overlap it, endpoints included (a frame at an action's first or
    /// last instant carries it in PySlowFast's frame lists).
    #[test]
    fn clip_targets_mark_the_actions_the_clip_overlaps() {
        use vst_data::formats::charades::Action;
        let action = |class, start, end| Action { class, start, end };
        let sets = LabelSets {
            classes: 3,
            sets: vec![vec![0, 2]],
            intervals: vec![vec![action(0, 0.0, 4.0), action(2, 6.0, 9.5)]],
        };
        let spans = [(1.0, 3.0), (4.5, 5.5), (5.0, 6.0), (4.0, 7.0), (9.5, 12.0)];
        let t = clip_targets(&sets, &[0; 5], &spans).expect("targets");
        let rows: Vec<&[bool]> = t.chunks(3).collect();
        assert_eq!(rows[0], [true, false, false], "inside the first action");
        assert_eq!(
            rows[1],
            [false, false, false],
            "between the actions: a negative for both"
        );
        assert_eq!(rows[2], [false, false, true], "touching the second's start");
        assert_eq!(rows[3], [true, false, true], "spanning the gap");
        assert_eq!(rows[4], [false, false, true], "touching the second's end");
        assert!(clip_targets(&sets, &[0], &[]).is_err());
        assert!(clip_targets(&sets, &[1], &[(0.0, 1.0)]).is_err());
    }
}
