//! The cost estimate of a job: clips drawn and forward GFLOPs.

use super::dataset::DataInfo;
use vst_spec::*;

/// Videos seen per epoch: whole batches only (the last partial batch is dropped).
pub(super) fn full_batches(videos: u64, batch: u32) -> u64 {
    let batch = u64::from(batch.max(1));
    (videos / batch) * batch
}

/// Clips drawn and forward GFLOPs of a pre-training: ρ clips per video (two crops when ρ = 1), each through both the
/// online and the momentum encoder for MoCo and BYOL.
pub fn pretrain_cost(job: &PretrainJob, data: &DataInfo, gmacs_per_clip: f64) -> Cost {
    let views = u64::from(job.clips.count.max(2));
    let encoders = match job.objective {
        ObjectiveSpec::Moco(_) | ObjectiveSpec::Byol(_) => 2.0,
        _ => 1.0,
    };
    let videos = u64::from(job.schedule.epochs)
        .saturating_mul(full_batches(data.train_videos, job.schedule.batch));
    let clips = videos.saturating_mul(views);
    Cost {
        clips,
        gmacs: clips as f64 * encoders * gmacs_per_clip,
    }
}
