//! `vst-cuda-check augment`: the GPU augmentation kernels on a real GPU.
//!
//! 1. numerics — each clip (random draws of the paper's T/S/C on synthetic video frames, YUV and RGB, with and
//!    without temporal difference) rendered by the kernels, by their CPU mirror (`augment::reference`) and by
//!    vst-data's CPU path; the kernels must equal the mirror to 1e-5 (they are built to match it bit for bit; the
//!    count of bit-identical clips is printed) and the CPU path to 1e-4.
//! 2. throughput — one core decoding the synthetic videos (ρ = 2 clips of 8×8 frames at 224², the pipeline
//!    benchmark's shape), clips/s with the GPU augmenting (upload, kernels, download, one clip at a time) and with
//!    the CPU augmenting, and the augmentation alone on either side.

use std::path::PathBuf;
use std::time::Instant;

use vst_cuda::augment::{ClipPlan, GpuAugment, reference};
use vst_data::augment::{paper_augment, render_clip};
use vst_data::list::VideoEntry;
use vst_data::pipeline::{ClipShape, DecodedSample, SampleMode, decode_sample};
use vst_data::synth::{self, SynthEncoding};
use vst_data::video::{DecoderKind, Frame, VideoBackend};
use vst_spec::{ClipSpec, Range, Timespan};

pub struct AugmentArgs {
    pub gpu: usize,
    pub samples: usize,
    pub size: u32,
    pub json: bool,
}

const SHAPE: ClipShape = ClipShape {
    frames: 8,
    stride: 8,
    target_fps: None,
    spread: false,
};

fn mode(size: u32, count: u32) -> SampleMode {
    SampleMode::Pretrain {
        clips: ClipSpec {
            count,
            span: Timespan::Anywhere,
        },
        augment: paper_augment(size, Range::new(256.0, 320.0)),
    }
}

/// Six synthetic 320×240 videos of 300 frames (the pipeline benchmark's OpenH264 set), in a fresh folder.
pub fn videos(dir: &std::path::Path) -> Result<Vec<PathBuf>, String> {
    let spec = synth::benchmark_spec(6);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    synth::generate_with(
        &spec,
        dir,
        threads,
        SynthEncoding {
            qp: 24,
            keyframe_interval: 16,
        },
    )
    .map_err(|e| format!("generating the synthetic videos: {e}"))?;
    Ok((0..6)
        .map(|c| dir.join(format!("train/c{c:02}_0000.mp4")))
        .collect())
}

fn decode(
    backend: &dyn VideoBackend,
    files: &[PathBuf],
    mode: &SampleMode,
    i: usize,
) -> Result<DecodedSample, String> {
    let entry = VideoEntry {
        path: files[i % files.len()].clone(),
        label: 0,
    };
    decode_sample(backend, &entry, mode, SHAPE, 11, 0, i as u64).map_err(|e| e.to_string())
}

/// Each clip of a decoded sample: its frames, whether it is a difference clip, and its draw.
fn clips(sample: &DecodedSample) -> Vec<(Vec<&Frame>, bool, vst_data::augment::ClipDraw)> {
    sample
        .draws
        .iter()
        .enumerate()
        .filter_map(|(row, d)| {
            d.map(|d| {
                (
                    sample.clip_frames(row),
                    sample.clips.clips[row].difference,
                    d,
                )
            })
        })
        .collect()
}

fn rgb_copy(frames: &[&Frame]) -> Vec<Frame> {
    frames
        .iter()
        .map(|f| Frame {
            width: f.width,
            height: f.height,
            pixels: vst_data::video::Pixels::Rgb8(f.to_rgb8()),
        })
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(
            0f32,
            |m, d| if d.is_nan() { f32::INFINITY } else { m.max(d) },
        )
}

