//! The VS Code grammar (editors/vscode/syntaxes/vst.tmLanguage.json) against the parser: for every token of every
//! recipe, VS Code's tokenizer (vscode-textmate, driven by editors/vscode/test/tokens.mjs) must give the scope of
//! the class that the pest grammar gives it (`vst fmt --tokens`). Needs node ≥ 20 and npm: the test installs the
//! checker's pinned packages itself (`npm ci --prefix editors/vscode`, once per package-lock.json), so that
//! `cargo test` alone works on a fresh clone. Broken grammars must be rejected, so the check is shown to be able
//! to fail.

mod common;

use common::{assert_contains, root, scratch, vst_in};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Installs the checker's npm packages when `node_modules` does not hold those of the current package-lock.json
/// (a copy of the lock file inside `node_modules` says which it holds); once per test process.
fn install_checker() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = INSTALLED.get_or_init(|| {
        let dir = root().join("editors/vscode");
        let lock = std::fs::read(dir.join("package-lock.json")).map_err(|e| e.to_string())?;
        let stamp = dir.join("node_modules/.vst-package-lock.json");
        if std::fs::read(&stamp).ok().as_deref() == Some(lock.as_slice()) {
            return Ok(());
        }
        let out = Command::new("npm")
            .current_dir(&dir)
            .args(["ci", "--no-audit", "--no-fund", "--prefer-offline"])
            .output()
            .map_err(|e| format!("cannot run `npm` (node ≥ 20 and npm are needed): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`npm ci` in editors/vscode failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        std::fs::write(&stamp, &lock).map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Every `.vst` file under `dir`, recursively, relative to the repository root.
fn vst_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = dir.join(entry.file_name());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            vst_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "vst") {
            out.push(path);
        }
    }
}

/// The shipped recipes, the CLI's test recipes, the checker's own recipe of every token form
/// (editors/vscode/test/all_tokens.vst), and those of the compiler's diagnostic tests that parse.
fn recipes() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["recipes", "tests/recipes", "editors/vscode/test"] {
        vst_files(Path::new(dir), &mut files);
    }
    let mut diagnostics = Vec::new();
    vst_files(Path::new("compiler/tests/diagnostics"), &mut diagnostics);
    diagnostics.retain(|f| {
        let text = std::fs::read_to_string(root().join(f)).unwrap_or_default();
        vst_compiler::syntax::parse(&text, vst_compiler::source::FileId(0)).is_ok()
    });
    files.append(&mut diagnostics);
    files.sort();
    files
}

struct Check {
    code: i32,
    stdout: String,
}

/// Runs the checker with `grammar` (the shipped one when None) on `files`.
fn check(grammar: Option<&Path>, files: &[PathBuf]) -> Check {
    install_checker();
    let mut command = Command::new("node");
    command
        .current_dir(root())
        .arg("editors/vscode/test/tokens.mjs")
        .args(["--vst", env!("CARGO_BIN_EXE_vst")]);
    if let Some(g) = grammar {
        command.arg("--grammar").arg(g);
    }
    let out = command
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` (node ≥ 20 is needed for this test): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "the checker failed to run ({code}):\n{stdout}{stderr}"
    );
    Check { code, stdout }
}

/// The shipped grammar with every scope name passed through `rename`.
fn broken_grammar(name: &str, rename: &dyn Fn(&str) -> String) -> PathBuf {
    fn walk(value: &mut serde_json::Value, rename: &dyn Fn(&str) -> String) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    match v {
                        serde_json::Value::String(s) if key == "name" => *s = rename(s),
                        _ => walk(v, rename),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| walk(v, rename)),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(root().join("editors/vscode/syntaxes/vst.tmLanguage.json"))
        .expect("the grammar");
    let mut grammar: serde_json::Value = serde_json::from_str(&text).expect("the grammar is JSON");
    walk(&mut grammar, rename);
    let path = scratch(name).join("vst.tmLanguage.json");
    std::fs::write(&path, grammar.to_string()).expect("write the broken grammar");
    path
}

#[test]
fn every_token_of_every_recipe_gets_the_scope_of_its_class() {
    let files = recipes();
    assert!(files.len() >= 60, "{files:?}");
    let out = check(None, &files);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_contains(&out.stdout, &format!("of {} files agree", files.len()));
    // Every class the issue names occurs, so none of them is checked vacuously.
    for class in [
        "comment",
        "key",
        "value",
        "unit",
        "string",
        "number",
        "function",
        "block",
        "keyword",
        "label",
        "name",
        "operator",
        "punctuation",
    ] {
        let count = out
            .stdout
            .split([',', '('])
            .find_map(|part| part.trim().strip_prefix(&format!("{class} ")))
            .and_then(|n| n.trim_end_matches(')').parse::<usize>().ok());
        assert!(
            count.is_some_and(|n| n > 0),
            "no {class} token:\n{}",
            out.stdout
        );
    }
}

#[test]
fn every_token_of_every_formatted_recipe_gets_the_scope_of_its_class() {
    // What `vst fmt` (and so format-on-save) writes: long headers and calls broken over lines, one statement a line.
    let dir = scratch("formatted");
    let mut files = Vec::new();
    for (i, recipe) in recipes().iter().enumerate() {
        let out = vst_in(root(), &["fmt", &recipe.to_string_lossy()]);
        assert_eq!(out.code, 0, "{}: {}", recipe.display(), out.stderr);
        let path = dir.join(format!("{i}.vst"));
        std::fs::write(&path, out.stdout).expect("write the formatted recipe");
        files.push(path);
    }
    let out = check(None, &files);
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn a_grammar_that_gives_everything_one_scope_is_rejected() {
    let grammar = broken_grammar("one_scope", &|_| "constant.other.value.vst".to_string());
    let out = check(Some(&grammar), &recipes());
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_contains(&out.stdout, "FAILED");
    assert_contains(&out.stdout, "is a key");
}

#[test]
fn a_grammar_that_takes_units_for_numbers_is_rejected() {
    let grammar = broken_grammar("units_as_numbers", &|s| {
        s.replace("keyword.other.unit.vst", "constant.numeric.unit.vst")
    });
    let out = check(
        Some(&grammar),
        &[PathBuf::from("recipes/base/slow_r50.vst")],
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_contains(&out.stdout, "`epochs` is a unit");
}

#[test]
fn tokens_of_a_recipe_that_does_not_parse_are_an_error() {
    let dir = scratch("tokens_broken");
    std::fs::write(dir.join("broken.vst"), "pretrain { clips: }\n").expect("write");
    let out = vst_in(&dir, &["fmt", "--tokens", "broken.vst"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_contains(&out.stderr, "error");
}

#[test]
fn the_extension_manifest_names_files_that_exist() {
    let dir = root().join("editors/vscode");
    let json = |path: &Path| -> serde_json::Value {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
    };
    let manifest = json(&dir.join("package.json"));
    let contributes = &manifest["contributes"];
    assert_eq!(contributes["languages"][0]["id"], "vst");
    assert_eq!(contributes["languages"][0]["extensions"][0], ".vst");
    let grammar = &contributes["grammars"][0];
    assert_eq!(grammar["language"], "vst");
    let file = |key: &serde_json::Value| dir.join(key.as_str().expect("a path"));
    assert_eq!(
        json(&file(&grammar["path"]))["scopeName"],
        grammar["scopeName"]
    );
    let configuration = json(&file(&contributes["languages"][0]["configuration"]));
    assert_eq!(configuration["comments"]["lineComment"], "#");
    assert!(file(&manifest["main"]).exists(), "{}", manifest["main"]);
}
