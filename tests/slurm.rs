//! `vst run --slurm` against a real SLURM: the one-node cluster of scripts/slurm-test-cluster.sh, which .ci/run
//! starts (and then sets VST_SLURM_TESTS=1 and SLURM_CONF). Without it these tests say loudly that they did not
//! run and pass: the cluster needs root and Debian's packages.

mod common;

use common::{assert_contains, assert_same_metrics, root, scratch, vst_in};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a seconds-scale study may take through the scheduler before a test gives up.
const PATIENCE: Duration = Duration::from_secs(180);

fn cluster_ready(test: &str) -> bool {
    if std::env::var("VST_SLURM_TESTS").as_deref() == Ok("1") {
        return true;
    }
    // Straight to stderr, past the test harness's capture: a skipped check must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!! SKIPPED {test}: no SLURM test cluster (run `scripts/slurm-test-cluster.sh start` as root, then \
         VST_SLURM_TESTS=1 SLURM_CONF=/tmp/vst-slurm/slurm.conf cargo test --test slurm) !!!!!\n"
    );
    false
}

/// A scratch folder with the study (`epochs` per pre-training) and a cluster file.
fn study(name: &str, epochs: u32) -> PathBuf {
    let dir = scratch(name);
    let source = std::fs::read_to_string(root().join("tests/recipes/slurm.vst")).expect("recipe");
    let source = source.replace("epochs: 40\n", &format!("epochs: {epochs}\n"));
    std::fs::write(dir.join("study.vst"), source).expect("write recipe");
    std::fs::write(
        dir.join("cluster.json"),
        r#"{"time": "10", "signal_seconds": 60}"#,
    )
    .expect("cluster file");
    dir
}

