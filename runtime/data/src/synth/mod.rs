//! The built-in synthetic dataset: deterministic labelled H.264 mp4 videos plus Kinetics-style `train.csv` /
//! `val.csv` lists, read back through the same decoder as real data. See [`scene`] for what a video shows and why.

pub mod encode;
pub mod scene;
pub mod shapes;

use crate::error::{DataError, Result};
use crate::fsutil::write_atomic;
use crate::list::format_list;
use crate::rng::{Stream, rng_for};
use crate::video::frame::rgb8_to_yuv420;
use encode::{EncodeSettings, H264Mp4Encoder};
use scene::VideoScript;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use vst_spec::SynthSpec;

/// Bumped whenever the generator's output for the same spec changes (a stale dataset is then regenerated).
pub const GENERATOR_VERSION: u32 = 2;

/// The manifest written last into the dataset directory: its presence marks a complete dataset.
pub const MANIFEST: &str = "synth.json";

/// A reasonable small dataset: 10 classes, 8 s videos at 8 fps, 128×96.
pub fn default_spec() -> SynthSpec {
    SynthSpec {
        classes: 10,
        train_per_class: 24,
        val_per_class: 8,
        frames: 64,
        fps: 8.0,
        width: 128,
        height: 96,
        nuisance: 0.8,
        distractors: 2,
        seed: 0,
    }
}

/// Encoder settings of the dataset (fixed by [`GENERATOR_VERSION`], not part of the recipe).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SynthEncoding {
    pub qp: u8,
    pub keyframe_interval: u32,
}

impl Default for SynthEncoding {
    fn default() -> Self {
        SynthEncoding {
            qp: 24,
            keyframe_interval: 16,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Manifest {
    generator_version: u32,
    spec: SynthSpec,
    encoding: SynthEncoding,
    train_videos: usize,
    val_videos: usize,
}

/// Where a generated dataset's lists are.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthDataset {
    pub root: PathBuf,
    pub train_list: PathBuf,
    pub val_list: PathBuf,
    /// False when a complete dataset for the same spec was already there.
    pub generated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Val,
}

impl Split {
    fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
        }
    }
}

pub fn validate(spec: &SynthSpec) -> Result<()> {
    let bad = |m: String| Err(DataError::Config(format!("synthetic dataset: {m}")));
    if spec.classes == 0 || spec.classes > shapes::MAX_CLASSES {
        return bad(format!(
            "classes = {} (must be 1..={})",
            spec.classes,
            shapes::MAX_CLASSES
        ));
    }
    if spec.train_per_class == 0 {
        return bad("train_per_class must be at least 1".into());
    }
    if spec.frames == 0 {
        return bad("frames must be at least 1".into());
    }
    if !spec.width.is_multiple_of(2)
        || !spec.height.is_multiple_of(2)
        || spec.width < 16
        || spec.height < 16
        || spec.width > 1920
        || spec.height > 1080
    {
        return bad(format!(
            "size {}x{} (both sides even, 16..=1920 by 16..=1080)",
            spec.width, spec.height
        ));
    }
    if !(spec.fps > 0.0 && spec.fps <= 240.0) {
        return bad(format!("fps = {} (must be in (0, 240])", spec.fps));
    }
    if !(0.0..=1.0).contains(&spec.nuisance) {
        return bad(format!("nuisance = {} (must be in [0, 1])", spec.nuisance));
    }
    Ok(())
}

/// The script of video `index` (within its split, class-major) of class `class`.
pub fn script(spec: &SynthSpec, split: Split, class: u32, index: u32) -> VideoScript {
    let per_class = match split {
        Split::Train => spec.train_per_class,
        Split::Val => spec.val_per_class,
    };
    let id = class as u64 * per_class as u64 + index as u64;
    let mut rng = rng_for(spec.seed, Stream::Synthetic, split as u64, id);
    VideoScript::draw(
        &mut rng,
        class,
        spec.width as usize,
        spec.height as usize,
        spec.frames as usize,
        spec.nuisance,
        spec.distractors,
    )
}

/// The exact YUV 4:2:0 planes the encoder receives for frame `frame` of a script (what a perfect decoder would
/// return).
pub fn frame_yuv(
    script: &VideoScript,
    spec: &SynthSpec,
    frame: usize,
) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (w, h) = (spec.width as usize, spec.height as usize);
    let mut rgb = vec![0u8; w * h * 3];
    script.render(frame, &mut rgb);
    rgb8_to_yuv420(&rgb, w, h)
}

