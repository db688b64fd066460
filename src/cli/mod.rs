//! Glue between the command line and the crates: read arguments, call the library, print, choose the exit code.
//! Exit codes: 0 ok, 1 errors in a recipe, 2 usage or I/O errors.

pub mod check;
pub mod explain;
pub mod fmt;
pub mod plan;

use std::io::IsTerminal;
use std::path::Path;
use vst_compiler::{Compilation, Options};

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
