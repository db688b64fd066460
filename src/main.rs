//! The `vst` command line. Only argument parsing and dispatch live here; every command's logic is in the
//! compiler or runtime crates.

use clap::{Parser, Subcommand};

mod cli {
    pub mod data;
}

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
    /// Datasets: write the synthetic dataset, preview the clips a data configuration makes.
    Data(cli::data::DataArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Data(args) => cli::data::run(args),
    }
}
