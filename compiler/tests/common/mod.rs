//! Compiling recipes held in memory (no file system, a given environment), for the tests of diagnostics.

use std::path::Path;
use vst_compiler::load::MemoryLoader;
use vst_compiler::{Compilation, Options, compile};

/// Compiles `root`, one of `files` (path, text); `env` answers `env("VAR")`.
pub fn compile_in_memory(
    files: &[(&str, &str)],
    root: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Compilation {
    let loader = MemoryLoader::new(files.iter().copied());
    compile(
        Path::new(root),
        &Options {
            loader: &loader,
            env,
        },
    )
    .expect("the root file exists")
}
