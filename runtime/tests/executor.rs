//! The executor's bookkeeping, with a scripted runner: skipping, resuming, failure isolation, --only, dry runs.

use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vst_runtime::executor::*;
use vst_spec::*;

fn job(name: &str, deps: &[&str]) -> Job {
    Job {
        id: JobId(format!("{name}-id")),
        name: name.to_string(),
        cell: BTreeMap::new(),
        deps: deps.iter().map(|d| JobId(format!("{d}-id"))).collect(),
        cost: Cost::default(),
        kind: JobKind::Report(ReportJob {
            report: ReportSpec {
                title: name.to_string(),
                rows: None,
                cols: None,
                cell: "linear.top1".into(),
                paper: None,
                expect: vec![],
                over: None,
            },
            cells: vec![],
        }),
    }
}

/// prepare → a, b; a → report_a; b → report_b.
fn plan() -> Plan {
    Plan {
        recipe: "test.vst".into(),
        jobs: vec![
            job("prepare", &[]),
            job("a", &["prepare"]),
            job("b", &["prepare"]),
            job("report_a", &["a"]),
            job("report_b", &["b"]),
        ],
        labels: Default::default(),
    }
}

#[derive(Default)]
struct Scripted {
    fail: Vec<&'static str>,
    preflight_fail: Vec<&'static str>,
    /// Jobs that run on the dependencies that finished when others failed (as reports do).
    partial: Vec<&'static str>,
    ran: RefCell<Vec<String>>,
}

impl JobRunner for Scripted {
    fn preflight(&self, job: &Job) -> anyhow::Result<()> {
        if self.preflight_fail.contains(&job.name.as_str()) {
            anyhow::bail!("data root /nowhere does not exist");
        }
        Ok(())
    }
    fn run(&self, job: &Job, ctx: &JobContext) -> anyhow::Result<Value> {
        self.ran.borrow_mut().push(job.name.clone());
        for dep in &job.deps {
            if self.partial.contains(&job.name.as_str()) && !ctx.deps.contains_key(dep) {
                continue;
            }
            let (_, result) = ctx.dep(dep)?;
            assert_eq!(result["name"], json!(ctx.plan.job(dep).unwrap().name));
        }
        if self.fail.contains(&job.name.as_str()) {
            anyhow::bail!("scripted failure");
        }
        Ok(json!({ "name": job.name }))
    }
    fn runs_partial(&self, job: &Job) -> bool {
        self.partial.contains(&job.name.as_str())
    }
}

/// An executor of `plan` over the runs folder `root`, driving `runner`.
fn executor<'a>(plan: &'a Plan, root: &Path, runner: &'a Scripted) -> Executor<'a> {
    Executor {
        plan,
        store: RunStore::new(root),
        runner,
    }
}

