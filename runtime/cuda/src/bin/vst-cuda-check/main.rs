//! `vst-cuda-check`: the GPU machine's half of scripts/gpu-check.sh (that machine has no Rust, so this binary is
//! built here and carried there).
//!
//! - `numerics`: every `Backend` method on the CUDA backend against the CPU backend on the same random inputs
//!   (every Slow R-50 convolution geometry included); prints one line per case and exits non-zero on a mismatch.
//! - `libraries`: the CUDA library files this process loads (driver, cuBLAS, cuDNN, NVRTC) and their versions.
//! - `bench`: forward + backward of the Slow R-50 backbone (the conv / BN / pool stack of the paper's encoder)
//!   through the engine on the GPU; prints clips/s and peak memory, as JSON lines with `--json`.
//! - `augment`: the T/S/C augmentation kernels against their CPU mirror and vst-data's CPU path, then clips/s of
//!   CPU decoding + GPU augmentation against CPU decoding + CPU augmentation.
//! - `nvdec`: NVDEC's decoded pictures against OpenH264's (must be identical), then decoding throughput of each.

mod augment;
mod bench;
mod libraries;
mod numerics;
mod nvdec;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vst_cuda::{CudaOptions, Precision};

#[derive(Parser)]
#[command(
    name = "vst-cuda-check",
    about = "GPU numerics check and benchmark for vst's CUDA backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print which CUDA library files are loaded, and their versions.
    Libraries {
        #[arg(long, default_value_t = 0)]
        gpu: usize,
    },
    /// Compare every kernel of the CUDA backend with the CPU backend.
    Numerics {
        #[arg(long, default_value_t = 0)]
        gpu: usize,
        /// f32, tf32 or bf16 (tolerances widen for the reduced-precision modes).
        #[arg(long, default_value = "f32")]
        precision: String,
    },
    /// Time forward + backward of the Slow R-50 backbone on the GPU.
    Bench {
        #[arg(long, default_value_t = 0)]
        gpu: usize,
        #[arg(long, default_value = "f32")]
        precision: String,
        /// Clips per step.
        #[arg(long, default_value_t = 8)]
        batch: usize,
        #[arg(long, default_value_t = 8)]
        frames: u32,
        #[arg(long, default_value_t = 224)]
        size: u32,
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Print one JSON object per result instead of a sentence.
        #[arg(long)]
        json: bool,
    },
    /// Check the GPU augmentation kernels against the CPU and time them.
    Augment {
        #[arg(long, default_value_t = 0)]
        gpu: usize,
        /// Videos decoded per throughput measurement (2 clips each).
        #[arg(long, default_value_t = 48)]
        samples: usize,
        #[arg(long, default_value_t = 224)]
        size: u32,
        #[arg(long)]
        json: bool,
    },
    /// Check NVDEC's pictures against OpenH264's and time both.
    Nvdec {
        #[arg(long, default_value_t = 0)]
        gpu: usize,
        /// More H.264 mp4 files to check (e.g. x264 files with B-frames), besides the synthetic ones.
        #[arg(long = "video")]
        videos: Vec<std::path::PathBuf>,
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        #[arg(long)]
        json: bool,
    },
}

fn options(precision: &str) -> Result<CudaOptions, String> {
    let precision = Precision::parse(precision)
        .ok_or_else(|| format!("unknown precision `{precision}` (expected f32, tf32 or bf16)"))?;
    Ok(CudaOptions {
        precision,
        ..CudaOptions::default()
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Libraries { gpu } => libraries::run(gpu),
        Command::Numerics { gpu, precision } => {
            options(&precision).and_then(|o| numerics::run(gpu, o))
        }
        Command::Bench {
            gpu,
            precision,
            batch,
            frames,
            size,
            warmup,
            steps,
            json,
        } => options(&precision).and_then(|o| {
            bench::run(&bench::BenchArgs {
                gpu,
                options: o,
                batch,
                frames,
                size,
                warmup,
                steps,
                json,
            })
        }),
        Command::Augment {
            gpu,
            samples,
            size,
            json,
        } => augment::run(&augment::AugmentArgs {
            gpu,
            samples,
            size,
            json,
        }),
        Command::Nvdec {
            gpu,
            videos,
            rounds,
            json,
        } => nvdec::run(&nvdec::NvdecArgs {
            gpu,
            videos,
            rounds,
            json,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vst-cuda-check: {e}");
            ExitCode::FAILURE
        }
    }
}
