//! Charades' annotations (`Charades_v1_train.csv`, `Charades_v1_test.csv`): a CSV with a header row
//! (`id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length`), free-text fields in
//! double quotes (commas, `""` for a quote and line breaks inside them), and each video's actions as
//! `c092 11.90 21.20;c147 0.00 12.60` (class, start and end in seconds; empty for a video without actions). A video
//! has every class among its actions (multi-label; 157 classes `c000`–`c156`). Videos are `<root>/<id>.mp4`.

use crate::error::{DataError, Result};
use std::path::{Path, PathBuf};

/// Charades' action classes: `c000` … `c156`.
pub const CLASSES: u32 = 157;

/// One action of a video.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Action {
    /// `cNNN` → NNN.
    pub class: u32,
    pub start: f64,
    pub end: f64,
}

/// One video with its actions.
#[derive(Debug, Clone, PartialEq)]
pub struct CharadesVideo {
    pub id: String,
    pub path: PathBuf,
    pub actions: Vec<Action>,
    /// Length in seconds.
    pub length: f64,
}

impl CharadesVideo {
    /// The video's classes (each once, ascending).
    pub fn classes(&self) -> Vec<u32> {
        let mut classes: Vec<u32> = self.actions.iter().map(|a| a.class).collect();
        classes.sort_unstable();
        classes.dedup();
        classes
    }
}

/// The records of CSV text (RFC 4180: quoted fields may hold commas, line breaks and `""`), each with the line it
/// starts on.
fn records(text: &str, source: &Path) -> Result<Vec<(usize, Vec<String>)>> {
    let mut out = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut line, mut start_line) = (1usize, 1usize);
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                if record.iter().any(|f| !f.is_empty()) {
                    out.push((start_line, std::mem::take(&mut record)));
                }
                record.clear();
                line += 1;
                start_line = line;
            }
            (_, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
        }
    }
    if quoted {
        return Err(DataError::List {
            path: source.to_path_buf(),
            line: start_line,
            message: "a quoted field is not closed".into(),
        });
    }
    record.push(field);
    if record.iter().any(|f| !f.is_empty()) {
        out.push((start_line, record));
    }
    Ok(out)
}

/// The actions field: `cNNN start end` separated by `;`.
fn parse_actions(field: &str) -> std::result::Result<Vec<Action>, String> {
    field
        .split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|action| {
            let parts: Vec<&str> = action.split_whitespace().collect();
            let [class, start, end] = parts[..] else {
                return Err(format!("the action `{action}` is not `cNNN START END`"));
            };
            let class = class
                .strip_prefix('c')
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|&n| n < CLASSES)
                .ok_or_else(|| format!("the class `{class}` is not one of c000 … c156"))?;
            let seconds = |s: &str| {
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| format!("the time `{s}` in `{action}` is not a number"))
            };
            Ok(Action {
                class,
                start: seconds(start)?,
                end: seconds(end)?,
            })
        })
        .collect()
}

/// A Charades CSV: every video with its actions; videos under `root`.
pub fn parse_csv(text: &str, source: &Path, root: &Path) -> Result<Vec<CharadesVideo>> {
    let mut rows = records(text, source)?.into_iter();
    let Some((_, header)) = rows.next() else {
        return Err(DataError::List {
            path: source.to_path_buf(),
            line: 1,
            message: "empty file: expected a header row".into(),
        });
    };
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| DataError::List {
                path: source.to_path_buf(),
                line: 1,
                message: format!("the header has no `{name}` column"),
            })
    };
    let (id, actions, length) = (column("id")?, column("actions")?, column("length")?);
    let mut videos = Vec::new();
    for (line, row) in rows {
        let err = |message: String| DataError::List {
            path: source.to_path_buf(),
            line,
            message,
        };
        if row.len() != header.len() {
            return Err(err(format!(
                "{} fields, the header has {}",
                row.len(),
                header.len()
            )));
        }
        let video_id = row[id].trim().to_string();
        if video_id.is_empty() {
            return Err(err("empty video id".into()));
        }
        let length: f64 = row[length]
            .trim()
            .parse()
            .map_err(|_| err(format!("the length `{}` is not a number", row[length])))?;
        videos.push(CharadesVideo {
            path: root.join(format!("{video_id}.mp4")),
            id: video_id,
            actions: parse_actions(&row[actions]).map_err(err)?,
            length,
        });
    }
    Ok(videos)
}

/// A Charades CSV file, videos under `root`.
pub fn read_csv(path: &Path, root: &Path) -> Result<Vec<CharadesVideo>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    parse_csv(&text, path, root)
}
