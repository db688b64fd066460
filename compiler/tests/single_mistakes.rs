//! One mistake, one error (as rustc): each case makes one typical mistake in a shipped recipe and pins the whole
//! rendered output, which must hold exactly one error, at the mistake. Errors that only follow from it (a report
//! naming a sweep axis whose values did not check, a parse error further on) must not appear.

mod common;

use common::compile_in_memory;
use std::path::{Path, PathBuf};

fn recipes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes")
}

/// Every shipped recipe file, by its path from the repository root (`recipes/mini/base.vst`).
fn shipped() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![recipes_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("recipes/") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "vst") {
                let relative = path.strip_prefix(recipes_dir()).expect("under recipes/");
                let text = std::fs::read_to_string(&path).expect("read");
                out.push((format!("recipes/{}", relative.display()), text));
            }
        }
    }
    out
}

/// Compiles `root` after replacing the first `find` in `file` with `replace`; the rendered diagnostics.
fn with_mistake(root: &str, file: &str, find: &str, replace: &str) -> String {
    let mut files = shipped();
    let (_, text) = files
        .iter_mut()
        .find(|(path, _)| path == file)
        .unwrap_or_else(|| panic!("no shipped file {file}"));
    assert!(text.contains(find), "{file} has no `{find}`");
    *text = text.replacen(find, replace, 1);
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let compilation = compile_in_memory(&files, root, &|_| None);
    compilation.render_diagnostics(false)
}

macro_rules! mistake {
    ($name:ident, $root:expr, $file:expr, $find:expr, $replace:expr) => {
        #[test]
        fn $name() {
            let out = with_mistake($root, $file, $find, $replace);
            let errors = out.lines().filter(|l| l.starts_with("error[")).count();
            assert_eq!(errors, 1, "{}:\n{out}", stringify!($name));
            insta::assert_snapshot!(stringify!($name), out);
        }
    };
}

const TABLE2: &str = "recipes/mini/table2.vst";
const FIG3: &str = "recipes/mini/fig3.vst";
const BASE: &str = "recipes/mini/base.vst";

#[test]
fn the_shipped_recipes_are_clean() {
    for root in [TABLE2, FIG3] {
        assert_eq!(with_mistake(root, BASE, "", ""), "", "{root}");
    }
}

// The two of issue 13: a misspelt sweep value was followed by "report rows `objective` is not a sweep axis" for
// each report; a stray word after a value was reported at the next line.
mistake!(
    misspelt_sweep_value,
    TABLE2,
    TABLE2,
    "objective: [moco,",
    "objective: [mocco,"
);
mistake!(
    stray_word_after_a_value,
    TABLE2,
    BASE,
    "    lr: 0.1\n",
    "    lr: 0.1 per 256 videos\n"
);

mistake!(misspelt_key, TABLE2, BASE, "  clips: 2\n", "  clip: 2\n");
mistake!(
    wrong_unit,
    TABLE2,
    BASE,
    "warmup: 2 epochs\n    warmup_start",
    "warmup: 2s\n    warmup_start"
);
mistake!(
    value_out_of_range,
    TABLE2,
    BASE,
    "queue: 128\n    momentum: 0.98",
    "queue: 128\n    momentum: 1.5"
);
mistake!(
    probability_out_of_range,
    TABLE2,
    BASE,
    "grayscale(p: 0.2)",
    "grayscale(p: 1.2)"
);
mistake!(
    unknown_function_argument,
    TABLE2,
    BASE,
    "slow_r18(frames: 4, stride: 4",
    "slow_r18(frames: 4, strid: 4"
);
mistake!(
    unknown_axis_in_a_report,
    TABLE2,
    TABLE2,
    "  cols: clips",
    "  cols: clip"
);
mistake!(
    unknown_evaluation_in_a_report,
    TABLE2,
    TABLE2,
    "cell: linear.top1",
    "cell: linaer.top1"
);
mistake!(
    duplicate_setting,
    TABLE2,
    BASE,
    "  seed: 0\n  device: cpu",
    "  seed: 0\n  seed: 1\n  device: cpu"
);
mistake!(
    unknown_dataset,
    TABLE2,
    BASE,
    "  data: synth\n",
    "  data: synt\n"
);
mistake!(missing_required_key, TABLE2, BASE, "  data: synth\n", "");
mistake!(
    bad_when_condition_value,
    TABLE2,
    BASE,
    "when(objective: moco)",
    "when(objective: mocco)"
);
mistake!(
    bad_label_axis_condition_value,
    FIG3,
    FIG3,
    "when(augment: SC)",
    "when(augment: CS)"
);
mistake!(unknown_block, TABLE2, BASE, "  schedule {", "  schedul {");
mistake!(
    unclosed_brace,
    TABLE2,
    BASE,
    "    temperature: 0.2  # MoCo v2's value; the paper uses 0.1 (with batches of 512)\n  }\n  simclr",
    "    temperature: 0.2  # MoCo v2's value; the paper uses 0.1 (with batches of 512)\n  simclr"
);
mistake!(
    misspelt_sweep_key,
    TABLE2,
    TABLE2,
    "  objective: [moco,",
    "  objectiv: [moco,"
);
mistake!(
    misspelt_evaluation_name,
    TABLE2,
    BASE,
    "evaluate linear {",
    "evaluate linaer {"
);
