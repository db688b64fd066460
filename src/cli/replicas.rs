//! `vst run FILE --replicas N`: one run as N data-parallel processes. Started from a shell, `vst` starts them itself
//! through `mpirun` (Open MPI) and waits; started by a launcher (`mpirun -np N vst run FILE`, `srun` with PMI),
//! each process joins the launcher's world. Rank 0 runs the plan; the others serve its pre-training jobs
//! (`vst_runtime::jobs::replicas`). See docs/distributed.md.

use std::process::{Command, ExitCode};

use vst_runtime::distributed::Replicas;

/// Environment variables a launcher sets in every process it starts (Open MPI, MPICH/PMI, PMIx).
const LAUNCHER_VARIABLES: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"];

/// Whether an MPI launcher started this process.
pub fn under_launcher() -> bool {
    LAUNCHER_VARIABLES
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// Runs this very command as `replicas` processes under `mpirun` and returns its exit code.
pub fn launch(replicas: u32) -> ExitCode {
    if !cfg!(feature = "mpi") {
        eprintln!("error: {}", without_mpi());
        return ExitCode::from(super::USAGE_ERRORS);
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find this program's path to start its replicas: {e}");
            return ExitCode::from(super::USAGE_ERRORS);
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut mpirun = Command::new("mpirun");
    mpirun
        .arg("-np")
        .arg(replicas.to_string())
        // One machine: the replicas share its cores (each uses cores / replicas threads), and wait without
        // spinning while rank 0 alone evaluates.
        .args(["--oversubscribe", "--bind-to", "none"])
        .args(["--mca", "mpi_yield_when_idle", "1"]);
    if is_root() {
        mpirun.arg("--allow-run-as-root");
    }
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        mpirun.env(
            "RAYON_NUM_THREADS",
            (cores / replicas as usize).max(1).to_string(),
        );
    }
    // The same arguments: every process runs `vst run FILE ... --replicas N` and finds its rank in the launcher's
    // environment.
    mpirun.arg(exe).args(std::env::args_os().skip(1));
    match mpirun.status() {
        Ok(status) => ExitCode::from(status.code().map_or(super::run::JOB_FAILED, |c| c as u8)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "error: `mpirun` was not found: install Open MPI (Debian: `apt-get install openmpi-bin`), or start \
                 the replicas with your cluster's launcher"
            );
            ExitCode::from(super::USAGE_ERRORS)
        }
        Err(e) => {
            eprintln!("error: cannot start mpirun: {e}");
            ExitCode::from(super::USAGE_ERRORS)
        }
    }
}

fn is_root() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "root")
        || std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1))
                == Some("0")
        })
}

fn without_mpi() -> String {
    "this vst was built without MPI, so it cannot run replicas: build it with `cargo build --release --features mpi` \
     (needs Open MPI and libclang: `apt-get install openmpi-bin libopenmpi-dev libclang-dev`)"
        .into()
}

/// This process's place among the replicas, and what must live as long as the run (MPI's state).
pub struct Session {
    pub replicas: Replicas,
    #[cfg(feature = "mpi")]
    _mpi: Option<vst_runtime::distributed::MpiSession>,
}

/// Joins the launcher's world when a launcher started this process, else runs alone. `expected` is the
/// `--replicas` the user asked for, checked against the launcher's count.
pub fn join(expected: Option<u32>) -> Result<Session, String> {
    if !under_launcher() {
        return Ok(Session {
            replicas: Replicas::default(),
            #[cfg(feature = "mpi")]
            _mpi: None,
        });
    }
    #[cfg(feature = "mpi")]
    {
        let (session, world) = vst_runtime::distributed::mpi_world().map_err(|e| e.to_string())?;
        let replicas = Replicas(world);
        if let Some(n) = expected
            && n as usize != replicas.size()
        {
            return Err(format!(
                "--replicas {n}, but the launcher started {} processes",
                replicas.size()
            ));
        }
        Ok(Session {
            replicas,
            _mpi: Some(session),
        })
    }
    #[cfg(not(feature = "mpi"))]
    {
        let _ = expected;
        Err(format!(
            "an MPI launcher started this process, but {}",
            without_mpi()
        ))
    }
}
