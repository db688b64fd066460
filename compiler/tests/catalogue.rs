//! The catalogue of diagnostic codes against its documentation: every code has an example in
//! `tests/diagnostics/<code>.vst` that really produces it (as its first diagnostic), and `docs/diagnostics.md`
//! lists every code with its title, explanation, example and rendered message, generated from the catalogue.
//!
//! After changing the catalogue or an example, regenerate the doc with
//! `UPDATE_DOCS=1 cargo test -p vst-compiler --test catalogue`.

mod common;

use common::compile_in_memory;
use std::path::{Path, PathBuf};
use vst_compiler::diagnostic::Kind;

const BASE: &str = include_str!("diagnostics/base.vst");
/// Everything above this line of the doc is written by hand; everything below is generated.
const MARKER: &str = "<!-- Generated from the catalogue by compiler/tests/catalogue.rs: edit the catalogue, not below. -->";
/// Reaching these is a bug in `vst`, so no recipe shows them.
const WITHOUT_EXAMPLE: &[Kind] = &[Kind::Internal];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics")
}

fn example(kind: Kind) -> Option<String> {
    std::fs::read_to_string(examples_dir().join(format!("{}.vst", kind.code()))).ok()
}

/// The example compiled as `recipe.vst` next to the shared `base.vst`: its diagnostics' codes and their text.
fn compile_example(source: &str) -> (Vec<&'static str>, String) {
    let compilation = compile_in_memory(
        &[("recipe.vst", source), ("base.vst", BASE)],
        "recipe.vst",
        &|_| None,
    );
    let codes = compilation
        .diagnostics
        .items
        .iter()
        .map(|d| d.kind.code())
        .collect();
    (codes, compilation.render_diagnostics(false))
}

#[test]
fn codes_are_unique_and_well_formed() {
    let mut codes: Vec<&str> = Kind::ALL.iter().map(|k| k.code()).collect();
    for code in &codes {
        assert!(
            code.len() == 5 && (code.starts_with('E') || code.starts_with('W')),
            "{code}"
        );
        assert!(code[1..].chars().all(|c| c.is_ascii_digit()), "{code}");
    }
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), Kind::ALL.len(), "a code is used twice");
}

#[test]
fn every_example_produces_its_code_first() {
    let mut wrong = Vec::new();
    for &kind in Kind::ALL {
        let Some(source) = example(kind) else {
            assert!(
                WITHOUT_EXAMPLE.contains(&kind),
                "no example tests/diagnostics/{}.vst for {kind:?}",
                kind.code()
            );
            continue;
        };
        let (codes, rendered) = compile_example(&source);
        if codes.first().copied() != Some(kind.code()) {
            wrong.push(format!(
                "the example of {} ({kind:?}) gives:\n{rendered}",
                kind.code()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // And no example for a code that does not exist.
    for entry in std::fs::read_dir(examples_dir()).expect("tests/diagnostics/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        if let Some(code) = name.strip_suffix(".vst")
            && name != "base.vst"
        {
            assert!(Kind::from_code(code).is_some(), "{name} names no code");
        }
    }
}

fn generated_reference() -> String {
    let mut out = String::new();
    out.push_str(MARKER);
    out.push_str("\n\n## Codes\n\n| code | title |\n|---|---|\n");
    for kind in Kind::ALL {
        out.push_str(&format!(
            "| [{code}](#{lower}) | {title} |\n",
            code = kind.code(),
            lower = kind.code().to_lowercase(),
            title = kind.title()
        ));
    }
    for &kind in Kind::ALL {
        out.push_str(&format!(
            "\n### {}\n\n**{}**. {}\n",
            kind.code(),
            kind.title(),
            kind.explanation()
        ));
        if let Some(source) = example(kind) {
            let (_, rendered) = compile_example(&source);
            out.push_str(&format!(
                "\n```vst\n{}\n```\n\n```text\n{}\n```\n",
                source.trim_end(),
                rendered.trim_end()
            ));
        }
    }
    out
}

#[test]
fn the_doc_lists_every_code_as_generated() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/diagnostics.md");
    let doc = std::fs::read_to_string(&path).expect("docs/diagnostics.md");
    let (by_hand, _) = doc.split_once(MARKER).expect("the doc has the marker line");
    let expected = format!("{by_hand}{}", generated_reference());
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).expect("write docs/diagnostics.md");
        return;
    }
    assert!(
        doc == expected,
        "docs/diagnostics.md is out of date: run `UPDATE_DOCS=1 cargo test -p vst-compiler --test catalogue`"
    );
}
