//! `vst report FILE [--html] [--out DIR] [--runs DIR]`: a study's reports as they stand, filled from the
//! evaluations that have finished (so it works while a study runs). Without `--html`: the Markdown tables. With
//! `--html`: one self-contained page (`DIR/<recipe>.html`) with the tables and plots, the plan's jobs and their
//! state, training curves, evaluation results and what each cell changes against the base.

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use vst_runtime::executor::{DONE_FILE, DoneRecord, RunStore, write_atomic};
use vst_runtime::jobs::fill_table;
use vst_runtime::page::{CellSettings, PageInput, SettingChange, render_page};
use vst_runtime::report::render_markdown;
use vst_spec::JobKind;

#[derive(clap::Args)]
pub struct Args {
    /// The recipe
    file: PathBuf,
    /// Write one self-contained HTML page (tables, plots, plan, training curves, settings) instead of printing
    /// the Markdown tables
    #[arg(long)]
    html: bool,
    /// Where the HTML page goes (default: the run folder)
    #[arg(long, requires = "html")]
    out: Option<PathBuf>,
    /// Where job outputs live
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
}

pub fn run(args: Args) -> ExitCode {
    let (plan, compilation) = match super::compile_plan(&args.file, "nothing to report") {
        Ok(compiled) => compiled,
        Err(code) => return ExitCode::from(code),
    };
    let store = RunStore::new(&args.runs);
    if !args.html {
        let done = |id: &vst_spec::JobId| {
            let bytes = std::fs::read(store.job_dir(id).join(DONE_FILE)).ok()?;
            serde_json::from_slice::<DoneRecord>(&bytes)
                .ok()
                .map(|d| d.result)
        };
        for job in &plan.jobs {
            if let JobKind::Report(report) = &job.kind {
                println!(
                    "{}",
                    render_markdown(&fill_table(report, &plan, store.root(), done))
                );
            }
        }
        return ExitCode::SUCCESS;
    }
    let started = Instant::now();
    let cells: Vec<CellSettings> = vst_compiler::render::changes::cell_changes(&compilation)
        .into_iter()
        .map(|cell| CellSettings {
            coords: cell.coords,
            changes: cell
                .changes
                .into_iter()
                .map(|c| SettingChange {
                    key: c.key,
                    value: c.value,
                    base: c.base,
                    origin: c.origin,
                })
                .collect(),
        })
        .collect();
    let recipe = args.file.display().to_string();
    let page = render_page(&PageInput {
        recipe: &recipe,
        plan: &plan,
        store: &store,
        cells: &cells,
    });
    let out_dir = args.out.unwrap_or_else(|| args.runs.clone());
    let stem = args
        .file
        .file_stem()
        .map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
    let path = out_dir.join(format!("{stem}.html"));
    let written = std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))
        .and_then(|()| {
            write_atomic(&path, page.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))
        });
    if let Err(e) = written {
        return super::report_errors(Err(e));
    }
    println!(
        "written: {} ({} KiB, in {:.0} ms)",
        path.display(),
        page.len().div_ceil(1024),
        started.elapsed().as_secs_f64() * 1000.0
    );
    ExitCode::SUCCESS
}