pub fn run(a: &AugmentArgs) -> Result<(), String> {
    let gpu = GpuAugment::new(a.gpu).map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("vst-augment-check-{}", std::process::id()));
    let result = run_in(a, &gpu, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(a: &AugmentArgs, gpu: &GpuAugment, dir: &std::path::Path) -> Result<(), String> {
    let files = videos(dir)?;
    let backend = DecoderKind::OpenH264.backend().map_err(|e| e.to_string())?;
    let size = a.size as usize;
    let normalize = paper_augment(a.size, Range::new(256.0, 320.0)).normalize;

    // 1. numerics: small clips (64²) so the CPU mirror stays quick; ρ = 1 gives the difference-free two views.
    let (mut cases, mut identical, mut worst_ref, mut worst_cpu) = (0usize, 0usize, 0f32, 0f32);
    for i in 0..24 {
        let sample = decode(backend.as_ref(), &files, &mode(64, 2), i)?;
        for (frames, difference, draw) in clips(&sample) {
            let rgb = rgb_copy(&frames);
            let rgb_refs: Vec<&Frame> = rgb.iter().collect();
            for (input, diff) in [(&frames, difference), (&rgb_refs, false), (&frames, true)] {
                let plan =
                    ClipPlan::new(input, diff, &draw, 64, &normalize).map_err(|e| e.to_string())?;
                let on_gpu = gpu.render(&plan).map_err(|e| e.to_string())?;
                let mirrored = reference::render(&plan);
                let mut on_cpu = vec![0f32; plan.output_len()];
                render_clip(input, diff, &draw, 64, &normalize, &mut on_cpu);
                let (d_ref, d_cpu) = (max_diff(&on_gpu, &mirrored), max_diff(&on_gpu, &on_cpu));
                identical += usize::from(
                    on_gpu
                        .iter()
                        .map(|x| x.to_bits())
                        .eq(mirrored.iter().map(|x| x.to_bits())),
                );
                worst_ref = worst_ref.max(d_ref);
                worst_cpu = worst_cpu.max(d_cpu);
                cases += 1;
            }
        }
    }
    let numerics_ok = worst_ref <= 1e-5 && worst_cpu <= 1e-4;
    println!(
        "augment numerics: {cases} clips, {identical} bit-identical to the CPU mirror, max |gpu - mirror| {worst_ref:.3e} (limit 1e-5), max |gpu - cpu path| {worst_cpu:.3e} (limit 1e-4): {}",
        if numerics_ok { "ok" } else { "FAIL" }
    );

    // 2. throughput at the benchmark's shape, one decoding thread.
    let m = mode(a.size, 2);
    let warm = decode(backend.as_ref(), &files, &m, 0)?;
    for (frames, difference, draw) in clips(&warm) {
        let plan = ClipPlan::new(&frames, difference, &draw, size, &normalize)
            .map_err(|e| e.to_string())?;
        gpu.render(&plan).map_err(|e| e.to_string())?;
    }
    let timing = |on_gpu: bool| -> Result<(f64, f64, usize), String> {
        let (mut total, mut augmenting, mut count) = (0f64, 0f64, 0usize);
        for i in 0..a.samples {
            let started = Instant::now();
            let sample = decode(backend.as_ref(), &files, &m, i)?;
            let augment_start = Instant::now();
            for (frames, difference, draw) in clips(&sample) {
                if on_gpu {
                    let plan = ClipPlan::new(&frames, difference, &draw, size, &normalize)
                        .map_err(|e| e.to_string())?;
                    std::hint::black_box(gpu.render(&plan).map_err(|e| e.to_string())?);
                } else {
                    let mut out = vec![0f32; SHAPE.frames * size * size * 3];
                    render_clip(&frames, difference, &draw, size, &normalize, &mut out);
                    std::hint::black_box(&out);
                }
                count += 1;
            }
            augmenting += augment_start.elapsed().as_secs_f64();
            total += started.elapsed().as_secs_f64();
        }
        Ok((total, augmenting, count))
    };
    for (label, on_gpu) in [("gpu", true), ("cpu", false), ("gpu", true), ("cpu", false)] {
        let (total, augmenting, count) = timing(on_gpu)?;
        let (pipeline, alone) = (count as f64 / total, count as f64 / augmenting);
        if a.json {
            println!(
                "{{\"workload\":\"augment\",\"augment_on\":\"{label}\",\"size\":{},\"clips\":{count},\"decode_plus_augment_clips_per_s\":{pipeline:.2},\"augment_alone_clips_per_s\":{alone:.2}}}",
                a.size
            );
        } else {
            println!(
                "augment on {label}: one core decoding + {label} augmenting {count} clips of 8×{}²: {pipeline:.1} clips/s; the augmentation alone {alone:.1} clips/s",
                a.size
            );
        }
    }
    if numerics_ok {
        Ok(())
    } else {
        Err("the GPU augmentation does not match the CPU".into())
    }
}
