//! `vst lsp` over its stdio with real JSON-RPC messages: a whole session (initialize, didOpen, didChange, hover,
//! completion, definition, formatting, symbols, shutdown, exit) on the shipped recipes; the published diagnostics
//! of broken edits equal `vst check --format json`'s; random edits never bring it down.

mod common;
#[path = "common/lsp_client.rs"]
mod lsp_client;

use common::{copy_tree, root, scratch, vst_in};
use lsp_client::{Client, at, uri};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn open(client: &mut Client, uri: &str, text: &str) {
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "vst", "version": 1, "text": text } }),
    );
}

fn change(client: &mut Client, uri: &str, version: i32, text: &str) {
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
    );
}

/// The markdown of a hover at `needle` (+ `after` bytes).
fn hover_text(client: &mut Client, uri: &str, text: &str, needle: &str, after: usize) -> String {
    let hover = client.request("textDocument/hover", at(uri, text, needle, after));
    let value = hover["result"]["contents"]["value"].as_str();
    value
        .unwrap_or_else(|| panic!("no hover at `{needle}`: {hover}"))
        .to_string()
}

fn labels(items: &Value) -> Vec<String> {
    items["result"]
        .as_array()
        .expect("a list of items")
        .iter()
        .filter_map(|i| i["label"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_session_on_the_shipped_recipes() {
    let mut client = Client::start(root());
    let table2_path = root().join("recipes/table2.vst");
    let table2 = std::fs::read_to_string(&table2_path).expect("table2");
    let table2_uri = uri(&table2_path);
    open(&mut client, &table2_uri, &table2);
    assert_eq!(client.diagnostics_for(&table2_uri), Vec::<Value>::new());

    // Hover on a `when` override: the value in each cell and where it came from.
    let text = hover_text(&mut client, &table2_uri, &table2, "schedule.lr: 9.6", 3);
    assert!(
        text.contains("in 1 of 16 cells: objective=simclr,clips=4"),
        "{text}"
    );
    assert!(text.contains("set at "), "{text}");
    assert!(
        text.contains("in `when(objective: simclr, clips: 4)`"),
        "{text}"
    );
    // Hover on a sweep axis: its cells and their job ids.
    let text = hover_text(&mut client, &table2_uri, &table2, "objective: [moco", 2);
    assert!(text.contains("`objective=byol,clips=3`: `"), "{text}");

    // Go to definition: a `use` path, an axis name.
    let def = client.request(
        "textDocument/definition",
        at(&table2_uri, &table2, "base/slow_r50", 3),
    );
    assert_eq!(
        def["result"]["uri"],
        json!(uri(&root().join("recipes/base/slow_r50.vst"))),
        "{def}"
    );
    let def = client.request(
        "textDocument/definition",
        at(&table2_uri, &table2, "cols: clips", 7),
    );
    assert_eq!(def["result"]["uri"], json!(table2_uri), "{def}");
    let line = table2
        .lines()
        .position(|l| l.contains("clips: [1, 2"))
        .expect("the axis");
    assert_eq!(
        def["result"]["range"]["start"]["line"],
        json!(line),
        "{def}"
    );

    // Completion after `objective: ` in a changed document (which no longer checks), and of keys.
    let edited = format!("{table2}\npretrain {{\n  objective: \n}}\n");
    change(&mut client, &table2_uri, 2, &edited);
    assert!(
        !client.diagnostics_for(&table2_uri).is_empty(),
        "a missing value is an error"
    );
    let items = client.request(
        "textDocument/completion",
        at(&table2_uri, &edited, "objective: \n", 11),
    );
    assert_eq!(labels(&items), ["moco", "simclr", "byol", "swav"]);
    let items = client.request(
        "textDocument/completion",
        at(&table2_uri, &edited, "objective: \n", 2),
    );
    assert!(labels(&items).iter().any(|l| l == "clips"), "{items}");
    assert!(labels(&items).iter().any(|l| l == "schedule"), "{items}");

    // Formatting is `vst fmt`'s text.
    let messy = table2.replace(
        "  objective: [moco, byol, simclr, swav]",
        "objective:[moco,byol,  simclr,swav]",
    );
    change(&mut client, &table2_uri, 3, &messy);
    client.diagnostics_for(&table2_uri);
    let edits = client.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": table2_uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let edits = edits["result"].as_array().expect("edits");
    assert_eq!(edits.len(), 1, "{edits:?}");
    let fmt = vst_in(root(), &["fmt", "recipes/table2.vst"]);
    assert_eq!(edits[0]["newText"], json!(fmt.stdout));

    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": table2_uri } }),
    );
    let names: Vec<&str> = symbols["result"]
        .as_array()
        .expect("symbols")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(names.contains(&"sweep"), "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("report Table 2")),
        "{names:?}"
    );
    client.shut_down();
}

/// Broken edits of shipped recipes: what the server publishes is what `vst check --format json` reports for the
/// same text (code, severity, message, place, related places).
#[test]
fn published_diagnostics_equal_check_json() {
    let dir = scratch("lsp-diagnostics");
    copy_tree(&root().join("recipes"), &dir.join("recipes"));
    let cases: [(&str, &str, &str); 6] = [
        (
            "recipes/table2.vst",
            "clips: [1, 2, 3, 4]",
            "clips: [1, 2, 3, 4",
        ),
        ("recipes/table2.vst", "objective: [moco", "objectiv: [moco"),
        ("recipes/table2.vst", "cols: clips", "cols: clip"),
        (
            "recipes/table2.vst",
            "  schedule.lr: 0.8 per 512",
            "  schedule.lr: 0.8 per 512\n  schedule.lr: 1",
        ),
        ("recipes/mini/table2.vst", "use \"", "use \"nowhere/"),
        ("recipes/mini/fig3.vst", "\n", "\nbogus_key: 1\n"),
    ];
    let mut client = Client::start(&dir);
    for (file, from, to) in cases {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path)
            .expect("recipe")
            .replacen(from, to, 1);
        assert!(text.contains(to));
        std::fs::write(&path, &text).expect("write the broken recipe");
        let check = vst_in(&dir, &["check", "--format", "json", file]);
        let report: Value = serde_json::from_str(&check.stdout).expect("JSON report");
        let want = report["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .clone();
        assert!(!want.is_empty(), "{file}: `{to}` is an error");
        let file_uri = uri(&path);
        open(&mut client, &file_uri, &text);
        let got = client.diagnostics_for(&file_uri);
        assert_eq!(got.len(), want.len(), "{file}: {got:#?}\n{want:#?}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g["code"], w["code"], "{g}\n{w}");
            assert_eq!(g["source"], json!("vst"));
            let severity = if w["severity"] == json!("error") {
                1
            } else {
                2
            };
            assert_eq!(g["severity"], json!(severity));
            let message = g["message"].as_str().expect("message");
            assert!(
                message.starts_with(w["message"].as_str().expect("message")),
                "{g}\n{w}"
            );
            for h in w["help"].as_array().expect("help") {
                assert!(message.contains(h.as_str().expect("help")), "{g}\n{w}");
            }
            let place = |line: &str, column: &str| json!({ "line": w[line].as_u64().expect("line") - 1, "character": w[column].as_u64().expect("column") - 1 });
            assert_eq!(
                g["range"]["start"],
                place("line_start", "column_start"),
                "{g}\n{w}"
            );
            assert_eq!(
                g["range"]["end"],
                place("line_end", "column_end"),
                "{g}\n{w}"
            );
            let secondary = w["labels"]
                .as_array()
                .expect("labels")
                .iter()
                .filter(|l| l["primary"] == json!(false))
                .count();
            let placed_notes = w["notes"]
                .as_array()
                .expect("notes")
                .iter()
                .filter(|n| !n["file"].is_null())
                .count();
            let related = g["relatedInformation"].as_array().map_or(0, Vec::len);
            assert_eq!(related, secondary + placed_notes, "{g}\n{w}");
        }
        // Back to the file as shipped: clean again.
        let clean = std::fs::read_to_string(root().join(file)).expect("recipe");
        std::fs::write(&path, &clean).expect("restore");
        change(&mut client, &file_uri, 2, &clean);
        assert_eq!(
            client.diagnostics_for(&file_uri),
            Vec::<Value>::new(),
            "{file}"
        );
        client.notify(
            "textDocument/didClose",
            json!({ "textDocument": { "uri": file_uri } }),
        );
        client.diagnostics_for(&file_uri);
    }
    client.shut_down();
}

/// A few hundred random edits through the real transport (the in-process property test makes thousands): every
/// change gets its diagnostics, every request an answer without an error, and the server exits cleanly.
#[test]
fn random_edits_over_stdio() {
    let mut client = Client::start(root());
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    const ALPHABET: &[char] = &[
        '{', '}', '(', ')', ':', ',', '"', '#', '\n', ' ', 'a', '1', '.', '[', ']', 'ρ', '%', '→',
        '𝔸',
    ];
    for file in [
        "recipes/table2.vst",
        "recipes/mini/fig3.vst",
        "recipes/table4.vst",
    ] {
        let path = root().join(file);
        let file_uri = uri(&path);
        let mut text = std::fs::read_to_string(&path).expect("recipe");
        open(&mut client, &file_uri, &text);
        client.diagnostics_for(&file_uri);
        for version in 2..80 {
            let chars: Vec<(usize, char)> = text.char_indices().collect();
            let i = next(chars.len() + 1);
            let start = chars.get(i).map_or(text.len(), |c| c.0);
            let end = chars.get(i + next(3)).map_or(text.len(), |c| c.0);
            let insert: String = (0..next(3))
                .map(|_| ALPHABET[next(ALPHABET.len())])
                .collect();
            text.replace_range(start..end, &insert);
            change(&mut client, &file_uri, version, &text);
            client.diagnostics_for(&file_uri);
            let position = json!({ "textDocument": { "uri": file_uri }, "position": { "line": next(60), "character": next(30) } });
            for method in [
                "textDocument/hover",
                "textDocument/completion",
                "textDocument/definition",
            ] {
                let answer = client.request(method, position.clone());
                assert!(answer.get("error").is_none(), "{method}: {answer}");
            }
        }
    }
    client.shut_down();
}

/// The budget: a re-check of `recipes/table2.vst` with its includes after a keystroke, well under 50 ms
/// (`benches/lsp.rs` measures it more closely).
#[test]
fn a_recheck_of_table2_after_an_edit_is_well_under_50_ms() {
    let path = root().join("recipes/table2.vst");
    let text = std::fs::read_to_string(&path).expect("table2");
    let file_uri = uri(&path);
    let edits = [text.replace("9.6 per 512", "9.5 per 512"), text.clone()];
    let mut client = Client::start(root());
    open(&mut client, &file_uri, &text);
    client.diagnostics_for(&file_uri);
    let mut times: Vec<Duration> = (0..30)
        .map(|round| {
            let start = Instant::now();
            change(
                &mut client,
                &file_uri,
                round + 2,
                &edits[round as usize % 2],
            );
            assert_eq!(client.diagnostics_for(&file_uri), Vec::<Value>::new());
            start.elapsed()
        })
        .collect();
    client.shut_down();
    times.sort();
    let median = times[times.len() / 2];
    assert!(
        median < Duration::from_millis(50),
        "median re-check {median:?}"
    );
}

#[test]
fn exit_without_shutdown_is_a_failure() {
    Client::start(root()).exit_abruptly();
}
