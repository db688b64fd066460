//! `prepare(dataset)`: make a dataset ready and pin it. The synthetic dataset is generated into the job's
//! directory; a real dataset's lists are read, every listed file is looked up, and a fingerprint of the lists and
//! the files' sizes is recorded — Kinetics copies differ between users, and the report says how many listed videos
//! were missing.

use super::{RunnerOptions, transcode};
use crate::executor::JobContext;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use vst_data::dataset::{OpenedDataset, open_dataset};
use vst_data::list::VideoEntry;
use vst_spec::{DataSource, DatasetSpec};

/// Where a prepare job keeps the synthetic videos it generated.
pub fn synthetic_dir(prepare_dir: &Path) -> PathBuf {
    prepare_dir.join("synthetic")
}

/// Fails at once, naming every missing path of the dataset and how to point the recipe at the data.
pub fn preflight(dataset: &DatasetSpec) -> Result<()> {
    if let DataSource::Synthetic(spec) = &dataset.source {
        return vst_data::synth::validate(spec)
            .with_context(|| format!("dataset `{}`", dataset.name));
    }
    let Some(root) = dataset.source.root() else {
        return Ok(());
    };
    // A copy the job makes: check what it is made from, unless it is finished (then check it like any copy).
    if let Some(t) = dataset.source.transcode()
        && !transcode::preflight(dataset, t, root)?
    {
        return Ok(());
    }
    let hint = format!(
        "point the recipe at your copy of the data: set the environment variable that `data {} = {}(root: env(...))` \
         reads, or write the path as its `root:`; {}",
        dataset.name,
        dataset.source.kind(),
        layout(&dataset.source)
    );
    if !root.is_dir() {
        bail!(
            "dataset `{}`: the data root {} does not exist\n  help: {hint}",
            dataset.name,
            root.display()
        );
    }
    // Every missing file or folder at once (the compiler has already put them under the root).
    let missing: Vec<String> = needed(&dataset.source)
        .into_iter()
        .filter(|(path, folder)| {
            if *folder {
                !path.is_dir()
            } else {
                !path.is_file()
            }
        })
        .map(|(path, folder)| {
            let what = match (folder, dataset.source.kind()) {
                (true, _) => "the folder",
                (false, "kinetics" | "frames") => "the video list",
                (false, _) => "the annotation file",
            };
            format!("{what} {}", path.display())
        })
        .collect();
    if let Some((last, rest)) = missing.split_last() {
        let listed = match rest {
            [] => format!("{last} does not exist"),
            _ => format!("{} and {last} do not exist", rest.join(", ")),
        };
        bail!("dataset `{}`: {listed}\n  help: {hint}", dataset.name);
    }
    Ok(())
}

/// The files (false) and folders (true) a real dataset reads before its videos.
fn needed(source: &DataSource) -> Vec<(&Path, bool)> {
    match source {
        DataSource::Synthetic(_) => vec![],
        DataSource::Kinetics {
            train_list,
            val_list,
            ..
        }
        | DataSource::Frames {
            train_list,
            val_list,
            ..
        } => vec![(train_list, false), (val_list, false)],
        DataSource::Ucf101 { videos, lists, .. } => vec![(videos, true), (lists, true)],
        DataSource::Hmdb51 { videos, splits, .. } => vec![(videos, true), (splits, true)],
        DataSource::Ssv2 {
            videos,
            labels,
            train,
            val,
            ..
        } => vec![
            (videos, true),
            (labels, false),
            (train, false),
            (val, false),
        ],
        DataSource::Charades {
            videos, train, val, ..
        } => vec![(videos, true), (train, false), (val, false)],
    }
}

/// What the dataset's files look like on disk, for the help line.
fn layout(source: &DataSource) -> &'static str {
    match source {
        DataSource::Ucf101 { .. } => {
            "UCF101 as distributed: the videos (`UCF-101/<Class>/*.avi`) and the `ucfTrainTestlist` folder"
        }
        DataSource::Hmdb51 { .. } => {
            "HMDB51 as distributed: the videos (`<class>/*.avi`) and the `testTrainMulti_7030_splits` folder"
        }
        DataSource::Ssv2 { .. } => {
            "Something-Something v2 as distributed: the `.webm` videos (or frame folders `<id>/*.jpg` with \
             `frames_fps`) and `labels/` (labels.json, train.json, validation.json)"
        }
        DataSource::Charades { .. } => {
            "Charades as distributed: the videos (`Charades_v1_480/*.mp4`) and the annotation CSVs \
             (`Charades/Charades_v1_train.csv`, `Charades_v1_test.csv`)"
        }
        _ => "the lists are PySlowFast-style `path label` files",
    }
}

