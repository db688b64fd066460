//! `runs/<job>/slurm.json`: the SLURM job that last ran (or will run) a vst job, so that submitting again knows
//! what is already queued or running. Written atomically, like every record in a run folder.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vst_runtime::executor::write_json_atomic;

pub const RECORD_FILE: &str = "slurm.json";
pub const SCRIPT_FILE: &str = "slurm.sh";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Submission {
    /// SLURM's job id.
    pub slurm_job: String,
    pub submitted_at: u64,
    /// The SLURM jobs it waits for (`afterok`).
    pub after: Vec<String>,
    /// Earlier SLURM jobs of this vst job (failed, cancelled), oldest first.
    #[serde(default)]
    pub earlier: Vec<String>,
}

impl Submission {
    /// SLURM's log of this submission (the script's `--output`).
    pub fn log(&self, folder: &Path) -> PathBuf {
        folder.join(format!("slurm-{}.out", self.slurm_job))
    }
}

pub fn read(folder: &Path) -> Option<Submission> {
    let bytes = std::fs::read(folder.join(RECORD_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn write(folder: &Path, submission: &Submission) -> std::io::Result<()> {
    write_json_atomic(&folder.join(RECORD_FILE), submission)
}
