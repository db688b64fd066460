//! `vst export CHECKPOINT OUT`: a trained encoder (and a fine-tune's classifier) in PySlowFast's names and layout,
//! for fine-tuning elsewhere (see `vst_runtime::train::export`).

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use vst_runtime::train::export::export_pyslowfast;

#[derive(clap::Args)]
pub struct Args {
    /// A job's checkpoint: `runs/<job id>/checkpoint.safetensors` of a pre-training or a fine-tune (`vst status
    /// RECIPE` lists the job ids)
    checkpoint: PathBuf,
    /// The file to write (safetensors); `python3 scripts/convert_pyslowfast.py --to-pyslowfast OUT OUT.pyth` makes
    /// a PySlowFast `.pyth` checkpoint of it
    output: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    if !args.checkpoint.is_file() {
        bail!(
            "{} does not exist; give a job's checkpoint, runs/<job id>/checkpoint.safetensors",
            args.checkpoint.display()
        );
    }
    if args.output == args.checkpoint {
        bail!("the export would overwrite its own checkpoint; give another output file");
    }
    let summary = export_pyslowfast(&args.checkpoint, &args.output)
        .with_context(|| format!("cannot export {}", args.checkpoint.display()))?;
    println!(
        "wrote {}: {} encoder entries{} in PySlowFast's names and layout ({} entries left out: self-supervised \
         heads, momentum encoder, optimiser state, queues)",
        args.output.display(),
        summary.encoder_entries,
        if summary.classifier {
            " and the fine-tuned classifier"
        } else {
            ""
        },
        summary.left_out
    );
    Ok(())
}
