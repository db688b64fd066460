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
    /// Data loading threads (default: all cores)
    #[arg(long)]
    threads: Option<usize>,
    /// Memory (MiB) a job may use to keep decoded videos, so each is decoded once
    #[arg(long, default_value_t = 4096)]
    cache_mb: usize,
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

pub fn run(args: Args) -> ExitCode {
    super::init_logging();
    let (plan, _) = match super::compile_plan(&args.file, "nothing to run") {
        Ok(compiled) => compiled,
        Err(code) => return ExitCode::from(code),
    };
    let plan = match args.device {
        Some(device) => vst_compiler::lower::with_device(&plan, device),
        None => plan,
    };
    let mut options = RunnerOptions {
        progress: super::color_capable_stderr(),
        ..RunnerOptions::default()
    };
    options.cache_bytes = args.cache_mb << 20;
    if let Some(threads) = args.threads {
        options.threads = threads.max(1);
    }
    let runner = PlanRunner { options };
    let store = RunStore::new(&args.runs);
    let executor = Executor {
        plan: &plan,
        store: store.clone(),
        runner: &runner,
    };
    let run_options = RunOptions {
        only: args.only,
        dry_run: args.dry_run,
    };
    let summary = match executor.run(&run_options) {
        Ok(summary) => summary,
        Err(e @ ExecError::Preflight { .. }) => {
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
