//! The shipped recipes: each compiles without a diagnostic, is in canonical form, and its plan is pinned by a
//! snapshot; plus the properties of plans that the executor relies on.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use vst_compiler::load::Loader;
use vst_compiler::render::devices::{World, per_device};
use vst_compiler::render::{explain, plan};
use vst_compiler::{Compilation, Options, compile};
use vst_spec::{JobKind, Plan, Precision};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compiler/ is in the workspace")
        .to_path_buf()
}

/// Reads files relative to the workspace root (so plans show `recipes/table2.vst`), with optional replacements.
struct Workspace {
    root: PathBuf,
    overrides: HashMap<PathBuf, String>,
}

impl Loader for Workspace {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        match self.overrides.get(path) {
            Some(text) => Ok(text.clone()),
            None => std::fs::read_to_string(self.root.join(path)),
        }
    }
}

fn compile_with(path: &str, overrides: &[(&str, String)]) -> Compilation {
    let loader = Workspace {
        root: workspace(),
        overrides: overrides
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.clone()))
            .collect(),
    };
    // No environment: paths take their defaults whatever the developer's shell has.
    let env = |_: &str| None;
    compile(
        Path::new(path),
        &Options {
            loader: &loader,
            env: &env,
        },
    )
    .expect("the recipe exists")
}

fn compile_shipped(path: &str) -> Compilation {
    compile_with(path, &[])
}

/// Every recipe the repository ships (not the shared `base` files, which are included by them).
fn shipped() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["recipes", "recipes/mini", "tests/recipes"] {
        // Every folder is read, and holds recipes: a folder that moved must not silently drop out of the checks.
        let entries = std::fs::read_dir(workspace().join(dir))
            .unwrap_or_else(|e| panic!("cannot list {dir}/: {e}"));
        let before = out.len();
        for entry in entries {
            let entry = entry.unwrap_or_else(|e| panic!("cannot list {dir}/: {e}"));
            let name = entry.file_name().to_string_lossy().into_owned();
            // base.vst, base_digits.vst: shared settings that recipes `use`, not recipes of their own.
            if name.ends_with(".vst") && !name.starts_with("base") {
                out.push(format!("{dir}/{name}"));
            }
        }
        assert!(out.len() > before, "no recipe in {dir}/");
    }
    out.sort();
    out
}

fn plan_of(c: &Compilation) -> &Plan {
    c.plan.as_ref().expect("the recipe has a plan")
}

#[test]
fn every_shipped_recipe_compiles_without_a_diagnostic_and_its_plan_is_pinned() {
    let recipes = shipped();
    assert!(recipes.len() >= 12, "found only {recipes:?}");
    for recipe in recipes {
        let c = compile_shipped(&recipe);
        let diagnostics = c.render_diagnostics(false);
        if recipe == "recipes/mini/random_digits.vst" {
            // The random-encoder baseline keeps the warning that catches `epochs: 0` written by mistake.
            assert!(
                !c.has_errors() && diagnostics.contains("randomly initialised encoder"),
                "{recipe}: {diagnostics}"
            );
        } else {
            assert_eq!(diagnostics, "", "{recipe}");
        }
        let name = format!(
            "plan__{}",
            recipe.trim_end_matches(".vst").replace('/', "__")
        );
        insta::assert_snapshot!(name, plan::text(plan_of(&c)));
    }
}

#[test]
fn every_shipped_file_is_in_canonical_form() {
    let mut files = shipped();
    files.extend(
        [
            "recipes/base/k400.vst",
            "recipes/base/slow_r50.vst",
            "recipes/base/objectives.vst",
            "recipes/base/downstream.vst",
            "recipes/mini/base.vst",
            "recipes/mini/base_digits.vst",
        ]
        .map(String::from),
    );
    for path in files {
        let text = std::fs::read_to_string(workspace().join(&path)).expect("readable");
        let file =
            vst_compiler::syntax::parse(&text, vst_compiler::source::FileId(0)).expect("parses");
        assert_eq!(
            vst_compiler::syntax::format_file(&file),
            text,
            "`vst fmt {path}` would change it"
        );
    }
}

