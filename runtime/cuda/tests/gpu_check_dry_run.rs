//! The GPU check's dry run: on a machine without a GPU (CI, this project's build machine) every CUDA step of
//! scripts/gpu-check.sh fails at once, and the script must still write its summary and archive with each step's
//! status, quickly. A GPU run is rare and short: the control flow is proven here, not there.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn a_run_without_a_gpu_records_every_step_and_returns_its_files() {
    if Command::new("nvidia-smi")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("a GPU is present: the dry run is for machines without one");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("vst-gpu-check-dry-{}", std::process::id()));
    let (bin, out) = (tmp.join("bin"), tmp.join("out"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_vst-cuda-check"),
        bin.join("vst-cuda-check"),
    )
    .unwrap();
    let started = Instant::now();
    let run = Command::new("bash")
        .arg(repo_root().join("scripts/gpu-check.sh"))
        .arg(&bin)
        .env("OUT", &out)
        .env("PYTHON", "python3")
        .output()
        .expect("bash runs");
    let took = started.elapsed();
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success(),
        "with no GPU the check must report failure:\n{log}"
    );
    assert!(took < Duration::from_secs(60), "the dry run took {took:?}");

    let summary = std::fs::read_to_string(out.join("summary.txt")).expect("summary.txt written");
    for step in [
        "env",
        "numerics-f32",
        "r50-bf16-vst",
        "numerics-bf16",
        "nccl-bf16-run",
        "augment",
        "nvdec",
        "augment-run",
        "r50-f32-vst-r1",
    ] {
        let line = summary
            .lines()
            .find(|l| l.starts_with(&format!("{step}: ")))
            .unwrap_or_else(|| panic!("no status line for {step} in:\n{summary}"));
        assert!(line.contains("FAILED"), "{line}");
    }
    // The numerics failure was retried with blocking launches.
    assert!(
        summary.contains("numerics-f32-blocking: FAILED"),
        "{summary}"
    );
    // The driver's absence is named, not just a status.
    assert!(summary.contains("no CUDA driver found"), "{summary}");
    assert!(
        summary.lines().any(|l| l.starts_with("gpu-check: done in")),
        "{summary}"
    );

    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(out.join("results.tar.gz"))
        .output()
        .expect("tar runs");
    let listing = String::from_utf8_lossy(&listing.stdout);
    for file in [
        "summary.txt",
        "numerics-f32.log",
        "env.log",
        "environment.txt",
    ] {
        assert!(
            listing.contains(file),
            "{file} missing from the archive:\n{listing}"
        );
    }
    // What the device tool returns: at most 8 files.
    let returned = std::fs::read_dir(&out).unwrap().count();
    assert!(returned <= 8, "{returned} files in OUT");
    std::fs::remove_dir_all(&tmp).ok();
}
