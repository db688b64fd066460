//! `vst status FILE`: every job of a recipe's plan with its state (done / running / interrupted / failed /
//! pending), read from the run directory; safe to use while a `vst run` works there. Jobs submitted with `vst run
//! --slurm` also get what SLURM says of them (queued and why, running where, ended without a result and its log).

use std::path::PathBuf;
use std::process::ExitCode;
use vst_runtime::executor::{JobState, RunStore, job_states, lock_holder};

#[derive(clap::Args)]
pub struct Args {
    /// The recipe
    file: PathBuf,
    /// Where job outputs live
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
}

pub fn run(args: Args) -> ExitCode {
    let (plan, _) = match super::compile_plan(&args.file, "nothing to run") {
        Ok(compiled) => compiled,
        Err(code) => return ExitCode::from(code),
    };
    let store = RunStore::new(&args.runs);
    if let Some(holder) = lock_holder(&args.runs) {
        println!(
            "a `vst run` (pid {}) is working in {} on {}\n",
            holder.pid,
            args.runs.display(),
            holder.recipe
        );
    }
    let states = job_states(&plan, &store);
    let slurm = match crate::slurm::status::describe(&plan, &store) {
        Ok(lines) => lines,
        Err(e) => {
            eprintln!("warning: jobs were submitted to SLURM, but it cannot be asked: {e:#}");
            Default::default()
        }
    };
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for (job, (name, state)) in plan.jobs.iter().zip(&states) {
        *counts.entry(state).or_default() += 1;
        let extra = match store.state(&job.id) {
            JobState::Done(done) => format!("  {:.0} s", done.seconds),
            JobState::Failed(failed) => format!("  {}", failed.error.lines().next().unwrap_or("")),
            _ => String::new(),
        };
        println!("{state:>11}  {}  {name}{extra}", job.id);
        if let Some(line) = slurm.get(&job.id) {
            println!("{:>11}  {line}", "");
        }
    }
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("\n{} jobs: {}", plan.jobs.len(), summary.join(", "));
    ExitCode::SUCCESS
}
