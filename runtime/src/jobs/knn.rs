//! Weighted kNN on frozen features (Wu et al. 2018): L2-normalised features averaged over each video's views; a
//! validation video's k most similar training videos (cosine) vote with weight exp(similarity / temperature).

use super::eval::{EvalContext, test_videos_per_batch, top_k_accuracy};
use anyhow::{Result, bail};
use serde_json::{Value, json};
use vst_data::pipeline::SampleMode;
use vst_engine::Tensor;
use vst_spec::KnnEvalSpec;

/// Validation videos compared against the training bank at a time (bounds the similarity matrix's memory).
const CHUNK: usize = 1024;
const EPS: f32 = 1e-12;

/// One L2-normalised feature per video: the views' normalised features averaged, normalised again.
fn video_features(
    eval: &EvalContext,
    entries: &[vst_data::list::VideoEntry],
    spec: &KnnEvalSpec,
) -> Result<(Tensor, Vec<u32>)> {
    let mode = SampleMode::Test {
        temporal: spec.views.temporal,
        spatial: spec.views.spatial,
        size: spec.views.size,
        normalize: eval.spec.normalize,
    };
    let views = (spec.views.temporal * spec.views.spatial) as usize;
    let loader = eval.loader(
        entries,
        mode,
        eval.test_batch(test_videos_per_batch(views)),
        false,
    )?;
    let mut rows: Vec<Tensor> = Vec::new();
    let mut labels: Vec<u32> = Vec::new();
    eval.for_each_features(&loader, 0, |features, batch_labels, per_video| {
        let dim = features.shape()[1];
        let averaged = features
            .l2_normalize(EPS)?
            .reshape(&[batch_labels.len(), per_video, dim])?
            .mean(&[1], false)?
            .l2_normalize(EPS)?;
        rows.push(averaged);
        labels.extend_from_slice(batch_labels);
        Ok(())
    })?;
    let refs: Vec<&Tensor> = rows.iter().collect();
    Ok((Tensor::concat(&refs, 0)?, labels))
}

pub fn run(eval: &EvalContext, spec: &KnnEvalSpec) -> Result<Value> {
    let (bank, bank_labels) = video_features(eval, &eval.dataset.train, spec)?;
    let (queries, labels) = video_features(eval, &eval.dataset.val, spec)?;
    let k = (spec.k as usize).min(bank_labels.len());
    if k == 0 {
        bail!("kNN needs at least one training video");
    }
    let classes = eval.classes;
    let temperature = spec.temperature as f32;
    let mut scores = vec![0f32; labels.len() * classes];
    let dim = queries.shape()[1];
    for start in (0..labels.len()).step_by(CHUNK) {
        let rows = CHUNK.min(labels.len() - start);
        let chunk = queries.slice(0, start, rows)?;
        let similarity = chunk.matmul_t(&bank, false, true)?.to_vec()?;
        for (r, sims) in similarity.chunks(bank_labels.len()).enumerate() {
            let mut order: Vec<usize> = (0..sims.len()).collect();
            // Highest similarity first; ties by index, so the result does not depend on the sort.
            order.sort_by(|&a, &b| sims[b].total_cmp(&sims[a]).then(a.cmp(&b)));
            let row = &mut scores[(start + r) * classes..(start + r + 1) * classes];
            for &j in &order[..k] {
                row[bank_labels[j] as usize] += (sims[j] / temperature).exp();
            }
        }
    }
    let (top1, top5) = top_k_accuracy(&scores, classes, &labels);
    Ok(json!({
        "top1": top1,
        "top5": top5,
        "k": k,
        "bank_videos": bank_labels.len(),
        "test_videos": labels.len(),
        "feature_dim": dim,
    }))
}
