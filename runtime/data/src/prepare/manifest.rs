//! `prepare.json`: how a prepared copy was made (settings, tool versions, counts, failures). It lies at the root of
//! the copy, so whoever opens the copy as a dataset (the recipe's prepare job, its fingerprint and report) can name
//! the preparation.

use super::settings::PrepareSettings;
use crate::error::{DataError, Result};
use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const MANIFEST_FILE: &str = "prepare.json";
/// One failed video per line: its path as listed, a tab, why.
pub const FAILURES_FILE: &str = "prepare-failures.tsv";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The video's path as the source list names it.
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `vst data prepare` and the vst-data version that ran it.
    pub tool: String,
    /// The first line of `ffmpeg -version`.
    pub ffmpeg: String,
    pub settings: PrepareSettings,
    /// Where the source copy was (for the record; the copy does not depend on it).
    pub source_root: String,
    /// The source lists, as given; the copy has lists of the same names.
    pub lists: Vec<String>,
    /// False while a preparation is under way or after one was interrupted.
    pub complete: bool,
    /// Distinct videos the lists name.
    pub listed: usize,
    /// Videos the copy holds.
    pub prepared: usize,
    pub failures: Vec<Failure>,
}

impl Manifest {
    /// The manifest in `dir`, if there is one.
    pub fn read(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(DataError::io(&path, e)),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            DataError::Config(format!("{}: not a prepare manifest: {e}", path.display()))
        })
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| DataError::Config(format!("cannot serialise the manifest: {e}")))?;
        write_atomic(&dir.join(MANIFEST_FILE), json.as_bytes())
    }

    /// One line for reports: how the copy was made and how complete it is.
    pub fn describe(&self) -> String {
        let state = if self.complete { "" } else { ", unfinished" };
        format!(
            "prepared by {} with {}: {}; {} of {} listed videos, {} failed{state}",
            self.tool,
            self.ffmpeg,
            self.settings.describe(),
            self.prepared,
            self.listed,
            self.failures.len()
        )
    }
}

/// Writes the failures file (header line, then one failure per line; tabs and newlines in reasons flattened).
pub fn write_failures(dir: &Path, failures: &[Failure]) -> Result<()> {
    let flat = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut text = String::from("path\treason\n");
    for f in failures {
        text.push_str(&flat(&f.path));
        text.push('\t');
        text.push_str(&flat(&f.reason));
        text.push('\n');
    }
    write_atomic(&dir.join(FAILURES_FILE), text.as_bytes())
}
