//! `vst export`: a trained encoder as PySlowFast or pytorchvideo holds one, so that users fine-tune it where they
//! already work.
//!
//! From a vst checkpoint (a pre-training's or a fine-tune's `checkpoint.safetensors`, or converted weights) it keeps
//! the encoder — `backbone.s1.*` … `backbone.s5.*` renamed to a `ResNet` model's state_dict names (`s1.*` …
//! `s5.*`, the form PySlowFast's `MODEL_NAME: ResNet` loads, and what its fine-tuning configs get from a
//! `ContrastiveModel` checkpoint after `CHECKPOINT_CLEAR_NAME_PATTERN: ("backbone.",)`) — and a fine-tune's
//! classifier (`head.projection.*`, PySlowFast's `ResNetBasicHead`). Convolution weights go back to PyTorch's
//! layout (Cout × Cin × kT × kH × kW). Self-supervised heads, the momentum encoder, queues and optimiser state are
//! left out. The file is safetensors (no pickle: nothing in it can run code); `scripts/convert_pyslowfast.py
//! --to-pyslowfast OUT.safetensors OUT.pyth` turns it into a `.pyth` checkpoint (`{"epoch", "model_state"}` with
//! the `num_batches_tracked` counters PySlowFast's batch norms carry).
//!
//! [`ExportLayout::PyTorchVideo`] writes the same tensors under the names of pytorchvideo's `create_resnet` model
//! (the structure of its `slow_r50` hub model: `blocks.0.conv.weight`, `blocks.N.res_blocks.M.branch2.conv_a.weight`,
//! `blocks.5.proj.*` for a classifier; the mapping is in `export_pytorchvideo.rs` beside this file) and, under
//! [`CREATE_RESNET_KEY`], the `create_resnet` arguments that build the model it loads into with
//! `load_state_dict(safetensors.torch.load_file(OUT))`, strictly. A network `create_resnet` cannot build (the basic
//! blocks of a Slow R-18/34) is refused with the reason.

use std::collections::HashMap;
use std::path::Path;

use vst_engine::{Device, Tensor};

use super::checkpoint::{ONLINE_PREFIX, conv_weight_to_pytorch, read_checkpoint, write_tensors};
use super::error::TrainError;
pub use super::export_pytorchvideo::{
    CreateResnetArgs, create_resnet_args, pytorchvideo_name, pytorchvideo_state,
};

/// Metadata key saying which layout the convolution weights are in (`pytorch` here; vst's own files omit it).
pub const LAYOUT_KEY: &str = "vst.layout";
/// Metadata key saying whose names the export uses (`pyslowfast` or `pytorchvideo`).
pub const EXPORT_KEY: &str = "vst.export";
/// Metadata key of a pytorchvideo export: the `create_resnet` keyword arguments as JSON
/// ([`CreateResnetArgs::to_json`]).
pub const CREATE_RESNET_KEY: &str = "vst.pytorchvideo.create_resnet";
/// The classifier of a fine-tuned network (PySlowFast's `ResNetBasicHead.projection`).
const CLASSIFIER_PREFIX: &str = "head.projection.";

/// Whose state_dict names an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportLayout {
    /// PySlowFast's `ResNet` (`s1.pathway0_stem.conv.weight`, `head.projection.weight`).
    #[default]
    PySlowFast,
    /// pytorchvideo's `create_resnet` (`blocks.0.conv.weight`, `blocks.5.proj.weight`).
    PyTorchVideo,
}

