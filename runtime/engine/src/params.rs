//! Named parameters and buffers: the state of a model, keyed by dotted names ("res2.0.conv_a.weight"), kept in
//! insertion order (so iteration, checkpoints and initialisation are deterministic).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::device::Device;
use crate::error::{EngineError, Result};
use crate::io::{load_tensors, save_tensors};
use crate::ops::norm::BatchStats;
use crate::tensor::Tensor;

/// Whether an entry is optimised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Receives gradients and optimiser updates.
    Trainable,
    /// State that is not optimised (batch-norm running statistics, queues).
    Buffer,
}

struct Entry {
    tensor: Tensor,
    kind: ParamKind,
}

/// A model's parameters and buffers by name.
pub struct ParamStore {
    /// Distinguishes stores whose names coincide (an online and a momentum encoder) inside one graph.
    id: u64,
    order: Vec<String>,
    entries: HashMap<String, Entry>,
}

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

impl Default for ParamStore {
    fn default() -> Self {
        ParamStore {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            order: Vec::new(),
            entries: HashMap::new(),
        }
    }
}

fn err<T>(message: String) -> Result<T> {
    Err(EngineError::Params(message))
}

/// Metadata key listing buffer names in a checkpoint (everything else is trainable).
const BUFFERS_KEY: &str = "vst.buffers";

