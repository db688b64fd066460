//! The `vst` command line. Only argument parsing and dispatch live here; every command's logic is in the
//! compiler or runtime crates, and each command's glue in `src/cli/<command>.rs`.

mod cli;
mod lsp;
mod slurm;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "vst",
    version,
    about = "Unsupervised spatiotemporal representation learning from .vst recipes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check recipes: syntax, names, types, units, ranges, cross-field rules (exit 1 on errors)
    Check(cli::check::Args),
    /// Print recipes in canonical form (or rewrite them with --write)
    Fmt(cli::fmt::Args),
    /// Show the jobs a recipe runs: the DAG with costs, as text, DOT or JSON
    Plan(cli::plan::Args),
    /// Show the value of a setting in every cell, and where it came from
    Explain(cli::explain::Args),
    /// Run a recipe: every job not yet done (resuming interrupted ones), then print its reports
    Run(cli::run::Args),
    /// A study's reports as they stand (Markdown), or with --html one self-contained page: tables, plots, plan,
    /// training curves, settings
    Report(cli::report::Args),
    /// Show each job of a recipe's plan as done, running, interrupted, failed or pending
    Status(cli::status::Args),
    /// Cancel the SLURM jobs `vst run --slurm` submitted for a recipe (or one job and those that need it)
    Cancel(cli::cancel::Args),
    /// Show the model a recipe trains: layers, parameters, GMACs (multiply-adds) per clip
    Model(cli::model::Args),
    /// Write a trained encoder in PyTorch's layout under PySlowFast's (or, with `--layout pytorchvideo`,
    /// pytorchvideo's) names (safetensors), for fine-tuning elsewhere
    Export(cli::export::Args),
    /// Benchmarks: one whole training step (`step`), or the same on a GPU as scripts/gpu-check.sh runs it (`gpu`)
    Bench(cli::bench::Args),
    /// Datasets: write the synthetic dataset, preview the clips a data configuration makes
    Data(cli::data::DataArgs),
    /// Language server for editors, on stdin/stdout: diagnostics as you type, hover, completion, definitions
    Lsp(cli::lsp::Args),
}

/// `vst plan FILE | head` closes our standard output early, and `println!` then panics ("failed printing to stdout:
/// Broken pipe"). Like other command-line tools, stop quietly instead: the reader has what it wanted.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    // `--decoder nvdec` reaches the GPU's video engines through the CUDA backend (vst-data cannot depend on it).
    vst_cuda::nvdec::register();
    // The engine's kernels fork their parallel loops cheaply only from a pool worker (see `on_pool_worker`).
    vst_engine::cpu::on_pool_worker(|| dispatch(cli))
}

fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check(args) => cli::check::run(args),
        Command::Fmt(args) => cli::fmt::run(args),
        Command::Plan(args) => cli::plan::run(args),
        Command::Explain(args) => cli::explain::run(args),
        Command::Run(args) => cli::run::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::Status(args) => cli::status::run(args),
        Command::Cancel(args) => cli::cancel::run(args),
        Command::Model(args) => cli::model::run(args),
        Command::Export(args) => cli::report_errors(cli::export::run(args)),
        Command::Bench(args) => cli::bench::run(args),
        Command::Data(args) => cli::report_errors(cli::data::run(args)),
        Command::Lsp(args) => cli::lsp::run(args),
    }
}
