//! Batch normalisation over all axes but the last (channels-last: BN3d on N×T×H×W×C and BN1d on N×C are the same
//! operation). Training mode computes batch statistics in two passes (sum, then centred sum of squares) with an
//! optional cross-replica sum between the passes, as PyTorch's SyncBN does; evaluation mode uses running
//! statistics. An optional fused ReLU saves one pass over the activation forward and backward.

use std::sync::Arc;

use super::wrap;
use crate::error::{Result, shape_err};
use crate::tensor::Tensor;

/// Sums tensors across data-parallel replicas (all replicas call it with the same shapes, in the same order).
/// One implementation per transport (threads, NCCL, ...); with no replicas, batch norm uses local statistics.
pub trait ReplicaSum: Send + Sync {
    /// Replaces every tensor by its elementwise sum over all replicas.
    fn all_reduce_sum(&self, tensors: &mut [Tensor]) -> Result<()>;
}

/// Which statistics normalise the batch.
#[derive(Clone)]
pub enum BatchNormMode {
    /// Batch statistics (biased variance), optionally summed across replicas (SyncBN).
    Train { sync: Option<Arc<dyn ReplicaSum>> },
    /// Running statistics (a model in evaluation mode).
    Eval {
        running_mean: Tensor,
        running_var: Tensor,
    },
}

impl BatchNormMode {
    /// Training mode with local statistics.
    pub fn train() -> Self {
        BatchNormMode::Train { sync: None }
    }
}

/// ε and whether a ReLU follows (fused).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormSpec {
    pub eps: f32,
    pub relu: bool,
}

impl Default for BatchNormSpec {
    fn default() -> Self {
        BatchNormSpec {
            eps: 1e-5,
            relu: false,
        }
    }
}

/// The statistics of one training-mode batch, for updating running statistics.
#[derive(Clone, Debug)]
pub struct BatchStats {
    /// Per-channel mean.
    pub mean: Tensor,
    /// Per-channel biased variance (divided by `count`).
    pub var: Tensor,
    /// Values per channel that entered the statistics (summed over replicas).
    pub count: usize,
}

/// What the forward pass keeps for the backward pass.
pub(crate) struct BnSaved {
    pub mean: Tensor,
    pub invstd: Tensor,
    pub count: f32,
}

pub(crate) fn channels_of(
    op: &'static str,
    x: &Tensor,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
) -> Result<usize> {
    let Some(&c) = x.shape().last() else {
        return shape_err(op, "needs a tensor with a channel axis");
    };
    if x.rank() < 2 {
        return shape_err(
            op,
            format!("needs at least rows×channels, got {:?}", x.shape()),
        );
    }
    for (name, t) in [("gamma", gamma), ("beta", beta)] {
        if let Some(t) = t
            && t.shape() != [c]
        {
            return shape_err(
                op,
                format!("{name} has shape {:?}, expected [{c}]", t.shape()),
            );
        }
    }
    Ok(c)
}

/// Forward pass: (y, what backward needs, batch statistics in training mode).
pub(crate) fn bn_forward(
    x: &Tensor,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    mode: &BatchNormMode,
    spec: &BatchNormSpec,
) -> Result<(Tensor, BnSaved, Option<BatchStats>)> {
    let c = channels_of("batch_norm", x, gamma, beta)?;
    let be = x.device().backend();
    let rows = x.numel() / c.max(1);
    let (mean, var, count, stats) = match mode {
        BatchNormMode::Train { sync } => {
            if rows == 0 {
                return shape_err(
                    "batch_norm",
                    "training mode needs at least one value per channel",
                );
            }
            let mut sums = vec![
                x.reshape(&[rows, c])?.sum(&[0], false)?,
                Tensor::scalar(rows as f32, x.device())?,
            ];
            if let Some(s) = sync {
                s.all_reduce_sum(&mut sums)?;
            }
            let count = sums[1].to_scalar()?;
            let mean = sums[0].scale(1.0 / count)?;
            let ssq = wrap(
                x,
                be.channel_centered_sumsq(x.storage(), mean.storage(), c)?,
                &[c],
            )?;
            let mut ssq = vec![ssq];
            if let Some(s) = sync {
                s.all_reduce_sum(&mut ssq)?;
            }
            let var = ssq[0].scale(1.0 / count)?;
            let stats = BatchStats {
                mean: mean.clone(),
                var: var.clone(),
                count: count as usize,
            };
            (mean, var, count, Some(stats))
        }
        BatchNormMode::Eval {
            running_mean,
            running_var,
        } => {
            for (name, t) in [("running mean", running_mean), ("running var", running_var)] {
                if t.shape() != [c] {
                    return shape_err(
                        "batch_norm",
                        format!("{name} has shape {:?}, expected [{c}]", t.shape()),
                    );
                }
            }
            (running_mean.clone(), running_var.clone(), rows as f32, None)
        }
    };
    let invstd = var.add_scalar(spec.eps)?.sqrt()?.recip()?;
    let scale = match gamma {
        Some(g) => g.mul(&invstd)?,
        None => invstd.clone(),
    };
    let mut shift = mean.mul(&scale)?.neg()?;
    if let Some(b) = beta {
        shift = shift.add(b)?;
    }
    let y = wrap(
        x,
        be.channel_affine(x.storage(), scale.storage(), shift.storage(), c, spec.relu)?,
        x.shape(),
    )?;
    Ok((
        y,
        BnSaved {
            mean,
            invstd,
            count,
        },
        stats,
    ))
}

