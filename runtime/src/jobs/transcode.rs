//! The prepare job of a dataset declared with `prepare: transcode(source: ...)`: it makes the copy at the dataset's
//! root from the source copy with [`vst_data::prepare`] (what `vst data prepare` runs) before the copy is indexed
//! and pinned like any other. The preparation is resumable (a rerun of the recipe skips the finished videos) and
//! a video that cannot be prepared is recorded in the copy's `prepare-failures.tsv` and left out, never fatal.

use super::{RunnerOptions, progress};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use vst_data::prepare::manifest::Manifest;
use vst_data::prepare::settings::{OutputFormat, PrepareSettings};
use vst_data::prepare::{PrepareRequest, Progress, ffmpeg_cli::Ffmpeg, prepare};
use vst_spec::{DataSource, DatasetSpec, TranscodeSpec};

/// The ffmpeg program the preparation runs (found on PATH, as `vst data prepare` does by default).
const FFMPEG: &str = "ffmpeg";

/// The settings `vst data prepare` takes, for the copy this dataset reads.
pub fn settings(source: &DataSource, t: &TranscodeSpec) -> PrepareSettings {
    PrepareSettings {
        format: match source {
            DataSource::Frames { .. } => OutputFormat::Jpeg,
            _ => OutputFormat::Mp4,
        },
        short_side: t.short_side,
        fps: t.fps,
        keyframe_interval: t.keyframe_interval,
        crf: t.crf,
        preset: t.preset.clone(),
        jpeg_quality: t.jpeg_quality,
    }
}

/// Whether the copy at `root` is a finished preparation with these settings (then the source is not needed).
pub fn is_prepared(root: &Path, settings: &PrepareSettings) -> bool {
    matches!(Manifest::read(root), Ok(Some(m)) if m.complete && m.settings == *settings)
}

/// Before the run: true when the copy is finished (it is then checked like any dataset), false when the source,
/// its lists and ffmpeg are there to make it; an error naming what is missing otherwise.
pub fn preflight(dataset: &DatasetSpec, t: &TranscodeSpec, root: &Path) -> Result<bool> {
    let settings = settings(&dataset.source, t);
    if is_prepared(root, &settings) {
        return Ok(true);
    }
    let name = &dataset.name;
    let hint = format!(
        "the prepare job makes the copy at {} from {}: point `transcode(source: ...)` at the copy to prepare from",
        root.display(),
        t.source.display()
    );
    if !t.source.is_dir() {
        bail!(
            "dataset `{name}`: the source folder {} does not exist\n  help: {hint}",
            t.source.display()
        );
    }
    let missing: Vec<String> = t
        .source_lists
        .iter()
        .map(|l| t.source.join(l))
        .filter(|l| !l.is_file())
        .map(|l| l.display().to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "dataset `{name}`: the source's video list {} does not exist\n  help: {hint}",
            missing.join(" and ")
        );
    }
    Ffmpeg::locate(Path::new(FFMPEG), settings.format)
        .with_context(|| format!("dataset `{name}` is prepared by the recipe"))?;
    Ok(false)
}

/// Makes (or finishes) the copy; returns what was done, for the job's record.
pub fn run(
    dataset: &DatasetSpec,
    t: &TranscodeSpec,
    root: &Path,
    options: &RunnerOptions,
) -> Result<Value> {
    let settings = settings(&dataset.source, t);
    if !t.source.is_dir() && is_prepared(root, &settings) {
        // Finished earlier and the source is gone (or elsewhere now): the copy is all the dataset needs.
        tracing::info!(
            dataset = %dataset.name,
            "{} is a finished copy; its source {} is not here, so it is used as it is",
            root.display(),
            t.source.display()
        );
        return Ok(json!({ "source": t.source, "reused_finished_copy": true }));
    }
    let request = PrepareRequest {
        source_root: t.source.clone(),
        lists: t.source_lists.clone(),
        out: root.to_path_buf(),
        settings,
        threads: options.threads,
        ffmpeg: PathBuf::from(FFMPEG),
    };
    tracing::info!(
        dataset = %dataset.name,
        "preparing {} from {} ({})",
        root.display(),
        t.source.display(),
        request.settings.describe()
    );
    let bar = progress::bar_counting(options.progress, 0, "prepare", "videos");
    let summary = prepare(&request, &|event| show_on_bar(&bar, &event))
        .with_context(|| format!("dataset `{}`: preparing {}", dataset.name, root.display()))?;
    bar.finish_and_clear();

    let failed = summary.failures.len();
    if failed > 0 {
        let first = &summary.failures[0];
        tracing::warn!(
            dataset = %dataset.name,
            "{failed} of {} listed videos could not be prepared and are left out (first: {}: {}); all are in {}",
            summary.listed,
            first.path,
            first.reason,
            summary.failures_file.display()
        );
    }
    if summary.listed > 0 && summary.already_done + summary.prepared_now == 0 {
        bail!(
            "dataset `{}`: none of the {} listed videos could be prepared (first: {}: {}); see {}",
            dataset.name,
            summary.listed,
            summary.failures[0].path,
            summary.failures[0].reason,
            summary.failures_file.display()
        );
    }
    Ok(json!({
        "source": t.source,
        "listed": summary.listed,
        "prepared_now": summary.prepared_now,
        "already_prepared": summary.already_done,
        "failed": failed,
        "failures_file": summary.failures_file,
    }))
}

/// Moves `bar` along a preparation's progress events: its length once the videos are counted (starting past those
/// an earlier run prepared), one step per video finished. `vst data prepare` and the prepare job both show it.
pub fn show_on_bar(bar: &indicatif::ProgressBar, event: &Progress) {
    match *event {
        Progress::Planned {
            total,
            already_done,
        } => {
            bar.set_length(total as u64);
            bar.set_position(already_done as u64);
            bar.reset_eta();
        }
        Progress::Finished { .. } => bar.inc(1),
    }
}
