//! `vst bench loader`: how many clips per second one CPU core feeds from a dataset, for each decode path this build
//! has (OpenH264, FFmpeg when compiled in, JPEG folders for frame datasets), both decoding alone and decoding plus
//! the paper's T/S/C augmentation — and so how many cores one GPU needs at a given training rate. Everything runs on
//! the calling thread (one core); the loader's workers scale it over cores (BENCHMARKS.md gives both).

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::time::Instant;
use vst_data::list::{VideoEntry, read_list};
use vst_data::pipeline::{ClipShape, SampleMode, TARGET_FPS, make_sample};
use vst_data::video::jpeg_folder::JpegFolderBackend;
use vst_data::video::{DecoderKind, VideoBackend};
use vst_spec::{ClipSpec, Timespan};

#[derive(clap::Args)]
pub struct LoaderArgs {
    /// A dataset list (`path label` lines), e.g. a copy made by `vst data prepare`.
    #[arg(long)]
    list: PathBuf,
    /// Root the list's paths are relative to (default: the list's folder).
    #[arg(long)]
    root: Option<PathBuf>,
    /// The list names JPEG frame folders extracted at this frame rate.
    #[arg(long)]
    frames_fps: Option<f64>,
    /// Videos per measurement (the list's first ones, repeated when it is shorter).
    #[arg(long, default_value_t = 24)]
    videos: usize,
    /// ρ: clips per video.
    #[arg(long, default_value_t = 2)]
    clips: u32,
    /// Frames per clip (T).
    #[arg(long, default_value_t = 8)]
    frames: u32,
    /// Temporal stride τ, in frames at 30 fps.
    #[arg(long, default_value_t = 8)]
    stride: u32,
    /// Crop side (the paper's scale jitter [256, 320] is scaled with it).
    #[arg(long, default_value_t = 224)]
    size: u32,
    /// Interleaved rounds; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The training rate one GPU consumes, in clips/s (a Slow R-50 8×224² on an H200 in bf16: >1000).
    #[arg(long, default_value_t = 1000.0)]
    gpu_clips_per_second: f64,
}

/// One decode path and its per-core rates.
struct PathResult {
    name: &'static str,
    decode: f64,
    full: f64,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

pub fn run(a: LoaderArgs) -> Result<()> {
    if a.videos == 0 || a.rounds == 0 || a.frames == 0 || a.clips == 0 {
        bail!("--videos, --rounds, --frames and --clips must be at least 1");
    }
    if a.gpu_clips_per_second.is_nan() || a.gpu_clips_per_second <= 0.0 {
        bail!("--gpu-clips-per-second must be positive");
    }
    let root = a
        .root
        .clone()
        .unwrap_or_else(|| a.list.parent().map(PathBuf::from).unwrap_or_default());
    let listed = read_list(&a.list, &root)?;
    if listed.is_empty() {
        bail!("{} lists no videos", a.list.display());
    }
    let entries: Vec<VideoEntry> = listed.iter().cycle().take(a.videos).cloned().collect();
    let mode = SampleMode::Pretrain {
        clips: ClipSpec {
            count: a.clips,
            span: Timespan::Anywhere,
        },
        augment: super::data::paper_augment(a.size),
    };
    let shape = ClipShape {
        frames: a.frames as usize,
        stride: a.stride.max(1) as usize,
        target_fps: Some(TARGET_FPS),
        spread: false,
    };
    let mut backends: Vec<Box<dyn VideoBackend>> = Vec::new();
    match a.frames_fps {
        Some(fps) => backends.push(Box::new(JpegFolderBackend { fps })),
        None => {
            backends.push(DecoderKind::OpenH264.backend()?);
            if let Ok(ffmpeg) = DecoderKind::Ffmpeg.backend() {
                backends.push(ffmpeg);
            }
            // Where a GPU and its video library are present (never yet measured: see docs/gpu.md).
            if let Ok(nvdec) = DecoderKind::Nvdec.backend() {
                backends.push(nvdec);
            }
        }
    }
    const SEED: u64 = 7;
    // The frames each video's clips need, drawn once (this is also the warm-up: page cache, first-call costs).
    let mut plans: Vec<Vec<usize>> = Vec::new();
    let mut clips_per_round = 0usize;
    for (i, entry) in entries.iter().enumerate() {
        let sample = make_sample(backends[0].as_ref(), entry, &mode, shape, SEED, 0, i as u64)
            .with_context(|| format!("cannot read {}", entry.path.display()))?;
        plans.push(sample.clips.needed_frames());
        clips_per_round += sample.rows;
    }
    let mut decode: Vec<Vec<f64>> = vec![Vec::new(); backends.len()];
    let mut full: Vec<Vec<f64>> = vec![Vec::new(); backends.len()];
    for _ in 0..a.rounds {
        for (b, backend) in backends.iter().enumerate() {
            let started = Instant::now();
            for (entry, needed) in entries.iter().zip(&plans) {
                let mut reader = backend.open(&entry.path)?;
                std::hint::black_box(reader.read_frames(needed)?);
            }
            decode[b].push(clips_per_round as f64 / started.elapsed().as_secs_f64());
            let started = Instant::now();
            for (i, entry) in entries.iter().enumerate() {
                std::hint::black_box(make_sample(
                    backend.as_ref(),
                    entry,
                    &mode,
                    shape,
                    SEED,
                    0,
                    i as u64,
                )?);
            }
            full[b].push(clips_per_round as f64 / started.elapsed().as_secs_f64());
        }
    }
    let results: Vec<PathResult> = backends
        .iter()
        .enumerate()
        .map(|(b, backend)| PathResult {
            name: backend.name(),
            decode: median(decode[b].clone()),
            full: median(full[b].clone()),
        })
        .collect();

    println!(
        "{} ({} videos × {} clips of {}×{} at {}², one core, median of {} rounds)\n",
        a.list.display(),
        entries.len(),
        vst_data::sampler::clips_per_video(a.clips),
        a.frames,
        a.stride,
        a.size,
        a.rounds
    );
    println!(
        "| decode path | decode only, clips/s per core | decode + T/S/C, clips/s per core | cores per GPU at {} clips/s |",
        a.gpu_clips_per_second
    );
    println!("|---|---|---|---|");
    for r in &results {
        println!(
            "| {} | {:.1} | {:.1} | {:.0} |",
            r.name,
            r.decode,
            r.full,
            (a.gpu_clips_per_second / r.full).ceil()
        );
    }
    println!(
        "\ncores per GPU = training rate / (decode + T/S/C per core), assuming the loader's workers scale linearly."
    );
    Ok(())
}