pub fn run(dataset: &DatasetSpec, ctx: &JobContext, options: &RunnerOptions) -> Result<Value> {
    let transcoded = match (dataset.source.transcode(), dataset.source.root()) {
        (Some(t), Some(root)) => Some(transcode::run(dataset, t, root, options)?),
        _ => None,
    };
    let opened = open(dataset, &ctx.dir, options)?;
    let root = match dataset.source.root() {
        Some(root) => root.to_path_buf(),
        None => std::path::absolute(synthetic_dir(&ctx.dir))?,
    };
    let (missing, fingerprint) = pin(&opened, &root)?;
    let prepared_by = vst_data::prepare::manifest::Manifest::read(&root)?;
    if !missing.is_empty() {
        tracing::warn!(
            dataset = %dataset.name,
            "{} listed videos are missing (first: {}); they will be skipped and replaced",
            missing.len(),
            missing[0]
        );
    }
    let kind = dataset.source.kind();
    Ok(json!({
        "dataset": dataset.name,
        "kind": kind,
        "train_videos": opened.train.len(),
        "val_videos": opened.val.len(),
        "missing_videos": missing.len(),
        "missing_examples": missing.iter().take(20).collect::<Vec<_>>(),
        "fingerprint": fingerprint,
        // How `vst data prepare` made this copy, when it did (its manifest lies at the root).
        "prepared_by": prepared_by.as_ref().map(|m| m.describe()),
        // What this job's own preparation did (`prepare: transcode(...)`).
        "transcoded": transcoded,
    }))
}

/// Opens a dataset for a job; synthetic videos live in (and are generated by) the prepare job's directory.
pub fn open(
    dataset: &DatasetSpec,
    prepare_dir: &Path,
    options: &RunnerOptions,
) -> Result<OpenedDataset> {
    // Absolute, so that list paths inside the generated dataset resolve whatever the working directory.
    let dir = std::path::absolute(synthetic_dir(prepare_dir))
        .with_context(|| format!("cannot resolve {}", prepare_dir.display()))?;
    open_dataset(dataset, &dir, options.decoder, options.threads)
        .with_context(|| format!("cannot open dataset `{}`", dataset.name))
}

/// The listed videos that do not exist, and a fingerprint of both lists and the listed files' sizes (paths taken
/// relative to the data root, so that the same data gives the same fingerprint wherever it is) and, for a copy made
/// by `vst data prepare`, of the settings and ffmpeg that made it.
fn pin(opened: &OpenedDataset, root: &Path) -> Result<(Vec<String>, String)> {
    let mut hasher = blake3::Hasher::new();
    if let Some(manifest) = vst_data::prepare::manifest::Manifest::read(root)? {
        hasher.update(serde_json::to_string(&manifest.settings)?.as_bytes());
        hasher.update(manifest.ffmpeg.as_bytes());
    }
    let mut missing = Vec::new();
    for (split, entries) in [("train", &opened.train), ("val", &opened.val)] {
        hasher.update(split.as_bytes());
        for VideoEntry { path, label, .. } in entries.iter() {
            let size = match std::fs::metadata(path) {
                Ok(meta) if meta.is_dir() => dir_size(path),
                Ok(meta) => meta.len(),
                Err(_) => {
                    missing.push(path.display().to_string());
                    u64::MAX
                }
            };
            let relative = path.strip_prefix(root).unwrap_or(path);
            hasher.update(relative.to_string_lossy().as_bytes());
            match &opened.label_sets {
                // A multi-label video's label indexes its class set: pin the classes themselves.
                Some(sets) => {
                    for class in sets.sets.get(*label as usize).into_iter().flatten() {
                        hasher.update(&class.to_le_bytes());
                    }
                    hasher.update(b";");
                }
                None => {
                    hasher.update(&label.to_le_bytes());
                }
            }
            hasher.update(&size.to_le_bytes());
        }
    }
    Ok((missing, hasher.finalize().to_hex()[..16].to_string()))
}

/// Total size of a frame folder's files (frame datasets list folders).
fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