impl ExportLayout {
    /// The name written under [`EXPORT_KEY`].
    pub fn name(self) -> &'static str {
        match self {
            ExportLayout::PySlowFast => "pyslowfast",
            ExportLayout::PyTorchVideo => "pytorchvideo",
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    /// Encoder entries (weights, batch-norm parameters and statistics).
    pub encoder_entries: usize,
    /// Whether a fine-tune's classifier came along.
    pub classifier: bool,
    /// Entries of the checkpoint left out (heads, momentum encoder, optimiser state, queues).
    pub left_out: usize,
    /// For a pytorchvideo export: the `create_resnet` arguments of the model it loads into.
    pub create_resnet: Option<CreateResnetArgs>,
}

/// The PySlowFast name of a checkpoint entry, or None when the export leaves it out.
pub fn pyslowfast_name(name: &str) -> Option<String> {
    if let Some(rest) = name.strip_prefix(ONLINE_PREFIX)
        && rest.starts_with('s')
        && rest[1..].starts_with(|c: char| c.is_ascii_digit())
    {
        return Some(rest.to_string());
    }
    name.starts_with(CLASSIFIER_PREFIX)
        .then(|| name.to_string())
}

/// One exported entry: its PySlowFast name, the tensor in PyTorch's layout, whether it is a buffer.
pub type ExportedEntry = (String, Tensor, bool);

/// The exported state of the checkpoint at `input`, sorted by name.
pub fn pyslowfast_state(input: &Path) -> Result<(Vec<ExportedEntry>, ExportSummary), TrainError> {
    let file = read_checkpoint(input, &Device::cpu())?;
    let mut entries = Vec::new();
    let mut summary = ExportSummary {
        encoder_entries: 0,
        classifier: false,
        left_out: 0,
        create_resnet: None,
    };
    for (name, tensor) in &file.tensors {
        let Some(exported) = pyslowfast_name(name) else {
            summary.left_out += 1;
            continue;
        };
        let tensor = if tensor.shape().len() == 5 {
            conv_weight_to_pytorch(tensor)?
        } else {
            tensor.clone()
        };
        if exported.starts_with(CLASSIFIER_PREFIX) {
            summary.classifier = true;
        } else {
            summary.encoder_entries += 1;
        }
        entries.push((exported, tensor, file.buffers.contains(name)));
    }
    if summary.encoder_entries == 0 {
        return Err(TrainError::Checkpoint {
            path: input.display().to_string(),
            message: "holds no encoder (no `backbone.s1.*` … `backbone.s5.*` entries): is it a vst checkpoint?"
                .into(),
        });
    }
    Ok((entries, summary))
}

/// Writes the encoder of the checkpoint at `input` to `output` (safetensors, PyTorch's layout, atomically) under
/// the names of `layout`.
pub fn export(
    input: &Path,
    output: &Path,
    layout: ExportLayout,
) -> Result<ExportSummary, TrainError> {
    let (entries, mut summary) = pyslowfast_state(input)?;
    let mut metadata = HashMap::from([
        (LAYOUT_KEY.to_string(), "pytorch".to_string()),
        (EXPORT_KEY.to_string(), layout.name().to_string()),
    ]);
    let entries = match layout {
        ExportLayout::PySlowFast => entries,
        ExportLayout::PyTorchVideo => {
            let (entries, args) =
                pytorchvideo_state(entries).map_err(|reason| TrainError::Checkpoint {
                    path: input.display().to_string(),
                    message: format!("cannot be written in pytorchvideo's layout: {reason}"),
                })?;
            metadata.insert(CREATE_RESNET_KEY.to_string(), args.to_json());
            summary.create_resnet = Some(args);
            entries
        }
    };
    write_tensors(output, &entries, metadata)?;
    Ok(summary)
}

/// Writes the encoder of the checkpoint at `input` to `output` (safetensors, PySlowFast's names and layout,
/// atomically).
pub fn export_pyslowfast(input: &Path, output: &Path) -> Result<ExportSummary, TrainError> {
    export(input, output, ExportLayout::PySlowFast)
}

/// Writes the encoder of the checkpoint at `input` to `output` (safetensors, pytorchvideo's `create_resnet` names,
/// PyTorch's layout, atomically); fails where `create_resnet` cannot build the network.
pub fn export_pytorchvideo(input: &Path, output: &Path) -> Result<ExportSummary, TrainError> {
    export(input, output, ExportLayout::PyTorchVideo)
}

#[cfg(test)]
mod tests {
    use super::pyslowfast_name;

    #[test]
    fn the_encoder_and_a_classifier_are_kept_under_pyslowfast_names() {
        assert_eq!(
            pyslowfast_name("backbone.s1.pathway0_stem.conv.weight").as_deref(),
            Some("s1.pathway0_stem.conv.weight")
        );
        assert_eq!(
            pyslowfast_name("backbone.s5.pathway0_res2.branch2.c_bn.running_var").as_deref(),
            Some("s5.pathway0_res2.branch2.c_bn.running_var")
        );
        assert_eq!(
            pyslowfast_name("head.projection.weight").as_deref(),
            Some("head.projection.weight")
        );
        for dropped in [
            "backbone.head.projection.projection.0.weight",
            "backbone_hist.s1.pathway0_stem.conv.weight",
            "optimizer.momentum_buffer.backbone.s1.pathway0_stem.conv.weight",
            "queue_x",
            "swav_prototypes.weight",
        ] {
            assert_eq!(pyslowfast_name(dropped), None, "{dropped}");
        }
    }
}