/// Encodes one video to mp4 bytes.
pub fn encode_video(
    script: &VideoScript,
    spec: &SynthSpec,
    encoding: SynthEncoding,
) -> Result<Vec<u8>> {
    let mut encoder = H264Mp4Encoder::new(
        spec.width as usize,
        spec.height as usize,
        EncodeSettings {
            fps: spec.fps,
            qp: encoding.qp,
            keyframe_interval: encoding.keyframe_interval,
        },
    )?;
    for f in 0..spec.frames as usize {
        let (y, u, v) = frame_yuv(script, spec, f);
        encoder.push(&y, &u, &v)?;
    }
    encoder.finish()
}

fn relative_path(split: Split, class: u32, index: u32) -> String {
    format!("{}/c{class:02}_{index:04}.mp4", split.name())
}

/// Generates the dataset under `dir` (unless a complete one for the same spec is there), with `threads` workers.
/// Lists go to `dir/train.csv` and `dir/val.csv`, paths relative to `dir`; the manifest is written last.
pub fn generate(spec: &SynthSpec, dir: &Path, threads: usize) -> Result<SynthDataset> {
    generate_with(spec, dir, threads, SynthEncoding::default())
}

/// The data pipeline benchmark's video set (`benches/pipeline.rs`, and the GPU check's augmentation timing):
/// `videos` synthetic 320×240 videos of 300 frames at 30 fps, one per class, with nuisances and two distractors.
pub fn benchmark_spec(videos: u32) -> SynthSpec {
    SynthSpec {
        classes: videos,
        train_per_class: 1,
        val_per_class: 0,
        frames: 300,
        fps: 30.0,
        width: 320,
        height: 240,
        nuisance: 0.8,
        distractors: 2,
        seed: 2024,
    }
}

pub fn generate_with(
    spec: &SynthSpec,
    dir: &Path,
    threads: usize,
    encoding: SynthEncoding,
) -> Result<SynthDataset> {
    validate(spec)?;
    let manifest = Manifest {
        generator_version: GENERATOR_VERSION,
        spec: spec.clone(),
        encoding,
        train_videos: (spec.classes * spec.train_per_class) as usize,
        val_videos: (spec.classes * spec.val_per_class) as usize,
    };
    let out = SynthDataset {
        root: dir.to_path_buf(),
        train_list: dir.join("train.csv"),
        val_list: dir.join("val.csv"),
        generated: true,
    };
    let manifest_path = dir.join(MANIFEST);
    if let Ok(text) = std::fs::read_to_string(&manifest_path)
        && serde_json::from_str::<Manifest>(&text).is_ok_and(|m| m == manifest)
    {
        return Ok(SynthDataset {
            generated: false,
            ..out
        });
    }
    // Anything there is stale or incomplete: the manifest goes first so a crash mid-way is never taken as done.
    if manifest_path.exists() {
        std::fs::remove_file(&manifest_path).map_err(|e| DataError::io(&manifest_path, e))?;
    }

    let mut jobs = Vec::new();
    for split in [Split::Train, Split::Val] {
        let per_class = if split == Split::Train {
            spec.train_per_class
        } else {
            spec.val_per_class
        };
        for class in 0..spec.classes {
            for index in 0..per_class {
                jobs.push((split, class, index));
            }
        }
    }
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<DataError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= jobs.len() || failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                        return;
                    }
                    let (split, class, index) = jobs[i];
                    let result = encode_video(&script(spec, split, class, index), spec, encoding)
                        .and_then(|bytes| {
                            write_atomic(&dir.join(relative_path(split, class, index)), &bytes)
                        });
                    if let Err(e) = result
                        && let Ok(mut f) = failure.lock()
                    {
                        f.get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    for (split, list) in [(Split::Train, &out.train_list), (Split::Val, &out.val_list)] {
        let entries: Vec<(String, u32)> = jobs
            .iter()
            .filter(|j| j.0 == split)
            .map(|&(s, class, index)| (relative_path(s, class, index), class))
            .collect();
        write_atomic(list, format_list(&entries).as_bytes())?;
    }
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| DataError::Write {
        path: manifest_path.clone(),
        message: e.to_string(),
    })?;
    write_atomic(&manifest_path, text.as_bytes())?;
    Ok(out)
}
