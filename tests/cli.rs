//! The `vst` binary as a user meets it: exit codes (0 ok, 1 recipe errors, 2 usage or I/O errors), what goes to
//! stdout and stderr, and the commands `check`, `fmt`, `plan`, `explain`.

mod common;

use common::{Output, assert_contains, copy_tree, root, scratch, vst_in};

fn vst(args: &[&str]) -> Output {
    vst_in(root(), args)
}

fn shipped_recipes() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join("recipes"))
        .expect("recipes/")
        .flatten()
        .map(|e| format!("recipes/{}", e.file_name().to_string_lossy()))
        .filter(|p| p.ends_with(".vst"))
        .collect();
    out.sort();
    out
}

#[test]
fn check_passes_on_every_shipped_recipe() {
    let recipes = shipped_recipes();
    assert!(recipes.len() >= 8, "{recipes:?}");
    let args: Vec<&str> = std::iter::once("check")
        .chain(recipes.iter().map(String::as_str))
        .collect();
    let out = vst(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr.lines().filter(|l| l.starts_with("ok: ")).count(),
        recipes.len(),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

#[test]
fn plan_of_table2_as_json_has_16_pretrain_16_linear_and_2_reports() {
    let out = vst(&["plan", "recipes/table2.vst", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: vst_spec::Plan = serde_json::from_str(&out.stdout).expect("the plan is JSON");
    assert_eq!(plan.count("pretrain"), 16);
    let linear = plan
        .jobs
        .iter()
        .filter(|j| matches!(&j.kind, vst_spec::JobKind::Eval(e) if e.name == "linear"))
        .count();
    assert_eq!(linear, 16);
    // K400 linear top-1 and UCF101 fine-tune top-1.
    assert_eq!(plan.count("report"), 2);
    assert_eq!(plan.recipe, "recipes/table2.vst");
}

#[test]
fn a_misspelt_key_exits_1_with_its_location_and_a_suggestion() {
    let dir = scratch("misspelt");
    std::fs::write(
        dir.join("typo.vst"),
        "data d = synthetic(classes: 2)\n\npretrain {\n  data: d\n  objectiv: byol\n}\n",
    )
    .expect("write");
    let out = vst_in(&dir, &["check", "typo.vst"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    insta::assert_snapshot!("misspelt_key", out.stderr);
}

#[test]
fn check_as_json_gives_each_diagnostic_with_its_code_place_and_help() {
    let dir = scratch("json");
    let text = "data d = synthetic(classes: 2)\n\npretrain {\n  data: d\n  objectiv: byol\n}\n";
    std::fs::write(dir.join("typo.vst"), text).expect("write");
    let out = vst_in(&dir, &["check", "--format", "json", "typo.vst"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let report: vst_compiler::diagnostic::json::Report =
        serde_json::from_str(&out.stdout).expect("the report is JSON");
    assert_eq!(report.schema, "vst-diagnostics/1");
    assert_eq!((report.summary.recipes, report.summary.errors), (1, 1));
    let [d] = report.diagnostics.as_slice() else {
        panic!("one diagnostic: {}", out.stdout);
    };
    assert_eq!((d.severity.as_str(), d.code.as_str()), ("error", "E0301"));
    assert_eq!(d.message, "unknown key `objectiv` in `pretrain`");
    let at = &d.location;
    assert_eq!(at.file.as_deref(), Some("typo.vst"));
    assert_eq!((at.line_start, at.column_start), (Some(5), Some(3)));
    assert_eq!((at.line_end, at.column_end), (Some(5), Some(11)));
    let start = text.find("objectiv").expect("in the text");
    assert_eq!((at.byte_start, at.byte_end), (Some(start), Some(start + 8)));
    assert!(d.labels.len() == 1 && d.labels[0].primary);
    assert_eq!(d.help, ["did you mean `objective`?"]);
    assert!(
        d.rendered.starts_with("error[E0301]: unknown key"),
        "{}",
        d.rendered
    );

    // A clean recipe: no diagnostics, exit 0, still one report.
    let out = vst(&["check", "--format", "json", "recipes/table2.vst"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: vst_compiler::diagnostic::json::Report =
        serde_json::from_str(&out.stdout).expect("the report is JSON");
    assert!(report.diagnostics.is_empty(), "{}", out.stdout);
    assert_eq!(report.summary.recipes, 1);
}

#[test]
fn a_missing_file_or_a_bad_flag_exits_2() {
    let out = vst(&["check", "recipes/no_such_recipe.vst"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("error: cannot read `recipes/no_such_recipe.vst`"),
        "{}",
        out.stderr
    );
    assert_eq!(
        vst(&["plan", "recipes/table2.vst", "--format", "yaml"]).code,
        2
    );
    assert_eq!(vst(&["plan", "recipes/table2.vst", "--gpus", "0"]).code, 2);
    assert_eq!(vst(&["frobnicate"]).code, 2);
    let unknown = vst(&[
        "run",
        "recipes/mini/table2.vst",
        "--decoder",
        "vlc",
        "--dry-run",
    ]);
    assert_eq!(unknown.code, 2);
    assert_contains(&unknown.stderr, "expected openh264, ffmpeg or nvdec");
}

/// `--decoder nvdec` on a machine without NVIDIA's driver stops before any job, saying why (this machine, CI).
#[test]
fn nvdec_without_a_driver_stops_the_run_before_it_starts() {
    if vst_cuda::nvdec::unavailable(0).is_none() {
        return; // a machine with a GPU and its video library: nothing to refuse
    }
    let dir = scratch("nvdec-refused");
    let out = vst_in(
        &dir,
        &[
            "run",
            &root().join("tests/recipes/smoke.vst").display().to_string(),
            "--decoder",
            "nvdec",
            "--runs",
            "runs",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_contains(
        &out.stderr,
        "error: --decoder nvdec: the NVDEC decoder cannot run:",
    );
    assert!(!dir.join("runs").exists(), "nothing ran");
}

/// `--augment-on gpu` for pre-trainings on the CPU is refused before anything runs, naming one.
#[test]
fn gpu_augmentation_for_a_cpu_pretraining_is_refused() {
    let dir = scratch("augment-on-refused");
    let recipe = root().join("tests/recipes/smoke.vst").display().to_string();
    let out = vst_in(
        &dir,
        &["run", &recipe, "--augment-on", "gpu", "--runs", "runs"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_contains(
        &out.stderr,
        "--augment-on gpu augments on the pre-training's CUDA device, but pretrain[",
    );
    assert!(!dir.join("runs").exists(), "nothing ran");
}

#[test]
fn check_reports_the_worst_outcome_over_several_files() {
    let dir = scratch("several");
    std::fs::write(dir.join("bad.vst"), "pretrain {\n  clips: 0\n}\n").expect("write");
    let out = vst_in(&dir, &["check", "bad.vst", "missing.vst"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = vst_in(&dir, &["check", "bad.vst"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
}

#[test]
fn fmt_prints_checks_and_rewrites() {
    let shipped = shipped_recipes();
    let mut args = vec!["fmt", "--check"];
    args.extend(shipped.iter().map(String::as_str));
    let out = vst(&args);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, ""),
        "not canonical: {}",
        out.stdout
    );

    let dir = scratch("fmt");
    let messy = "pretrain{clips:2,seed:1 # the seed\n}\n";
    std::fs::write(dir.join("messy.vst"), messy).expect("write");
    let printed = vst_in(&dir, &["fmt", "messy.vst"]);
    assert_eq!(printed.code, 0);
    assert_eq!(
        printed.stdout,
        "pretrain {\n  clips: 2\n  seed: 1  # the seed\n}\n"
    );
    let checked = vst_in(&dir, &["fmt", "--check", "messy.vst"]);
    assert_eq!((checked.code, checked.stdout.as_str()), (1, "messy.vst\n"));
    assert_eq!(vst_in(&dir, &["fmt", "--write", "messy.vst"]).code, 0);
    assert_eq!(
        std::fs::read_to_string(dir.join("messy.vst")).expect("read"),
        printed.stdout
    );
    assert_eq!(vst_in(&dir, &["fmt", "--check", "messy.vst"]).code, 0);

    std::fs::write(dir.join("broken.vst"), "pretrain {\n").expect("write");
    let broken = vst_in(&dir, &["fmt", "broken.vst"]);
    assert_eq!(broken.code, 1);
    assert_contains(&broken.stderr, "broken.vst:2:1");
}

#[test]
fn plan_prints_text_dot_and_the_per_device_split() {
    let text = vst(&["plan", "tests/recipes/smoke.vst"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.starts_with(
        "plan of tests/recipes/smoke.vst: 26 jobs (1 prepare, 8 pretrain, 16 eval, 1 report)"
    ));
    // Costs are multiply-adds, and say so (a `state` column follows when a runs/ folder exists here).
    assert_contains(&text.stdout, "  28.8 MMACs");
    assert_contains(
        &text.stdout,
        "total: 320 clips, 346 MMACs forward (multiply-adds",
    );
    let dot = vst(&["plan", "tests/recipes/smoke.vst", "--format", "dot"]);
    assert!(dot.stdout.starts_with("digraph plan {"));
    assert_contains(&dot.stdout, "\\n16 clips, 28.8 MMACs\"");
    assert!(!dot.stdout.contains("FLOP"), "{}", dot.stdout);

    let split = vst(&[
        "plan",
        "recipes/table2.vst",
        "--nodes",
        "8",
        "--gpus-per-node",
        "8",
    ]);
    assert_eq!(split.code, 0, "{}", split.stderr);
    assert_contains(&split.stdout, "on 64 devices (8 nodes × 8 GPUs)");
    assert_contains(&split.stdout, "8 videos (16 clips)");
    let uneven = vst(&["plan", "recipes/table2.vst", "--gpus", "48"]);
    assert_eq!(uneven.code, 1);
    assert_contains(&uneven.stderr, "does not split evenly over 48 devices");
}

#[test]
fn explain_shows_where_a_value_comes_from() {
    let out = vst(&["explain", "recipes/table4.vst", "objective"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "objective: byol\n  set at recipes/table4.vst:6:3  `objective: byol`\n  in all 6 cells\n"
    );
    let unknown = vst(&["explain", "recipes/table4.vst", "objectiv"]);
    assert_eq!(unknown.code, 2);
    assert_contains(&unknown.stderr, "did you mean `objective`?");
}

#[test]
fn plan_marks_the_jobs_already_done_in_the_run_directory() {
    let dir = scratch("states");
    std::fs::create_dir_all(dir.join("tests/recipes")).expect("mkdir");
    let smoke = root().join("tests/recipes/smoke.vst");
    std::fs::copy(smoke, dir.join("tests/recipes/smoke.vst")).expect("copy");
    // No run directory: no state column.
    let before = vst_in(&dir, &["plan", "tests/recipes/smoke.vst"]);
    assert!(!before.stdout.contains("state"), "{}", before.stdout);

    let json = vst_in(
        &dir,
        &["plan", "tests/recipes/smoke.vst", "--format", "json"],
    );
    let plan: vst_spec::Plan = serde_json::from_str(&json.stdout).expect("JSON");
    let store = vst_runtime::executor::RunStore::new(dir.join("runs"));
    let prepare = &plan.jobs[0];
    store.begin(prepare).expect("begin");
    store
        .finish(prepare, 0.1, None, serde_json::Value::Null)
        .expect("finish");
    store.begin(&plan.jobs[1]).expect("begin");

    let after = vst_in(&dir, &["plan", "tests/recipes/smoke.vst"]);
    assert_eq!(after.code, 0, "{}", after.stderr);
    let line = |n: &str| {
        after
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{n} ")))
            .unwrap_or("")
            .to_string()
    };
    assert!(line("1").ends_with("done"), "{}", after.stdout);
    assert!(line("2").ends_with("interrupted"), "{}", after.stdout);
    assert!(line("3").ends_with("pending"), "{}", after.stdout);
    assert!(
        after.stdout.ends_with("done: 1 of 26 jobs\n"),
        "{}",
        after.stdout
    );
}

#[test]
fn the_commands_that_need_a_plan_say_so_for_a_recipe_of_shared_settings() {
    let dir = scratch("no-pretrain");
    let smoke = std::fs::read_to_string(root().join("tests/recipes/smoke.vst")).expect("smoke.vst");
    let shared = &smoke[..smoke.find("pretrain {").expect("a pretrain block")];
    std::fs::write(dir.join("shared.vst"), shared).expect("write");
    assert_eq!(vst_in(&dir, &["check", "shared.vst"]).code, 0);
    for (command, consequence) in [
        ("plan", "nothing to plan"),
        ("model", "no model to show"),
        ("status", "nothing to run"),
        ("run", "nothing to run"),
    ] {
        let out = vst_in(&dir, &[command, "shared.vst"]);
        assert_eq!(out.code, 1, "{command}: {}", out.stderr);
        assert_eq!(
            out.stderr,
            format!("error: `shared.vst` has no `pretrain` block: {consequence}\n"),
            "{command}"
        );
    }
}

#[test]
fn model_prints_multiply_adds_per_clip() {
    // The paper's "41.9 GFLOPs" for Slow R-50 8×224² are multiply-adds.
    let out = vst(&["model", "recipes/table2.vst"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_contains(
        &out.stdout,
        "forward cost: 41.9 GMACs per clip (multiply-adds",
    );
    assert_contains(&out.stdout, "params      GMACs\n");
    // A backbone under one GMAC is shown in MMACs, not as 0.0.
    let mini = vst(&["model", "recipes/mini/table2.vst"]);
    assert_eq!(mini.code, 0, "{}", mini.stderr);
    assert_contains(&mini.stdout, "forward cost: 14.7 MMACs per clip");
}

/// A fresh copy of the repository's recipes, as a new user has them after cloning: the README's mini Table 2 with
/// the synthetic dataset cut from 512 to 80 videos (same `use` layout and data block; only the counts change), so
/// that generating it takes seconds in a test.
fn fresh_clone(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    copy_tree(&root().join("recipes"), &dir.join("recipes"));
    let base = dir.join("recipes/mini/base.vst");
    let text = std::fs::read_to_string(&base).expect("recipes/mini/base.vst");
    let small = text
        .replace("  train_per_class: 48,\n", "  train_per_class: 8,\n")
        .replace("  val_per_class: 16,\n", "  val_per_class: 2,\n");
    assert_ne!(
        small, text,
        "the mini dataset's size was not found in base.vst"
    );
    std::fs::write(&base, small).expect("write base.vst");
    dir
}

/// The synthetic dataset folder `vst run` uses for the mini Table 2 under `dir/runs`.
fn mini_synthetic_dir(dir: &std::path::Path) -> std::path::PathBuf {
    let plan = vst_in(
        dir,
        &["plan", "recipes/mini/table2.vst", "--format", "json"],
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan: vst_spec::Plan = serde_json::from_str(&plan.stdout).expect("JSON");
    let prepare = plan
        .jobs
        .iter()
        .find(|j| j.name == "prepare[synth]")
        .expect("the mini study prepares `synth`");
    dir.join("runs").join(&prepare.id.0).join("synthetic")
}

fn assert_png(path: &std::path::Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
}

#[test]
fn the_quick_start_works_from_a_fresh_clone_before_any_run() {
    // check and plan on the shipped mini recipes, exactly as cloned.
    let dir = scratch("fresh-clone-shipped");
    copy_tree(&root().join("recipes"), &dir.join("recipes"));
    let check = vst_in(&dir, &["check", "recipes/mini/table2.vst"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert_eq!(check.stderr, "ok: recipes/mini/table2.vst (51 jobs)\n");
    let plan = vst_in(&dir, &["plan", "recipes/mini/table2.vst"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.starts_with(
            "plan of recipes/mini/table2.vst: 51 jobs (1 prepare, 16 pretrain, 32 eval, 2 report)"
        ),
        "{}",
        plan.stdout
    );

    // The preview before any run generates the data where `vst run` keeps it (relative paths, from the root).
    let dir = fresh_clone("fresh-clone-preview-first");
    let synthetic = mini_synthetic_dir(&dir);
    let preview = vst_in(
        &dir,
        &["data", "preview", "--recipe", "recipes/mini/table2.vst"],
    );
    assert_eq!(preview.code, 0, "{}", preview.stderr);
    assert_contains(
        &preview.stderr,
        &format!(
            "generating the synthetic dataset `synth` into runs/{}/synthetic (where `vst run recipes/mini/table2.vst` keeps it",
            synthetic
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
        ),
    );
    assert!(
        preview.stdout.starts_with("wrote preview.png (")
            && preview
                .stdout
                .contains("for pretrain[objective=moco,clips=1]"),
        "{}",
        preview.stdout
    );
    assert_png(&dir.join("preview.png"));
    let list = synthetic.join("train.csv");
    assert_eq!(
        std::fs::read_to_string(&list)
            .expect("train.csv")
            .lines()
            .count(),
        64
    );
    let generated_at = std::fs::metadata(&list)
        .and_then(|m| m.modified())
        .expect("mtime");

    // `vst run`'s prepare job then finds the preview's data complete and keeps it.
    let run = vst_in(
        &dir,
        &["run", "recipes/mini/table2.vst", "--only", "prepare[synth]"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_contains(&run.stderr, "1 jobs ran, 0 were already done");
    assert_eq!(
        std::fs::metadata(&list)
            .and_then(|m| m.modified())
            .expect("mtime"),
        generated_at,
        "the run generated the data again"
    );
}

#[test]
fn the_preview_reads_the_data_of_an_earlier_run() {
    let dir = fresh_clone("fresh-clone-run-first");
    let run = vst_in(
        &dir,
        &["run", "recipes/mini/table2.vst", "--only", "prepare[synth]"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let list = mini_synthetic_dir(&dir).join("train.csv");
    let generated_at = std::fs::metadata(&list)
        .and_then(|m| m.modified())
        .expect("the run's data");

    let preview = vst_in(
        &dir,
        &[
            "data",
            "preview",
            "--recipe",
            "recipes/mini/table2.vst",
            "--job",
            "pretrain[objective=simclr,clips=2]",
            "--out",
            "simclr.png",
        ],
    );
    assert_eq!(preview.code, 0, "{}", preview.stderr);
    assert!(!preview.stderr.contains("generating"), "{}", preview.stderr);
    assert_contains(&preview.stdout, "for pretrain[objective=simclr,clips=2]");
    assert_png(&dir.join("simclr.png"));
    assert_eq!(
        std::fs::metadata(&list)
            .and_then(|m| m.modified())
            .expect("mtime"),
        generated_at
    );

    // A run folder elsewhere is honoured too, and a job that does not exist is named.
    let elsewhere = vst_in(
        &dir,
        &[
            "data",
            "preview",
            "--recipe",
            "recipes/mini/table2.vst",
            "--runs",
            "other/runs",
        ],
    );
    assert_eq!(elsewhere.code, 0, "{}", elsewhere.stderr);
    assert_contains(&elsewhere.stderr, "into other/runs/");
    let unknown = vst_in(
        &dir,
        &[
            "data",
            "preview",
            "--recipe",
            "recipes/mini/table2.vst",
            "--job",
            "pretrain[x]",
        ],
    );
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert_contains(
        &unknown.stderr,
        "no pre-training job named `pretrain[x]` (see `vst plan`)",
    );
}

#[test]
fn a_reader_that_stops_early_does_not_make_vst_panic() {
    // `vst plan FILE --format json | head -1`: the reader closes the pipe before vst has written everything.
    let mut child = common::vst_command(
        common::root(),
        &["plan", "recipes/table2.vst", "--format", "json"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("vst starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("vst ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
