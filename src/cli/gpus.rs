//! `vst run FILE --gpus N`: one run as N processes on the GPUs of this machine, talking through NCCL (no MPI
//! needed). `vst` starts the processes itself — the same command, each with its rank, the group size and a
//! rendezvous folder in its environment — and waits for all of them; when one fails the others are stopped, so a
//! run never hangs on a dead member. Process i trains on `cuda:(recipe's index + i)`. See docs/distributed.md.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::Duration;

use vst_runtime::distributed::{Nccl, RANK_VARIABLE, RENDEZVOUS_VARIABLE, Replicas, SIZE_VARIABLE};

/// Whether `vst run --gpus N` started this process.
pub fn started_by_launcher() -> bool {
    std::env::var_os(RANK_VARIABLE).is_some()
}

/// The rendezvous folder of one launch: under the runs folder, named by this launcher's process id.
fn rendezvous_dir(runs: &Path) -> PathBuf {
    runs.join(".nccl").join(std::process::id().to_string())
}

/// Starts this very command as `gpus` processes and returns the first failing exit code (or success).
pub fn launch(gpus: u32, runs: &Path) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find this program's path to start its processes: {e}");
            return ExitCode::from(super::USAGE_ERRORS);
        }
    };
    let dir = rendezvous_dir(runs);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!(
            "error: cannot create the rendezvous folder {}: {e}",
            dir.display()
        );
        return ExitCode::from(super::USAGE_ERRORS);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut children: Vec<Child> = Vec::new();
    for rank in 0..gpus {
        let mut cmd = Command::new(&exe);
        cmd.args(std::env::args_os().skip(1))
            .env(RANK_VARIABLE, rank.to_string())
            .env(SIZE_VARIABLE, gpus.to_string())
            .env(RENDEZVOUS_VARIABLE, &dir);
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            // The processes share this machine's cores for data loading and host work.
            cmd.env(
                "RAYON_NUM_THREADS",
                (cores / gpus as usize).max(1).to_string(),
            );
        }
        match cmd.spawn() {
            Ok(child) => children.push(child),
            Err(e) => {
                eprintln!("error: cannot start process {rank} of {gpus}: {e}");
                stop_all(&mut children);
                return ExitCode::from(super::USAGE_ERRORS);
            }
        }
    }
    let code = wait_all(&mut children);
    let _ = std::fs::remove_dir_all(&dir);
    // The parent too, once no other launch uses it (fails harmlessly while one does).
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir(parent);
    }
    code
}

/// Waits for every process; the first one to fail stops the rest (they would wait for it in a collective).
fn wait_all(children: &mut [Child]) -> ExitCode {
    let mut codes: Vec<Option<i32>> = vec![None; children.len()];
    loop {
        let mut running = false;
        for (i, child) in children.iter_mut().enumerate() {
            if codes[i].is_some() {
                continue;
            }
            match child.try_wait() {
                Ok(Some(status)) => {
                    let code = status.code().unwrap_or(i32::from(super::run::JOB_FAILED));
                    codes[i] = Some(code);
                    if code != 0 {
                        eprintln!(
                            "process {i} of {} failed (exit code {code}): stopping the others",
                            children.len()
                        );
                        stop_all(children);
                        return ExitCode::from(code.clamp(1, 255) as u8);
                    }
                }
                Ok(None) => running = true,
                Err(e) => {
                    eprintln!("error: cannot wait for process {i}: {e}");
                    stop_all(children);
                    return ExitCode::from(super::run::JOB_FAILED);
                }
            }
        }
        if !running {
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop_all(children: &mut [Child]) {
    for child in children.iter_mut() {
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

/// This process's place in a `--gpus N` group: joins NCCL's group through the launcher's rendezvous folder.
pub fn join(expected: Option<u32>) -> Result<Replicas, String> {
    let nccl = match Nccl::from_env() {
        Some(joined) => joined.map_err(|e| format!("joining the NCCL group: {e}"))?,
        None => return Err("not started by `vst run --gpus N`".into()),
    };
    let replicas = Replicas(std::sync::Arc::new(nccl));
    if let Some(n) = expected
        && n as usize != replicas.size()
    {
        return Err(format!(
            "--gpus {n}, but the launcher started {} processes",
            replicas.size()
        ));
    }
    Ok(replicas)
}
