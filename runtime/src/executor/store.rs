//! The run directory: one folder per job, named by the job's content hash.
//!
//! ```text
//! runs/
//!   .lock                 held by the `vst run` working here (pid and current job inside)
//!   <job-id>/
//!     job.json            the job's resolved configuration, written when it starts
//!     metrics.jsonl       appended while it runs
//!     checkpoints/        whatever the job saves to resume
//!     failed.json         why the last attempt failed (removed when an attempt starts)
//!     done.json           the job's result; written last, atomically: its presence means "complete"
//! ```

use super::atomic::write_json_atomic;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use vst_spec::{Job, JobId};

pub const DONE_FILE: &str = "done.json";
pub const FAILED_FILE: &str = "failed.json";
pub const JOB_FILE: &str = "job.json";

/// The completion record of a job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DoneRecord {
    pub job: String,
    pub finished_at: u64,
    pub seconds: f64,
    /// Peak resident memory of the process while the job ran, in MiB (Linux; absent elsewhere and in records
    /// written before it was measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_mib: Option<f64>,
    /// What the job produced, as the job's runner reported it (metrics for evaluations, paths for reports, ...).
    pub result: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailedRecord {
    pub job: String,
    pub failed_at: u64,
    pub error: String,
}

#[derive(Debug, Clone)]
pub enum JobState {
    Done(DoneRecord),
    Failed(FailedRecord),
    /// Started and not finished: interrupted (or running, if another process holds the lock).
    Started,
    Pending,
}

impl JobState {
    pub fn label(&self) -> &'static str {
        match self {
            JobState::Done(_) => "done",
            JobState::Failed(_) => "failed",
            JobState::Started => "interrupted",
            JobState::Pending => "pending",
        }
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Debug, Clone)]
pub struct RunStore {
    root: PathBuf,
}

impl RunStore {
    /// A store rooted at `root`; nothing is created until a job starts.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn job_dir(&self, id: &JobId) -> PathBuf {
        self.root.join(&id.0)
    }

    pub fn state(&self, id: &JobId) -> JobState {
        let dir = self.job_dir(id);
        if let Some(done) = read_json::<DoneRecord>(&dir.join(DONE_FILE)) {
            return JobState::Done(done);
        }
        if let Some(failed) = read_json::<FailedRecord>(&dir.join(FAILED_FILE)) {
            return JobState::Failed(failed);
        }
        if dir.join(JOB_FILE).exists() {
            return JobState::Started;
        }
        JobState::Pending
    }

    /// Records that `job` starts (or restarts): its configuration, and no stale failure.
    pub fn begin(&self, job: &Job) -> io::Result<PathBuf> {
        let dir = self.job_dir(&job.id);
        fs::create_dir_all(&dir)?;
        write_json_atomic(&dir.join(JOB_FILE), job)?;
        match fs::remove_file(dir.join(FAILED_FILE)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        Ok(dir)
    }

    pub fn finish(
        &self,
        job: &Job,
        seconds: f64,
        peak_rss_mib: Option<f64>,
        result: Value,
    ) -> io::Result<DoneRecord> {
        let record = DoneRecord {
            job: job.name.clone(),
            finished_at: unix_now(),
            seconds,
            peak_rss_mib,
            result,
        };
        write_json_atomic(&self.job_dir(&job.id).join(DONE_FILE), &record)?;
        Ok(record)
    }

    pub fn fail(&self, job: &Job, error: &str) -> io::Result<()> {
        let record = FailedRecord {
            job: job.name.clone(),
            failed_at: unix_now(),
            error: error.to_string(),
        };
        write_json_atomic(&self.job_dir(&job.id).join(FAILED_FILE), &record)
    }
}

/// Reads a JSON file; a missing or unreadable file counts as absent (a half-written one cannot exist: every
/// record is written atomically).
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}
