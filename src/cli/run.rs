//! `vst run FILE [--only JOB] [--dry-run]`: run a recipe's plan — skipping finished jobs, resuming interrupted
//! ones — and print its reports. Exit codes: 0 ok, 1 recipe errors, 2 usage/IO errors, 3 a job failed, 4 a
//! report's declared expectation was missed.

use std::path::PathBuf;
use std::process::ExitCode;
use vst_runtime::executor::{ExecError, Executor, Outcome, RunOptions, RunStore};
use vst_runtime::jobs::{PlanRunner, RunnerOptions, partial_report_output, report_output};
use vst_spec::{DeviceSpec, JobKind};

pub const JOB_FAILED: u8 = 3;
pub const EXPECTATION_MISSED: u8 = 4;

#[derive(clap::Args)]
pub struct Args {
    /// The recipe
    file: PathBuf,
    /// Run only this job (its name as `vst plan` prints it, or an id prefix) and what it needs
    #[arg(long)]
    only: Option<String>,
    /// Show what would run (and what would resume) without running or creating anything
    #[arg(long)]
    dry_run: bool,
    /// Where job outputs live (one folder per job id)
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
    /// Run every job on this device instead of the recipe's (`cpu`, `cuda`, `cuda:N`)
    #[arg(long, value_parser = parse_device)]
    device: Option<DeviceSpec>,
    /// Pre-train in this arithmetic instead of the recipe's `precision` (`f32`, `tf32`, `bf16`; below f32 needs a
    /// CUDA device). Part of a job's identity, like the device
    #[arg(long, value_parser = parse_precision)]
    precision: Option<vst_spec::Precision>,
    /// Data loading threads (default: all cores)
    #[arg(long)]
    threads: Option<usize>,
    /// Video decoder: `openh264`, `ffmpeg` (builds with the `ffmpeg` feature) or `nvdec` (the GPU's video engines;
    /// videos it cannot read fall back to the CPU decoder; never run on a GPU yet: see docs/gpu.md). H.264 decoders
    /// give identical frames, so this changes speed, not results. Default: ffmpeg when built in, else openh264
    #[arg(long, value_parser = parse_decoder)]
    decoder: Option<vst_data::video::DecoderKind>,
    /// Where pre-training clips are augmented: `cpu` (default) or `gpu` — the T/S/C kernels on the pre-training's
    /// CUDA device, the CPU decoding and shipping uint8 frames (same draws; the clips equal the CPU's to ~1e-5).
    /// Never run on a GPU yet: see docs/gpu.md
    #[arg(long, value_enum, default_value_t = AugmentOn::Cpu)]
    augment_on: AugmentOn,
    /// Memory (MiB) a job may use to keep decoded videos, so each is decoded once
    #[arg(long, default_value_t = 4096)]
    cache_mb: usize,
    /// Train on N data-parallel replicas (processes started through `mpirun`; needs a build with `--features
    /// mpi`). Under a launcher (`mpirun -np N vst run FILE`, `srun`) the launcher's processes are the replicas.
    /// The model does not depend on N (see docs/distributed.md)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    replicas: Option<u32>,
    /// Train on the first N GPUs of this machine, one process each, through NCCL (no MPI needed; process i uses
    /// `cuda:(recipe's index + i)`). Never run on a GPU yet: see docs/distributed.md
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "replicas")]
    gpus: Option<u32>,
    /// Back-propagate one batch-norm batch of one view at a time, recomputing its forward pass: about a third more
    /// compute, the memory of one BN batch instead of all of a device's clips; the same model
    #[arg(long)]
    low_memory: bool,
    /// Submit the jobs not done yet to SLURM (one batch job each, with the plan's dependencies) instead of running
    /// them here; again, it submits only what failed or was cancelled (see docs/cluster.md)
    #[arg(long, conflicts_with_all = ["dry_run", "replicas", "gpus", "no_deps"])]
    slurm: bool,
    /// The site's SLURM settings (JSON; default `$VST_CLUSTER`, then ~/.config/vst/cluster.json)
    #[arg(long, requires = "slurm")]
    cluster: Option<PathBuf>,
    /// Run only the --only job, whose dependencies must be done, locking only its own folder (what a SLURM job
    /// runs: independent jobs of a study then run at once)
    #[arg(long, requires = "only")]
    no_deps: bool,
}

fn parse_precision(text: &str) -> Result<vst_spec::Precision, String> {
    vst_spec::Precision::parse(text)
        .ok_or_else(|| format!("`{text}` is not a precision: use f32, tf32 or bf16"))
}

