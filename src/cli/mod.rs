//! Glue between the command line and the crates: read arguments, call the library, print, choose the exit code.
//! Exit codes: 0 ok, 1 errors in a recipe, 2 usage or I/O errors.

pub mod bench;
mod bench_loader;
pub mod cancel;
pub mod check;
pub mod data;
mod data_prepare;
pub mod explain;
pub mod export;
pub mod fmt;
pub mod gpus;
pub mod lsp;
pub mod model;
pub mod plan;
pub mod replicas;
pub mod report;
pub mod run;
pub mod status;
pub mod submit;

use std::io::IsTerminal;
use std::path::Path;
use vst_compiler::{Compilation, Options};
use vst_spec::Plan;

pub const RECIPE_ERRORS: u8 = 1;
pub const USAGE_ERRORS: u8 = 2;

/// Colour on stderr only for a terminal, and never with NO_COLOR set.
pub fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Compiles a recipe and prints its diagnostics to stderr; Err(exit code) when it cannot go on.
pub fn compile(path: &Path) -> Result<Compilation, u8> {
    let compilation = vst_compiler::compile(path, &Options::system()).map_err(|e| {
        eprintln!("error: {e}");
        USAGE_ERRORS
    })?;
    let rendered = compilation.render_diagnostics(color());
    if !rendered.is_empty() {
        eprint!("{rendered}");
    }
    if compilation.has_errors() {
        return Err(RECIPE_ERRORS);
    }
    Ok(compilation)
}

/// [`compile`] for the commands that need a plan: also an error when the recipe has no `pretrain` block, saying
/// `consequence` (e.g. "nothing to run"). The plan comes out of the compilation, which keeps the rest.
pub fn compile_plan(path: &Path, consequence: &str) -> Result<(Plan, Compilation), u8> {
    let mut compilation = compile(path)?;
    let Some(plan) = compilation.plan.take() else {
        eprintln!(
            "error: `{}` has no `pretrain` block: {consequence}",
            path.display()
        );
        return Err(RECIPE_ERRORS);
    };
    Ok((plan, compilation))
}

/// Prints an error chain of a command that failed for a usage or I/O reason, and picks the exit code.
pub fn report_errors(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(USAGE_ERRORS)
        }
    }
}

/// Progress bars only where a person watches: stderr is a terminal.
pub fn color_capable_stderr() -> bool {
    std::io::stderr().is_terminal()
}

/// Structured logs on stderr: `info` by default, `VST_LOG` (an env-filter, e.g. `debug`) to change it.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color())
        .with_target(false)
        .try_init();
}
