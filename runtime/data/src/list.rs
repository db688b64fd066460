//! Kinetics-style video lists as PySlowFast writes them: one `path label` per line, separated by a space or a
//! comma, paths relative to a root directory. Blank lines and lines starting with `#` are ignored.

use crate::error::{DataError, Result};
use std::path::{Path, PathBuf};

/// One labelled video (a container file, or a folder of frames).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoEntry {
    pub path: PathBuf,
    pub label: u32,
}

/// Reads a list file; relative paths are joined to `root`.
pub fn read_list(list: &Path, root: &Path) -> Result<Vec<VideoEntry>> {
    let text = std::fs::read_to_string(list).map_err(|e| DataError::io(list, e))?;
    parse_list(&text, list, root)
}

/// Parses list text; `source` names the list in error messages.
pub fn parse_list(text: &str, source: &Path, root: &Path) -> Result<Vec<VideoEntry>> {
    let mut entries = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |message: String| DataError::List {
            path: source.to_path_buf(),
            line: number + 1,
            message,
        };
        // The label is the last field; splitting at the last separator keeps paths with spaces intact.
        let split = line.rfind([' ', '\t', ',']).ok_or_else(|| {
            error(format!(
                "expected `path label` (space or comma separated), found `{line}`"
            ))
        })?;
        let (path, label) = (
            line[..split].trim_end_matches([' ', '\t', ',']).trim(),
            line[split + 1..].trim(),
        );
        if path.is_empty() {
            return Err(error(format!("missing path before the label in `{line}`")));
        }
        let label: u32 = label
            .parse()
            .map_err(|_| error(format!("the label `{label}` is not a non-negative integer")))?;
        let path = Path::new(path);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            root.join(path)
        };
        entries.push(VideoEntry { path, label });
    }
    Ok(entries)
}

/// Writes a list in the space-separated form, paths relative to the list's root as given.
pub fn format_list(entries: &[(String, u32)]) -> String {
    let mut out = String::new();
    for (path, label) in entries {
        out.push_str(path);
        out.push(' ');
        out.push_str(&label.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_comma_tab_and_comments() {
        let text = "# header\na/b.mp4 3\nc.mp4,12\n\n/abs/d e.mp4\t0\n";
        let list = parse_list(text, Path::new("train.csv"), Path::new("/root")).unwrap();
        assert_eq!(
            list,
            vec![
                VideoEntry {
                    path: "/root/a/b.mp4".into(),
                    label: 3
                },
                VideoEntry {
                    path: "/root/c.mp4".into(),
                    label: 12
                },
                VideoEntry {
                    path: "/abs/d e.mp4".into(),
                    label: 0
                },
            ]
        );
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let err =
            parse_list("a.mp4 1\nb.mp4 cat\n", Path::new("val.csv"), Path::new(".")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "val.csv:2: the label `cat` is not a non-negative integer"
        );
        let err = parse_list("lonely\n", Path::new("val.csv"), Path::new(".")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("val.csv:1: expected `path label`"),
            "{err}"
        );
        let err = parse_list(" ,4\n", Path::new("l"), Path::new(".")).unwrap_err();
        assert!(err.to_string().contains("missing path"), "{err}");
    }
}
