//! Something-Something v2's annotations: `labels.json` maps each template (`"Approaching something with your
//! camera"`) to its class number as a string (`"0"`); `train.json` and `validation.json` list the videos,
//! `{"id": "78687", "label": "...", "template": "Holding [something] next to [something]", "placeholders": [...]}`,
//! whose class is their template with the brackets removed. Videos are `<root>/<id>.webm`.
//!
//! Its labels name directions (`Pushing something from left to right`), so a horizontal flip changes the class:
//! [`FLIP_PRESERVES_LABELS`] records it for whatever trains on the data.

use crate::error::{DataError, Result};
use crate::list::VideoEntry;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// Whether flipping a video horizontally keeps its label: not for Something-Something.
pub const FLIP_PRESERVES_LABELS: bool = false;

fn annotation_err(source: &Path, message: String) -> DataError {
    DataError::Annotation {
        path: source.to_path_buf(),
        message,
    }
}

/// `labels.json`: template → class number.
pub fn parse_labels(text: &str, source: &Path) -> Result<HashMap<String, u32>> {
    let raw: HashMap<String, String> = serde_json::from_str(text).map_err(|e| DataError::List {
        path: source.to_path_buf(),
        line: e.line(),
        message: format!("expected {{\"template\": \"number\", ...}}: {e}"),
    })?;
    let mut labels = HashMap::with_capacity(raw.len());
    for (template, number) in raw {
        let n: u32 = number.parse().map_err(|_| {
            annotation_err(
                source,
                format!("the class of `{template}` is `{number}`, not a number"),
            )
        })?;
        labels.insert(template, n);
    }
    Ok(labels)
}

#[derive(Deserialize)]
struct Video {
    id: String,
    template: Option<String>,
}

/// How a copy holds its videos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `<root>/<id>.webm`, as distributed.
    Webm,
    /// `<root>/<id>/` frame folders.
    FrameFolders,
}

/// `train.json` or `validation.json`: the videos with their class (from `labels`).
pub fn parse_videos(
    text: &str,
    source: &Path,
    labels: &HashMap<String, u32>,
    root: &Path,
    layout: Layout,
) -> Result<Vec<VideoEntry>> {
    let videos: Vec<Video> = serde_json::from_str(text).map_err(|e| DataError::List {
        path: source.to_path_buf(),
        line: e.line(),
        message: format!("expected a list of {{\"id\", \"template\", ...}}: {e}"),
    })?;
    videos
        .into_iter()
        .enumerate()
        .map(|(i, video)| {
            let template = video.template.ok_or_else(|| {
                annotation_err(
                    source,
                    format!(
                        "video {} (entry {}) has no template: the test set's file has no labels",
                        video.id,
                        i + 1
                    ),
                )
            })?;
            let class = template.replace(['[', ']'], "");
            let label = *labels.get(&class).ok_or_else(|| {
                annotation_err(
                    source,
                    format!(
                        "video {} (entry {}): the template `{class}` is not in the label file",
                        video.id,
                        i + 1
                    ),
                )
            })?;
            let path = match layout {
                Layout::Webm => root.join(format!("{}.webm", video.id)),
                Layout::FrameFolders => root.join(&video.id),
            };
            Ok(VideoEntry { path, label })
        })
        .collect()
}

/// The training and validation videos of a copy: `labels.json`, `train.json` and `validation.json` (paths as
/// given), videos `<videos>/<id>.webm`.
pub fn read(
    videos: &Path,
    labels: &Path,
    train: &Path,
    val: &Path,
    layout: Layout,
) -> Result<(Vec<VideoEntry>, Vec<VideoEntry>)> {
    let text = |path: &Path| std::fs::read_to_string(path).map_err(|e| DataError::io(path, e));
    let map = parse_labels(&text(labels)?, labels)?;
    Ok((
        parse_videos(&text(train)?, train, &map, videos, layout)?,
        parse_videos(&text(val)?, val, &map, videos, layout)?,
    ))
}
