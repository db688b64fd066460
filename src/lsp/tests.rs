//! The server driven in-process through [`Server::handle`]: diagnostics equal to `vst check --format json`'s,
//! hover, completion, and a property test of random edits of the shipped recipes (no panic, every answer
//! well-formed).

use super::Server;
use lsp_server::{Message, Notification, Request, RequestId};
use lsp_types::Url;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use vst_compiler::Options;
use vst_compiler::diagnostic::json::Report;

fn recipe(name: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let text = std::fs::read_to_string(&path).expect("a shipped recipe");
    (path, text)
}

fn open(server: &mut Server, uri: &Url, text: &str) -> Vec<Message> {
    server.handle(Message::Notification(Notification::new(
        "textDocument/didOpen".into(),
        json!({ "textDocument": { "uri": uri, "languageId": "vst", "version": 1, "text": text } }),
    )))
}

fn request(server: &mut Server, method: &str, params: Value) -> Value {
    let out = server.handle(Message::Request(Request::new(
        RequestId::from(1),
        method.into(),
        params,
    )));
    let [Message::Response(response)] = out.as_slice() else {
        panic!("one response expected: {out:?}");
    };
    assert!(response.error.is_none(), "{response:?}");
    response.result.clone().unwrap_or(Value::Null)
}

/// The markdown of a hover.
fn hover_text(server: &mut Server, position: Value) -> String {
    let hover = request(server, "textDocument/hover", position);
    let value = hover["contents"]["value"].as_str();
    value
        .unwrap_or_else(|| panic!("no hover: {hover}"))
        .to_string()
}

fn at(uri: &Url, text: &str, needle: &str, after: usize) -> Value {
    let offset = text.find(needle).expect("needle") + after;
    let line = text[..offset].matches('\n').count();
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": column } })
}

/// The published diagnostics of the root document.
fn published(out: &[Message], uri: &Url) -> Vec<Value> {
    out.iter()
        .filter_map(|m| match m {
            Message::Notification(n) if n.params["uri"] == json!(uri) => {
                n.params["diagnostics"].as_array().cloned()
            }
            _ => None,
        })
        .flatten()
        .collect()
}

/// Compiles `text` as the file at `path` (includes from disk) into `vst check --format json`'s report.
fn check_json(path: &Path, text: &str) -> Report {
    let mut files = vec![(path.to_path_buf(), text.to_string())];
    let dir = path.parent().expect("a folder");
    for entry in walk(dir) {
        if entry != path {
            let t = std::fs::read_to_string(&entry).expect("readable");
            files.push((entry, t));
        }
    }
    let loader = vst_compiler::load::MemoryLoader {
        files: files.into_iter().collect(),
    };
    let options = Options {
        loader: &loader,
        env: &|_| None,
    };
    let compilation = vst_compiler::compile(path, &options).expect("compiles");
    let mut report = Report::default();
    report.add(path, &compilation.diagnostics, &compilation.sources);
    report
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a folder").flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|e| e == "vst") {
            out.push(p);
        }
    }
    out
}

