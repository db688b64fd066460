//! `vst bench loader` is in [`super::bench_loader`].
//! `vst bench step` / `vst bench gpu`: one training step of a Slow ResNet on random clips, timed (by default the
//! paper's BYOL ρ = 2 step of a Slow R-50 8×224²; `--preset mini` with the sizes of recipes/mini/base.vst for the
//! CPU study). `vst bench gpu` is the form `scripts/gpu-check.sh` calls (the contract is in docs/gpu.md): CUDA by
//! default, with a precision, peak device memory and one JSON object per line. The comparison with PyTorch on the
//! CPU is `cargo bench -p vst-runtime --bench mini_step`.

use anyhow::{Context, Result, bail};
use std::sync::Arc;
use vst_runtime::bench::{Objective, Preset, StepBench, time_steps};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// One training step on any device (default: the CPU). The mini study's step is
    /// `--preset mini --depth 18 --width 0.25 --frames 4 --size 32 --batch 32`
    Step(StepArgs),
    /// The same on a CUDA device, with precision and peak memory (what scripts/gpu-check.sh runs)
    Gpu(StepArgs),
    /// Clips/s one CPU core feeds from a dataset, per decode path, and the cores one GPU needs
    Loader(Box<super::bench_loader::LoaderArgs>),
}

#[derive(clap::Args)]
struct StepArgs {
    /// `cpu`, `cuda` or `cuda:N` (default: cpu for `step`, cuda:0 for `gpu`)
    #[arg(long)]
    device: Option<String>,
    /// CUDA arithmetic: f32, tf32 or bf16
    #[arg(long, default_value = "f32")]
    precision: String,
    /// simclr, moco, byol or swav
    #[arg(long, default_value = "byol")]
    objective: String,
    /// Heads, objective constants and optimiser: `paper` (the language's defaults, LARS) or `mini` (those of
    /// recipes/mini/base.vst: heads mlp(layers: 2, hidden: 128, out: 64), SGD with momentum)
    #[arg(long, default_value = "paper")]
    preset: String,
    /// Hidden width of the heads (default: the preset's: paper 4096 for BYOL, 2048 otherwise; mini 128)
    #[arg(long)]
    head_hidden: Option<u32>,
    /// Output width of the heads (default: the preset's: paper 256 for BYOL, 128 otherwise; mini 64)
    #[arg(long)]
    head_out: Option<u32>,
    /// Videos per step (each gives `clips` clips)
    #[arg(long, default_value_t = 8)]
    batch: u32,
    /// Clips per video (ρ)
    #[arg(long, default_value_t = 2)]
    clips: u32,
    #[arg(long, default_value_t = 5)]
    steps: u32,
    #[arg(long, default_value_t = 2)]
    warmup: u32,
    #[arg(long, default_value_t = 50)]
    depth: u32,
    #[arg(long, default_value_t = 1.0)]
    width: f64,
    #[arg(long, default_value_t = 8)]
    frames: u32,
    #[arg(long, default_value_t = 224)]
    size: u32,
    /// One JSON object per line instead of a sentence
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> std::process::ExitCode {
    super::report_errors(match args.what {
        What::Step(a) => step(a, "cpu"),
        What::Gpu(a) => step(a, "cuda:0"),
        What::Loader(a) => super::bench_loader::run(*a),
    })
}

fn step(a: StepArgs, default_device: &str) -> Result<()> {
    let device_name = a
        .device
        .clone()
        .unwrap_or_else(|| default_device.to_string());
    let Some(precision) = vst_cuda::Precision::parse(&a.precision) else {
        bail!("unknown precision `{}` (f32, tf32 or bf16)", a.precision);
    };
    let spec = super::run::parse_device(&device_name).map_err(anyhow::Error::msg)?;
    let (device, cuda) = match spec {
        vst_spec::DeviceSpec::Cpu => (vst_engine::Device::cpu(), None),
        vst_spec::DeviceSpec::Cuda { index } => {
            let options = vst_cuda::CudaOptions {
                precision,
                ..Default::default()
            };
            let backend = Arc::new(
                vst_cuda::CudaBackend::with_options(index as usize, options)
                    .with_context(|| format!("cannot open {device_name}"))?,
            );
            (
                vst_engine::Device::from_backend(backend.clone()),
                Some(backend),
            )
        }
    };
    let Some(objective) = Objective::parse(&a.objective) else {
        bail!(
            "unknown objective `{}` (simclr, moco, byol or swav)",
            a.objective
        );
    };
    let Some(preset) = Preset::parse(&a.preset) else {
        bail!("unknown preset `{}` (paper or mini)", a.preset);
    };
    let bench = StepBench {
        objective,
        preset,
        clips: a.clips,
        head_hidden: a.head_hidden,
        head_out: a.head_out,
        depth: a.depth,
        width: a.width,
        frames: a.frames,
        size: a.size,
        batch: a.batch,
        warmup: a.warmup,
        steps: a.steps,
    };
    // Warm-up allocations are not the workload's: the peak is measured over the timed steps only (the counter is
    // reset after the warm-up, where scripts/bench_gpu_torch.py resets PyTorch's).
    let timing = time_steps(&bench, &device, || {
        if let Some(cuda) = &cuda {
            cuda.reset_peak_memory();
        }
    })?;
    let peak_gib = cuda
        .as_ref()
        .map(|c| c.memory_stats().peak_in_use as f64 / (1u64 << 30) as f64);
    if a.json {
        let line = serde_json::json!({
            "impl": "vst",
            "workload": bench.workload(),
            "precision": if cuda.is_some() { precision.name() } else { "f32" },
            "batch": a.batch,
            "frames": a.frames,
            "size": a.size,
            "clips_per_s": timing.clips_per_s,
            "ms_per_step": timing.ms_per_step,
            "peak_mem_gib": peak_gib,
            "gpu": device.name(),
        });
        println!("{line}");
    } else {
        println!(
            "{} ({} preset), Slow R-{} width {} {}x{}², batch {} videos on {}: {:.1} ms/step, {:.1} clips/s (loss {:.4})",
            bench.workload(),
            a.preset,
            a.depth,
            a.width,
            a.frames,
            a.size,
            a.batch,
            device.name(),
            timing.ms_per_step,
            timing.clips_per_s,
            timing.loss
        );
    }
    Ok(())
}
