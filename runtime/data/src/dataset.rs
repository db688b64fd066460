//! A dataset as a recipe names it ([`DatasetSpec`]), opened: its train and val lists and the backend that reads
//! its videos. A synthetic dataset is generated on first use into the directory the caller gives.

use crate::error::{DataError, Result};
use crate::formats::{charades, hmdb51, ssv2, ucf101};
use crate::list::{VideoEntry, read_list};
use crate::synth;
use crate::video::jpeg_folder::JpegFolderBackend;
use crate::video::{DecoderKind, VideoBackend};
use std::path::Path;
use vst_spec::{DataSource, DatasetSpec};

pub struct OpenedDataset {
    pub train: Vec<VideoEntry>,
    pub val: Vec<VideoEntry>,
    /// A multi-label dataset's (Charades) class sets: there a video's `label` indexes this table, whose entry
    /// lists the video's classes; None for single-label data, whose `label` is the class.
    pub label_sets: Option<LabelSets>,
    /// Reads this dataset's videos (a fresh one per loader: see [`open_backend`]).
    pub decoder: Option<DecoderKind>,
    pub frames_fps: Option<f64>,
}

/// The classes of each video of a multi-label dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSets {
    pub classes: u32,
    /// Indexed by a video's `label`: every class of the video (its test label).
    pub sets: Vec<Vec<u32>>,
    /// Indexed like `sets`: when each class happens (Charades' action intervals, seconds), for the label of a
    /// clip.
    pub intervals: Vec<Vec<charades::Action>>,
}

impl LabelSets {
    /// The classes of video `label` that happen between `from` and `to` seconds (ascending, each once) — the
    /// training label of a clip showing that span, as PySlowFast's Charades loader makes it (the union of the
    /// frame-level labels of the frames from the clip's first to its last). None when `label` has no entry.
    pub fn classes_between(&self, label: u32, from: f64, to: f64) -> Option<Vec<u32>> {
        let actions = self.intervals.get(label as usize)?;
        let mut classes: Vec<u32> = actions
            .iter()
            .filter(|a| a.start <= to && a.end >= from)
            .map(|a| a.class)
            .collect();
        classes.sort_unstable();
        classes.dedup();
        Some(classes)
    }
}

impl OpenedDataset {
    /// Single-label data read by `decoder`.
    fn single(train: Vec<VideoEntry>, val: Vec<VideoEntry>, decoder: DecoderKind) -> Self {
        OpenedDataset {
            train,
            val,
            label_sets: None,
            decoder: Some(decoder),
            frames_fps: None,
        }
    }

    /// A backend for the dataset's videos.
    pub fn backend(&self) -> Result<Box<dyn VideoBackend>> {
        match (self.frames_fps, self.decoder) {
            (Some(fps), _) => Ok(Box::new(JpegFolderBackend { fps })),
            (None, Some(kind)) => kind.backend(),
            (None, None) => Err(DataError::Config("no decoder for this dataset".into())),
        }
    }
}

/// Opens `spec`. Synthetic datasets live in `synthetic_dir` (generated there with `threads` workers unless a
/// complete copy for the same parameters is already there). Container videos are read by `decoder`.
pub fn open_dataset(
    spec: &DatasetSpec,
    synthetic_dir: &Path,
    decoder: DecoderKind,
    threads: usize,
) -> Result<OpenedDataset> {
    // The compiler has already put relative list paths under the root (`DataSource`): joining them to the root
    // again would double a relative root (data/k400/data/k400/train.csv). Entries inside a list are under the root.
    let lists =
        |root: &Path, train: &Path, val: &Path| -> Result<(Vec<VideoEntry>, Vec<VideoEntry>)> {
            Ok((read_list(train, root)?, read_list(val, root)?))
        };
    match &spec.source {
        DataSource::Kinetics {
            root,
            train_list,
            val_list,
            ..
        } => {
            let (train, val) = lists(root, train_list, val_list)?;
            Ok(OpenedDataset::single(train, val, decoder))
        }
        DataSource::Frames {
            root,
            train_list,
            val_list,
            fps,
            ..
        } => {
            if fps.is_nan() || *fps <= 0.0 {
                return Err(DataError::Config(format!(
                    "dataset `{}`: frame folders need fps > 0",
                    spec.name
                )));
            }
            let (train, val) = lists(root, train_list, val_list)?;
            Ok(OpenedDataset {
                train,
                val,
                label_sets: None,
                decoder: None,
                frames_fps: Some(*fps),
            })
        }
        DataSource::Synthetic(synth_spec) => {
            let generated = synth::generate(synth_spec, synthetic_dir, threads)?;
            // The generator's lists are already paths under `synthetic_dir` (not relative to it): joining them to
            // the root again would double a relative `synthetic_dir` (data/synthetic/data/synthetic/train.csv).
            let train = read_list(&generated.train_list, &generated.root)?;
            let val = read_list(&generated.val_list, &generated.root)?;
            Ok(OpenedDataset::single(train, val, decoder))
        }
        DataSource::Ucf101 {
            videos,
            lists,
            split,
            ..
        } => {
            let split = ucf101::read_split(lists, videos, *split)?;
            Ok(OpenedDataset::single(split.train, split.test, decoder))
        }
        DataSource::Hmdb51 {
            videos,
            splits,
            split,
            ..
        } => {
            let split = hmdb51::read_split(splits, videos, *split)?;
            Ok(OpenedDataset::single(split.train, split.test, decoder))
        }
        DataSource::Ssv2 {
            videos,
            labels,
            train,
            val,
            frames_fps,
            ..
        } => {
            let layout = match frames_fps {
                Some(_) => ssv2::Layout::FrameFolders,
                None => ssv2::Layout::Webm,
            };
            let (train, val) = ssv2::read(videos, labels, train, val, layout)?;
            let mut opened = OpenedDataset::single(train, val, decoder);
            opened.frames_fps = *frames_fps;
            Ok(opened)
        }
        DataSource::Charades {
            videos, train, val, ..
        } => {
            let (train, val) = (
                charades::read_csv(train, videos)?,
                charades::read_csv(val, videos)?,
            );
            Ok(multi_label(&train, &val, decoder))
        }
    }
}

/// Charades' videos as entries whose label indexes their class set (training videos first, then validation).
fn multi_label(
    train: &[charades::CharadesVideo],
    val: &[charades::CharadesVideo],
    decoder: DecoderKind,
) -> OpenedDataset {
    let mut sets = Vec::with_capacity(train.len() + val.len());
    let mut intervals = Vec::with_capacity(train.len() + val.len());
    let mut entries = |videos: &[charades::CharadesVideo]| -> Vec<VideoEntry> {
        videos
            .iter()
            .map(|video| {
                sets.push(video.classes());
                intervals.push(video.actions.clone());
                VideoEntry {
                    path: video.path.clone(),
                    label: (sets.len() - 1) as u32,
                }
            })
            .collect()
    };
    let (train, val) = (entries(train), entries(val));
    OpenedDataset {
        train,
        val,
        label_sets: Some(LabelSets {
            classes: charades::CLASSES,
            sets,
            intervals,
        }),
        decoder: Some(decoder),
        frames_fps: None,
    }
}