#[test]
fn broken_edits_publish_the_diagnostics_of_check_json() {
    let (path, text) = recipe("recipes/table2.vst");
    let uri = Url::from_file_path(&path).expect("absolute");
    let edits = [
        text.replace("clips: [1, 2, 3, 4]", "clips: [1, 2, 3, 4"),
        text.replace("objective: [moco", "objectiv: [moco"),
        text.replace("schedule.lr: 0.8 per 512", "schedule.lr: -0.8 per 512"),
        text.replace("cols: clips", "cols: clip"),
        text.replace("use \"base/slow_r50.vst\"", "use \"base/missing.vst\""),
    ];
    for edited in edits {
        let mut server = Server::default();
        let out = open(&mut server, &uri, &edited);
        let got = published(&out, &uri);
        // Unit tests run in the package's folder, where the server names files relative to it as `vst check` does.
        let want = check_json(Path::new("recipes/table2.vst"), &edited);
        assert!(!want.diagnostics.is_empty(), "{edited}");
        assert_eq!(got.len(), want.diagnostics.len(), "{got:?}\n{want:?}");
        for (g, w) in got.iter().zip(&want.diagnostics) {
            assert_eq!(g["code"], json!(w.code));
            assert_eq!(
                g["severity"],
                json!(if w.severity == "error" { 1 } else { 2 })
            );
            assert!(
                g["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(&w.message)),
                "{g}"
            );
            assert_eq!(
                g["range"]["start"]["line"],
                json!(w.location.line_start.map(|l| l - 1))
            );
            assert_eq!(
                g["range"]["end"]["line"],
                json!(w.location.line_end.map(|l| l - 1))
            );
        }
    }
}

#[test]
fn hover_in_table2_shows_the_value_per_cell_and_the_axis_cells() {
    let (path, text) = recipe("recipes/table2.vst");
    let uri = Url::from_file_path(&path).expect("absolute");
    let mut server = Server::default();
    let out = open(&mut server, &uri, &text);
    assert_eq!(published(&out, &uri), Vec::<Value>::new());
    let value = hover_text(&mut server, at(&uri, &text, "schedule.lr: 0.8", 10));
    assert!(value.contains("schedule.lr"), "{value}");
    assert!(
        value.contains("in 1 of 16 cells: objective=moco,clips=4"),
        "{value}"
    );
    assert!(value.contains("0.8 per 512"), "{value}");
    let value = hover_text(&mut server, at(&uri, &text, "clips: [1", 1));
    assert!(value.contains("16 cells"), "{value}");
    assert!(value.contains("`objective=swav,clips=4`: `"), "{value}");
}

#[test]
fn completion_after_objective_offers_the_four_objectives() {
    let (path, text) = recipe("recipes/mini/base.vst");
    let uri = Url::from_file_path(&path).expect("absolute");
    let mut server = Server::default();
    let edited = text.replacen("pretrain {\n", "pretrain {\n  objective: \n", 1);
    open(&mut server, &uri, &edited);
    let items = request(
        &mut server,
        "textDocument/completion",
        at(&uri, &edited, "objective: \n", 11),
    );
    assert_eq!(labels(&items), ["moco", "simclr", "byol", "swav"]);
}

/// Every outgoing message serialises and is a response or a `publishDiagnostics` with ranges in order.
fn well_formed(out: &[Message]) {
    for m in out {
        let v = serde_json::to_value(m).expect("serialises");
        match m {
            Message::Response(r) => assert!(r.error.is_none(), "{v}"),
            Message::Notification(n) => {
                assert_eq!(n.method, "textDocument/publishDiagnostics");
                for d in n.params["diagnostics"].as_array().expect("a list") {
                    let (s, e) = (&d["range"]["start"], &d["range"]["end"]);
                    let key = |p: &Value| (p["line"].as_u64(), p["character"].as_u64());
                    assert!(key(s) <= key(e), "{d}");
                }
            }
            Message::Request(_) => panic!("the server sends no requests"),
        }
    }
}

const RECIPES: [&str; 4] = [
    "recipes/table2.vst",
    "recipes/base/slow_r50.vst",
    "recipes/mini/table2.vst",
    "recipes/mini/base.vst",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_edits_never_panic(
        which in 0..RECIPES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..4, "[ -~\\n{}():\\[\\],.\"#ρ→𝔸]{0,3}"), 1..4),
        probe in any::<prop::sample::Index>(),
    ) {
        let (path, mut text) = recipe(RECIPES[which]);
        for (place, delete, insert) in edits {
            let chars: Vec<(usize, char)> = text.char_indices().collect();
            let i = place.index(chars.len() + 1);
            let start = chars.get(i).map_or(text.len(), |c| c.0);
            let end = chars.get(i + delete).map_or(text.len(), |c| c.0);
            text.replace_range(start..end, &insert);
        }
        let uri = Url::from_file_path(&path).expect("absolute");
        let mut server = Server::default();
        well_formed(&open(&mut server, &uri, &text));
        let lines = text.lines().count() as u32 + 1;
        let line = probe.index(lines as usize) as u32;
        let position = json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": probe.index(40) } });
        for method in ["textDocument/hover", "textDocument/completion", "textDocument/definition"] {
            request(&mut server, method, position.clone());
        }
        let doc = json!({ "textDocument": { "uri": uri } });
        request(&mut server, "textDocument/formatting", json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }));
        request(&mut server, "textDocument/documentSymbol", doc);
    }
}

fn labels(items: &Value) -> Vec<&str> {
    items
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["label"].as_str())
        .collect()
}

