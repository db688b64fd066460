//! `vst fmt FILE... [--check | --write]`

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vst_compiler::diagnostic::Diagnostic;
use vst_compiler::source::{FileId, SourceMap};

#[derive(clap::Args)]
pub struct Args {
    /// Recipes to format
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Rewrite the files in place instead of printing them
    #[arg(long, conflicts_with = "check")]
    write: bool,
    /// Print the names of files that are not in canonical form, and exit 1 if any
    #[arg(long)]
    check: bool,
    /// Print every token's byte range and class (key, value, unit, ...) as JSON instead: what editor grammars are
    /// checked against (editors/vscode/test/tokens.mjs)
    #[arg(long, hide = true, conflicts_with_all = ["write", "check"])]
    tokens: bool,
}

pub fn run(args: Args) -> ExitCode {
    if args.tokens {
        return print_tokens(&args.files);
    }
    let mut code = 0u8;
    for path in &args.files {
        let Some((text, file)) = read_and(path, &mut code, vst_compiler::syntax::parse) else {
            continue;
        };
        let formatted = vst_compiler::syntax::format_file(&file);
        if args.check {
            if formatted != text {
                println!("{}", path.display());
                code = code.max(super::RECIPE_ERRORS);
            }
        } else if args.write {
            if formatted != text
                && let Err(e) = write_atomically(path, &formatted)
            {
                eprintln!("error: cannot write `{}`: {e}", path.display());
                code = super::USAGE_ERRORS;
            }
        } else {
            print!("{formatted}");
        }
    }
    ExitCode::from(code)
}

/// `--tokens`: `[{"path": ..., "tokens": [[start, end, "class"], ...]}, ...]` on stdout, byte offsets.
fn print_tokens(files: &[PathBuf]) -> ExitCode {
    let mut code = 0u8;
    let mut dumps = Vec::new();
    for path in files {
        if let Some((_, tokens)) = read_and(path, &mut code, vst_compiler::syntax::token_classes) {
            let tokens: Vec<_> = tokens
                .iter()
                .map(|t| serde_json::json!([t.range.start, t.range.end, t.class.as_str()]))
                .collect();
            dumps.push(serde_json::json!({ "path": path, "tokens": tokens }));
        }
    }
    println!("{}", serde_json::Value::Array(dumps));
    ExitCode::from(code)
}

/// Reads `path` and runs `parse` on its text; None after printing the read error (exit code 2) or the syntax error
/// (exit code 1), raising `code` to it.
fn read_and<T>(
    path: &Path,
    code: &mut u8,
    parse: impl FnOnce(&str, FileId) -> Result<T, Diagnostic>,
) -> Option<(String, T)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", path.display());
            *code = super::USAGE_ERRORS;
            return None;
        }
    };
    let mut sources = SourceMap::new();
    let id = sources.add(path.to_path_buf(), text.clone());
    match parse(&text, id) {
        Ok(parsed) => Some((text, parsed)),
        Err(d) => {
            eprint!("{}", d.render_with(&sources, super::color()));
            *code = (*code).max(super::RECIPE_ERRORS);
            None
        }
    }
}

/// Temp file in the same folder, fsync, rename: a crash leaves the old file or the new one, never half of one.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
