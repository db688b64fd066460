//! Checkpoints: one safetensors file per save, written atomically, holding everything a run needs to continue
//! bit for bit — weights and buffers of the online and momentum encoders, the optimiser's momentum buffers, the
//! queues — and, in the metadata, the step, the epoch, the RNG state, the queue pointers and the configuration the
//! file belongs to.
//!
//! # Names: PySlowFast's `ContrastiveModel` state_dict
//! | entry | name in the file | PySlowFast |
//! |---|---|---|
//! | online backbone | `backbone.s1.pathway0_stem.conv.weight`, `backbone.s2.pathway0_res0.branch2.a_bn.running_mean`, … | same |
//! | projection head | `backbone.head.projection.projection.{i}.weight` (`backbone.head.projection.weight` for one layer) | same |
//! | BYOL predictor | `backbone.head.predictors.0.projection.{i}.weight` | same |
//! | momentum encoder | `backbone_hist.<name without "backbone.">` | same |
//! | SwAV prototypes | `swav_prototypes.weight` | same |
//! | MoCo queue | `queue_x` | same |
//! | SwAV queue | `queue_swav` (len×dim, one ring for all views) | `queue_swav` (2×len×dim) — not converted |
//! | momentum buffers | `optimizer.momentum_buffer.<parameter name>` | in `optimizer_state`, not converted |
//!
//! Convolution weights are stored in the engine's layout Cout×kT×kH×kW×Cin, PyTorch's Cout×Cin×kT×kH×kW permuted
//! by (0, 2, 3, 4, 1); PySlowFast's `num_batches_tracked`, `ptr` and `iter` counters are not tensors we keep.
//! `scripts/convert_pyslowfast.py` converts an official `.pyth` checkpoint into this form and back. The metadata key
//! `vst.buffers` lists the non-trainable entries (as `vst_engine::ParamStore::save` does), so a checkpoint is
//! also readable by `ParamStore::load`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};
use vst_engine::{Device, Tensor, io::load_tensors};

use super::error::TrainError;
use crate::executor::write_atomic;

/// Version of the checkpoint layout.
pub const FORMAT_VERSION: u32 = 1;
/// Prefix of the online network's names (PySlowFast's `ContrastiveModel.backbone`).
pub const ONLINE_PREFIX: &str = "backbone.";
/// Prefix of the momentum encoder's names in a file (PySlowFast's `ContrastiveModel.backbone_hist`).
pub const TARGET_PREFIX: &str = "backbone_hist.";
/// Prefix of the optimiser's momentum buffers.
pub const OPTIMIZER_PREFIX: &str = "optimizer.momentum_buffer.";
pub const PROTOTYPES: &str = "swav_prototypes.weight";
pub const MOCO_QUEUE: &str = "queue_x";
pub const SWAV_QUEUE: &str = "queue_swav";
/// Metadata key listing buffer names (shared with `vst_engine::ParamStore`).
pub const BUFFERS_KEY: &str = "vst.buffers";
/// Metadata key of [`CheckpointMeta`].
pub const META_KEY: &str = "vst.checkpoint";

/// The file name of a momentum-encoder entry whose in-memory name is `name` (`backbone.x` → `backbone_hist.x`).
pub fn target_file_name(name: &str) -> String {
    format!(
        "{TARGET_PREFIX}{}",
        name.strip_prefix(ONLINE_PREFIX).unwrap_or(name)
    )
}

/// A convolution weight in PyTorch's layout (Cout×Cin×kT×kH×kW) converted to the engine's.
pub fn conv_weight_from_pytorch(weight: &Tensor) -> Result<Tensor, TrainError> {
    Ok(weight.permute(&[0, 2, 3, 4, 1])?)
}

/// A convolution weight in the engine's layout (Cout×kT×kH×kW×Cin) converted to PyTorch's.
pub fn conv_weight_to_pytorch(weight: &Tensor) -> Result<Tensor, TrainError> {
    Ok(weight.permute(&[0, 4, 1, 2, 3])?)
}

/// A ChaCha8 generator's exact position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The 32-byte key, hex.
    pub seed: String,
    pub stream: u64,
    /// Word position (a u128, as decimal text: JSON numbers cannot hold it).
    pub word_pos: String,
}