fn submit(dir: &Path) -> common::Output {
    let out = vst_in(
        dir,
        &[
            "run",
            "study.vst",
            "--slurm",
            "--cluster",
            "cluster.json",
            "--runs",
            "runs",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    out
}

/// The folder of the job called `name`, found through the script submitted for it.
fn job_dir(runs: &Path, name: &str) -> PathBuf {
    let marker = format!("# vst job {name:?} (");
    std::fs::read_dir(runs)
        .expect("runs folder")
        .map(|e| e.expect("entry").path())
        .find(|dir| {
            std::fs::read_to_string(dir.join("slurm.sh")).is_ok_and(|s| s.contains(&marker))
        })
        .unwrap_or_else(|| panic!("no job `{name}` submitted in {}", runs.display()))
}

fn slurm_id(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("slurm.json")).expect("slurm.json");
    let record: serde_json::Value = serde_json::from_str(&text).expect("json");
    record["slurm_job"].as_str().expect("slurm_job").to_string()
}

/// `squeue`'s state of a SLURM job (empty once it has left the queue's memory).
fn slurm_state(id: &str) -> String {
    let out = Command::new("squeue")
        .args(["-h", "-t", "all", "-j", id, "-o", "%T"])
        .output()
        .expect("squeue runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[track_caller]
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn wait_all_done(dir: &Path) -> String {
    let start = Instant::now();
    loop {
        let status = vst_in(dir, &["status", "study.vst", "--runs", "runs"]).stdout;
        if status.contains("6 jobs: 6 done") {
            return status;
        }
        // On a timeout, what `vst status` said last is what explains it.
        assert!(
            start.elapsed() < PATIENCE,
            "timed out waiting for every job to be done; `vst status` says:\n{status}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// How many epochs a pre-training has recorded so far.
fn epochs_recorded(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .map(|s| s.lines().filter(|l| l.contains("\"epoch_end\"")).count())
        .unwrap_or(0)
}

#[test]
fn a_study_submitted_to_slurm_ends_with_the_local_report_and_is_submitted_once() {
    if !cluster_ready("a_study_submitted_to_slurm_ends_with_the_local_report_and_is_submitted_once")
    {
        return;
    }
    let dir = study("slurm-study", 40);
    let local = vst_in(&dir, &["run", "study.vst", "--runs", "local"]);
    assert_eq!(local.code, 0, "{}", local.stderr);

    let first = submit(&dir);
    assert_contains(&first.stderr, "6 jobs submitted");
    assert_contains(&first.stdout, "report[SLURM]: submitted as SLURM job");
    // Again at once: everything is queued, running or done; nothing is submitted twice.
    let second = submit(&dir);
    assert_contains(&second.stderr, "0 jobs submitted");
    assert!(!second.stdout.contains("submitted as"), "{}", second.stdout);

    let status = wait_all_done(&dir);
    assert_contains(&status, "SLURM ");
    let report = job_dir(&dir.join("runs"), "report[SLURM]");
    let id = report.file_name().expect("id");
    for file in ["report.md", "report.csv", "report.json", "report.svg"] {
        let ours = std::fs::read(report.join(file)).expect("slurm report");
        let theirs = std::fs::read(dir.join("local").join(id).join(file)).expect("local report");
        assert!(ours == theirs, "{file} differs from the local run's");
    }
    assert!(report.join("slurm.sh").exists());

    let third = submit(&dir);
    assert_contains(&third.stderr, "0 jobs submitted");
    // On the login node, the finished study prints its tables and runs nothing.
    let printed = vst_in(&dir, &["run", "study.vst", "--runs", "runs"]);
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    assert_contains(&printed.stdout, "| moco");
    assert_contains(&printed.stderr, "0 jobs ran, 6 were already done");
}

#[test]
fn a_failed_job_blocks_only_what_needs_it_and_is_resubmitted_with_its_dependents() {
    if !cluster_ready(
        "a_failed_job_blocks_only_what_needs_it_and_is_resubmitted_with_its_dependents",
    ) {
        return;
    }
    let dir = study("slurm-failure", 40);
    // Nothing to submit yet tells us the SimCLR pre-training's folder: make its first attempt fail by giving it a
    // checkpoint that is not one.
    let first = submit(&dir);
    assert_contains(&first.stderr, "6 jobs submitted");
    let runs = dir.join("runs");
    let simclr = job_dir(&runs, "pretrain[objective=simclr]");
    let moco_eval = job_dir(&runs, "knn[objective=moco]");
    let simclr_eval = job_dir(&runs, "knn[objective=simclr]");
    let report = job_dir(&runs, "report[SLURM]");
    // The scheduler may not have started it yet (prepare runs first); its first attempt reads this.
    std::fs::write(simclr.join("checkpoint.safetensors"), b"not a checkpoint").expect("corrupt");

    wait_for("the SimCLR pre-training to fail", || {
        simclr.join("failed.json").exists()
    });
    wait_for("the MoCo branch to finish", || {
        moco_eval.join("done.json").exists()
    });
    let mut status = String::new();
    wait_for(
        "SLURM to mark the SimCLR evaluation as never runnable",
        || {
            status = vst_in(&dir, &["status", "study.vst", "--runs", "runs"]).stdout;
            status.contains("blocked: it needs `pretrain[objective=simclr]`")
        },
    );
    // Which job failed and why (its error, and the end of SLURM's log), and which wait on it.
    assert_contains(&status, "failed  ");
    assert_contains(&status, "cannot resume from the last checkpoint");
    assert_contains(&status, "without a result; the end of");
    assert!(!simclr_eval.join("done.json").exists() && !report.join("done.json").exists());

    // `vst cancel --only` takes the job and what needs it out of the queue.
    let blocked = [slurm_id(&simclr_eval), slurm_id(&report)];
    let cancel = vst_in(
        &dir,
        &[
            "cancel",
            "study.vst",
            "--only",
            "knn[objective=simclr]",
            "--runs",
            "runs",
        ],
    );
    assert_eq!(cancel.code, 0, "{}", cancel.stderr);
    assert_contains(&cancel.stdout, "cancelling `knn[objective=simclr]`");
    assert_contains(&cancel.stdout, "cancelling `report[SLURM]`");
    assert_contains(&cancel.stdout, "2 SLURM jobs cancelled");
    for id in &blocked {
        wait_for("the cancellation", || slurm_state(id) == "CANCELLED");
    }

    std::fs::remove_file(simclr.join("checkpoint.safetensors")).expect("repair");
    let again = submit(&dir);
    assert_contains(&again.stdout, "pretrain[objective=simclr]: resubmitted");
    assert_contains(&again.stdout, "knn[objective=simclr]: resubmitted");
    assert_contains(&again.stdout, "report[SLURM]: resubmitted");
    assert_contains(&again.stdout, "knn[objective=moco]: done");
    assert_contains(&again.stderr, "3 jobs submitted");
    wait_all_done(&dir);
}

/// Submits the study, waits until the MoCo pre-training is a few epochs in, and returns the study's folder, that
/// job's folder and its SLURM id.
fn mid_way(name: &str) -> (PathBuf, PathBuf, String) {
    let dir = study(name, 300);
    let local = vst_in(&dir, &["run", "study.vst", "--runs", "local"]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    submit(&dir);
    let moco = job_dir(&dir.join("runs"), "pretrain[objective=moco]");
    wait_for("a few epochs of the MoCo pre-training", || {
        epochs_recorded(&moco) >= 5 && moco.join("checkpoint.safetensors").exists()
    });
    let id = slurm_id(&moco);
    (dir, moco, id)
}

#[test]
fn a_job_cancelled_mid_way_and_resubmitted_resumes_and_ends_with_the_same_metrics() {
    if !cluster_ready(
        "a_job_cancelled_mid_way_and_resubmitted_resumes_and_ends_with_the_same_metrics",
    ) {
        return;
    }
    let (dir, moco, id) = mid_way("slurm-cancel");
    let out = Command::new("scancel").arg(&id).status().expect("scancel");
    assert!(out.success());
    wait_for("the cancelled job to leave the queue", || {
        slurm_state(&id) == "CANCELLED"
    });
    assert!(
        !moco.join("done.json").exists(),
        "the job ended before it was cancelled: make it longer"
    );
    let status = vst_in(&dir, &["status", "study.vst", "--runs", "runs"]).stdout;
    assert_contains(&status, &format!("SLURM {id}: cancelled without a result"));

    let again = submit(&dir);
    assert_contains(&again.stdout, "pretrain[objective=moco]: resubmitted");
    wait_all_done(&dir);
    let log =
        std::fs::read_to_string(moco.join(format!("slurm-{}.out", slurm_id(&moco)))).expect("log");
    assert_contains(&log, "resumed=true");
    let local = dir.join("local").join(moco.file_name().expect("id"));
    assert_same_metrics(&moco, &local);
}

#[test]
fn the_time_limit_warning_stops_requeues_and_the_job_ends_like_an_uninterrupted_one() {
    if !cluster_ready(
        "the_time_limit_warning_stops_requeues_and_the_job_ends_like_an_uninterrupted_one",
    ) {
        return;
    }
    let (dir, moco, id) = mid_way("slurm-requeue");
    // What SLURM sends `signal_seconds` before the time limit, sent now.
    let sent = Command::new("scancel")
        .args(["--signal=USR1", "--batch", &id])
        .status()
        .expect("scancel");
    assert!(sent.success());
    wait_for("the job to requeue itself", || {
        let out = Command::new("scontrol")
            .args(["-o", "show", "job", &id])
            .output()
            .expect("scontrol");
        let text = String::from_utf8_lossy(&out.stdout);
        text.contains("Restarts=1") && text.contains("JobState=PENDING")
    });
    assert!(
        !moco.join("done.json").exists(),
        "the job ended before the signal: make it longer"
    );
    // SLURM holds a requeued job back for a while (BeginTime); let it start now — but not within the second of
    // the requeue: slurmd revokes the old run's credential with a one-second timestamp and kills a restart whose
    // new credential carries the same second ("Job credential revoked"), a race SLURM's own hold avoids.
    std::thread::sleep(Duration::from_secs(2));
    let started = Command::new("scontrol")
        .args(["update", &format!("jobid={id}"), "StartTime=now"])
        .status()
        .expect("scontrol update");
    assert!(started.success());
    wait_all_done(&dir);
    assert_eq!(slurm_id(&moco), id, "the same SLURM job ran again");
    let log = std::fs::read_to_string(moco.join(format!("slurm-{id}.out"))).expect("log");
    assert_contains(&log, "USR1 from SLURM: stopping and requeueing");
    assert_contains(&log, "on a stop request");
    assert_contains(&log, "restart 1");
    assert_contains(&log, "resumed=true");
    let local = dir.join("local").join(moco.file_name().expect("id"));
    assert_same_metrics(&moco, &local);
}

/// A pre-training of two processes: `srun --mpi=pmix` starts them, the ranks come from SLURM's PMIx, and the job
/// trains what `vst run --replicas 2` (through `mpirun`) trains, byte for byte.
#[cfg(feature = "mpi")]
#[test]
fn a_pretraining_of_two_processes_runs_through_srun_like_mpirun() {
    if !cluster_ready("a_pretraining_of_two_processes_runs_through_srun_like_mpirun") {
        return;
    }
    let dir = study("slurm-two-tasks", 40);
    std::fs::write(
        dir.join("cluster.json"),
        r#"{"time": "10", "tasks_per_node": 2}"#,
    )
    .expect("cluster file");
    let local = common::vst_command(
        &dir,
        &["run", "study.vst", "--runs", "local", "--replicas", "2"],
    )
    .output()
    .expect("vst runs");
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    // Open MPI refuses root unless told (this cluster runs its jobs as root); sbatch passes the environment on.
    let out = common::vst_command(
        &dir,
        &[
            "run",
            "study.vst",
            "--slurm",
            "--cluster",
            "cluster.json",
            "--runs",
            "runs",
        ],
    )
    .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
    .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    .output()
    .expect("vst runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_all_done(&dir);
    let moco = job_dir(&dir.join("runs"), "pretrain[objective=moco]");
    let script = std::fs::read_to_string(moco.join("slurm.sh")).expect("script");
    assert_contains(&script, "#SBATCH --ntasks-per-node=2\n");
    assert_contains(&script, "\nsrun --mpi=pmix ");
    assert_contains(&script, " --replicas=2 &\n");
    let log =
        std::fs::read_to_string(moco.join(format!("slurm-{}.out", slurm_id(&moco)))).expect("log");
    assert_contains(
        &log,
        "working as a replica job=pretrain[objective=moco] rank=1",
    );
    let local_moco = dir.join("local").join(moco.file_name().expect("id"));
    assert_same_metrics(&moco, &local_moco);
}
