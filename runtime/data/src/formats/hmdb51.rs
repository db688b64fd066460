//! HMDB51's official splits (`testTrainMulti_7030_splits/`): one file per class and split,
//! `<class>_test_split<N>.txt`, each line `<video>.avi <id>` with id 1 for a training video, 2 for a test video and
//! 0 for a video the split does not use. Videos are `<root>/<class>/<video>.avi`. Classes are numbered in the
//! alphabetical order of their names (0-based).

use super::{Split, lines};
use crate::error::{DataError, Result};
use crate::list::VideoEntry;
use std::path::Path;

/// Where a video goes in a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Train,
    Test,
    Unused,
}

/// One class's split file: `(video file name, use)` per line.
pub fn parse_split_file(text: &str, source: &Path) -> Result<Vec<(String, Use)>> {
    let mut out = Vec::new();
    for (line, content) in lines(text) {
        let err = |message: String| DataError::List {
            path: source.to_path_buf(),
            line,
            message,
        };
        let (video, id) = content
            .rsplit_once(char::is_whitespace)
            .ok_or_else(|| err(format!("expected `video.avi ID`, found `{content}`")))?;
        let usage = match id {
            "1" => Use::Train,
            "2" => Use::Test,
            "0" => Use::Unused,
            other => {
                return Err(err(format!(
                    "the id `{other}` is not 1 (train), 2 (test) or 0 (unused)"
                )));
            }
        };
        out.push((video.trim().to_string(), usage));
    }
    Ok(out)
}

/// Split `split` (1, 2 or 3) from the files in `splits`, videos under `videos`.
pub fn read_split(splits: &Path, videos: &Path, split: u32) -> Result<Split> {
    if !(1..=3).contains(&split) {
        return Err(DataError::Config(format!(
            "HMDB51 has splits 1, 2 and 3, not {split}"
        )));
    }
    let suffix = format!("_test_split{split}.txt");
    let mut files: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(splits)
        .map_err(|e| DataError::io(splits, e))?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_suffix(&suffix)
                .map(|class| (class.to_string(), entry.path()))
        })
        .collect();
    if files.is_empty() {
        return Err(DataError::Config(format!(
            "{}: no `<class>{suffix}` files (the testTrainMulti_7030_splits folder?)",
            splits.display()
        )));
    }
    files.sort();
    let mut result = Split {
        classes: Vec::with_capacity(files.len()),
        train: Vec::new(),
        test: Vec::new(),
    };
    for (label, (class, path)) in files.into_iter().enumerate() {
        let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
        for (video, usage) in parse_split_file(&text, &path)? {
            let entry = VideoEntry {
                path: videos.join(&class).join(&video),
                label: label as u32,
            };
            match usage {
                Use::Train => result.train.push(entry),
                Use::Test => result.test.push(entry),
                Use::Unused => {}
            }
        }
        result.classes.push(class);
    }
    Ok(result)
}
