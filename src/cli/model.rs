//! `vst model FILE`: the encoder and heads a recipe trains — layers, parameters, GMACs (multiply-adds) per clip — for each
//! distinct model among its pre-training jobs.

use std::path::PathBuf;
use std::process::ExitCode;
use vst_runtime::model::ModelSummary;
use vst_spec::JobKind;

#[derive(clap::Args)]
pub struct Args {
    /// The recipe
    file: PathBuf,
    /// List every convolution, not only one row per stage
    #[arg(long)]
    layers: bool,
}

pub fn run(args: Args) -> ExitCode {
    let (plan, _) = match super::compile_plan(&args.file, "no model to show") {
        Ok(compiled) => compiled,
        Err(code) => return ExitCode::from(code),
    };
    let mut shown: Vec<String> = Vec::new();
    for job in &plan.jobs {
        let JobKind::Pretrain(p) = &job.kind else {
            continue;
        };
        let summary = match ModelSummary::new(&p.backbone, p.augment.spatial.size)
            .and_then(|s| s.with_objective(&p.objective))
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {}: {e}", job.name);
                return ExitCode::from(super::RECIPE_ERRORS);
            }
        };
        let text = if args.layers {
            summary.layer_table()
        } else {
            summary.to_string()
        };
        if shown.contains(&text) {
            continue;
        }
        println!("# {}\n{text}", job.name);
        shown.push(text);
    }
    ExitCode::SUCCESS
}