impl ParamStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn insert(&mut self, name: &str, tensor: Tensor, kind: ParamKind) -> Result<()> {
        if name.is_empty() {
            return err("a parameter needs a non-empty name".into());
        }
        if self.entries.contains_key(name) {
            return err(format!("`{name}` is already defined"));
        }
        self.order.push(name.to_string());
        self.entries
            .insert(name.to_string(), Entry { tensor, kind });
        Ok(())
    }

    /// Adds a trainable parameter.
    pub fn insert_param(&mut self, name: &str, tensor: Tensor) -> Result<()> {
        self.insert(name, tensor, ParamKind::Trainable)
    }

    /// Adds a non-trainable buffer.
    pub fn insert_buffer(&mut self, name: &str, tensor: Tensor) -> Result<()> {
        self.insert(name, tensor, ParamKind::Buffer)
    }

    fn lookup(&self, name: &str) -> Result<&Entry> {
        match self.entries.get(name) {
            Some(e) => Ok(e),
            None => {
                let near = self
                    .order
                    .iter()
                    .find(|n| n.ends_with(name) || name.ends_with(n.as_str()));
                let hint = near
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                err(format!("no parameter or buffer named `{name}`{hint}"))
            }
        }
    }

    pub fn get(&self, name: &str) -> Result<&Tensor> {
        Ok(&self.lookup(name)?.tensor)
    }

    /// This store's identity (unique per store instance in the process).
    pub fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn entry(&self, name: &str) -> Result<(&Tensor, bool)> {
        let e = self.lookup(name)?;
        Ok((&e.tensor, e.kind == ParamKind::Trainable))
    }

    pub fn kind(&self, name: &str) -> Result<ParamKind> {
        Ok(self.lookup(name)?.kind)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Mutable access for in-place updates (`axpby_`, `assign_`), which keep the shape.
    pub fn get_mut(&mut self, name: &str) -> Result<&mut Tensor> {
        self.lookup(name)?;
        match self.entries.get_mut(name) {
            Some(e) => Ok(&mut e.tensor),
            None => err(format!("no parameter or buffer named `{name}`")),
        }
    }

    /// Replaces an entry's tensor (same shape).
    pub fn set(&mut self, name: &str, tensor: Tensor) -> Result<()> {
        let current = self.get(name)?;
        if current.shape() != tensor.shape() {
            return err(format!(
                "`{name}` has shape {:?}, cannot set {:?}",
                current.shape(),
                tensor.shape()
            ));
        }
        if let Some(e) = self.entries.get_mut(name) {
            e.tensor = tensor;
        }
        Ok(())
    }

    /// Names in insertion order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(|s| s.as_str())
    }

    /// (name, tensor, kind) in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor, ParamKind)> {
        self.order.iter().map(move |n| {
            let e = &self.entries[n];
            (n.as_str(), &e.tensor, e.kind)
        })
    }

    /// Names of the trainable parameters in insertion order.
    pub fn trainable_names(&self) -> Vec<String> {
        self.iter()
            .filter(|(_, _, k)| *k == ParamKind::Trainable)
            .map(|(n, _, _)| n.to_string())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Total number of trainable values.
    pub fn trainable_numel(&self) -> usize {
        self.iter()
            .filter(|(_, _, k)| *k == ParamKind::Trainable)
            .map(|(_, t, _)| t.numel())
            .sum()
    }

    fn check_same_layout(&self, other: &ParamStore, op: &str) -> Result<()> {
        if self.order.len() != other.order.len() {
            return err(format!(
                "{op}: stores have {} and {} entries",
                self.order.len(),
                other.order.len()
            ));
        }
        for name in &self.order {
            let (a, b) = (
                &self.entries[name],
                other.lookup(name).map_err(|_| {
                    EngineError::Params(format!("{op}: `{name}` is missing from the source store"))
                })?,
            );
            if a.tensor.shape() != b.tensor.shape() || a.kind != b.kind {
                return err(format!("{op}: `{name}` differs in shape or kind"));
            }
        }
        Ok(())
    }

    /// Copies every value (parameters and buffers) from a store with the same names and shapes
    /// (initialising a momentum encoder from the online one).
    pub fn copy_from(&mut self, other: &ParamStore) -> Result<()> {
        self.check_same_layout(other, "copy_from")?;
        for name in self.order.clone() {
            let src = other.entries[&name].tensor.clone();
            // Share storage: tensors are immutable, and in-place updates copy on write.
            if let Some(e) = self.entries.get_mut(&name) {
                e.tensor = src;
            }
        }
        Ok(())
    }

    /// Momentum-encoder update of the trainable parameters: `self = m·self + (1 − m)·other`.
    /// Buffers (BN running statistics) are left alone: each encoder keeps its own, as in MoCo and BYOL.
    pub fn ema_update(&mut self, other: &ParamStore, momentum: f32) -> Result<()> {
        self.check_same_layout(other, "ema_update")?;
        for name in self.order.clone() {
            let Some(e) = self.entries.get_mut(&name) else {
                continue;
            };
            if e.kind == ParamKind::Trainable {
                e.tensor
                    .axpby_(momentum, 1.0 - momentum, &other.entries[&name].tensor)?;
            }
        }
        Ok(())
    }

    /// Updates running statistics from a training batch as PyTorch does:
    /// `mean ← (1 − m)·mean + m·batch_mean`, `var ← (1 − m)·var + m·batch_var·n/(n − 1)`.
    pub fn update_running_stats(
        &mut self,
        mean: &str,
        var: &str,
        stats: &BatchStats,
        momentum: f32,
    ) -> Result<()> {
        let n = stats.count as f32;
        let unbiased = if stats.count > 1 {
            stats.var.scale(n / (n - 1.0))?
        } else {
            stats.var.clone()
        };
        self.get_mut(mean)?
            .axpby_(1.0 - momentum, momentum, &stats.mean)?;
        self.get_mut(var)?
            .axpby_(1.0 - momentum, momentum, &unbiased)?;
        Ok(())
    }

    /// Writes every entry to a safetensors file (atomically); buffer names go in the metadata.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tensors: Vec<(&str, &Tensor)> = self.iter().map(|(n, t, _)| (n, t)).collect();
        let buffers: Vec<&str> = self
            .iter()
            .filter(|(_, _, k)| *k == ParamKind::Buffer)
            .map(|(n, _, _)| n)
            .collect();
        let mut meta = HashMap::new();
        meta.insert(
            BUFFERS_KEY.to_string(),
            serde_json::to_string(&buffers).unwrap_or_else(|_| "[]".into()),
        );
        save_tensors(path, &tensors, meta)
    }

    /// Reads a store written by [`ParamStore::save`] (entries in name order).
    pub fn load(path: &Path, device: &Device) -> Result<ParamStore> {
        let (tensors, meta) = load_tensors(path, device)?;
        let buffers: Vec<String> = match meta.get(BUFFERS_KEY) {
            Some(s) => serde_json::from_str(s).map_err(|e| EngineError::Io {
                path: path.display().to_string(),
                message: format!("metadata `{BUFFERS_KEY}`: {e}"),
            })?,
            None => Vec::new(),
        };
        let mut store = ParamStore::new();
        for (name, t) in tensors {
            if buffers.contains(&name) {
                store.insert_buffer(&name, t)?;
            } else {
                store.insert_param(&name, t)?;
            }
        }
        Ok(store)
    }

    /// Copies values from `other` into the entries of the same name (shapes must agree); returns how many.
    pub fn load_values_from(&mut self, other: &ParamStore) -> Result<usize> {
        let mut n = 0;
        for (name, t, _) in other.iter() {
            if self.contains(name) {
                self.set(name, t.clone())?;
                n += 1;
            }
        }
        Ok(n)
    }
}
