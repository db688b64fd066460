//! `vst plan FILE [--format text|dot|json] [--gpus N | --nodes N --gpus-per-node M]`

use std::path::PathBuf;
use std::process::ExitCode;
use vst_compiler::render::devices::{World, per_device};
use vst_compiler::render::plan;
use vst_runtime::executor::{RunStore, job_states};

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Dot,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// The recipe
    file: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Show the per-device batch, LR, warm-up and sync-BN group on this many GPUs (one node)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "nodes")]
    gpus: Option<u32>,
    /// Number of nodes (with --gpus-per-node)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), requires = "gpus_per_node")]
    nodes: Option<u32>,
    /// GPUs per node (with --nodes)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), requires = "nodes")]
    gpus_per_node: Option<u32>,
    /// Memory of one GPU in GiB, for the per-device estimate (80: an H100)
    #[arg(long, default_value_t = 80.0, value_name = "GIB")]
    gpu_memory: f64,
    /// The run directory whose finished jobs the text form marks as done (when it exists)
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
}

pub fn run(args: Args) -> ExitCode {
    let (plan, compilation) = match super::compile_plan(&args.file, "nothing to plan") {
        Ok(compiled) => compiled,
        Err(code) => return ExitCode::from(code),
    };
    match args.format {
        Format::Text => {
            // Each job's state, when there is a run directory to look in.
            let states: Option<Vec<&str>> = args.runs.is_dir().then(|| {
                let store = RunStore::new(&args.runs);
                job_states(&plan, &store)
                    .into_iter()
                    .map(|(_, state)| state)
                    .collect()
            });
            print!("{}", plan::text_with_states(&plan, states.as_deref()));
        }
        Format::Dot => print!("{}", plan::dot(&plan)),
        Format::Json => match serde_json::to_string_pretty(&plan) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot write the plan as JSON: {e}");
                return ExitCode::from(super::USAGE_ERRORS);
            }
        },
    }
    let world = match (args.gpus, args.nodes, args.gpus_per_node) {
        (Some(gpus), _, _) => Some(World {
            nodes: 1,
            per_node: gpus,
            device_gib: args.gpu_memory,
        }),
        (None, Some(nodes), Some(per_node)) => Some(World {
            nodes,
            per_node,
            device_gib: args.gpu_memory,
        }),
        _ => None,
    };
    if let Some(world) = world {
        match per_device(&plan, &compilation.datasets, world) {
            Ok(table) => {
                println!();
                print!("{table}");
            }
            Err(problems) => {
                for p in problems {
                    eprintln!("error: {p}");
                }
                return ExitCode::from(super::RECIPE_ERRORS);
            }
        }
    }
    ExitCode::SUCCESS
}
