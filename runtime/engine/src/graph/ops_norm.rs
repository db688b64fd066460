//! Batch norm (with optional fused ReLU), with gradients.

use super::{Graph, Var};
use crate::error::Result;
use crate::ops::norm::{BatchNormMode, BatchNormSpec, BatchStats, bn_backward, bn_forward};
use crate::tensor::Tensor;

impl Graph {
    /// Batch norm over all axes but the last (BN3d on N×T×H×W×C, BN1d on N×C), optionally followed by a fused
    /// ReLU (`spec.relu`). `gamma`/`beta` may be omitted (no affine). Returns the batch statistics in training
    /// mode, for [`crate::ParamStore::update_running_stats`].
    pub fn batch_norm(
        &mut self,
        x: &Var,
        gamma: Option<&Var>,
        beta: Option<&Var>,
        mode: &BatchNormMode,
        spec: &BatchNormSpec,
    ) -> Result<(Var, Option<BatchStats>)> {
        let (y, saved, stats) = bn_forward(
            x.value(),
            gamma.map(|g| g.value()),
            beta.map(|b| b.value()),
            mode,
            spec,
        )?;
        let xv = x.value().clone();
        let gv = gamma.map(|g| g.value().clone());
        let relu = spec.relu;
        let sync = match mode {
            BatchNormMode::Train { sync } => Some(sync.clone()),
            BatchNormMode::Eval { .. } => None,
        };
        let (has_gamma, has_beta) = (gamma.is_some(), beta.is_some());
        let mut inputs: Vec<&Var> = vec![x];
        inputs.extend(gamma);
        inputs.extend(beta);
        let var = self.record("batch_norm", &inputs, y, move |y| {
            let relu_y = relu.then(|| y.clone());
            Box::new(move |dy: &Tensor, needs: &[bool]| {
                let (dx, dgamma, dbeta) =
                    bn_backward(dy, &xv, relu_y.as_ref(), gv.as_ref(), &saved, sync.as_ref())?;
                let mut out = vec![needs[0].then_some(dx)];
                if has_gamma {
                    out.push(needs[1].then_some(dgamma));
                }
                if has_beta {
                    out.push(needs[out.len()].then_some(dbeta));
                }
                Ok(out)
            })
        })?;
        Ok((var, stats))
    }
}
