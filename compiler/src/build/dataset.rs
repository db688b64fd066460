//! The datasets a recipe declares (`data NAME = kinetics(...)`, `frames(...)`, `synthetic(...)`, and the downstream
//! `ucf101(...)`, `hmdb51(...)`, `ssv2(...)`, `charades(...)`) as specs, with the sizes the cost estimate and the
//! checks need.

use crate::check::collect::{DatasetDecl, Recipe};
use crate::check::value::{CallValue, Value};
use std::path::{Path, PathBuf};
use vst_spec::*;

/// A dataset with what the cost estimate needs to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataInfo {
    pub spec: DatasetSpec,
    pub train_videos: u64,
    pub val_videos: u64,
    /// Synthetic videos: frames per video and frame size.
    pub synthetic: Option<SynthSpec>,
    /// The official splits a UCF101 or HMDB51 declaration lists; with several, each cell reads the one its
    /// `split` axis names ([`DataInfo::with_split`]). Empty for datasets without splits.
    pub splits: Vec<u32>,
    /// `train_videos` / `val_videos` as written (None: the split's official count).
    given_sizes: (Option<u64>, Option<u64>),
}

/// The official (train, test) videos of UCF101's splits 1–3 and of every HMDB51 split.
const UCF101_SIZES: [(u64, u64); 3] = [(9537, 3783), (9586, 3734), (9624, 3696)];
const HMDB51_SIZES: (u64, u64) = (3570, 1530);
const SSV2_SIZES: (u64, u64) = (168_913, 24_777);
const CHARADES_SIZES: (u64, u64) = (7985, 1863);

impl DataInfo {
    /// This dataset reading split `split` (UCF101, HMDB51), with that split's sizes unless the recipe gave them.
    pub fn with_split(&self, split: u32) -> DataInfo {
        let mut info = self.clone();
        let official = match &mut info.spec.source {
            DataSource::Ucf101 { split: s, .. } => {
                *s = split;
                UCF101_SIZES[(split.clamp(1, 3) - 1) as usize]
            }
            DataSource::Hmdb51 { split: s, .. } => {
                *s = split;
                HMDB51_SIZES
            }
            _ => return info,
        };
        info.train_videos = self.given_sizes.0.unwrap_or(official.0);
        info.val_videos = self.given_sizes.1.unwrap_or(official.1);
        info
    }
}

/// Builds every declared dataset (once per recipe).
pub fn datasets(recipe: &Recipe) -> Vec<(String, DataInfo)> {
    let mut out: Vec<(String, DataInfo)> = Vec::new();
    for decl in &recipe.datasets {
        let info = dataset(decl);
        match out.iter_mut().find(|(n, _)| *n == decl.name) {
            // A later file's declaration overrides an included one.
            Some(slot) => slot.1 = info,
            None => out.push((decl.name.clone(), info)),
        }
    }
    out
}

fn path_of(call: &CallValue, arg: &str) -> PathBuf {
    match call.get(arg) {
        Some(Value::Path { resolved, .. }) => PathBuf::from(resolved),
        Some(Value::Str(s)) => PathBuf::from(s),
        _ => PathBuf::new(),
    }
}

/// A list path is relative to the dataset root unless absolute.
fn under(root: &Path, list: PathBuf) -> PathBuf {
    if list.is_absolute() {
        list
    } else {
        root.join(list)
    }
}

fn dataset(decl: &DatasetDecl) -> DataInfo {
    let call = &decl.value;
    let int = |name: &str| call.int(name).unwrap_or(0).max(0) as u64;
    let name = decl.name.clone();
    match call.name.as_str() {
        "synthetic" => {
            let spec = SynthSpec {
                classes: int("classes") as u32,
                train_per_class: int("train_per_class") as u32,
                val_per_class: int("val_per_class") as u32,
                frames: int("frames") as u32,
                fps: call.float("fps").unwrap_or(16.0),
                width: int("width") as u32,
                height: int("height") as u32,
                nuisance: call.float("nuisance").unwrap_or(0.5),
                distractors: int("distractors") as u32,
                seed: int("seed"),
            };
            DataInfo {
                train_videos: u64::from(spec.classes) * u64::from(spec.train_per_class),
                val_videos: u64::from(spec.classes) * u64::from(spec.val_per_class),
                synthetic: Some(spec.clone()),
                splits: Vec::new(),
                given_sizes: (None, None),
                spec: DatasetSpec {
                    name,
                    source: DataSource::Synthetic(spec),
                },
            }
        }
        "ucf101" | "hmdb51" | "ssv2" | "charades" => downstream(decl),
        kind => {
            let root = path_of(call, "root");
            let train_list = under(&root, path_of(call, "train"));
            let val_list = under(&root, path_of(call, "val"));
            let fps = call.float("fps").unwrap_or(30.0);
            let prepare = call
                .get("prepare")
                .and_then(Value::as_call)
                .map(|t| transcode(t, call, fps));
            let source = if kind == "frames" {
                DataSource::Frames {
                    root,
                    train_list,
                    val_list,
                    fps,
                    prepare,
                }
            } else {
                DataSource::Kinetics {
                    root,
                    train_list,
                    val_list,
                    prepare,
                }
            };
            DataInfo {
                spec: DatasetSpec { name, source },
                train_videos: int("train_videos"),
                val_videos: int("val_videos"),
                synthetic: None,
                splits: Vec::new(),
                given_sizes: (None, None),
            }
        }
    }
}

