//! A dataset as a recipe names it ([`DatasetSpec`]), opened: its train and val lists and the backend that reads
//! its videos. A synthetic dataset is generated on first use into the directory the caller gives.

use crate::error::{DataError, Result};
use crate::list::{VideoEntry, read_list};
use crate::synth;
use crate::video::jpeg_folder::JpegFolderBackend;
use crate::video::{DecoderKind, VideoBackend};
use std::path::Path;
use vst_spec::{DataSource, DatasetSpec};

pub struct OpenedDataset {
    pub train: Vec<VideoEntry>,
    pub val: Vec<VideoEntry>,
    /// Reads this dataset's videos (a fresh one per loader: see [`open_backend`]).
    pub decoder: Option<DecoderKind>,
    pub frames_fps: Option<f64>,
}

impl OpenedDataset {
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
        } => {
            let (train, val) = lists(root, train_list, val_list)?;
            Ok(OpenedDataset {
                train,
                val,
                decoder: Some(decoder),
                frames_fps: None,
            })
        }
        DataSource::Frames {
            root,
            train_list,
            val_list,
            fps,
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
            Ok(OpenedDataset {
                train,
                val,
                decoder: Some(decoder),
                frames_fps: None,
            })
        }
    }
}
