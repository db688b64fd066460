//! Data pipeline benchmark: clips/s of decode + sample + augment for 8×8 clips (ρ = 2 per video, the paper's T/S/C
//! at 224²) of 320×240 H.264 videos, on one core and on all cores, against PyAV + the same augmentations in PyTorch
//! (scripts/bench_pyav.py) on the same files and the same clips, interleaved round by round; medians reported.
//!
//!     cargo bench -p vst-data --bench pipeline [-- --rounds 5 --samples 48]
//!     cargo bench -p vst-data --features ffmpeg --bench pipeline      # adds the ffmpeg decoder
//!     cargo bench -p vst-data --bench pipeline -- --decode-only       # only the decode-only table
//!
//! After a run, `target/release/deps/pipeline-* --worker augment target/bench-data/plan-x264.json openh264` times
//! the augmentation alone (frames decoded beforehand, not timed) and prints a digest of every rendered clip, so two
//! builds can be checked to render identically.
//!
//! Videos: the synthetic generator's content at 320×240, 10 s at 30 fps, (a) as the generator writes it
//! (OpenH264, Constrained Baseline, an IDR every 16 frames) and (b) re-encoded by the ffmpeg command line with
//! libx264's defaults (High profile, B-frames, keyframes every 250) plus film grain so that the bitrate is that of
//! real 320×240 video (skipped when `ffmpeg` is not installed).

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use vst_data::list::VideoEntry;
use vst_data::loader::{Loader, LoaderConfig};
use vst_data::metrics::DataMetrics;
use vst_data::pipeline::{ClipShape, SampleMode, decode_sample, make_sample};
use vst_data::synth::{self, SynthEncoding};
use vst_data::video::DecoderKind;
use vst_spec::{ClipSpec, Range, Timespan};

const SHAPE: ClipShape = ClipShape {
    frames: 8,
    stride: 8,
    target_fps: None,
    spread: false,
};
const SIZE: u32 = 224;

