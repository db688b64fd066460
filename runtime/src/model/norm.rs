//! Batch norm as the models use it: training mode normalises with the batch's statistics and records them, so
//! that the running statistics are updated only once the step is known to be good (a NaN loss must not reach
//! them); evaluation mode normalises with the running statistics.

use std::sync::Arc;

use vst_engine::{
    BatchNormMode, BatchNormSpec, BatchStats, Graph, ParamStore, ReplicaSum,
    Result as EngineResult, Tensor, Var,
};

/// PyTorch's defaults, which PySlowFast keeps.
pub const BN_EPS: f32 = 1e-5;
/// Weight of the new batch in the running statistics (PyTorch's `momentum = 0.1`).
pub const BN_MOMENTUM: f32 = 0.1;

/// Whether batch norms use batch statistics (training) or running statistics (evaluation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// Batch statistics recorded by training-mode batch norms during one forward pass, by batch-norm name; and, for
/// SyncBN, the group of replicas whose statistics the training-mode batch norms of that pass share.
#[derive(Default)]
pub struct BnUpdates {
    pending: Vec<(String, BatchStats)>,
    sync: Option<Arc<dyn ReplicaSum>>,
}

impl BnUpdates {
    pub fn new() -> Self {
        Self::default()
    }

    /// Training-mode batch norms normalise with the statistics summed over `sync`'s replicas (SyncBN).
    pub fn synced(sync: Option<Arc<dyn ReplicaSum>>) -> Self {
        BnUpdates {
            pending: Vec::new(),
            sync,
        }
    }

    /// Appends `other`'s records after this one's (a later forward pass).
    pub fn extend(&mut self, other: BnUpdates) {
        self.pending.extend(other.pending);
    }

    /// One record per batch norm with the mean over `parts` (forward passes of the same network on equally large
    /// batch-norm batches) of their batch means and variances: what the running statistics take from a view split
    /// into several BN batches, whatever devices those batches ran on.
    pub fn average(mut parts: Vec<BnUpdates>) -> EngineResult<BnUpdates> {
        let n = parts.len();
        if n <= 1 {
            return Ok(parts.pop().unwrap_or_default());
        }
        let mut first = parts.remove(0);
        for part in &parts {
            let same = part.pending.len() == first.pending.len()
                && part
                    .pending
                    .iter()
                    .zip(&first.pending)
                    .all(|(a, b)| a.0 == b.0);
            if !same {
                return Err(vst_engine::EngineError::Params(
                    "batch-norm batches of one view recorded different layers".into(),
                ));
            }
        }
        let scale = 1.0 / n as f32;
        for (i, (_, stats)) in first.pending.iter_mut().enumerate() {
            let mut mean = stats.mean.clone();
            let mut var = stats.var.clone();
            for part in &parts {
                mean = mean.add(&part.pending[i].1.mean)?;
                var = var.add(&part.pending[i].1.var)?;
            }
            stats.mean = mean.scale(scale)?;
            stats.var = var.scale(scale)?;
        }
        first.sync = None;
        Ok(first)
    }

    /// Every recorded mean and variance, in order (to average them over replicas in one collective).
    pub fn tensors(&self) -> Vec<Tensor> {
        self.pending
            .iter()
            .flat_map(|(_, s)| [s.mean.clone(), s.var.clone()])
            .collect()
    }

    /// Replaces the recorded means and variances by `tensors` (as [`BnUpdates::tensors`] listed them) times `scale`.
    pub fn set_tensors(&mut self, tensors: &[Tensor], scale: f32) -> EngineResult<()> {
        if tensors.len() != 2 * self.pending.len() {
            return Err(vst_engine::EngineError::Params(format!(
                "{} batch-norm statistics for {} records",
                tensors.len(),
                self.pending.len()
            )));
        }
        for (i, (_, stats)) in self.pending.iter_mut().enumerate() {
            stats.mean = tensors[2 * i].scale(scale)?;
            stats.var = tensors[2 * i + 1].scale(scale)?;
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// True when every recorded mean and variance is finite (a NaN input can reach the statistics even when a
    /// ReLU downstream hides it from the loss).
    pub fn all_finite(&self) -> EngineResult<bool> {
        // Gathered and summed on the device, read back once: a NaN or infinity anywhere makes the total
        // non-finite. One concatenation rather than a sum per statistic: a step records ~100 of them.
        if self.pending.is_empty() {
            return Ok(true);
        }
        let flat: Vec<Tensor> = self
            .pending
            .iter()
            .flat_map(|(_, stats)| [&stats.mean, &stats.var])
            .map(|t| t.reshape(&[t.numel()]))
            .collect::<EngineResult<_>>()?;
        let refs: Vec<&Tensor> = flat.iter().collect();
        let total = Tensor::concat(&refs, 0)?.sum(&[], false)?;
        Ok(total.to_scalar()?.is_finite())
    }

    /// Folds every recorded batch into the running statistics of `store`, in the order they were recorded
    /// (PyTorch's update: `mean ← 0.9·mean + 0.1·batch_mean`, the variance unbiased).
    pub fn apply(self, store: &mut ParamStore) -> EngineResult<()> {
        for (bn, stats) in self.pending {
            store.update_running_stats(
                &format!("{bn}.running_mean"),
                &format!("{bn}.running_var"),
                &stats,
                BN_MOMENTUM,
            )?;
        }
        Ok(())
    }
}

/// Batch norm `bn` (parameters `bn.weight`, `bn.bias`, buffers `bn.running_mean`, `bn.running_var` in `store`)
/// over every axis but the last, optionally followed by a ReLU.
pub fn batch_norm(
    g: &mut Graph,
    store: &ParamStore,
    x: &Var,
    bn: &str,
    relu: bool,
    mode: Mode,
    updates: &mut BnUpdates,
) -> EngineResult<Var> {
    let gamma = g.param(store, &format!("{bn}.weight"))?;
    let beta = g.param(store, &format!("{bn}.bias"))?;
    let spec = BatchNormSpec { eps: BN_EPS, relu };
    let bn_mode = match mode {
        Mode::Train => BatchNormMode::Train {
            sync: updates.sync.clone(),
        },
        Mode::Eval => BatchNormMode::Eval {
            running_mean: store.get(&format!("{bn}.running_mean"))?.clone(),
            running_var: store.get(&format!("{bn}.running_var"))?.clone(),
        },
    };
    let (y, stats) = g.batch_norm(x, Some(&gamma), Some(&beta), &bn_mode, &spec)?;
    if let Some(stats) = stats {
        updates.pending.push((bn.to_string(), stats));
    }
    Ok(y)
}
