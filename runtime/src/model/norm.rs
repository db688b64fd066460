//! Batch norm as the models use it: training mode normalises with the batch's statistics and records them, so
//! that the running statistics are updated only once the step is known to be good (a NaN loss must not reach
//! them); evaluation mode normalises with the running statistics.

use vst_engine::{
    BatchNormMode, BatchNormSpec, BatchStats, Graph, ParamStore, Result as EngineResult, Tensor,
    Var,
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

/// Batch statistics recorded by training-mode batch norms during one forward pass, by batch-norm name.
#[derive(Default)]
pub struct BnUpdates {
    pending: Vec<(String, BatchStats)>,
}

impl BnUpdates {
    pub fn new() -> Self {
        Self::default()
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
        Mode::Train => BatchNormMode::train(),
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
