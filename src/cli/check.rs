//! `vst check FILE...`: text diagnostics on stderr, or with `--format json` one JSON report on stdout (schema in
//! docs/diagnostics.md).

use std::path::PathBuf;
use std::process::ExitCode;
use vst_compiler::Options;
use vst_compiler::diagnostic::json::Report;

#[derive(Clone, Copy, Default, clap::ValueEnum)]
enum Format {
    /// rustc-style messages on stderr, one `ok:` line per clean recipe
    #[default]
    Text,
    /// one JSON object on stdout: every diagnostic of every recipe, then a summary
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// Recipes to check
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(args: Args) -> ExitCode {
    match args.format {
        Format::Text => run_text(&args.files),
        Format::Json => run_json(&args.files),
    }
}

fn run_text(files: &[PathBuf]) -> ExitCode {
    let mut worst = 0u8;
    for path in files {
        match super::compile(path) {
            Ok(compilation) => {
                let summary = match &compilation.plan {
                    Some(plan) => format!("{} jobs", plan.jobs.len()),
                    None => "shared settings, nothing to run on its own".into(),
                };
                eprintln!("ok: {} ({summary})", path.display());
            }
            // Usage errors (2) outrank recipe errors (1).
            Err(code) => worst = worst.max(code),
        }
    }
    ExitCode::from(worst)
}

/// The same exit codes as text; an unreadable recipe is a usage error on stderr, not a diagnostic.
fn run_json(files: &[PathBuf]) -> ExitCode {
    let mut worst = 0u8;
    let mut report = Report::default();
    for path in files {
        match vst_compiler::compile(path, &Options::system()) {
            Ok(compilation) => {
                report.add(path, &compilation.diagnostics, &compilation.sources);
                if compilation.has_errors() {
                    worst = worst.max(super::RECIPE_ERRORS);
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                report.add_unreadable();
                worst = worst.max(super::USAGE_ERRORS);
            }
        }
    }
    println!("{}", report.to_json());
    ExitCode::from(worst)
}
