//! What the integration tests share: running the `vst` binary as a user would, and scratch folders.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one `vst` invocation printed and how it exited.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The repository root (where `recipes/` and `tests/recipes/` live).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `vst ARGS` in `dir`, without colour and without a `K400_ROOT` from the caller's environment — for tests that
/// need the child process itself (to kill it); the others call [`vst_in`].
pub fn vst_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vst"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("K400_ROOT")
        .env("NO_COLOR", "1");
    command
}

/// Runs `vst ARGS` in `dir` (see [`vst_command`]) to the end.
pub fn vst_in(dir: &Path, args: &[&str]) -> Output {
    let out = vst_command(dir, args)
        .output()
        .expect("the vst binary runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Panics, showing all of `text`, unless `text` contains `needle`: what a command printed is the context a
/// failing check needs.
#[track_caller]
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "`{needle}` not in:\n{text}");
}

/// A fresh, empty scratch folder of this test's own.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Copies the folder `from` (files and subfolders) to `to`, as a fresh clone would have it.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("list {}: {e}", from.display()))
    {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

/// Panics unless the `metrics.jsonl` of a resumed job (in `resumed`) equals an uninterrupted run's (in
/// `uninterrupted`) line for line, naming the first line that differs.
pub fn assert_same_metrics(resumed: &Path, uninterrupted: &Path) {
    let read = |d: &Path| std::fs::read_to_string(d.join("metrics.jsonl")).expect("metrics");
    let (ours, theirs) = (read(resumed), read(uninterrupted));
    assert_eq!(
        ours.lines().count(),
        theirs.lines().count(),
        "records in metrics.jsonl"
    );
    if let Some((line, (a, b))) = ours
        .lines()
        .zip(theirs.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        panic!(
            "metrics.jsonl differs at line {}:\n resumed:       {a}\n uninterrupted: {b}",
            line + 1
        );
    }
}

/// The smallest pre-training the end-to-end tests run: SimCLR on a Slow R-18 at 1/8 width, 2 frames of 16², on
/// dataset `data` for `epochs` epochs of `batch` videos (recipe text).
pub fn tiny_pretrain(data: &str, epochs: u32, batch: u32) -> String {
    format!(
        r#"pretrain {{
  data: {data}
  backbone: slow_r18(frames: 2, stride: 2, width: 0.125)
  objective: simclr
  device: cpu
  augment {{
    S: [resized_crop(16, area: 0.5..1.0), flip]
    C: []
  }}
  schedule {{
    epochs: {epochs}
    batch: {batch}
    optimizer: sgd(momentum: 0.9)
    lr: 0.05
    warmup: 0 epochs
  }}
  simclr.head: mlp(layers: 2, hidden: 16, out: 8, bn: true)
}}
"#
    )
}

/// A whole tiny study on dataset `data` declared by `declaration` (`data NAME = ...`): [`tiny_pretrain`], a 1-NN
/// evaluation of one 16² view per video and a report of its top-1 (recipe text).
pub fn tiny_knn_study(declaration: &str, data: &str, epochs: u32, batch: u32) -> String {
    format!(
        r#"{declaration}

{pretrain}
evaluate knn {{
  k: 1
  views: 1x1
  view_size: 16
}}

report "kNN" {{
  cell: knn.top1
}}
"#,
        pretrain = tiny_pretrain(data, epochs, batch)
    )
}
