//! `vst check FILE...`

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Recipes to check
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    let mut worst = 0u8;
    for path in &args.files {
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
