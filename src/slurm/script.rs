//! The batch script of one job: `#SBATCH` lines from the job's kind and the site's settings, then `vst run FILE
//! --only JOB --no-deps`. Every value that comes from the recipe or from a path is quoted for the shell (or, on
//! `#SBATCH` lines, restricted to characters that need no quoting), so a recipe can never make a submission run
//! shell code; the site's own `setup` and `sbatch` lines are written as they are.

use super::cluster::ClusterConfig;
use anyhow::bail;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use vst_spec::{Job, JobKind};

/// What SLURM allocates to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub nodes: u32,
    pub tasks_per_node: u32,
    pub gpus_per_node: u32,
    pub cpus_per_task: u32,
}

impl Resources {
    /// A pre-training takes the site's training allocation (every GPU of `nodes` nodes, one task per GPU); an
    /// evaluation one GPU (if the site has GPUs); preparing data and writing reports a CPU job.
    pub fn for_job(job: &Job, config: &ClusterConfig) -> Resources {
        let single = |gpus| Resources {
            nodes: 1,
            tasks_per_node: 1,
            gpus_per_node: gpus,
            cpus_per_task: config.cpus_per_gpu,
        };
        match &job.kind {
            JobKind::Pretrain(_) => Resources {
                nodes: config.nodes,
                tasks_per_node: config.tasks_per_node.unwrap_or(config.gpus_per_node.max(1)),
                gpus_per_node: config.gpus_per_node,
                cpus_per_task: config.cpus_per_gpu,
            },
            JobKind::Eval(_) => single(config.gpus_per_node.min(1)),
            JobKind::Prepare(_) | JobKind::Report(_) => single(0),
        }
    }

    pub fn tasks(&self) -> u32 {
        self.nodes * self.tasks_per_node
    }
}

/// Where and how a job runs: everything but the job and the site's settings.
pub struct Invocation<'a> {
    /// The vst binary the job runs.
    pub vst: &'a Path,
    /// The recipe, as given on the command line (relative to `workdir`).
    pub recipe: &'a Path,
    /// The runs folder, as given on the command line (relative to `workdir`).
    pub runs: &'a Path,
    /// The directory the submission was made from; the job runs there.
    pub workdir: &'a Path,
    /// More options of `vst run` (`--device=cuda`, `--low-memory`), quoted like the rest.
    pub pass_on: &'a [String],
}

/// A string as one shell word, taken literally: single quotes, each `'` written as `'\''`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn quote_path(path: &Path) -> String {
    shell_quote(&path.to_string_lossy())
}

/// A job name SLURM shows (`squeue`, `--job-name`): the job's name with anything but letters, digits and
/// `_.,=+:@[]-` replaced by `_`, so that it needs no quoting on its `#SBATCH` line.
pub fn slurm_job_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z'
            | 'A'..='Z'
            | '0'..='9'
            | '_'
            | '.'
            | ','
            | '='
            | '+'
            | ':'
            | '@'
            | '['
            | ']'
            | '-' => c,
            _ => '_',
        })
        .collect()
}

/// A path for an `#SBATCH` line (sbatch, not the shell, reads it; it goes between double quotes there): paths
/// that sbatch would read differently (quotes, line breaks, `%` patterns, backslashes) are refused.
fn sbatch_path(path: &Path) -> anyhow::Result<String> {
    let text = path.to_string_lossy();
    if text.contains(['"', '\n', '\r', '%', '\\']) {
        bail!(
            "{}: a path SLURM's `#SBATCH` lines cannot hold (it has a quote, a line break, `%` or `\\`); use \
             another --runs folder or working directory",
            path.display()
        );
    }
    Ok(text.into_owned())
}

/// The job's folder (absolute), where its script and SLURM's log live.
pub fn job_folder(invocation: &Invocation, job: &Job) -> PathBuf {
    invocation.workdir.join(invocation.runs).join(&job.id.0)
}

