//! `vst run FILE --slurm [--cluster FILE]`: the glue between the command line and `crate::slurm::submit`.

use crate::slurm::cluster::ClusterConfig;
use crate::slurm::script::Invocation;
use crate::slurm::submit::{Action, submit};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use vst_spec::{JobId, Plan};

pub struct Request<'a> {
    pub plan: &'a Plan,
    pub recipe: &'a Path,
    pub runs: &'a Path,
    pub only: Option<&'a str>,
    pub cluster: Option<&'a Path>,
    /// Options of this command that every job's `vst run` gets too.
    pub pass_on: Vec<String>,
}

pub fn run(request: Request) -> ExitCode {
    match submit_plan(&request) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::USAGE_ERRORS)
        }
    }
}

fn submit_plan(request: &Request) -> anyhow::Result<()> {
    let (config, cluster_file) = ClusterConfig::load(request.cluster)?;
    let selected = selection(request.plan, request.only)?;
    let vst = match &config.vst {
        Some(vst) => vst.clone(),
        None => std::env::current_exe()?,
    };
    let workdir = std::env::current_dir()?;
    let invocation = Invocation {
        vst: &vst,
        recipe: request.recipe,
        runs: request.runs,
        workdir: &workdir,
        pass_on: &request.pass_on,
    };
    match &cluster_file {
        Some(path) => eprintln!("cluster settings: {}", path.display()),
        None => eprintln!(
            "cluster settings: SLURM's defaults (no --cluster, $VST_CLUSTER or ~/.config/vst/cluster.json)"
        ),
    }
    let actions = submit(request.plan, &selected, &config, &invocation)?;
    let mut submitted = 0;
    for (name, action) in &actions {
        let line = match action {
            Action::Done => "done".to_string(),
            Action::Kept { slurm_job, state } => {
                format!("already {} as SLURM job {slurm_job}", state.to_lowercase())
            }
            Action::Submitted { slurm_job, after } if after.is_empty() => {
                submitted += 1;
                format!("submitted as SLURM job {slurm_job}")
            }
            Action::Submitted { slurm_job, after } => {
                submitted += 1;
                format!(
                    "submitted as SLURM job {slurm_job}, after {}",
                    after.join(", ")
                )
            }
            Action::Resubmitted { slurm_job, earlier } => {
                submitted += 1;
                format!(
                    "resubmitted as SLURM job {slurm_job} (SLURM job {earlier} ended without a result)"
                )
            }
        };
        println!("{name}: {line}");
    }
    eprintln!(
        "{submitted} jobs submitted; `vst status {}` follows them, `vst run {}` prints the tables once they are done",
        request.recipe.display(),
        request.recipe.display()
    );
    Ok(())
}

/// Every job, or the one named and everything it needs.
fn selection(plan: &Plan, only: Option<&str>) -> anyhow::Result<Vec<JobId>> {
    let Some(wanted) = only else {
        return Ok(plan.jobs.iter().map(|j| j.id.clone()).collect());
    };
    let target = vst_runtime::executor::find_job(plan, wanted)?;
    let mut chosen = BTreeSet::new();
    let mut stack = vec![target.id.clone()];
    while let Some(id) = stack.pop() {
        if chosen.insert(id.clone())
            && let Some(job) = plan.job(&id)
        {
            stack.extend(job.deps.iter().cloned());
        }
    }
    Ok(chosen.into_iter().collect())
}
