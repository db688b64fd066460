//! The `vst` command line. Only argument parsing and dispatch live here; every command's logic is in the
//! compiler or runtime crates.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "vst",
    version,
    about = "Unsupervised spatiotemporal representation learning from .vst recipes"
)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
