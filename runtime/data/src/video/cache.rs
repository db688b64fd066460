//! A decoded-frame cache in front of any backend. Small datasets (the synthetic one, or a subset of real data) are
//! read many times — every pre-training epoch, every probe epoch, every test view — and decoding the same H.264
//! frames again each time would cost more than the training itself; within a memory budget, each video is decoded
//! once, whole, and served from memory after that. Past the budget, videos are read through the backend as usual.

use super::{Frame, Pixels, VideoBackend, VideoInfo, VideoReader};
use crate::error::Result;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

struct CachedVideo {
    info: VideoInfo,
    frames: Vec<Frame>,
}

/// Wraps a backend with a cache of whole decoded videos, up to `budget_bytes` of frame data.
pub struct CachedBackend {
    inner: Box<dyn VideoBackend>,
    budget_bytes: usize,
    used: AtomicUsize,
    videos: Mutex<HashMap<PathBuf, Arc<CachedVideo>>>,
}

impl CachedBackend {
    pub fn new(inner: Box<dyn VideoBackend>, budget_bytes: usize) -> CachedBackend {
        CachedBackend {
            inner,
            budget_bytes,
            used: AtomicUsize::new(0),
            videos: Mutex::new(HashMap::new()),
        }
    }

    /// Bytes of frame data held.
    pub fn used_bytes(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn lookup(&self, path: &Path) -> Option<Arc<CachedVideo>> {
        self.videos
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            .cloned()
    }

    /// Reserves room for `bytes`; false when the budget cannot take them.
    fn reserve(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                (used + bytes <= self.budget_bytes).then_some(used + bytes)
            })
            .is_ok()
    }
}

fn frame_bytes(info: &VideoInfo) -> usize {
    // YUV 4:2:0 as decoders hand it out; RGB frames (JPEG folders) take twice that, counted when stored.
    info.width * info.height * 3 / 2
}

fn stored_bytes(frames: &[Frame]) -> usize {
    frames
        .iter()
        .map(|f| match &f.pixels {
            Pixels::Yuv420 { y, u, v } => y.len() + u.len() + v.len(),
            Pixels::Rgb8(rgb) => rgb.len(),
        })
        .sum()
}

impl VideoBackend for CachedBackend {
    fn open(&self, path: &Path) -> Result<Box<dyn VideoReader>> {
        if let Some(video) = self.lookup(path) {
            return Ok(Box::new(CachedReader { video }));
        }
        let mut reader = self.inner.open(path)?;
        let info = reader.info();
        let estimate = frame_bytes(&info) * info.frames;
        if info.frames == 0 || !self.reserve(estimate) {
            return Ok(reader);
        }
        let all: Vec<usize> = (0..info.frames).collect();
        match reader.read_frames(&all) {
            Ok(frames) => {
                // Settle the reservation on what the frames really take.
                let actual = stored_bytes(&frames);
                self.used.fetch_add(actual, Ordering::Relaxed);
                self.used.fetch_sub(estimate, Ordering::Relaxed);
                let video = Arc::new(CachedVideo { info, frames });
                self.videos
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(path.to_path_buf(), video.clone());
                Ok(Box::new(CachedReader { video }))
            }
            Err(_) => {
                // A video that cannot be decoded whole (truncated, say) is read the ordinary way, which reports
                // exactly which frames fail.
                self.used.fetch_sub(estimate, Ordering::Relaxed);
                self.inner.open(path)
            }
        }
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

/// Lets several loaders of one job share one cache.
impl VideoBackend for Arc<CachedBackend> {
    fn open(&self, path: &Path) -> Result<Box<dyn VideoReader>> {
        self.as_ref().open(path)
    }
    fn name(&self) -> &'static str {
        self.as_ref().name()
    }
}

struct CachedReader {
    video: Arc<CachedVideo>,
}

impl VideoReader for CachedReader {
    fn info(&self) -> VideoInfo {
        self.video.info
    }

    fn read_frames(&mut self, frames: &[usize]) -> Result<Vec<Frame>> {
        frames
            .iter()
            .map(|&i| {
                self.video.frames.get(i).cloned().ok_or_else(|| {
                    crate::error::DataError::Config(format!(
                        "frame {i} requested from a video of {} frames",
                        self.video.frames.len()
                    ))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A backend of synthetic grey frames that counts decoded frames.
    struct Counting {
        decoded: Arc<AtomicUsize>,
    }
    struct CountingReader {
        decoded: Arc<AtomicUsize>,
    }
    const INFO: VideoInfo = VideoInfo {
        frames: 10,
        fps: 10.0,
        width: 4,
        height: 2,
    };

    impl VideoBackend for Counting {
        fn open(&self, _: &Path) -> Result<Box<dyn VideoReader>> {
            Ok(Box::new(CountingReader {
                decoded: self.decoded.clone(),
            }))
        }
        fn name(&self) -> &'static str {
            "counting"
        }
    }
    impl VideoReader for CountingReader {
        fn info(&self) -> VideoInfo {
            INFO
        }
        fn read_frames(&mut self, frames: &[usize]) -> Result<Vec<Frame>> {
            self.decoded.fetch_add(frames.len(), Ordering::Relaxed);
            Ok(frames
                .iter()
                .map(|&i| Frame {
                    width: 4,
                    height: 2,
                    pixels: Pixels::Rgb8(vec![i as u8; 24]),
                })
                .collect())
        }
    }

    #[test]
    fn decodes_each_video_once_within_the_budget_and_serves_the_same_frames() {
        let decoded = Arc::new(AtomicUsize::new(0));
        // Room for one 10-frame video (4×2 RGB = 24 bytes a frame, estimated at 12 as YUV).
        let cache = CachedBackend::new(
            Box::new(Counting {
                decoded: decoded.clone(),
            }),
            240,
        );
        let first = cache
            .open(Path::new("a"))
            .unwrap()
            .read_frames(&[2, 5])
            .unwrap();
        assert_eq!(decoded.load(Ordering::Relaxed), 10);
        let again = cache
            .open(Path::new("a"))
            .unwrap()
            .read_frames(&[2, 5])
            .unwrap();
        assert_eq!(decoded.load(Ordering::Relaxed), 10, "served from memory");
        assert_eq!(first, again);
        assert_eq!(cache.used_bytes(), 240);
        // The budget is full: another video is read through the backend, frame by frame.
        cache
            .open(Path::new("b"))
            .unwrap()
            .read_frames(&[1])
            .unwrap();
        cache
            .open(Path::new("b"))
            .unwrap()
            .read_frames(&[1])
            .unwrap();
        assert_eq!(decoded.load(Ordering::Relaxed), 12);
    }
}
