//! `vst run --replicas 2` through MPI (Open MPI's `mpirun`; built with `--features mpi`): two processes train the
//! model one process trains (tests/recipes/replicas.vst: batch-norm batches of one replica's videos, MoCo with
//! shuffle-BN across the replicas), rank 0 alone writes the files, and a SIGKILLed two-replica run resumes and ends
//! exactly like an uninterrupted two-replica run. The learner's equivalence on 2 and 4 replicas is tested in
//! process in runtime/tests/replicas.rs; this test is the same through real processes.
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{Output, assert_contains, assert_same_metrics, root, scratch, vst_command, vst_in};

fn recipe() -> String {
    root()
        .join("tests/recipes/replicas.vst")
        .display()
        .to_string()
}

/// The directory of the job under `runs` whose name starts with `prefix`.
fn job_dir(runs: &Path, prefix: &str) -> Option<PathBuf> {
    std::fs::read_dir(runs)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            std::fs::read_to_string(p.join("job.json"))
                .is_ok_and(|j| j.contains(&format!("\"name\": \"{prefix}")))
        })
}

fn pretrain_dir(runs: &Path) -> Option<PathBuf> {
    job_dir(runs, "pretrain")
}

fn result_of(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("done.json")).expect("done.json");
    serde_json::from_str::<serde_json::Value>(&text).expect("JSON")["result"].clone()
}

/// The per-step losses of a pre-training's metrics.jsonl.
fn step_losses(dir: &Path) -> Vec<f64> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .expect("metrics")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r.get("step").is_some())
        .filter_map(|r| r["loss"].as_f64())
        .collect()
}

fn run(dir: &Path, replicas: Option<&str>) -> Output {
    let mut args = vec!["run", "--runs", "runs"];
    let recipe = recipe();
    args.insert(1, &recipe);
    if let Some(n) = replicas {
        args.extend(["--replicas", n]);
    }
    vst_in(dir, &args)
}

/// Starts a two-replica run in `dir` and SIGKILLs every process of it (the launcher and both ranks) once
/// pre-training has written a checkpoint; returns the pre-training's directory.
fn kill_two_replicas_after_a_checkpoint(dir: &Path) -> PathBuf {
    let recipe = recipe();
    let mut command = vst_command(dir, &["run", &recipe, "--runs", "runs", "--replicas", "2"]);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("vst starts");
    let started = Instant::now();
    let job = loop {
        if let Some(job) = pretrain_dir(&dir.join("runs"))
            && job.join("checkpoint.safetensors").exists()
        {
            break job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    let group = format!("-{}", child.id());
    let status = Command::new("kill")
        .args(["-KILL", "--", &group])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -KILL {group}");
    child.wait().expect("reaped");
    // The ranks are not our children: wait until none of the group is left (one may still hold the runs lock).
    let killed = Instant::now();
    while Command::new("kill")
        .args(["-0", "--", &group])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "the killed run's processes linger"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !job.join("done.json").exists(),
        "pre-training finished before the kill; the test proves nothing"
    );
    job
}

#[test]
fn two_mpi_replicas_train_like_one_and_resume_after_sigkill() {
    let one = scratch("replicas-one");
    let Output { code, stderr, .. } = run(&one, None);
    assert_eq!(code, 0, "{stderr}");
    let two = scratch("replicas-two");
    let Output { code, stderr, .. } = run(&two, Some("2"));
    assert_eq!(code, 0, "{stderr}");
    assert_contains(&stderr, "working as a replica");

    // Same job, same model: the first steps agree to float rounding (the training of this tiny network is
    // chaotic, so later steps drift apart the way any two summation orders would; runtime/tests/replicas.rs
    // measures this at a smaller learning rate).
    let (a, b) = (
        pretrain_dir(&one.join("runs")).expect("one replica's job"),
        pretrain_dir(&two.join("runs")).expect("two replicas' job"),
    );
    assert_eq!(
        a.file_name(),
        b.file_name(),
        "the replica count is not part of the job id"
    );
    let (la, lb) = (step_losses(&a), step_losses(&b));
    assert_eq!(la.len(), lb.len());
    for (step, (x, y)) in la.iter().zip(&lb).take(6).enumerate() {
        assert!(
            (x - y).abs() <= 1e-4 * x.abs().max(1.0),
            "step {step}: one replica's loss {x}, two replicas' {y}"
        );
    }
    // Rank 0 alone wrote: one metrics file, one record per step.
    assert_eq!(lb.len(), 40, "20 epochs × 2 steps");

    // Evaluations: the replicas extract the features of their share of every batch; on the same checkpoint the
    // probe and kNN of one process give exactly the same numbers (the probe's losses step by step too).
    let mut two_results = Vec::new();
    for prefix in ["linear", "knn"] {
        let dir = job_dir(&two.join("runs"), prefix).expect("evaluation");
        two_results.push((
            result_of(&dir),
            std::fs::read_to_string(dir.join("metrics.jsonl")).ok(),
        ));
        std::fs::remove_dir_all(&dir).expect("remove the evaluation");
    }
    let Output { code, stderr, .. } = run(&two, None);
    assert_eq!(code, 0, "{stderr}");
    for (prefix, (result, metrics)) in ["linear", "knn"].into_iter().zip(two_results) {
        let dir = job_dir(&two.join("runs"), prefix).expect("evaluation rerun");
        assert_eq!(
            result_of(&dir),
            result,
            "{prefix}: one process vs two replicas"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("metrics.jsonl")).ok(),
            metrics,
            "{prefix}: the probe's steps"
        );
    }

    // A SIGKILLed two-replica run resumes on two replicas exactly as if uninterrupted.
    let killed = scratch("replicas-killed");
    let job = kill_two_replicas_after_a_checkpoint(&killed);
    let Output { code, stderr, .. } = run(&killed, Some("2"));
    assert_eq!(code, 0, "{stderr}");
    assert_contains(&stderr, "resuming from checkpoint");
    assert_same_metrics(&job, &b);
}

#[test]
fn a_two_replica_run_resumes_on_one_process() {
    // The checkpoint holds no per-replica state: a run started on 2 replicas continues on 1 (SyncBN over the whole
    // batch either way), its metrics so far kept, the rest within float rounding of the 2-replica run.
    let reference = scratch("replicas-reference");
    let Output { code, stderr, .. } = run(&reference, Some("2"));
    assert_eq!(code, 0, "{stderr}");
    let killed = scratch("replicas-killed-then-one");
    let job = kill_two_replicas_after_a_checkpoint(&killed);
    let Output { code, stderr, .. } = run(&killed, None);
    assert_eq!(code, 0, "{stderr}");
    assert_contains(&stderr, "resuming from checkpoint");
    let two = pretrain_dir(&reference.join("runs")).expect("reference job");
    let (resumed, uninterrupted) = (step_losses(&job), step_losses(&two));
    assert_eq!(resumed.len(), uninterrupted.len(), "steps");
    let diverged = resumed.iter().zip(&uninterrupted).position(|(a, b)| a != b);
    let first =
        diverged.expect("one process sums in another order than two: some step must differ");
    assert!(first > 0, "the steps before the kill are kept");
    for step in first..(first + 4).min(resumed.len()) {
        let (a, b) = (resumed[step], uninterrupted[step]);
        assert!(
            (a - b).abs() <= 1e-4 * a.abs().max(1.0),
            "step {step}: resumed on one process {a}, on two replicas {b}"
        );
    }
}