/// Backward pass: (dx, dgamma, dbeta). `relu_y` is the output when the ReLU was fused.
pub(crate) fn bn_backward(
    dy: &Tensor,
    x: &Tensor,
    relu_y: Option<&Tensor>,
    gamma: Option<&Tensor>,
    saved: &BnSaved,
    train: Option<&Option<Arc<dyn ReplicaSum>>>,
) -> Result<(Tensor, Tensor, Tensor)> {
    let c = channels_of("batch_norm backward", x, gamma, None)?;
    let be = x.device().backend();
    let (sg, sgx) = be.batch_norm_backward_reduce(
        dy.storage(),
        x.storage(),
        saved.mean.storage(),
        relu_y.map(|y| y.storage()),
        c,
    )?;
    let mut sums = vec![wrap(x, sg, &[c])?, wrap(x, sgx, &[c])?];
    // Parameter gradients are this replica's share (a data-parallel trainer sums them with the other
    // parameters' gradients); the input gradient needs the sums over all replicas, as in SyncBN.
    let dgamma = sums[1].mul(&saved.invstd)?;
    let dbeta = sums[0].clone();
    if let Some(Some(s)) = train {
        s.all_reduce_sum(&mut sums)?;
    }
    let (sum_g, sum_gx) = (&sums[0], &sums[1]);
    let a = match gamma {
        Some(g) => g.mul(&saved.invstd)?,
        None => saved.invstd.clone(),
    };
    let (b, d) = if train.is_some() {
        let inv_n = 1.0 / saved.count;
        let b = a.mul(&saved.invstd.square()?)?.mul(sum_gx)?.scale(-inv_n)?;
        let d = a.mul(sum_g)?.scale(-inv_n)?;
        (b, d)
    } else {
        let z = Tensor::zeros(&[c], x.device())?;
        (z.clone(), z)
    };
    let dx = be.batch_norm_backward_data(
        dy.storage(),
        x.storage(),
        saved.mean.storage(),
        relu_y.map(|y| y.storage()),
        a.storage(),
        b.storage(),
        d.storage(),
        c,
    )?;
    Ok((wrap(x, dx, x.shape())?, dgamma, dbeta))
}

impl Tensor {
    /// Batch norm over all axes but the last. Returns the batch statistics in training mode.
    pub fn batch_norm(
        &self,
        gamma: Option<&Tensor>,
        beta: Option<&Tensor>,
        mode: &BatchNormMode,
        spec: &BatchNormSpec,
    ) -> Result<(Tensor, Option<BatchStats>)> {
        let (y, _, stats) = bn_forward(self, gamma, beta, mode, spec)?;
        Ok((y, stats))
    }

    /// `self / max(‖self‖₂, eps)` along the last axis (PyTorch's `F.normalize`).
    pub fn l2_normalize(&self, eps: f32) -> Result<Tensor> {
        let norm = self.square()?.sum(&[-1], true)?.sqrt()?.clamp_min(eps)?;
        self.div(&norm)
    }
}
