//! UCF101's official split files (`ucfTrainTestlist/`): `classInd.txt` numbers the classes from 1
//! (`1 ApplyEyeMakeup`), `trainlist0N.txt` lists `Class/v_Class_gGG_cCC.avi LABEL` (the 1-based class number), and
//! `testlist0N.txt` lists the paths alone, their class given by the folder. Paths are relative to the videos' root
//! (`UCF-101/`). Labels here are 0-based.

use super::{Split, lines};
use crate::error::{DataError, Result};
use crate::list::VideoEntry;
use std::path::Path;

/// The class names of `classInd.txt`, in order: line k must number class k (from 1).
pub fn parse_class_index(text: &str, source: &Path) -> Result<Vec<String>> {
    let mut classes = Vec::new();
    for (line, content) in lines(text) {
        let err = |message: String| DataError::List {
            path: source.to_path_buf(),
            line,
            message,
        };
        let (number, name) = content
            .split_once(char::is_whitespace)
            .ok_or_else(|| err(format!("expected `NUMBER ClassName`, found `{content}`")))?;
        let number: usize = number.parse().map_err(|_| {
            err(format!(
                "the class number `{number}` is not a positive integer"
            ))
        })?;
        if number != classes.len() + 1 {
            return Err(err(format!(
                "class number {number} out of order: expected {}",
                classes.len() + 1
            )));
        }
        classes.push(name.trim().to_string());
    }
    if classes.is_empty() {
        return Err(DataError::List {
            path: source.to_path_buf(),
            line: 1,
            message: "no classes".into(),
        });
    }
    Ok(classes)
}

/// A train or test list: `Class/file.avi [LABEL]` per line. The class is the folder's name (it must be in
/// `classes`); a label, where given, must be that class's number.
pub fn parse_list(
    text: &str,
    source: &Path,
    classes: &[String],
    root: &Path,
) -> Result<Vec<VideoEntry>> {
    let mut entries = Vec::new();
    for (line, content) in lines(text) {
        let err = |message: String| DataError::List {
            path: source.to_path_buf(),
            line,
            message,
        };
        let mut fields = content.split_whitespace();
        let path = fields.next().unwrap_or_default();
        let given = fields.next();
        if let Some(extra) = fields.next() {
            return Err(err(format!("unexpected `{extra}` after the label")));
        }
        let folder = path
            .split_once('/')
            .map(|(folder, _)| folder)
            .ok_or_else(|| err(format!("`{path}` has no class folder (`Class/file.avi`)")))?;
        let label = classes
            .iter()
            .position(|c| c == folder)
            .ok_or_else(|| err(format!("class `{folder}` is not in classInd.txt")))?;
        if let Some(given) = given {
            let number: usize = given
                .parse()
                .map_err(|_| err(format!("the label `{given}` is not a positive integer")))?;
            if number != label + 1 {
                return Err(err(format!(
                    "label {number} is not the number of class `{folder}` ({})",
                    label + 1
                )));
            }
        }
        entries.push(VideoEntry {
            path: root.join(path),
            label: label as u32,
        });
    }
    Ok(entries)
}

/// Split `split` (1, 2 or 3) from the files in `lists` (the `ucfTrainTestlist` folder), videos under `videos`.
pub fn read_split(lists: &Path, videos: &Path, split: u32) -> Result<Split> {
    if !(1..=3).contains(&split) {
        return Err(DataError::Config(format!(
            "UCF101 has splits 1, 2 and 3, not {split}"
        )));
    }
    let read = |name: String| -> Result<(std::path::PathBuf, String)> {
        let path = lists.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
        Ok((path, text))
    };
    let (path, text) = read("classInd.txt".into())?;
    let classes = parse_class_index(&text, &path)?;
    let (path, text) = read(format!("trainlist0{split}.txt"))?;
    let train = parse_list(&text, &path, &classes, videos)?;
    let (path, text) = read(format!("testlist0{split}.txt"))?;
    let test = parse_list(&text, &path, &classes, videos)?;
    Ok(Split {
        classes,
        train,
        test,
    })
}