impl RngState {
    pub fn capture(rng: &ChaCha8Rng) -> RngState {
        RngState {
            seed: rng.get_seed().iter().map(|b| format!("{b:02x}")).collect(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    pub fn restore(&self) -> Option<ChaCha8Rng> {
        use rand::SeedableRng;
        if self.seed.len() != 64 {
            return None;
        }
        let mut seed = [0u8; 32];
        for (i, byte) in seed.iter_mut().enumerate() {
            *byte = u8::from_str_radix(self.seed.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(self.word_pos.parse().ok()?);
        Some(rng)
    }
}

/// Position of a ring queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueState {
    pub ptr: usize,
    pub filled: usize,
}

/// What a checkpoint records besides tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format: u32,
    /// Steps completed: the next step to run.
    pub step: u64,
    /// Fractional epoch reached.
    pub epoch: f64,
    pub rng: RngState,
    /// Queue positions by tensor name.
    pub queues: BTreeMap<String, QueueState>,
    /// The configuration the checkpoint belongs to (a learner refuses a checkpoint of another one).
    pub config: serde_json::Value,
}

/// A checkpoint read back: tensors by name, which of them are buffers, and the metadata.
pub struct CheckpointFile {
    pub tensors: BTreeMap<String, Tensor>,
    pub buffers: BTreeSet<String>,
    /// Present in files written by [`write_checkpoint`]; absent in converted weights.
    pub meta: Option<CheckpointMeta>,
    pub raw_metadata: HashMap<String, String>,
}

fn ckpt_err(path: &Path, message: impl Into<String>) -> TrainError {
    TrainError::Checkpoint {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Writes `(name, tensor, is_buffer)` entries and `meta` to `path` atomically (temporary file, fsync, rename).
pub fn write_checkpoint(
    path: &Path,
    entries: &[(String, Tensor, bool)],
    meta: &CheckpointMeta,
) -> Result<(), TrainError> {
    let meta = serde_json::to_string(meta).map_err(|e| ckpt_err(path, e.to_string()))?;
    write_tensors(path, entries, HashMap::from([(META_KEY.to_string(), meta)]))
}

/// Writes `(name, tensor, is_buffer)` entries as f32 safetensors to `path` atomically, with the list of buffers
/// under [`BUFFERS_KEY`] and `metadata` beside it: the one writer of checkpoints and exports.
pub(crate) fn write_tensors(
    path: &Path,
    entries: &[(String, Tensor, bool)],
    mut metadata: HashMap<String, String>,
) -> Result<(), TrainError> {
    let mut host = Vec::with_capacity(entries.len());
    let mut names = BTreeSet::new();
    for (name, tensor, _) in entries {
        if !names.insert(name.as_str()) {
            return Err(ckpt_err(path, format!("internal: `{name}` written twice")));
        }
        let bytes: Vec<u8> = tensor
            .to_vec()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        host.push((name.clone(), tensor.shape().to_vec(), bytes));
    }
    let mut views = Vec::with_capacity(host.len());
    for (name, shape, bytes) in &host {
        let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
            .map_err(|e| ckpt_err(path, e.to_string()))?;
        views.push((name.clone(), view));
    }
    let buffers: Vec<&str> = entries
        .iter()
        .filter(|(_, _, b)| *b)
        .map(|(n, _, _)| n.as_str())
        .collect();
    metadata.insert(
        BUFFERS_KEY.to_string(),
        serde_json::to_string(&buffers).map_err(|e| ckpt_err(path, e.to_string()))?,
    );
    let bytes = safetensors::tensor::serialize(views, Some(metadata))
        .map_err(|e| ckpt_err(path, e.to_string()))?;
    let bytes = with_sorted_metadata(bytes);
    write_atomic(path, &bytes).map_err(|e| ckpt_err(path, format!("cannot write: {e}")))
}

/// `safetensors` writes the metadata from a `HashMap`, so its keys come out in a different order from one write to
/// the next; this rewrites the header with them sorted (the header keeps its length: the same entries, reordered),
/// so the same checkpoint is the same bytes. Returns the input unchanged if the header is not as expected.
fn with_sorted_metadata(mut bytes: Vec<u8>) -> Vec<u8> {
    use serde_json::{Map, Value};
    let Some(len) = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(|b: [u8; 8]| u64::from_le_bytes(b) as usize)
    else {
        return bytes;
    };
    let Some(Ok(Value::Object(header))) =
        bytes.get(8..8 + len).map(serde_json::from_slice::<Value>)
    else {
        return bytes;
    };
    let mut sorted = Map::new();
    for (key, value) in header {
        let value = match value {
            Value::Object(meta) if key == "__metadata__" => {
                let meta: BTreeMap<String, Value> = meta.into_iter().collect();
                Value::Object(meta.into_iter().collect())
            }
            other => other,
        };
        sorted.insert(key, value);
    }
    let Ok(mut text) = serde_json::to_vec(&Value::Object(sorted)) else {
        return bytes;
    };
    if text.len() > len {
        return bytes;
    }
    // safetensors pads its header with spaces to a multiple of 8 bytes; the same length keeps every offset.
    text.resize(len, b' ');
    bytes[8..8 + len].copy_from_slice(&text);
    bytes
}

/// Reads a checkpoint (or converted weights) onto `device`.
pub fn read_checkpoint(path: &Path, device: &Device) -> Result<CheckpointFile, TrainError> {
    if !path.is_file() {
        return Err(ckpt_err(path, "no such file"));
    }
    let (tensors, raw) = load_tensors(path, device)?;
    let buffers: BTreeSet<String> = match raw.get(BUFFERS_KEY) {
        Some(s) => serde_json::from_str(s)
            .map_err(|e| ckpt_err(path, format!("metadata `{BUFFERS_KEY}`: {e}")))?,
        None => BTreeSet::new(),
    };
    let meta = match raw.get(META_KEY) {
        Some(s) => {
            let meta: CheckpointMeta = serde_json::from_str(s)
                .map_err(|e| ckpt_err(path, format!("metadata `{META_KEY}`: {e}")))?;
            if meta.format != FORMAT_VERSION {
                return Err(ckpt_err(
                    path,
                    format!(
                        "checkpoint format {} is not the supported {FORMAT_VERSION}",
                        meta.format
                    ),
                ));
            }
            Some(meta)
        }
        None => None,
    };
    Ok(CheckpointFile {
        tensors: tensors.into_iter().collect(),
        buffers,
        meta,
        raw_metadata: raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The same tensors and metadata give the same bytes on every write (the metadata's keys sorted), and the file
    /// reads back with its metadata.
    #[test]
    fn checkpoint_bytes_do_not_depend_on_metadata_order() {
        let dir = std::env::temp_dir().join(format!("vst-ckpt-bytes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let device = Device::cpu();
        let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2], &device).unwrap();
        let u = Tensor::from_vec(vec![0.5; 3], &[3], &device).unwrap();
        let entries = vec![
            ("b.weight".to_string(), t, false),
            ("a.running_mean".to_string(), u, true),
        ];
        let mut files = Vec::new();
        for i in 0..8 {
            let meta: HashMap<String, String> = ["zeta", "alpha", "mid", "vst.checkpoint", "omega"]
                .iter()
                .map(|k| (k.to_string(), format!("value of {k}")))
                .collect();
            let path = dir.join(format!("{i}.safetensors"));
            write_tensors(&path, &entries, meta).unwrap();
            files.push(std::fs::read(&path).unwrap());
        }
        assert!(
            files.windows(2).all(|w| w[0] == w[1]),
            "checkpoint bytes differ between writes"
        );
        let (_, raw) = load_tensors(&dir.join("0.safetensors"), &device).unwrap();
        assert_eq!(raw.get("alpha").map(String::as_str), Some("value of alpha"));
        assert!(raw.contains_key(BUFFERS_KEY));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn rng_state_round_trips_mid_stream() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..13 {
            rng.next_u32();
        }
        let state = RngState::capture(&rng);
        let mut restored = state.restore().unwrap();
        let a: Vec<u32> = (0..5).map(|_| rng.next_u32()).collect();
        let b: Vec<u32> = (0..5).map(|_| restored.next_u32()).collect();
        assert_eq!(a, b);
        let bad = RngState {
            seed: "zz".into(),
            ..state
        };
        assert!(bad.restore().is_none());
    }

    #[test]
    fn target_names_follow_backbone_hist() {
        assert_eq!(
            target_file_name("backbone.s1.pathway0_stem.conv.weight"),
            "backbone_hist.s1.pathway0_stem.conv.weight"
        );
    }

    #[test]
    fn conv_layout_round_trips() {
        let dev = Device::cpu();
        let data: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let torch = Tensor::from_vec(data, &[2, 3, 1, 2, 2], &dev).unwrap();
        let ours = conv_weight_from_pytorch(&torch).unwrap();
        assert_eq!(ours.shape(), [2, 1, 2, 2, 3]);
        let back = conv_weight_to_pytorch(&ours).unwrap();
        assert_eq!(back.to_vec().unwrap(), torch.to_vec().unwrap());
    }
}
