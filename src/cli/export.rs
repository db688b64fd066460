//! `vst export CHECKPOINT OUT [--layout pyslowfast|pytorchvideo]`: a trained encoder (and a fine-tune's classifier)
//! in PyTorch's layout under PySlowFast's or pytorchvideo's names, for fine-tuning elsewhere (see
//! `vst_runtime::train::export`).

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use vst_runtime::train::export::{ExportLayout, export};

/// Whose state_dict names the export writes.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum Layout {
    /// PySlowFast's `ResNet` (`s1.pathway0_stem.conv.weight`, …, `head.projection.weight`)
    #[default]
    Pyslowfast,
    /// pytorchvideo's `create_resnet`, as its `slow_r50` hub model (`blocks.0.conv.weight`, …,
    /// `blocks.5.proj.weight`); Slow R-50/101 only: R-18/34's basic blocks are refused
    Pytorchvideo,
}

impl From<Layout> for ExportLayout {
    fn from(layout: Layout) -> Self {
        match layout {
            Layout::Pyslowfast => ExportLayout::PySlowFast,
            Layout::Pytorchvideo => ExportLayout::PyTorchVideo,
        }
    }
}

#[derive(clap::Args)]
#[command(
    after_help = "`--layout pytorchvideo` writes the names of pytorchvideo's `create_resnet` (its `slow_r50` \
                         hub model) instead of PySlowFast's, and prints the `create_resnet(...)` call whose model \
                         loads the file strictly."
)]
pub struct Args {
    /// A job's checkpoint: `runs/<job id>/checkpoint.safetensors` of a pre-training or a fine-tune (`vst status
    /// RECIPE` lists the job ids)
    checkpoint: PathBuf,
    /// The file to write (safetensors, PyTorch's layout). PySlowFast: `python3 scripts/convert_pyslowfast.py
    /// --to-pyslowfast OUT OUT.pyth` makes a `.pyth` checkpoint of it. pytorchvideo: load it with
    /// `model.load_state_dict(safetensors.torch.load_file(OUT))` into the `create_resnet(...)` model the command
    /// prints
    output: PathBuf,
    /// Whose state_dict names to write: PySlowFast's `ResNet`, or pytorchvideo's `create_resnet` (the names of its
    /// `slow_r50` hub model)
    #[arg(long, value_enum, default_value_t = Layout::Pyslowfast)]
    layout: Layout,
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
    let summary = export(&args.checkpoint, &args.output, args.layout.into())
        .with_context(|| format!("cannot export {}", args.checkpoint.display()))?;
    let names = match args.layout {
        Layout::Pyslowfast => "PySlowFast's names",
        Layout::Pytorchvideo => "pytorchvideo's names",
    };
    println!(
        "wrote {}: {} encoder entries{} in {names} and PyTorch's layout ({} entries left out: self-supervised \
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
    if let Some(create) = &summary.create_resnet {
        println!(
            "pytorchvideo loads it strictly with:\n  from pytorchvideo.models.resnet import create_resnet\n  \
             from safetensors.torch import load_file\n  model = {}\n  model.load_state_dict(load_file(\"{}\"))",
            create.to_python(),
            args.output.display()
        );
        if create.model_num_class.is_some() {
            println!(
                "(add head_pool_kernel_size=: the last stage's output size for your clips, e.g. (8, 7, 7) for \
                 8×224² as slow_r50 has; vst pools globally)"
            );
        }
    }
    Ok(())
}