/// The batch script of `job`.
pub fn render(
    job: &Job,
    config: &ClusterConfig,
    invocation: &Invocation,
) -> anyhow::Result<String> {
    let resources = Resources::for_job(job, config);
    let folder = job_folder(invocation, job);
    let mut s = String::from("#!/bin/bash\n");
    // Debug formatting keeps a name with line breaks on its comment line.
    let _ = writeln!(
        s,
        "# vst job {:?} ({}) of {:?}, written by `vst run --slurm`; submit it again with `sbatch` on this file.",
        job.name,
        job.id,
        invocation.recipe.to_string_lossy()
    );
    let mut sbatch = |line: String| {
        let _ = writeln!(s, "#SBATCH {line}");
    };
    sbatch(format!("--job-name={}", slurm_job_name(&job.name)));
    sbatch(format!(
        "--output=\"{}/slurm-%j.out\"",
        sbatch_path(&folder)?
    ));
    sbatch("--open-mode=append".into());
    sbatch(format!("--chdir=\"{}\"", sbatch_path(invocation.workdir)?));
    sbatch("--requeue".into());
    sbatch(format!("--signal=B:USR1@{}", config.signal_seconds));
    sbatch(format!("--nodes={}", resources.nodes));
    sbatch(format!("--ntasks-per-node={}", resources.tasks_per_node));
    sbatch(format!("--cpus-per-task={}", resources.cpus_per_task));
    if resources.gpus_per_node > 0 {
        sbatch(format!("--gpus-per-node={}", resources.gpus_per_node));
        if let Some(mem) = &config.mem_per_gpu {
            sbatch(format!("--mem-per-gpu={mem}"));
        }
    } else if let Some(mem) = &config.mem_per_gpu {
        sbatch(format!("--mem={mem}"));
    }
    for (flag, value) in [
        ("partition", &config.partition),
        ("account", &config.account),
        ("qos", &config.qos),
        ("time", &config.time),
    ] {
        if let Some(value) = value {
            sbatch(format!("--{flag}={value}"));
        }
    }
    for line in &config.sbatch {
        sbatch(line.clone());
    }
    if !config.setup.is_empty() {
        s.push_str("\n# The site's set-up (from the cluster file).\n");
        for line in &config.setup {
            let _ = writeln!(s, "{line}");
        }
    }
    let mut command = vec![
        quote_path(invocation.vst),
        "run".into(),
        quote_path(invocation.recipe),
        "--only".into(),
        shell_quote(&job.id.0),
        "--no-deps".into(),
        "--runs".into(),
        quote_path(invocation.runs),
    ];
    command.extend(invocation.pass_on.iter().map(|option| shell_quote(option)));
    if resources.tasks() > 1 {
        // One task per GPU on every node; each rank finds its place from SLURM's PMI (docs/distributed.md).
        command.splice(
            0..0,
            ["srun".to_string(), format!("--mpi={}", config.srun_mpi)],
        );
        command.push(format!("--replicas={}", resources.tasks()));
    }
    let _ = write!(
        s,
        r#"
set -u
cd {workdir} || exit 2
echo "vst: job "{name}" ({id}), SLURM job ${{SLURM_JOB_ID:-?}}, restart ${{SLURM_RESTART_COUNT:-0}}, on $(hostname), $(date -u)"
# SLURM's warning before the time limit (or a preemption): vst stops ({stopping}) and the job goes back into the
# queue, to resume from its last checkpoint.
stop_and_requeue() {{
  echo "vst: USR1 from SLURM: stopping and requeueing"
  kill -{signal} "$child" 2>/dev/null
  wait "$child"
  scontrol requeue "$SLURM_JOB_ID" || exit 1
  exit 0
}}
child=""
trap stop_and_requeue USR1
{command} &
child=$!
wait "$child"
exit $?
"#,
        workdir = quote_path(invocation.workdir),
        // A pre-training checkpoints at the end of its current epoch on USR1 (`signal_seconds` should exceed an
        // epoch); other jobs hold no state worth saving and stop at once.
        signal = if matches!(job.kind, JobKind::Pretrain(_)) {
            "USR1"
        } else {
            "TERM"
        },
        stopping = if matches!(job.kind, JobKind::Pretrain(_)) {
            "a pre-training at the end of its current epoch, with a checkpoint there"
        } else {
            "at once"
        },
        id = job.id,
        // Debug formatting: a name's line breaks stay escaped, so every line of the script is one of ours.
        name = shell_quote(&format!("{:?}", job.name)),
        command = command.join(" "),
    );
    Ok(s)
}
