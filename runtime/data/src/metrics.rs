//! What the data pipeline tells the run's metrics: videos skipped (and why), samples replaced because of them,
//! videos too short for a clip (looped). Shared by all loader threads.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct DataMetrics {
    inner: Mutex<Counts>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Counts {
    /// Videos that could not be read, with the first error each gave.
    pub skipped: BTreeMap<PathBuf, String>,
    /// Samples whose video was replaced by another because it could not be read.
    pub replaced_samples: u64,
    /// Distinct videos shorter than one clip (their frames were looped).
    pub looped_videos: BTreeMap<PathBuf, u64>,
    /// Samples produced.
    pub samples: u64,
}

impl DataMetrics {
    pub fn new() -> DataMetrics {
        DataMetrics::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Counts) -> R) -> R {
        // A poisoned lock only means another thread panicked while counting; the counts are still usable.
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Records a video that failed; warns the first time a path fails.
    pub fn skipped(&self, path: &Path, reason: &str) {
        let first = self.with(|c| {
            if c.skipped.contains_key(path) {
                false
            } else {
                c.skipped.insert(path.to_path_buf(), reason.to_string());
                true
            }
        });
        if first {
            tracing::warn!("skipping video {}: {reason}", path.display());
        }
    }

    pub fn replaced(&self) {
        self.with(|c| c.replaced_samples += 1);
    }

    pub fn looped(&self, path: &Path) {
        self.with(|c| *c.looped_videos.entry(path.to_path_buf()).or_insert(0) += 1);
    }

    pub fn produced(&self) {
        self.with(|c| c.samples += 1);
    }

    pub fn snapshot(&self) -> Counts {
        self.with(|c| c.clone())
    }
}