fn mode() -> SampleMode {
    SampleMode::Pretrain {
        clips: ClipSpec {
            count: 2,
            span: Timespan::Anywhere,
        },
        augment: vst_data::augment::paper_augment(SIZE, Range::new(256.0, 320.0)),
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The benchmark's videos: returns (label, files).
fn prepare_videos(dir: &Path, videos: u32) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let spec = vst_data::synth::benchmark_spec(videos);
    let synth_dir = dir.join("openh264");
    eprintln!(
        "preparing {videos} synthetic 320x240 videos in {} ...",
        synth_dir.display()
    );
    synth::generate_with(
        &spec,
        &synth_dir,
        cores(),
        SynthEncoding {
            qp: 24,
            keyframe_interval: 16,
        },
    )?;
    let files: Vec<PathBuf> = (0..videos)
        .map(|c| synth_dir.join(format!("train/c{c:02}_0000.mp4")))
        .collect();
    let mut sets = vec![(
        "OpenH264-encoded (Baseline, IDR every 16)".to_string(),
        files.clone(),
    )];
    let x264_dir = dir.join("x264");
    std::fs::create_dir_all(&x264_dir)?;
    let mut x264 = Vec::new();
    for f in &files {
        let out = x264_dir.join(f.file_name().context("file name")?);
        if !out.exists() {
            let tmp = out.with_extension("tmp.mp4");
            let status = Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
                .arg(f)
                .args([
                    "-vf",
                    "noise=alls=9:allf=t",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "medium",
                    "-crf",
                    "23",
                ])
                .args(["-pix_fmt", "yuv420p"])
                .arg(&tmp)
                .status();
            match status {
                Ok(s) if s.success() => std::fs::rename(&tmp, &out)?,
                _ => {
                    eprintln!(
                        "ffmpeg (with libx264) is not available: benchmarking the OpenH264-encoded files only"
                    );
                    return Ok(sets);
                }
            }
        }
        x264.push(out);
    }
    sets.insert(
        0,
        (
            "x264 defaults (High, B-frames, keyint 250)".to_string(),
            x264,
        ),
    );
    Ok(sets)
}

fn bitrate_kbps(files: &[PathBuf]) -> f64 {
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    bytes as f64 * 8.0 / 1000.0 / (10.0 * files.len() as f64)
}

/// Writes the plan (each sample's file and clip frames) exactly as the Rust pipeline draws it.
fn write_plan(files: &[PathBuf], samples: usize, seed: u64, path: &Path) -> Result<()> {
    let backend = DecoderKind::OpenH264.backend()?;
    let mut out = Vec::new();
    for i in 0..samples {
        let entry = VideoEntry {
            path: files[i % files.len()].clone(),
            label: 0,
        };
        let s = make_sample(backend.as_ref(), &entry, &mode(), SHAPE, seed, 0, i as u64)?;
        let clips: Vec<Vec<usize>> = s.clips.clips.iter().map(|c| c.frames.clone()).collect();
        out.push(json!({ "path": entry.path, "clips": clips }));
    }
    std::fs::write(
        path,
        serde_json::to_vec(&json!({ "size": SIZE, "seed": seed, "samples": out }))?,
    )?;
    Ok(())
}

/// Worker: runs the Rust pipeline over a plan and prints `{"clips": n, "seconds": t}`.
fn worker(args: &[String]) -> Result<()> {
    let [how, plan, decoder] = args else {
        bail!("worker needs: one|all PLAN DECODER")
    };
    let plan: Value = serde_json::from_slice(&std::fs::read(plan)?)?;
    let seed = plan["seed"].as_u64().context("seed")?;
    let entries: Vec<VideoEntry> = plan["samples"]
        .as_array()
        .context("samples")?
        .iter()
        .map(|s| VideoEntry {
            path: PathBuf::from(s["path"].as_str().unwrap_or_default()),
            label: 0,
        })
        .collect();
    let kind = DecoderKind::parse(decoder)?;
    // Warm-up (page cache, first-call costs), and a check that the plan is what this pipeline draws.
    let backend = kind.backend()?;
    let first = make_sample(backend.as_ref(), &entries[0], &mode(), SHAPE, seed, 0, 0)?;
    let planned: Vec<Vec<usize>> = serde_json::from_value(plan["samples"][0]["clips"].clone())?;
    if first
        .clips
        .clips
        .iter()
        .map(|c| c.frames.clone())
        .collect::<Vec<_>>()
        != planned
    {
        bail!("the plan does not match the pipeline's draws");
    }
    if how == "decode" && plan["samples"].as_array().map_or(0, |a| a.len()) != entries.len() {
        bail!("plan and entries differ");
    }
    let started = std::time::Instant::now();
    let clips = match how.as_str() {
        "one" => {
            let mut clips = 0;
            for (i, e) in entries.iter().enumerate() {
                clips += make_sample(backend.as_ref(), e, &mode(), SHAPE, seed, 0, i as u64)?.rows;
            }
            clips
        }
        "decode" => {
            // Decode only: the frames the clips need, kept as decoded (no RGB conversion, no augmentation).
            let mut clips = 0;
            for (i, e) in entries.iter().enumerate() {
                let planned: Vec<Vec<usize>> =
                    serde_json::from_value(plan["samples"][i]["clips"].clone())?;
                let mut needed: Vec<usize> = planned.iter().flatten().copied().collect();
                needed.sort_unstable();
                needed.dedup();
                let mut reader = backend.open(&e.path)?;
                std::hint::black_box(reader.read_frames(&needed)?);
                clips += planned.len();
            }
            clips
        }
        "augment" => {
            // Augmentation alone: each sample's frames are decoded first (not timed), then its clips rendered
            // (resample from YUV, colour, blur, normalise) as make_sample does; prints the render time only.
            let mut clips = 0;
            let mut rendering = std::time::Duration::ZERO;
            // FNV-1a over the output bits: two builds that render identically print the same digest.
            let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
            for (i, e) in entries.iter().enumerate() {
                let (draws, frames) = sample_inputs(backend.as_ref(), e, seed, i as u64)?;
                let size = SIZE as usize;
                let mut out = vec![0f32; SHAPE.frames * size * size * 3];
                let normalize =
                    vst_data::augment::paper_augment(SIZE, Range::new(256.0, 320.0)).normalize;
                for (draw, clip) in draws.iter().zip(&frames) {
                    let refs: Vec<&vst_data::video::Frame> = clip.iter().collect();
                    let started = std::time::Instant::now();
                    vst_data::augment::render_clip(&refs, false, draw, size, &normalize, &mut out);
                    std::hint::black_box(&out);
                    rendering += started.elapsed();
                    clips += 1;
                    for x in &out {
                        digest = (digest ^ u64::from(x.to_bits())).wrapping_mul(0x100_0000_01b3);
                    }
                }
            }
            println!(
                "{}",
                json!({ "clips": clips, "seconds": rendering.as_secs_f64(), "digest": format!("{digest:016x}") })
            );
            return Ok(());
        }
        "all" => {
            let mut config = LoaderConfig::new(mode(), SHAPE, 4, seed);
            config.threads = cores();
            config.prefetch = 4;
            config.shuffle = false;
            config.drop_last = false;
            let loader = Loader::new(
                entries,
                kind.backend()?,
                config,
                Arc::new(DataMetrics::new()),
            )?;
            let mut clips = 0;
            for batch in loader.epoch(0) {
                clips += batch?.shape[0];
            }
            clips
        }
        other => bail!("unknown worker mode {other}"),
    };
    println!(
        "{}",
        json!({ "clips": clips, "seconds": started.elapsed().as_secs_f64() })
    );
    Ok(())
}

/// The clip draws of sample `index` and its clips' decoded frames (what `make_sample` renders).
fn sample_inputs(
    backend: &dyn vst_data::video::VideoBackend,
    entry: &VideoEntry,
    seed: u64,
    index: u64,
) -> Result<(
    Vec<vst_data::augment::ClipDraw>,
    Vec<Vec<vst_data::video::Frame>>,
)> {
    let sample = decode_sample(backend, entry, &mode(), SHAPE, seed, 0, index)?;
    let frames = (0..sample.clips.clips.len())
        .map(|c| sample.clip_frames(c).into_iter().cloned().collect())
        .collect();
    Ok((sample.draws.into_iter().flatten().collect(), frames))
}

/// Runs one measurement in a child process (pinned to CPU 0 for the one-core runs); returns clips/s.
fn measure(cmd: &mut Command) -> Result<f64> {
    let out = cmd.output().context("running a benchmark worker")?;
    if !out.status.success() {
        bail!("worker failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().context("worker printed nothing")?;
    let v: Value = serde_json::from_str(line)?;
    Ok(v["clips"].as_f64().context("clips")? / v["seconds"].as_f64().context("seconds")?)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(p) = args.iter().position(|a| a == "--worker") {
        return worker(&args[p + 1..]);
    }
    let option = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|p| args.get(p + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (rounds, samples) = (option("--rounds", 5), option("--samples", 48));
    let dir = workspace().join("target/bench-data");
    std::fs::create_dir_all(&dir)?;
    let sets = prepare_videos(&dir, 6)?;
    let me = std::env::current_exe()?;
    let script = workspace().join("scripts/bench_pyav.py");
    let mut decoders = vec![DecoderKind::OpenH264];
    if cfg!(feature = "ffmpeg") {
        decoders.push(DecoderKind::Ffmpeg);
    }
    let n = cores();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mut report = format!(
        "Machine: {cpu}, {n} cores. {samples} samples × 2 clips of 8×8 frames per measurement, 224² crops; \
         median of {rounds} interleaved rounds.\n\n\
         | videos | kbit/s | cores | decoder | Rust clips/s | PyAV clips/s | Rust / PyAV |\n|---|---|---|---|---|---|---|\n"
    );
    let decode_only = args.iter().any(|a| a == "--decode-only");
    for (label, files) in &sets {
        let plan = dir.join(format!(
            "plan-{}.json",
            if label.starts_with("x264") {
                "x264"
            } else {
                "openh264"
            }
        ));
        write_plan(files, samples, 7, &plan)?;
        if decode_only {
            continue;
        }
        for (cores_label, pinned) in [("1", true), ("all", false)] {
            let how = if pinned { "one" } else { "all" };
            let mut rust: Vec<Vec<f64>> = vec![Vec::new(); decoders.len()];
            let mut python = Vec::new();
            for round in 0..rounds {
                for (d, kind) in decoders.iter().enumerate() {
                    let name = DecoderKind::name(*kind);
                    let mut cmd = if pinned {
                        Command::new("taskset")
                    } else {
                        Command::new(&me)
                    };
                    if pinned {
                        cmd.args(["-c", "0"]).arg(&me);
                    }
                    cmd.args(["--worker", how]).arg(&plan).arg(name);
                    rust[d].push(measure(&mut cmd)?);
                }
                let mut cmd = if pinned {
                    Command::new("taskset")
                } else {
                    Command::new("python3")
                };
                if pinned {
                    cmd.args(["-c", "0", "python3"]);
                }
                cmd.arg(&script)
                    .arg(&plan)
                    .args(["--processes", &if pinned { 1 } else { n }.to_string()]);
                python.push(measure(&mut cmd)?);
                eprintln!(
                    "{label}, {cores_label} core(s), round {}: rust {:?} clips/s, pyav {:.1} clips/s",
                    round + 1,
                    rust.iter()
                        .map(|r| format!("{:.1}", r[round]))
                        .collect::<Vec<_>>(),
                    python[round]
                );
            }
            let py = median(python);
            for (d, kind) in decoders.iter().enumerate() {
                let r = median(rust[d].clone());
                report.push_str(&format!(
                    "| {label} | {:.0} | {cores_label} | {} | {r:.1} | {py:.1} | {:.2}× |\n",
                    bitrate_kbps(files),
                    DecoderKind::name(*kind),
                    r / py
                ));
            }
        }
    }
    // Where the time goes: decoding alone (the clips' frames, converted to RGB), one core.
    report.push_str(
        "\nDecode only (one core; the same clips' frames decoded, not converted, not augmented):\n\n\
         | videos | decoder | Rust clips/s | PyAV clips/s | Rust / PyAV |\n|---|---|---|---|---|\n",
    );
    for (label, _) in &sets {
        let plan = dir.join(format!(
            "plan-{}.json",
            if label.starts_with("x264") {
                "x264"
            } else {
                "openh264"
            }
        ));
        let mut rust: Vec<Vec<f64>> = vec![Vec::new(); decoders.len()];
        let mut python = Vec::new();
        for _ in 0..rounds {
            for (d, kind) in decoders.iter().enumerate() {
                let mut cmd = Command::new("taskset");
                cmd.args(["-c", "0"])
                    .arg(&me)
                    .args(["--worker", "decode"])
                    .arg(&plan)
                    .arg(DecoderKind::name(*kind));
                rust[d].push(measure(&mut cmd)?);
            }
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", "0", "python3"])
                .arg(&script)
                .arg(&plan)
                .args(["--processes", "1", "--decode-only"]);
            python.push(measure(&mut cmd)?);
        }
        let py = median(python);
        for (d, kind) in decoders.iter().enumerate() {
            let r = median(rust[d].clone());
            report.push_str(&format!(
                "| {label} | {} | {r:.1} | {py:.1} | {:.2}× |\n",
                DecoderKind::name(*kind),
                r / py
            ));
        }
    }
    println!("{report}");
    std::fs::write(dir.join("results.md"), &report)?;
    Ok(())
}
