//! The datasets a recipe declares (`data NAME = kinetics(...)`, `frames(...)`, `synthetic(...)`) as specs, with the
//! sizes the cost estimate and the checks need.

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
                spec: DatasetSpec {
                    name,
                    source: DataSource::Synthetic(spec),
                },
            }
        }
        kind => {
            let root = path_of(call, "root");
            let train_list = under(&root, path_of(call, "train"));
            let val_list = under(&root, path_of(call, "val"));
            let source = if kind == "frames" {
                DataSource::Frames {
                    root,
                    train_list,
                    val_list,
                    fps: call.float("fps").unwrap_or(30.0),
                }
            } else {
                DataSource::Kinetics {
                    root,
                    train_list,
                    val_list,
                }
            };
            DataInfo {
                spec: DatasetSpec { name, source },
                train_videos: int("train_videos"),
                val_videos: int("val_videos"),
                synthetic: None,
            }
        }
    }
}