fn temp_root(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vst-exec-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn runs_in_order_then_skips_everything() {
    let root = temp_root("order");
    let plan = plan();
    let runner = Scripted::default();
    let exec = executor(&plan, &root, &runner);
    let summary = exec.run(&RunOptions::default()).unwrap();
    assert_eq!(
        *runner.ran.borrow(),
        ["prepare", "a", "b", "report_a", "report_b"]
    );
    assert!(summary.outcomes.iter().all(|(_, o)| *o == Outcome::Ran));

    let again = Scripted::default();
    let exec = executor(&plan, &root, &again);
    let summary = exec.run(&RunOptions::default()).unwrap();
    assert!(again.ran.borrow().is_empty());
    assert!(
        summary
            .outcomes
            .iter()
            .all(|(_, o)| *o == Outcome::AlreadyDone)
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_failure_blocks_only_its_dependents_and_is_retried_next_time() {
    let root = temp_root("fail");
    let plan = plan();
    let runner = Scripted {
        fail: vec!["a"],
        ..Default::default()
    };
    let exec = executor(&plan, &root, &runner);
    let summary = exec.run(&RunOptions::default()).unwrap();
    assert_eq!(*runner.ran.borrow(), ["prepare", "a", "b", "report_b"]);
    let failures: Vec<_> = summary.failures().map(|(n, _)| n).collect();
    assert_eq!(failures, ["a", "report_a"]);
    let states: BTreeMap<_, _> = job_states(&plan, &RunStore::new(&root))
        .into_iter()
        .collect();
    assert_eq!(states["a"], "failed");
    assert_eq!(states["report_a"], "pending");
    assert_eq!(states["report_b"], "done");

    let fixed = Scripted::default();
    let exec = executor(&plan, &root, &fixed);
    exec.run(&RunOptions::default()).unwrap();
    assert_eq!(*fixed.ran.borrow(), ["a", "report_a"]);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn only_runs_the_named_job_and_its_ancestors() {
    let root = temp_root("only");
    let plan = plan();
    let runner = Scripted::default();
    let exec = executor(&plan, &root, &runner);
    exec.run(&RunOptions {
        only: Some("report_b".into()),
        dry_run: false,
        ..RunOptions::default()
    })
    .unwrap();
    assert_eq!(*runner.ran.borrow(), ["prepare", "b", "report_b"]);
    let err = exec
        .run(&RunOptions {
            only: Some("report_c".into()),
            dry_run: false,
            ..RunOptions::default()
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no job named `report_c` in this plan (see `vst plan`)"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn dry_runs_and_failed_preflights_create_nothing() {
    let root = temp_root("dry");
    let plan = plan();
    let runner = Scripted::default();
    let exec = executor(&plan, &root, &runner);
    let summary = exec
        .run(&RunOptions {
            only: None,
            dry_run: true,
            ..RunOptions::default()
        })
        .unwrap();
    assert_eq!(summary.outcomes.len(), 5);
    assert!(
        summary
            .outcomes
            .iter()
            .all(|(_, o)| *o == Outcome::WouldRun { resume: false })
    );
    assert!(!root.exists());

    let runner = Scripted {
        preflight_fail: vec!["b"],
        ..Default::default()
    };
    let exec = executor(&plan, &root, &runner);
    let err = exec.run(&RunOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot run `b`: data root /nowhere does not exist"
    );
    assert!(runner.ran.borrow().is_empty());
    assert!(!root.exists());
}

#[test]
fn a_second_run_in_the_same_directory_is_refused() {
    let root = temp_root("lock");
    let _held = RunLock::acquire(&root, "other.vst").unwrap();
    let plan = plan();
    let runner = Scripted::default();
    let exec = executor(&plan, &root, &runner);
    let err = exec.run(&RunOptions::default()).unwrap_err();
    assert!(err.to_string().contains("another `vst run`"), "{err}");
    assert!(err.to_string().contains("other.vst"), "{err}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_job_that_runs_partial_runs_on_what_finished_and_runs_again_next_time() {
    // prepare → a, b → report (needs both) → after; `a` fails.
    let root = temp_root("partial");
    let plan = Plan {
        recipe: "test.vst".into(),
        jobs: vec![
            job("prepare", &[]),
            job("a", &["prepare"]),
            job("b", &["prepare"]),
            job("report", &["a", "b"]),
            job("after", &["report"]),
        ],
        labels: Default::default(),
    };
    let runner = Scripted {
        fail: vec!["a"],
        partial: vec!["report"],
        ..Default::default()
    };
    let exec = executor(&plan, &root, &runner);
    let summary = exec.run(&RunOptions::default()).unwrap();
    assert_eq!(*runner.ran.borrow(), ["prepare", "a", "b", "report"]);
    let outcomes: BTreeMap<_, _> = summary.outcomes.iter().cloned().collect();
    assert_eq!(
        outcomes["report"],
        Outcome::Partial("partial: 1 of the 2 jobs it needs have no result (`a` failed)".into())
    );
    assert_eq!(outcomes["after"], Outcome::Blocked("report".into()));
    let failures: Vec<_> = summary.failures().map(|(n, _)| n).collect();
    assert_eq!(failures, ["a", "report", "after"]);
    let states: BTreeMap<_, _> = job_states(&plan, &RunStore::new(&root))
        .into_iter()
        .collect();
    assert_eq!(
        states["report"], "failed",
        "a partial result is not a finished job"
    );

    // Without the opt-in, the same job is blocked.
    let root2 = temp_root("partial-off");
    let blocked = Scripted {
        fail: vec!["a"],
        ..Default::default()
    };
    let exec = executor(&plan, &root2, &blocked);
    let summary = exec.run(&RunOptions::default()).unwrap();
    assert!(!blocked.ran.borrow().contains(&"report".to_string()));
    assert!(
        summary
            .outcomes
            .contains(&("report".into(), Outcome::Blocked("a".into())))
    );

    // Once `a` succeeds, the report runs again, whole.
    let fixed = Scripted {
        partial: vec!["report"],
        ..Default::default()
    };
    let exec = executor(&plan, &root, &fixed);
    let summary = exec.run(&RunOptions::default()).unwrap();
    assert_eq!(*fixed.ran.borrow(), ["a", "report", "after"]);
    assert_eq!(summary.failures().count(), 0);
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::remove_dir_all(&root2).unwrap();
}

#[test]
fn no_deps_runs_one_job_only_once_its_dependencies_are_done() {
    let root = temp_root("no-deps");
    let plan = plan();
    let runner = Scripted::default();
    let exec = executor(&plan, &root, &runner);
    let alone = |name: &str| RunOptions {
        only: Some(name.into()),
        no_deps: true,
        ..RunOptions::default()
    };
    let err = exec.run(&alone("b")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`b` needs `prepare`, which is not done (--no-deps runs one job whose dependencies are done)"
    );
    assert!(runner.ran.borrow().is_empty());
    exec.run(&alone("prepare")).unwrap();
    exec.run(&alone("b")).unwrap();
    assert_eq!(*runner.ran.borrow(), ["prepare", "b"]);
    // The lock was the job's own folder's: the runs folder stays free for another job of the study.
    assert!(root.join(plan.jobs[2].id.0.as_str()).join(".lock").exists());
    assert!(!root.join(".lock").exists());
    std::fs::remove_dir_all(&root).unwrap();
}
