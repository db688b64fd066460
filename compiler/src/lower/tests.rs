//! The plan's shape and its job ids.

use super::*;
use crate::load::MemoryLoader;
use crate::{Options, compile};
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;

/// `source` compiled in memory as `smoke.vst`; fails the test on any error.
fn compile_smoke(source: &str) -> crate::Compilation {
    let loader = MemoryLoader::new([("smoke.vst", source)]);
    let env = |_: &str| None;
    let c = compile(
        Path::new("smoke.vst"),
        &Options {
            loader: &loader,
            env: &env,
        },
    )
    .expect("the recipe is in memory");
    assert!(!c.has_errors(), "{}", c.render_diagnostics(false));
    c
}

/// The seconds-scale smoke study (every job kind, two evaluations, a report), compiled in memory.
fn smoke_plan() -> Plan {
    compile_smoke(include_str!("../../../tests/recipes/smoke.vst"))
        .plan
        .expect("a plan")
}

fn first_pretrain(plan: &Plan) -> (PretrainJob, Vec<JobId>) {
    let job = plan
        .jobs
        .iter()
        .find(|j| matches!(j.kind, JobKind::Pretrain(_)))
        .expect("a pretrain job");
    let JobKind::Pretrain(p) = &job.kind else {
        unreachable!("matched above")
    };
    (p.clone(), job.deps.clone())
}

#[test]
fn floats_are_rounded_to_12_significant_digits() {
    let noisy = 0.75 * 0.8;
    assert_ne!(noisy, 0.6, "the test needs arithmetic noise");
    assert_eq!(canonical_f64(noisy), 0.6);
    assert_eq!(canonical_f64(0.1 + 0.2), 0.3);
    assert_eq!(canonical_f64(-0.0).to_bits(), 0f64.to_bits());
    // Values with at most 12 significant digits are unchanged, bit for bit.
    for clean in [0.6, 1e-4, 4.8, 512.0, 0.994, 123456.789, -2.5e-7, 1e300] {
        assert_eq!(canonical_f64(clean).to_bits(), clean.to_bits(), "{clean}");
    }
    assert!(canonical_f64(f64::NAN).is_nan());
    assert_eq!(canonical_f64(f64::INFINITY), f64::INFINITY);
}

#[test]
fn canonical_json_rewrites_floats_only() {
    #[derive(Serialize)]
    struct Sample {
        name: &'static str,
        quoted: &'static str,
        count: u64,
        negative: i64,
        lr: f64,
        list: Vec<f64>,
        none: Option<f64>,
    }
    let sample = Sample {
        name: "lr = 0.6000000000000001",
        quoted: "a \"0.30000000000000004\" \\ b",
        count: 12345678901234567890,
        negative: -42,
        lr: 0.75 * 0.8,
        list: vec![0.1 + 0.2, 2.0, -1e-5],
        none: None,
    };
    let json = String::from_utf8(canonical_json(&sample).unwrap()).unwrap();
    assert_eq!(
        json,
        r#"{"name":"lr = 0.6000000000000001","quoted":"a \"0.30000000000000004\" \\ b","count":12345678901234567890,"negative":-42,"lr":0.6,"list":[0.3,2.0,-0.00001],"none":null}"#
    );
}

#[test]
fn a_float_differing_only_by_rounding_noise_is_the_same_job() {
    let plan = smoke_plan();
    let (p, deps) = first_pretrain(&plan);
    let with_lr = |lr: f64| {
        let mut p = p.clone();
        p.schedule.lr = lr;
        job_id(&JobKind::Pretrain(p), &deps)
    };
    assert_eq!(with_lr(0.75 * 0.8), with_lr(0.6));
    assert_eq!(with_lr(0.1 + 0.2), with_lr(0.3));
    // A real change is another job, however small in the 12 digits kept.
    assert_ne!(with_lr(0.6), with_lr(0.61));
    assert_ne!(with_lr(0.6), with_lr(0.600000001));
    // The id the plan has is the one job_id gives.
    let job = plan
        .jobs
        .iter()
        .find(|j| matches!(j.kind, JobKind::Pretrain(_)))
        .unwrap();
    assert_eq!(job_id(&job.kind, &job.deps), job.id);
}

#[test]
fn with_device_moves_every_job_and_recomputes_ids_downstream() {
    let plan = smoke_plan();
    let cuda = DeviceSpec::Cuda { index: 1 };
    let moved = with_device(&plan, cuda);
    assert_eq!(moved.recipe, plan.recipe);
    assert_eq!(moved.jobs.len(), plan.jobs.len());
    let ids: HashSet<&JobId> = moved.jobs.iter().map(|j| &j.id).collect();
    assert_eq!(ids.len(), moved.jobs.len(), "ids stay unique");
    let (mut pretrains, mut evals, mut reports) = (0, 0, 0);
    for (old, new) in plan.jobs.iter().zip(&moved.jobs) {
        assert_eq!((&old.name, &old.cell), (&new.name, &new.cell));
        // Every id is the documented hash of the job as it now is.
        assert_eq!(new.id, job_id(&new.kind, &new.deps), "{}", new.name);
        for dep in &new.deps {
            assert!(
                ids.contains(dep),
                "{} needs {dep}, not in the plan",
                new.name
            );
        }
        match &new.kind {
            JobKind::Prepare(_) => {
                // Data preparation does not run on a device: the same job, the same id.
                assert_eq!(new.id, old.id);
            }
            JobKind::Pretrain(p) => {
                pretrains += 1;
                assert_eq!(p.device, cuda);
                assert_ne!(new.id, old.id, "{}", new.name);
            }
            JobKind::Eval(e) => {
                evals += 1;
                assert_eq!(e.device, cuda);
                assert_ne!(new.id, old.id, "{}", new.name);
                let pretrain = e.pretrain.as_ref().expect("a frozen-encoder evaluation");
                assert!(new.deps.contains(pretrain));
                let pretrain = moved
                    .job(pretrain)
                    .expect("its pre-training is in the plan");
                assert!(matches!(&pretrain.kind, JobKind::Pretrain(p) if p.device == cuda));
            }
            JobKind::Report(r) => {
                reports += 1;
                assert_ne!(new.id, old.id, "its evaluations changed");
                for cell in &r.cells {
                    let eval = moved
                        .job(&cell.eval)
                        .expect("the cell's evaluation is in the plan");
                    assert!(matches!(&eval.kind, JobKind::Eval(e) if e.device == cuda));
                    assert!(new.deps.contains(&cell.eval));
                }
            }
        }
    }
    assert_eq!((pretrains, evals, reports), (8, 16, 1));
    // Moving back gives the original plan; moving to the device the recipe names changes nothing.
    assert_eq!(with_device(&moved, DeviceSpec::Cpu), plan);
    assert_eq!(with_device(&plan, DeviceSpec::Cpu), plan);
}

