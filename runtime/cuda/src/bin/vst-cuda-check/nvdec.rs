//! `vst-cuda-check nvdec`: the NVDEC decoder on a real GPU.
//!
//! 1. frames — the same frame sets (stretches of 8 frames 8 apart, as clips need them, across each video, plus a
//!    whole-video read) decoded by NVDEC and by OpenH264: H.264 decoding is exact, so every picture must be
//!    identical, byte for byte. Synthetic OpenH264 videos (Baseline, IDR every 16) and any `--video` given (e.g.
//!    x264 files with B-frames, which exercise reordering).
//! 2. throughput — decoding alone of those frame sets, one thread each: frames/s and clips/s (8 frames a clip) of
//!    NVDEC (GPU decode + copy back) against OpenH264, interleaved twice.

use std::path::PathBuf;
use std::time::Instant;

use vst_data::video::{DecoderKind, VideoBackend};

pub struct NvdecArgs {
    pub gpu: usize,
    pub videos: Vec<PathBuf>,
    pub rounds: usize,
    pub json: bool,
}

/// Ascending frame sets of a video with `total` frames: clip-like stretches at spread-out starts, and everything.
fn frame_sets(total: usize) -> Vec<Vec<usize>> {
    let mut sets: Vec<Vec<usize>> = [
        0,
        total / 7,
        total / 3,
        total / 2 + 5,
        total.saturating_sub(64),
    ]
    .iter()
    .map(|&start| {
        (0..8)
            .map(|k| start + 8 * k)
            .filter(|&f| f < total)
            .collect()
    })
    .collect();
    sets.push((0..total).collect());
    sets
}

fn read_all(
    backend: &dyn VideoBackend,
    files: &[PathBuf],
) -> Result<(usize, Vec<Vec<vst_data::video::Frame>>), String> {
    let mut frames = 0;
    let mut out = Vec::new();
    for file in files {
        let mut reader = backend.open(file).map_err(|e| e.to_string())?;
        let total = reader.info().frames;
        for set in frame_sets(total) {
            let got = reader
                .read_frames(&set)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            frames += got.len();
            out.push(got);
        }
    }
    Ok((frames, out))
}

pub fn run(a: &NvdecArgs) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("vst-nvdec-check-{}", std::process::id()));
    let result = run_in(a, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(a: &NvdecArgs, dir: &std::path::Path) -> Result<(), String> {
    let nvdec = vst_cuda::nvdec::NvdecBackend::new(a.gpu)?;
    let cpu = DecoderKind::OpenH264.backend().map_err(|e| e.to_string())?;
    let mut files = super::augment::videos(dir)?;
    files.extend(a.videos.iter().cloned());

    // 1. identical pictures.
    let (count, on_gpu) = read_all(&nvdec, &files)?;
    let (_, on_cpu) = read_all(cpu.as_ref(), &files)?;
    let mismatched: usize = on_gpu
        .iter()
        .zip(&on_cpu)
        .map(|(g, c)| g.iter().zip(c).filter(|(a, b)| a != b).count())
        .sum();
    let ok = mismatched == 0;
    println!(
        "nvdec frames: {count} pictures of {} videos, {mismatched} differ from OpenH264's: {}",
        files.len(),
        if ok { "ok" } else { "FAIL" }
    );

    // 2. decode throughput, interleaved.
    let clip_sets: usize = files.len() * 5;
    for round in 0..a.rounds.max(1) {
        for (label, backend) in [
            ("nvdec", &nvdec as &dyn VideoBackend),
            ("openh264", cpu.as_ref()),
        ] {
            let started = Instant::now();
            let (frames, _) = read_all(backend, &files)?;
            let seconds = started.elapsed().as_secs_f64();
            let frames_per_s = frames as f64 / seconds;
            if a.json {
                println!(
                    "{{\"workload\":\"nvdec\",\"decoder\":\"{label}\",\"round\":{round},\"frames\":{frames},\"seconds\":{seconds:.4},\"frames_per_s\":{frames_per_s:.1}}}"
                );
            } else {
                println!(
                    "nvdec throughput, round {round}: {label} {frames_per_s:.1} frames/s ({frames} frames, {clip_sets} clip-like sets and {} whole videos, one thread)",
                    files.len()
                );
            }
        }
    }
    if ok {
        Ok(())
    } else {
        Err("NVDEC's pictures differ from OpenH264's".into())
    }
}
