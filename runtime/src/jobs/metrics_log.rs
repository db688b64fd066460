//! `metrics.jsonl`: one JSON object per line, appended as a job runs. A resumed job first drops the records of
//! the steps it will redo, so the file of an interrupted-then-resumed run reads like that of an uninterrupted one.

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct MetricsLog {
    path: PathBuf,
    out: BufWriter<File>,
}

impl MetricsLog {
    /// Opens `path` for appending, keeping only the records whose `step` (or, for epoch records, whose `epoch`
    /// end) lies before `resume_step`.
    pub fn open(path: &Path, resume_step: u64, steps_per_epoch: u64) -> Result<MetricsLog> {
        let existing = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        // Kept lines stay byte for byte as written; a torn last line (the process died mid-write) is dropped.
        let kept: Vec<&str> = existing
            .lines()
            .filter(|line| {
                let Ok(r) = serde_json::from_str::<Value>(line) else {
                    return false;
                };
                match (r.get("step"), r.get("epoch_end")) {
                    (Some(step), _) => step.as_u64().is_some_and(|s| s < resume_step),
                    (None, Some(epoch)) => epoch
                        .as_u64()
                        .is_some_and(|e| (e + 1) * steps_per_epoch <= resume_step),
                    _ => true,
                }
            })
            .collect();
        let mut text = kept.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        crate::executor::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot rewrite {}", path.display()))?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(MetricsLog {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&mut self, record: &impl Serialize) -> Result<()> {
        let line = serde_json::to_string(record)?;
        writeln!(self.out, "{line}")
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Flushes buffered records to the OS (at every checkpoint, so the log is never behind the checkpoint).
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.out
            .get_ref()
            .sync_data()
            .with_context(|| format!("cannot sync {}", self.path.display()))
    }
}

/// Every record of a metrics file (none if it does not exist). A torn last line — the process died mid-write —
/// is dropped.
pub fn read_records(path: &Path) -> Result<Vec<Value>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// Appends one record to a JSON-lines file, creating it: for logs that are never rewritten.
pub fn append_record(path: &Path, record: &impl Serialize) -> Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let line = serde_json::to_string(record)?;
    writeln!(file, "{line}").with_context(|| format!("cannot write {}", path.display()))
}
