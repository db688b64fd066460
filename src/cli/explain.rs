//! `vst explain FILE KEY`

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The recipe
    file: PathBuf,
    /// A setting (`schedule.lr`, `backbone.frames`, `evaluate.linear.epochs`) or a group (`schedule`, `augment`)
    key: String,
}

pub fn run(args: Args) -> ExitCode {
    let compilation = match super::compile(&args.file) {
        Ok(c) => c,
        Err(code) => return ExitCode::from(code),
    };
    match vst_compiler::render::explain::explain(&compilation, &args.key) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(super::USAGE_ERRORS)
        }
    }
}