#[test]
fn table2_has_16_pretrain_16_linear_16_ucf101_finetunes_and_2_reports() {
    let c = compile_shipped("recipes/table2.vst");
    let plan = plan_of(&c);
    let json = serde_json::to_string(plan).expect("serialises");
    let back: Plan = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(&back, plan);
    // The cost is labelled as what it counts, multiply-adds; a plan written before (`gflops`) still reads.
    assert!(json.contains(r#""cost":{"clips":"#) && json.contains(r#","gmacs":"#));
    assert!(!json.contains("gflops"));
    let old: vst_spec::Cost =
        serde_json::from_str(r#"{"clips":3,"gflops":41.9}"#).expect("old name");
    assert_eq!(old.gmacs, 41.9);
    assert_eq!(plan.count("pretrain"), 16);
    let linear = plan
        .jobs
        .iter()
        .filter(|j| matches!(&j.kind, JobKind::Eval(e) if e.name == "linear"))
        .count();
    assert_eq!(linear, 16);
    let ucf101 = plan
        .jobs
        .iter()
        .filter(|j| matches!(&j.kind, JobKind::Eval(e) if e.name == "ucf101"))
        .count();
    assert_eq!(ucf101, 16);
    assert_eq!(plan.count("report"), 2);
    // K400 and UCF101 split 1.
    assert_eq!(plan.count("prepare"), 2);
    let reports: Vec<&vst_spec::ReportJob> = plan
        .jobs
        .iter()
        .filter_map(|j| match &j.kind {
            JobKind::Report(r) => Some(r),
            _ => None,
        })
        .collect();
    for report in &reports {
        assert_eq!(report.cells.len(), 16);
        assert_eq!(report.report.rows.as_deref(), Some("objective"));
        assert_eq!(report.report.cols.as_deref(), Some("clips"));
    }
    assert_eq!(reports[1].report.cell, "ucf101.top1");
}

/// The fine-tunes of Table 10 on their datasets, with their own cost, and the multi-label and no-flip properties
/// reaching the jobs.
#[test]
fn table10_fine_tunes_on_ucf101_charades_and_ssv2_with_their_cost() {
    let c = compile_shipped("recipes/table10.vst");
    let plan = plan_of(&c);
    for (eval, kind) in [
        ("ucf101", "ucf101"),
        ("charades", "charades"),
        ("ssv2", "ssv2"),
    ] {
        let jobs: Vec<&vst_spec::Job> = plan
            .jobs
            .iter()
            .filter(|j| matches!(&j.kind, JobKind::Eval(e) if e.name == eval))
            .collect();
        assert_eq!(jobs.len(), 4, "{eval}: one per objective");
        for job in jobs {
            let JobKind::Eval(e) = &job.kind else {
                unreachable!()
            };
            assert!(matches!(e.eval, vst_spec::EvalSpec::Finetune(_)), "{eval}");
            assert_eq!(e.dataset.source.kind(), kind);
            assert!(
                job.cost.clips > 0 && job.cost.gmacs > 0.0,
                "{eval}: {:?}",
                job.cost
            );
            let vst_spec::EvalSpec::Finetune(f) = &e.eval else {
                unreachable!()
            };
            if kind == "ssv2" {
                assert!(!e.dataset.source.flip_preserves_labels());
                assert_eq!(f.train_spatial.flip, None, "SSv2 never flips");
            }
            assert_eq!(e.dataset.source.multi_label(), kind == "charades");
        }
    }
    let text = plan::text(plan);
    assert!(text.contains("charades[objective=moco]"), "{text}");
    assert!(text.contains("prepare[ucf101,split=1]"), "{text}");
}

/// `split: [1, 2, 3]` sweeps the splits: one fine-tune per split from one pre-training, averaged by the report.
#[test]
fn table11_fine_tunes_each_split_from_one_pretraining_and_averages_over_splits() {
    let c = compile_shipped("recipes/table11.vst");
    let plan = plan_of(&c);
    assert_eq!(plan.count("pretrain"), 1);
    let mut splits = Vec::new();
    for job in &plan.jobs {
        if let JobKind::Eval(e) = &job.kind
            && let vst_spec::DataSource::Ucf101 { split, .. } = e.dataset.source
        {
            splits.push(split);
        }
    }
    assert_eq!(splits, vec![1, 2, 3]);
    let overs: Vec<Option<&str>> = plan
        .jobs
        .iter()
        .filter_map(|j| match &j.kind {
            JobKind::Report(r) => Some(r.report.over.as_deref()),
            _ => None,
        })
        .collect();
    assert_eq!(overs, vec![Some("split"), Some("split")]);
}

#[test]
fn jobs_come_after_their_dependencies_and_ids_are_unique() {
    for recipe in shipped() {
        let c = compile_shipped(&recipe);
        let plan = plan_of(&c);
        let mut seen = BTreeSet::new();
        for job in &plan.jobs {
            for dep in &job.deps {
                assert!(
                    seen.contains(dep),
                    "{recipe}: {} runs before its dependency {dep}",
                    job.name
                );
            }
            assert!(
                seen.insert(job.id.clone()),
                "{recipe}: duplicate id {}",
                job.id
            );
        }
        assert_eq!(
            c.graph.as_ref().map(|g| g.node_count()),
            Some(plan.jobs.len())
        );
    }
}

#[test]
fn the_paper_recipe_resolves_as_the_paper_trains() {
    let c = compile_shipped("recipes/table2.vst");
    let plan = plan_of(&c);
    let pretrain = |objective: &str, clips: &str| {
        plan.jobs
            .iter()
            .find(|j| {
                j.kind.label() == "pretrain"
                    && j.cell["objective"] == objective
                    && j.cell["clips"] == clips
            })
            .and_then(|j| match &j.kind {
                JobKind::Pretrain(p) => Some(p.clone()),
                _ => None,
            })
            .expect("the cell exists")
    };
    let moco = pretrain("moco", "2");
    assert!(
        matches!(moco.schedule.optimizer, vst_spec::OptimizerSpec::Sgd { weight_decay, .. } if weight_decay == 1e-4)
    );
    assert_eq!(moco.schedule.lr, 0.4);
    let vst_spec::ObjectiveSpec::Moco(m) = &moco.objective else {
        panic!("moco")
    };
    assert_eq!(
        (m.queue, m.momentum.base, m.head.layers, m.head.bn),
        (65536, 0.994, 3, false)
    );
    let byol = pretrain("byol", "4");
    assert!(
        matches!(byol.schedule.optimizer, vst_spec::OptimizerSpec::Lars { trust, .. } if trust == 0.001)
    );
    assert_eq!(
        (
            byol.schedule.lr,
            byol.schedule.warmup_epochs,
            byol.schedule.epochs
        ),
        // The released ρ = 4 configurations double the ρ = 2 base LR (recipes/table2.vst).
        (9.6, 35.0, 200)
    );
    assert_eq!(pretrain("byol", "2").schedule.lr, 4.8);
    // The official optimiser and warm-up: Nesterov everywhere, warm-up from 0.001 × 8 machines at 512 videos.
    assert!(matches!(
        byol.schedule.optimizer,
        vst_spec::OptimizerSpec::Lars { nesterov: true, .. }
    ));
    assert!(matches!(
        moco.schedule.optimizer,
        vst_spec::OptimizerSpec::Sgd { nesterov: true, .. }
    ));
    assert_eq!(byol.schedule.warmup_start_lr, 0.008);
    // The official loss over ρ clips for every objective.
    let vst_spec::ObjectiveSpec::Byol(b) = &byol.objective else {
        panic!("byol")
    };
    assert_eq!(b.clip_loss, vst_spec::ClipLoss::Sum);
    assert_eq!(
        (m.pairs, m.clip_loss),
        (vst_spec::PairRule::AllPairs, vst_spec::ClipLoss::Sum)
    );
    let vst_spec::ObjectiveSpec::SimClr(c) = &pretrain("simclr", "4").objective else {
        panic!("simclr")
    };
    assert_eq!(
        (c.pairs, c.clip_loss),
        (vst_spec::PairRule::Consecutive, vst_spec::ClipLoss::Sum)
    );
    let vst_spec::ObjectiveSpec::Swav(w) = &pretrain("swav", "4").objective else {
        panic!("swav")
    };
    assert_eq!(w.pairs, vst_spec::PairRule::FirstTwo);
    // The study's baseline augmentation: colour strength 0.5, scale jitter + a plain 224 crop.
    assert_eq!(byol.augment.spatial.resized_crop, None);
    assert_eq!(byol.clips.count, 4);
    assert_eq!(
        byol.backbone,
        vst_spec::BackboneSpec {
            depth: 50,
            frames: 8,
            stride: 8,
            width: 1.0
        }
    );
    let s = &byol.augment.spatial;
    assert_eq!(s.size, 224);
    assert_eq!(s.short_side, Some(vst_spec::Range::new(256.0, 320.0)));
    let vst_spec::DataSource::Kinetics {
        root, train_list, ..
    } = &byol.dataset.source
    else {
        panic!("kinetics")
    };
    assert_eq!(root, Path::new("data/kinetics400"));
    assert_eq!(train_list, Path::new("data/kinetics400/train.csv"));
    // 200 epochs × 240k videos (whole batches of 512) × 4 clips; R-50 8×8 at 224² is 41.9 GFLOPs per clip.
    let pretrain_job = plan
        .jobs
        .iter()
        .find(|j| j.name == "pretrain[objective=byol,clips=4]")
        .expect("job");
    assert_eq!(pretrain_job.cost.clips, 200 * (240_000 / 512 * 512) * 4);
    let per_clip = pretrain_job.cost.gmacs / pretrain_job.cost.clips as f64 / 2.0;
    assert!((per_clip - 41.9).abs() < 0.05, "{per_clip}");
}

/// Changing one cell of the sweep changes that cell's jobs and the report, nothing else.
#[test]
fn a_per_cell_override_changes_only_the_ids_downstream_of_it() {
    let original =
        std::fs::read_to_string(workspace().join("recipes/table2.vst")).expect("readable");
    let edited = original.replace(
        "  clips: [1, 2, 3, 4]\n",
        "  clips: [1, 2, 3, 4]\n\n  when(objective: byol, clips: 3) {\n    schedule.lr: 1.2 per 64\n  }\n",
    );
    assert_ne!(original, edited);
    let before = compile_shipped("recipes/table2.vst");
    let after = compile_with("recipes/table2.vst", &[("recipes/table2.vst", edited)]);
    assert_eq!(after.render_diagnostics(false), "");
    let (before, after) = (plan_of(&before), plan_of(&after));
    assert_eq!(before.jobs.len(), after.jobs.len());
    let changed: Vec<&str> = before
        .jobs
        .iter()
        .zip(&after.jobs)
        .filter(|(a, b)| a.id != b.id)
        .map(|(a, b)| {
            assert_eq!(a.name, b.name);
            a.name.as_str()
        })
        .collect();
    assert_eq!(
        changed,
        vec![
            "pretrain[objective=byol,clips=3]",
            "linear[objective=byol,clips=3]",
            "ucf101[objective=byol,clips=3]",
            "report[Table 2: number of temporal clips ρ (K400 linear top-1)]",
            "report[Table 2: number of temporal clips ρ (UCF101 fine-tune top-1, split 1)]"
        ]
    );
    let job = after
        .jobs
        .iter()
        .find(|j| j.name == "pretrain[objective=byol,clips=4]")
        .expect("job");
    let JobKind::Pretrain(p) = &job.kind else {
        panic!("pretrain")
    };
    // 1.2 per 64, scaled linearly to the batch of 512.
    assert!((p.schedule.lr - 9.6).abs() < 1e-12);
}

#[test]
fn precision_is_part_of_a_pretraining_identity_and_f32_keeps_every_id() {
    let compiled = compile_shipped("recipes/table2.vst");
    let plan = plan_of(&compiled);
    // f32 is the default and absent from the job JSON: the ids do not move.
    let same = vst_compiler::lower::with_precision(plan, Precision::F32);
    let ids = |p: &Plan| p.jobs.iter().map(|j| j.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&same), ids(plan));
    // bf16 is another pre-training, and every evaluation and report of it follows.
    let bf16 = vst_compiler::lower::with_precision(plan, Precision::Bf16);
    for (a, b) in plan.jobs.iter().zip(&bf16.jobs) {
        if matches!(a.kind, JobKind::Prepare(_)) {
            assert_eq!(
                a.id, b.id,
                "{}: data preparation does not depend on the arithmetic",
                a.name
            );
        } else {
            assert_ne!(a.id, b.id, "{}", a.name);
        }
        if let JobKind::Pretrain(p) = &b.kind {
            assert_eq!(p.precision, Precision::Bf16);
            let json = serde_json::to_string(p).expect("serialises");
            assert!(json.contains("\"precision\":\"bf16\""), "{json}");
        }
        for dep in &b.deps {
            assert!(
                bf16.jobs.iter().any(|j| &j.id == dep),
                "{} depends on a stale id",
                b.name
            );
        }
    }
}

#[test]
fn the_results_version_is_part_of_every_id() {
    let c = compile_shipped("tests/recipes/smoke.vst");
    let job = &plan_of(&c).jobs[1];
    assert_eq!(vst_compiler::lower::job_id(&job.kind, &job.deps), job.id);
    let other = vst_compiler::lower::job_id(&job.kind, &[]);
    assert_ne!(other, job.id, "dependencies are part of the id");
}

#[test]
fn explain_shows_values_and_where_they_come_from() {
    let c = compile_shipped("recipes/table2.vst");
    for key in [
        "schedule.lr",
        "backbone",
        "backbone.width",
        "clips",
        "evaluate.linear.lr",
        "moco",
    ] {
        let text = explain::explain(&c, key).expect("known key");
        insta::assert_snapshot!(format!("explain__table2__{}", key.replace('.', "_")), text);
    }
    let c = compile_shipped("recipes/table16.vst");
    insta::assert_snapshot!(
        "explain__table16__byol_predictor",
        explain::explain(&c, "byol.predictor").expect("known")
    );
    let err = explain::explain(&c, "shedule.lr").expect_err("unknown key");
    assert_eq!(
        err,
        "the recipe has no setting `shedule.lr`; did you mean `schedule.lr`?"
    );
}

#[test]
fn per_device_view_splits_batch_and_keeps_the_global_lr() {
    let c = compile_shipped("recipes/table4.vst");
    let view = per_device(
        plan_of(&c),
        &c.datasets,
        World {
            nodes: 8,
            per_node: 8,
            device_gib: 80.0,
        },
    )
    .expect("512 splits over 64");
    insta::assert_snapshot!("devices__table4__8x8", view);
    let problems = per_device(
        plan_of(&c),
        &c.datasets,
        World {
            nodes: 1,
            per_node: 48,
            device_gib: 80.0,
        },
    )
    .expect_err("512 / 48");
    assert!(
        problems[0].contains("does not split evenly over 48 devices"),
        "{problems:?}"
    );
}

#[test]
fn dot_output_names_every_job_and_edge() {
    let c = compile_shipped("tests/recipes/smoke.vst");
    let plan = plan_of(&c);
    let dot = plan::dot(plan);
    assert!(dot.starts_with("digraph plan {"));
    for job in &plan.jobs {
        assert!(
            dot.contains(&format!("\"{}\" [label=", job.id)),
            "{}",
            job.name
        );
        for dep in &job.deps {
            assert!(dot.contains(&format!("\"{dep}\" -> \"{}\";", job.id)));
        }
    }
}

/// What each cell of the mini Table 2 changes against its base: the swept objective and ρ, and the learning rate
/// a `when(objective: …)` block sets (where it differs from the body's 0.1), each with where it came from.
#[test]
fn each_cell_lists_what_it_changes_against_the_base() {
    let compilation = compile_shipped("recipes/mini/table2.vst");
    let cells = vst_compiler::render::changes::cell_changes(&compilation);
    assert_eq!(cells.len(), 16);
    let cell = |objective: &str, clips: &str| {
        cells
            .iter()
            .find(|c| {
                c.coords
                    == [
                        ("objective".to_string(), objective.to_string()),
                        ("clips".to_string(), clips.to_string()),
                    ]
            })
            .unwrap_or_else(|| panic!("no cell {objective}, {clips}"))
    };
    let moco = cell("moco", "1");
    let keys: Vec<&str> = moco.changes.iter().map(|c| c.key.as_str()).collect();
    assert!(
        keys.contains(&"objective") && keys.contains(&"clips"),
        "{keys:?}"
    );
    let lr = moco
        .changes
        .iter()
        .find(|c| c.key == "schedule.lr")
        .expect("MoCo's learning rate differs from the base");
    assert_eq!(
        (lr.base.as_deref(), lr.value.as_str()),
        (Some("0.1"), "0.15")
    );
    assert!(lr.origin.contains("when(objective: moco)"), "{}", lr.origin);
    // ρ = 2 is the built-in default: the cell at ρ = 2 does not list it as a change.
    let simclr = cell("simclr", "2");
    assert!(
        simclr
            .changes
            .iter()
            .all(|c| c.key != "clips" && c.key != "schedule.lr"),
        "{:?}",
        simclr.changes
    );
}

/// `prepare: transcode(...)` reaches the prepare job with `vst data prepare`'s defaults filled in (a frame-folder
/// copy at the rate the dataset reads), the lists relative to both roots; a dataset without it keeps its ids.
#[test]
fn a_recipe_prepared_copy_reaches_its_prepare_job() {
    let recipe = |data: &str| {
        format!(
            "use \"mini/base.vst\"\n\ndata k = {data}\n\npretrain {{\n  data: k\n  objective: simclr\n}}\n",
        )
    };
    let plain = "kinetics(root: \"/srv/k400-256\", train: \"lists/train.csv\", train_videos: 1k, val_videos: 100)";
    let mp4 = "kinetics(root: \"/srv/k400-256\", train: \"lists/train.csv\", train_videos: 1k, val_videos: 100, \
               prepare: transcode(\"/srv/k400\", short_side: 256, preset: fast))";
    let jpeg = "frames(root: \"/srv/k400-frames\", fps: 25, train_videos: 1k, val_videos: 100, prepare: \
                transcode(\"/srv/k400\", jpeg_quality: 3))";
    let prepare_of = |data: &str| {
        let c = compile_with("recipes/x.vst", &[("recipes/x.vst", recipe(data))]);
        assert_eq!(c.render_diagnostics(false), "", "{data}");
        let plan = plan_of(&c).clone();
        let job = plan
            .jobs
            .iter()
            .find(|j| j.name == "prepare[k]")
            .expect("a prepare job")
            .clone();
        let JobKind::Prepare(p) = job.kind else {
            panic!("prepare")
        };
        (p.dataset.source, plan)
    };

    let (source, _) = prepare_of(mp4);
    let t = source.transcode().expect("a transcode").clone();
    assert_eq!(
        t,
        vst_spec::TranscodeSpec {
            source: "/srv/k400".into(),
            source_lists: vec!["lists/train.csv".into(), "val.csv".into()],
            short_side: 256,
            fps: 30,
            keyframe_interval: 16,
            crf: 18,
            preset: "fast".into(),
            jpeg_quality: 2,
        }
    );
    let vst_spec::DataSource::Kinetics { train_list, .. } = &source else {
        panic!("kinetics")
    };
    assert_eq!(train_list, Path::new("/srv/k400-256/lists/train.csv"));

    let (source, _) = prepare_of(jpeg);
    let vst_spec::DataSource::Frames { fps, prepare, .. } = &source else {
        panic!("frames")
    };
    assert_eq!(*fps, 25.0);
    let t = prepare.as_ref().expect("a transcode");
    assert_eq!((t.fps, t.jpeg_quality, t.short_side), (25, 3, 320));

    // Without `prepare` the spec has no such field: recipes on copies prepared by hand keep their job ids.
    let (source, plain_plan) = prepare_of(plain);
    let json = serde_json::to_string(&source).expect("json");
    assert!(!json.contains("prepare"), "{json}");
    let (_, mp4_plan) = prepare_of(mp4);
    let pretrain_id = |plan: &Plan| {
        plan.jobs
            .iter()
            .find(|j| matches!(j.kind, JobKind::Pretrain(_)))
            .map(|j| j.id.clone())
    };
    assert_ne!(pretrain_id(&plain_plan), pretrain_id(&mp4_plan));
}
