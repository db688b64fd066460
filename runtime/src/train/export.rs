//! `vst export`: a trained encoder as PySlowFast holds one, so that users fine-tune it where they already work.
//!
//! From a vst checkpoint (a pre-training's or a fine-tune's `checkpoint.safetensors`, or converted weights) it keeps
//! the encoder — `backbone.s1.*` … `backbone.s5.*` renamed to a `ResNet` model's state_dict names (`s1.*` …
//! `s5.*`, the form PySlowFast's `MODEL_NAME: ResNet` loads, and what its fine-tuning configs get from a
//! `ContrastiveModel` checkpoint after `CHECKPOINT_CLEAR_NAME_PATTERN: ("backbone.",)`) — and a fine-tune's
//! classifier (`head.projection.*`, PySlowFast's `ResNetBasicHead`). Convolution weights go back to PyTorch's
//! layout (Cout × Cin × kT × kH × kW). Self-supervised heads, the momentum encoder, queues and optimiser state are
//! left out. The file is safetensors (no pickle: nothing in it can run code); `scripts/convert_pyslowfast.py
//! --to-pyslowfast OUT.safetensors OUT.pyth` turns it into a `.pyth` checkpoint (`{"epoch", "model_state"}` with
//! the `num_batches_tracked` counters PySlowFast's batch norms carry). pytorchvideo's hub models name their layers
//! differently (`blocks.N...`); that mapping is not written.

use std::collections::HashMap;
use std::path::Path;

use vst_engine::{Device, Tensor};

use super::checkpoint::{ONLINE_PREFIX, conv_weight_to_pytorch, read_checkpoint, write_tensors};
use super::error::TrainError;

/// Metadata key saying which layout the convolution weights are in (`pytorch` here; vst's own files omit it).
pub const LAYOUT_KEY: &str = "vst.layout";
/// The classifier of a fine-tuned network (PySlowFast's `ResNetBasicHead.projection`).
const CLASSIFIER_PREFIX: &str = "head.projection.";

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    /// Encoder entries (weights, batch-norm parameters and statistics).
    pub encoder_entries: usize,
    /// Whether a fine-tune's classifier came along.
    pub classifier: bool,
    /// Entries of the checkpoint left out (heads, momentum encoder, optimiser state, queues).
    pub left_out: usize,
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

/// Writes the encoder of the checkpoint at `input` to `output` (safetensors, PySlowFast's names and layout,
/// atomically).
pub fn export_pyslowfast(input: &Path, output: &Path) -> Result<ExportSummary, TrainError> {
    let (entries, summary) = pyslowfast_state(input)?;
    let metadata = HashMap::from([
        (LAYOUT_KEY.to_string(), "pytorch".to_string()),
        ("vst.export".to_string(), "pyslowfast".to_string()),
    ]);
    write_tensors(output, &entries, metadata)?;
    Ok(summary)
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
