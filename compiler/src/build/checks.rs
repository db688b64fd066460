//! Checks that involve several settings of a cell at once (MoCo's queue and the batch, ρ = 1 and deterministic
//! crops, clip length and video length, crop and frame size, warm-up and epochs, batch and dataset size).

use super::dataset::DataInfo;
use super::view::View;
use crate::diagnostic::{Diagnostic, Kind};
use vst_spec::*;

/// The setting a conflict is reported at: `first` where the recipe sets it, else `otherwise`.
fn blame(view: &View<'_, '_>, first: &'static str, otherwise: &'static str) -> &'static str {
    if view.user_span(first).is_some() {
        first
    } else {
        otherwise
    }
}

pub(super) fn cross_checks(view: &mut View<'_, '_>, job: &PretrainJob, data: &DataInfo) {
    if job.device == DeviceSpec::Cpu && !job.precision.is_f32() {
        let d = view
            .error_at(
                Kind::IncompatibleSettings,
                "precision",
                format!(
                    "`precision: {}` needs a CUDA device: the CPU computes in f32 only",
                    job.precision.name()
                ),
            )
            .help("train on `device: cuda`, or leave `precision` at `f32`");
        view.report(d);
    }
    let schedule = &job.schedule;
    let bn = job.bn_batch.videos(schedule.batch);
    if bn > schedule.batch || !schedule.batch.is_multiple_of(bn) {
        let blame = blame(view, "bn_batch", "schedule.batch");
        let d = view
            .error_at(
                Kind::IncompatibleSettings,
                blame,
                format!(
                    "the batch-norm batch ({bn} videos) does not divide the global batch ({} videos)",
                    schedule.batch
                ),
            )
            .note("every view of a step is normalised in batch / bn_batch batches of equal size")
            .help("choose a `bn_batch` that divides `schedule.batch`, or `bn_batch: all`");
        view.report(d);
    }
    if let ObjectiveSpec::Moco(moco) = &job.objective
        && moco.queue % schedule.batch != 0
    {
        let blame = blame(view, "moco.queue", "schedule.batch");
        let d = view
            .error_at(
                Kind::IncompatibleSettings,
                blame,
                format!(
                    "MoCo's queue ({}) is not a multiple of the global batch ({})",
                    moco.queue, schedule.batch
                ),
            )
            .note("each step replaces one batch of keys in the queue")
            .help(format!(
                "e.g. `moco.queue: {}`",
                (moco.queue / schedule.batch).max(1) * schedule.batch
            ));
        view.report(d);
    }
    if let ObjectiveSpec::Moco(moco) = &job.objective
        && u64::from(moco.queue) > data.train_videos
    {
        let d = Diagnostic::warning(Kind::Suspicious, format!(
            "MoCo's queue ({}) is longer than the training set of `{}` ({} videos)",
            moco.queue, job.dataset.name, data.train_videos
        ))
        .at(view.span("moco.queue"))
        .note("the queue then holds keys of the query's own video, which the loss treats as negatives");
        view.report(d);
    }
    let spatial = &job.augment.spatial;
    let spatially_random = !spatial.center
        || spatial.flip.is_some()
        || spatial.short_side.is_some_and(|r| r.lo < r.hi);
    if job.clips.count == 1 && !spatially_random && spatial.size > 0 {
        let d = view
            .error_at(
                Kind::IncompatibleSettings,
                "clips",
                "with `clips: 1` the two views of a video differ only by S, but S is deterministic"
                    .into(),
            )
            .note("ρ = 1 trains on two spatial crops of one clip")
            .help("use a random crop (`crop`, `resized_crop`) or a flip in `augment.S`");
        view.report(d);
    }
    if schedule.epochs == 0 && job.weights.is_none() {
        // Legitimate as a baseline (what a random encoder's features already give), but easy to write by mistake.
        let d = view
            .warning_at(
                Kind::Suspicious,
                "schedule.epochs",
                "0 epochs and no `weights`: the evaluations measure the randomly initialised encoder".into(),
            )
            .note("a random-encoder baseline; nothing is trained")
            .help("train at least 1 epoch, or set `weights` to a weights file to evaluate it as it is");
        view.report(d);
    }
    if schedule.epochs > 0 && schedule.warmup_epochs > f64::from(schedule.epochs) {
        let d = view.error_at(
            Kind::IncompatibleSettings,
            "schedule.warmup",
            format!(
                "the warm-up ({} epochs) is longer than training ({} epochs)",
                schedule.warmup_epochs, schedule.epochs
            ),
        );
        view.report(d);
    }
    if let ObjectiveSpec::Swav(swav) = &job.objective
        && schedule.epochs > 0
        && swav.freeze_prototypes_epochs >= f64::from(schedule.epochs)
    {
        let d = Diagnostic::warning(
            Kind::Suspicious,
            format!(
                "the prototypes stay frozen for {} epochs, the whole training",
                swav.freeze_prototypes_epochs
            ),
        )
        .at(view.span("swav.freeze_prototypes"));
        view.report(d);
    }
    if u64::from(schedule.batch) > data.train_videos {
        let d = view.error_at(
            Kind::IncompatibleSettings,
            "schedule.batch",
            format!(
                "the batch ({}) is larger than the training set of `{}` ({} videos)",
                schedule.batch, job.dataset.name, data.train_videos
            ),
        );
        view.report(d);
    }
    if let Some(synth) = &data.synthetic {
        let jitter = job.augment.temporal.frame_rate_jitter.unwrap_or(0.0);
        let needed =
            f64::from(job.backbone.frames) * f64::from(job.backbone.stride) * (1.0 + jitter);
        if needed > f64::from(synth.frames) {
            let d = view
                .error_at(
                Kind::IncompatibleSettings,
                    "backbone",
                    format!(
                        "a clip spans {} frames ({} frames × stride {}{}), but the videos of `{}` have {}",
                        needed.ceil(),
                        job.backbone.frames,
                        job.backbone.stride,
                        if jitter > 0.0 { format!(" × {} for the frame-rate jitter", 1.0 + jitter) } else { String::new() },
                        job.dataset.name,
                        synth.frames
                    ),
                )
                .help("sample fewer frames, a smaller stride, or make the synthetic videos longer");
            view.report(d);
        }
        let short = synth.width.min(synth.height);
        if spatial.short_side.is_none() && spatial.resized_crop.is_none() && spatial.size > short {
            let d = view.error_at(
                Kind::CropTooLarge,
                "augment.S",
                format!(
                    "a {}-pixel crop does not fit the {}×{} frames of `{}`",
                    spatial.size, synth.width, synth.height, job.dataset.name
                ),
            );
            view.report(d);
        }
    }
}
