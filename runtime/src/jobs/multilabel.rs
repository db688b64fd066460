//! Multi-label fine-tuning (Charades): each video's class set as a 0/1 target row, and the per-class sigmoid
//! binary cross-entropy PySlowFast trains Charades with (`MODEL.LOSS_FUNC: bce_logit`), averaged over every
//! (video, class) pair as `torch.nn.BCEWithLogitsLoss` does.

use anyhow::{Context, Result};
use vst_data::dataset::LabelSets;
use vst_engine::{Device, Graph, Tensor, Var};

/// The 0/1 targets (rows × classes, row-major) of videos whose loader labels are `labels` (indices into `sets`).
pub fn targets(sets: &LabelSets, labels: &[u32]) -> Result<Vec<bool>> {
    let classes = sets.classes as usize;
    let mut out = vec![false; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        let set = sets
            .sets
            .get(label as usize)
            .with_context(|| format!("internal: no class set for video label {label}"))?;
        for &class in set {
            if let Some(slot) = out.get_mut(row * classes + class as usize) {
                *slot = true;
            }
        }
    }
    Ok(out)
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
        };
        let t = targets(&sets, &[2, 0]).expect("targets");
        assert_eq!(t, vec![false, true, false, true, false, true]);
        assert!(targets(&sets, &[7]).is_err());
    }
}
