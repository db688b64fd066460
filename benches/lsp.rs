//! How long `vst lsp` takes to re-check `recipes/table2.vst` with its includes after an edit: the time from
//! sending a `didChange` to receiving its `publishDiagnostics`, over the real stdio transport (JSON-RPC framing,
//! compilation, diagnostics conversion). `cargo bench --bench lsp` (release), or `--profile dev` for the build the
//! tests use. The target is well under 50 ms per re-check.

#[path = "../tests/common/lsp_client.rs"]
mod lsp_client;

use lsp_client::{Client, uri};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

const ROUNDS: usize = 200;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("recipes/table2.vst");
    let text = std::fs::read_to_string(&path).expect("recipes/table2.vst");
    let file_uri = uri(&path);
    // Two clean texts that differ by one keystroke in a `when` override, alternated so every change re-checks.
    let edits = [text.replace("0.8 per 512", "0.9 per 512"), text.clone()];
    let mut client = Client::start(root);
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": file_uri, "languageId": "vst", "version": 1, "text": text } }),
    );
    client.diagnostics_for(&file_uri);
    let mut times: Vec<Duration> = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let start = Instant::now();
        client.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": file_uri, "version": round + 2 },
                "contentChanges": [{ "text": edits[round % 2] }],
            }),
        );
        let diagnostics = client.diagnostics_for(&file_uri);
        times.push(start.elapsed());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }
    client.shut_down();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = times.iter().map(|&d| ms(d)).sum::<f64>() / times.len() as f64;
    println!(
        "lsp re-check of recipes/table2.vst (16 cells, 4 files) after an edit, {ROUNDS} rounds over stdio: \
         min {:.2} ms, median {:.2} ms, mean {mean:.2} ms, p95 {:.2} ms, max {:.2} ms",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 95 / 100]),
        ms(times[times.len() - 1]),
    );
}