#[test]
fn definitions_completions_and_symbols_in_the_base_recipe() {
    let (path, text) = recipe("recipes/base/slow_r50.vst");
    let uri = Url::from_file_path(&path).expect("absolute");
    let mut server = Server::default();
    open(&mut server, &uri, &text);
    // A data name goes to its declaration in the included file.
    let def = request(
        &mut server,
        "textDocument/definition",
        at(&uri, &text, "data: k400", 8),
    );
    let k400 = Url::from_file_path(path.with_file_name("k400.vst")).expect("absolute");
    assert_eq!(def["uri"], json!(k400), "{def}");
    let k400_text = std::fs::read_to_string(path.with_file_name("k400.vst")).expect("k400");
    let line = k400_text
        .lines()
        .position(|l| l.starts_with("data k400"))
        .expect("decl");
    assert_eq!(def["range"]["start"]["line"], json!(line), "{def}");
    // Arguments inside a call, then the values of one.
    let items = request(
        &mut server,
        "textDocument/completion",
        at(&uri, &text, "slow_r50(", 9),
    );
    assert!(labels(&items).contains(&"frames"), "{items}");
    let items = request(
        &mut server,
        "textDocument/completion",
        at(&uri, &text, "data: k400", 6),
    );
    assert_eq!(labels(&items), ["k400"]);
    // Keys of a group.
    let edited = text.replacen("    epochs: 200\n", "    epochs: 200\n    \n", 1);
    open(&mut server, &uri, &edited);
    let items = request(
        &mut server,
        "textDocument/completion",
        at(&uri, &edited, "200\n    \n", 8),
    );
    assert!(labels(&items).contains(&"warmup_start"), "{items}");
    assert!(!labels(&items).contains(&"clips"), "{items}");
    // A function's documentation.
    let value = hover_text(&mut server, at(&uri, &text, "short_side(", 2));
    assert!(value.contains("short_side"), "{value}");
    let symbols = request(
        &mut server,
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .expect("symbols")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        names.contains(&"pretrain") && names.contains(&"evaluate linear"),
        "{names:?}"
    );
}

/// Editing an included file re-checks the open recipes that include it: what they find in it is published on it,
/// and goes away with the mistake.
#[test]
fn an_edit_of_an_included_file_rechecks_the_recipes_that_include_it() {
    let (table2_path, table2) = recipe("recipes/table2.vst");
    let (path, text) = recipe("recipes/base/objectives.vst");
    let table2_uri = Url::from_file_path(&table2_path).expect("absolute");
    let uri = Url::from_file_path(&path).expect("absolute");
    let mut server = Server::default();
    open(&mut server, &table2_uri, &table2);
    open(&mut server, &uri, &text);
    let broken = text.replacen("lr: 0.4 per 512", "lr: -0.4 per 512", 1);
    let line = broken
        .lines()
        .position(|l| l.contains("-0.4 per 512"))
        .expect("the edit") as u64;
    let on_line = |out: &[Message]| {
        published(out, &uri)
            .iter()
            .filter(|d| d["range"]["start"]["line"] == json!(line))
            .count()
    };
    let out = open(&mut server, &uri, &broken);
    assert!(published(&out, &table2_uri).is_empty());
    assert!(
        out.iter()
            .any(|m| matches!(m, Message::Notification(n) if n.params["uri"] == json!(table2_uri))),
        "table2 is re-checked: {out:?}"
    );
    assert!(on_line(&out) >= 1, "{out:?}");
    let out = open(&mut server, &uri, &text);
    assert_eq!(on_line(&out), 0, "{out:?}");
}

/// Every position of a text full of multi-byte characters next to the characters the server looks for (`(`, `:`,
/// `"`, `{`), with columns past the line's end: every request gets an answer.
#[test]
fn every_position_of_a_text_with_multibyte_characters_is_answered() {
    let text = "use \"𝔸→\"\npretrain →{\n  a→b(𝔸: ρ→(\n  objective: ρ\"→\n  schedule{ lr: 𝔸\n}\n→data 𝔸 = x→(\n";
    let uri = Url::from_file_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/x.vst"))
        .expect("absolute");
    let mut server = Server::default();
    well_formed(&open(&mut server, &uri, text));
    for (line, content) in text.lines().enumerate() {
        for character in 0..=content.encode_utf16().count() + 2 {
            let position = json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } });
            for method in [
                "textDocument/hover",
                "textDocument/completion",
                "textDocument/definition",
            ] {
                request(&mut server, method, position.clone());
            }
        }
    }
}
