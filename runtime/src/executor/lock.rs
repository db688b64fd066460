//! One `vst run` per run directory: an exclusive advisory lock on `runs/.lock`, released by the OS when the
//! process ends however it ends (so a SIGKILLed run never leaves a stale lock behind).

use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = ".lock";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    pub recipe: String,
    /// The job being worked on, if any.
    pub job: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another `vst run` (pid {}, recipe {}) is working in {}; wait for it or use another --runs directory", .holder.pid, .holder.recipe, .dir.display())]
    Held { dir: PathBuf, holder: LockInfo },
    #[error("cannot lock {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

pub struct RunLock {
    file: File,
    info: LockInfo,
}

impl RunLock {
    pub fn acquire(root: &Path, recipe: &str) -> Result<RunLock, LockError> {
        let path = root.join(LOCK_FILE);
        let io_err = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(root).map_err(io_err)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = read_info(&path).unwrap_or_default();
                return Err(LockError::Held {
                    dir: root.to_path_buf(),
                    holder,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err(e)),
        }
        let mut lock = RunLock {
            file,
            info: LockInfo {
                pid: std::process::id(),
                recipe: recipe.to_string(),
                job: None,
            },
        };
        lock.write_info().map_err(io_err)?;
        Ok(lock)
    }

    /// Notes which job is being worked on, for `vst status` in another terminal.
    pub fn set_job(&mut self, job: Option<&str>) -> io::Result<()> {
        self.info.job = job.map(str::to_string);
        self.write_info()
    }

    fn write_info(&mut self) -> io::Result<()> {
        let bytes = serde_json::to_vec(&self.info).map_err(io::Error::other)?;
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(&bytes)?;
        self.file.flush()
    }
}

/// Who holds the lock on `root`, if anyone does right now.
pub fn holder(root: &Path) -> Option<LockInfo> {
    let path = root.join(LOCK_FILE);
    let file = OpenOptions::new().read(true).write(true).open(&path).ok()?;
    match file.try_lock() {
        Ok(()) => None, // nobody held it; dropping `file` releases our probe lock
        Err(_) => Some(read_info(&path).unwrap_or_default()),
    }
}

fn read_info(path: &Path) -> Option<LockInfo> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    serde_json::from_str(&s).ok()
}