/// `transcode(...)` of a `kinetics` or `frames` declaration (checked when collected: the lists are relative, a
/// frame-folder copy's rate is whole). Arguments left out take `vst data prepare`'s defaults; a frame-folder copy
/// is extracted at the rate the dataset reads it at.
fn transcode(call: &CallValue, dataset: &CallValue, read_fps: f64) -> TranscodeSpec {
    let source = path_of(call, "source");
    let int = |name: &str, default: u32| call.int(name).map_or(default, |v| v.max(0) as u32);
    use vst_spec::transcode_defaults as d;
    let default_fps = if dataset.name == "frames" {
        read_fps.round() as u32
    } else {
        d::FPS
    };
    TranscodeSpec {
        source_lists: ["train", "val"]
            .iter()
            .map(|list| path_of(dataset, list))
            .collect(),
        source,
        short_side: int("short_side", d::SHORT_SIDE),
        fps: int("fps", default_fps),
        keyframe_interval: int("keyframe_interval", d::KEYFRAME_INTERVAL),
        crf: int("crf", d::CRF),
        preset: call
            .get("preset")
            .and_then(Value::as_word)
            .unwrap_or(d::PRESET)
            .to_string(),
        jpeg_quality: int("jpeg_quality", d::JPEG_QUALITY),
    }
}

/// A downstream dataset in its official layout: every path under the root, sizes from the official splits
/// unless given.
fn downstream(decl: &DatasetDecl) -> DataInfo {
    let call = &decl.value;
    let root = path_of(call, "root");
    let at = |arg: &str| under(&root, path_of(call, arg));
    let splits: Vec<u32> = match call.get("split") {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(Value::as_i64)
            .map(|n| n.clamp(1, 3) as u32)
            .collect(),
        Some(one) => one
            .as_i64()
            .map(|n| n.clamp(1, 3) as u32)
            .into_iter()
            .collect(),
        None => Vec::new(),
    };
    let first = splits.first().copied().unwrap_or(1);
    let (source, official) = match call.name.as_str() {
        "ucf101" => (
            DataSource::Ucf101 {
                videos: at("videos"),
                lists: at("lists"),
                split: first,
                root: root.clone(),
            },
            UCF101_SIZES[(first - 1) as usize],
        ),
        "hmdb51" => (
            DataSource::Hmdb51 {
                videos: at("videos"),
                splits: at("splits"),
                split: first,
                root: root.clone(),
            },
            HMDB51_SIZES,
        ),
        "ssv2" => (
            DataSource::Ssv2 {
                videos: at("videos"),
                labels: at("labels"),
                train: at("train"),
                val: at("val"),
                root: root.clone(),
                frames_fps: call.float("frames_fps"),
            },
            SSV2_SIZES,
        ),
        _ => (
            DataSource::Charades {
                videos: at("videos"),
                train: at("train"),
                val: at("val"),
                root: root.clone(),
            },
            CHARADES_SIZES,
        ),
    };
    let given = |arg: &str| call.int(arg).map(|n| n.max(0) as u64);
    let given_sizes = (given("train_videos"), given("val_videos"));
    DataInfo {
        spec: DatasetSpec {
            name: decl.name.clone(),
            source,
        },
        train_videos: given_sizes.0.unwrap_or(official.0),
        val_videos: given_sizes.1.unwrap_or(official.1),
        synthetic: None,
        splits,
        given_sizes,
    }
}
