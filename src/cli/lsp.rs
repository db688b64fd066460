//! `vst lsp`: the language server, on stdin/stdout (see `src/lsp/` and docs/editors.md).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Accepted for editors that pass it; stdio is the only transport
    #[arg(long)]
    stdio: bool,
}

pub fn run(args: Args) -> ExitCode {
    // `--stdio` (which VS Code's client passes) names the one transport there is.
    let Args { stdio: _ } = args;
    super::report_errors(crate::lsp::run())
}