/// The smoke study with `extra` appended (a sweep, a report), compiled in memory.
fn smoke_with(extra: &str) -> Plan {
    let source = format!(
        "{}\n{extra}",
        include_str!("../../../tests/recipes/smoke.vst")
            .split("\nsweep")
            .next()
            .expect("text before the sweep")
    );
    let c = compile_smoke(&source);
    // An `over` axis is shown (aggregated): no "neither the rows nor the columns" warning for it.
    assert!(
        !c.diagnostics
            .items
            .iter()
            .any(|d| d.message.contains("neither")),
        "{}",
        c.render_diagnostics(false)
    );
    c.plan.expect("a plan")
}

#[test]
fn a_seed_axis_seeds_each_cells_pretraining_and_evaluations() {
    let plan = smoke_with(
        "sweep {\n  objective: [byol]\n  seed: [0, 7]\n}\n\n\
         report \"R\" {\n  rows: objective\n  over: seed\n  cell: linear.top1\n}\n",
    );
    let mut seen = Vec::new();
    for job in &plan.jobs {
        let seed = match &job.kind {
            JobKind::Pretrain(p) => p.seed,
            JobKind::Eval(e) => {
                // An evaluation is seeded like the pre-training it evaluates (probe init, data order, crops).
                let Some(JobKind::Pretrain(p)) = e
                    .pretrain
                    .as_ref()
                    .and_then(|id| plan.job(id))
                    .map(|j| &j.kind)
                else {
                    panic!("{} evaluates no pre-training", job.name);
                };
                assert_eq!(e.seed, p.seed, "{}", job.name);
                e.seed
            }
            _ => continue,
        };
        assert_eq!(job.cell["seed"], seed.to_string(), "{}", job.name);
        seen.push((job.kind.label(), seed));
    }
    assert_eq!(seen.iter().filter(|(_, s)| *s == 7).count(), 3, "{seen:?}");
    assert_eq!(plan.count("pretrain"), 2);
    let report = plan
        .jobs
        .iter()
        .find_map(|j| match &j.kind {
            JobKind::Report(r) => Some(r),
            _ => None,
        })
        .expect("a report");
    assert_eq!(report.report.over.as_deref(), Some("seed"));
    let over: Vec<_> = report.cells.iter().map(|c| c.over.as_deref()).collect();
    assert_eq!(over, [Some("0"), Some("7")]);
    assert!(
        report
            .cells
            .iter()
            .all(|c| c.row.as_deref() == Some("byol"))
    );
}

#[test]
fn a_report_without_over_keeps_its_id() {
    // `over` and a cell's `over` label are left out of the JSON when unset: ids of existing reports stand.
    let plan = smoke_plan();
    let report = plan
        .jobs
        .iter()
        .find(|j| matches!(j.kind, JobKind::Report(_)))
        .expect("a report");
    let json = serde_json::to_string(&report.kind).unwrap();
    assert!(!json.contains("\"over\""), "{json}");
}

#[test]
fn a_fine_tune_from_scratch_reads_no_pre_training_and_is_shared_by_the_cells() {
    let source = format!(
        "{}\nsweep {{\n  clips: [1, 2]\n}}\n",
        include_str!("../../../tests/recipes/finetune.vst")
    );
    let plan = compile_smoke(&source).plan.expect("a plan");
    let evals = |name: &str| -> Vec<&Job> {
        plan.jobs
            .iter()
            .filter(|j| matches!(&j.kind, JobKind::Eval(e) if e.name == name))
            .collect()
    };
    let finetunes = evals("finetune");
    assert_eq!(finetunes.len(), 2, "one fine-tune per pre-training");
    for job in finetunes {
        let JobKind::Eval(e) = &job.kind else {
            unreachable!("filtered above")
        };
        let pretrain = e
            .pretrain
            .as_ref()
            .expect("a fine-tune from a pre-training");
        assert!(job.deps.contains(pretrain));
    }
    let scratch = evals("scratch");
    assert_eq!(scratch.len(), 1, "the cells share the from-scratch job");
    let JobKind::Eval(e) = &scratch[0].kind else {
        unreachable!("filtered above")
    };
    assert_eq!(e.pretrain, None);
    assert!(
        scratch[0]
            .deps
            .iter()
            .all(|d| matches!(plan.job(d).map(|j| &j.kind), Some(JobKind::Prepare(_)))),
        "it depends on its data only"
    );
}
