//! `vst bench step` / `vst bench gpu`: one BYOL ρ = 2 training step of a Slow ResNet on random clips, timed.
//! `vst bench gpu` is the form `scripts/gpu-check.sh` calls (the contract is in docs/gpu.md): CUDA by default,
//! with a precision, peak device memory and one JSON object per line.

use anyhow::{Context, Result, bail};
use std::sync::Arc;
use vst_runtime::bench::{StepBench, byol_rho2_step};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// One BYOL ρ = 2 training step on any device (default: the CPU)
    Step(StepArgs),
    /// The same on a CUDA device, with precision and peak memory (what scripts/gpu-check.sh runs)
    Gpu(StepArgs),
}

#[derive(clap::Args)]
struct StepArgs {
    /// `cpu`, `cuda` or `cuda:N` (default: cpu for `step`, cuda:0 for `gpu`)
    #[arg(long)]
    device: Option<String>,
    /// CUDA arithmetic: f32, tf32 or bf16
    #[arg(long, default_value = "f32")]
    precision: String,
    /// Videos per step (each gives 2 clips)
    #[arg(long, default_value_t = 8)]
    batch: u32,
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
    let bench = StepBench {
        depth: a.depth,
        width: a.width,
        frames: a.frames,
        size: a.size,
        batch: a.batch,
        warmup: a.warmup,
        steps: a.steps,
    };
    // Warm-up allocations are not the workload's: the peak is measured over the timed steps only.
    if let Some(cuda) = &cuda {
        cuda.reset_peak_memory();
    }
    let timing = byol_rho2_step(&bench, &device)?;
    let peak_gib = cuda
        .as_ref()
        .map(|c| c.memory_stats().peak_in_use as f64 / (1u64 << 30) as f64);
    if a.json {
        let line = serde_json::json!({
            "impl": "vst",
            "workload": "BYOL rho=2 step",
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
            "BYOL rho=2 step, Slow R-{} width {} {}x{}², batch {} videos on {}: {:.1} ms/step, {:.1} clips/s (loss {:.4})",
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