pub fn parse_device(text: &str) -> Result<DeviceSpec, String> {
    match text {
        "cpu" => Ok(DeviceSpec::Cpu),
        "cuda" => Ok(DeviceSpec::Cuda { index: 0 }),
        _ => text
            .strip_prefix("cuda:")
            .and_then(|i| i.parse().ok())
            .map(|index| DeviceSpec::Cuda { index })
            .ok_or_else(|| format!("`{text}` is not a device: use cpu, cuda or cuda:N")),
    }
}

fn device_text(device: DeviceSpec) -> String {
    match device {
        DeviceSpec::Cpu => "cpu".into(),
        DeviceSpec::Cuda { index } => format!("cuda:{index}"),
    }
}

pub fn run(args: Args) -> ExitCode {
    if let Some(n) = args.replicas
        && n > 1
        && !args.dry_run
        && !super::replicas::under_launcher()
    {
        return super::replicas::launch(n);
    }
    if let Some(n) = args.gpus
        && n > 1
        && !args.dry_run
        && !super::gpus::started_by_launcher()
    {
        return super::gpus::launch(n, &args.runs);
    }
    super::init_logging();
    let session = match super::replicas::join(args.replicas) {
        Ok(session) => session,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::USAGE_ERRORS);
        }
    };
    let replicas = if super::gpus::started_by_launcher() {
        match super::gpus::join(args.gpus) {
            Ok(replicas) => replicas,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(super::run::JOB_FAILED);
            }
        }
    } else {
        session.replicas.clone()
    };
    let (plan, _) = match super::compile_plan(&args.file, "nothing to run") {
        Ok(compiled) => compiled,
        Err(code) => return ExitCode::from(code),
    };
    let plan = match args.device {
        Some(device) => vst_compiler::lower::with_device(&plan, device),
        None => plan,
    };
    let plan = match args.precision {
        Some(precision) => vst_compiler::lower::with_precision(&plan, precision),
        None => plan,
    };
    if args.slurm {
        return super::submit::run(super::submit::Request {
            plan: &plan,
            recipe: &args.file,
            runs: &args.runs,
            only: args.only.as_deref(),
            cluster: args.cluster.as_deref(),
            // What changes the plan or how a job runs goes to every SLURM job's own `vst run`.
            pass_on: [
                args.device.map(|d| format!("--device={}", device_text(d))),
                args.low_memory.then(|| "--low-memory".to_string()),
                args.threads.map(|n| format!("--threads={n}")),
                args.decoder.map(|d| format!("--decoder={}", d.name())),
                (args.augment_on == AugmentOn::Gpu).then(|| "--augment-on=gpu".to_string()),
                Some(format!("--cache-mb={}", args.cache_mb)),
            ]
            .into_iter()
            .flatten()
            .collect(),
        });
    }
    let mut options = RunnerOptions {
        progress: super::color_capable_stderr(),
        ..RunnerOptions::default()
    };
    options.cache_bytes = args.cache_mb << 20;
    if let Some(decoder) = args.decoder {
        // Fails now, naming what is missing, rather than in the first job that reads a video.
        if let Err(e) = decoder.backend() {
            eprintln!("error: --decoder {}: {e}", decoder.name());
            return ExitCode::from(super::USAGE_ERRORS);
        }
        options.decoder = decoder;
    }
    if args.augment_on == AugmentOn::Gpu {
        let on_cpu: Vec<&str> = plan
            .jobs
            .iter()
            .filter(|j| matches!(&j.kind, JobKind::Pretrain(p) if p.device == DeviceSpec::Cpu))
            .map(|j| j.name.as_str())
            .collect();
        if let Some(first) = on_cpu.first() {
            eprintln!(
                "error: --augment-on gpu augments on the pre-training's CUDA device, but {first}{} trains on the \
                 CPU\n  help: add --device cuda, or leave out --augment-on",
                if on_cpu.len() > 1 {
                    format!(" (and {} more)", on_cpu.len() - 1)
                } else {
                    String::new()
                }
            );
            return ExitCode::from(super::USAGE_ERRORS);
        }
        options.augment_on_gpu = true;
    }
    if let Some(threads) = args.threads {
        options.threads = threads.max(1);
    }
    options.replicas = replicas.clone();
    options.low_memory = args.low_memory;
    // SIGUSR1 (SLURM's warning before a time limit, or a user's request): a pre-training stops at the end of its
    // current epoch with a checkpoint there; the same command resumes it.
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGUSR1, options.stop.clone())
    {
        eprintln!("warning: cannot listen for SIGUSR1 (a stop request): {e}");
    }
    let runner = PlanRunner { options };
    let store = RunStore::new(&args.runs);
    if !replicas.is_leader() {
        return match vst_runtime::jobs::replicas::serve(&plan, &store, &runner) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                // Rank 0 and the others are waiting for this one: end the process (the launcher stops the rest).
                eprintln!("error: {e:#}");
                std::process::exit(i32::from(JOB_FAILED));
            }
        };
    }
    let executor = Executor {
        plan: &plan,
        store: store.clone(),
        runner: &runner,
    };
    let run_options = RunOptions {
        only: args.only,
        dry_run: args.dry_run,
        stop_on_failure: replicas.size() > 1,
        stop: Some(runner.options.stop.clone()),
        no_deps: args.no_deps,
    };
    let result = executor.run(&run_options);
    if replicas.size() > 1 {
        let failed = result.as_ref().is_ok_and(|summary| {
            summary
                .failures()
                .any(|(_, outcome)| matches!(outcome, Outcome::Failed(_)))
        });
        if failed {
            // The other replicas failed with it or wait in the middle of a step: end the run here (its
            // failed.json is written; the launcher stops the rest).
            if let Ok(summary) = &result {
                for (name, outcome) in summary.failures() {
                    if let Outcome::Failed(why) = outcome {
                        eprintln!("error: job `{name}` failed: {why}");
                    }
                }
            }
            std::process::exit(i32::from(JOB_FAILED));
        }
        if let Err(e) = vst_runtime::jobs::replicas::dismiss(&replicas) {
            eprintln!("error: {e:#}");
        }
    }
    let summary = match result {
        Ok(summary) => summary,
        Err(e @ (ExecError::Preflight { .. } | ExecError::Preflights(_))) => {
            eprintln!("error: {e}");
            eprintln!("nothing was run; no run directory was written");
            return ExitCode::from(super::USAGE_ERRORS);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::USAGE_ERRORS);
        }
    };

    if args.dry_run {
        for (name, outcome) in &summary.outcomes {
            let what = match outcome {
                Outcome::AlreadyDone => "done (skipped)",
                Outcome::WouldRun { resume: true } => "would resume",
                Outcome::WouldRun { resume: false } => "would run",
                _ => "?",
            };
            println!("{what:>16}  {name}");
        }
        return ExitCode::SUCCESS;
    }

    let mut missed = false;
    for job in plan
        .jobs
        .iter()
        .filter(|j| matches!(j.kind, JobKind::Report(_)))
    {
        let dir = store.job_dir(&job.id);
        // A report that ran on a partly failed sweep is printed from this run only (it is redone next time).
        let ran_partial = summary
            .outcomes
            .iter()
            .any(|(name, o)| name == &job.name && matches!(o, Outcome::Partial(_)));
        let report = match ran_partial {
            true => partial_report_output(&dir),
            false => report_output(&dir),
        };
        if let Some(report) = report {
            println!("{}", report.markdown);
            let files: Vec<String> = report
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect();
            println!("written: {}\n", files.join(", "));
            missed |= !report.all_met;
        }
    }
    let failures: Vec<_> = summary.failures().collect();
    let ran = summary
        .outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Ran)
        .count();
    let skipped = summary
        .outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::AlreadyDone)
        .count();
    eprintln!(
        "{ran} jobs ran, {skipped} were already done, {} failed or blocked",
        failures.len()
    );
    for (name, outcome) in &failures {
        match outcome {
            Outcome::Failed(why) => eprintln!("error: job `{name}` failed: {why}"),
            Outcome::Blocked(cause) => {
                eprintln!("  `{name}` did not run: it needs `{cause}`, which failed")
            }
            Outcome::Partial(why) => {
                eprintln!("  `{name}` printed what it has ({why}); it runs again next time")
            }
            _ => {}
        }
    }
    if !failures.is_empty() {
        return ExitCode::from(JOB_FAILED);
    }
    if missed {
        eprintln!("error: a report's declared expectation was missed (see MISSED above)");
        return ExitCode::from(EXPECTATION_MISSED);
    }
    ExitCode::SUCCESS
}

/// Where pre-training clips are augmented (`--augment-on`).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AugmentOn {
    Cpu,
    Gpu,
}

fn parse_decoder(name: &str) -> Result<vst_data::video::DecoderKind, String> {
    vst_data::video::DecoderKind::parse(name).map_err(|e| e.to_string())
}
