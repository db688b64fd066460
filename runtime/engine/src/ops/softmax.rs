//! Softmax and log-softmax along the last axis; cross-entropy.

use super::wrap;
use crate::error::{Result, arg_err, shape_err};
use crate::tensor::Tensor;

/// (rows, cols) of a tensor viewed as a matrix over its last axis.
pub(crate) fn rows_cols(op: &'static str, t: &Tensor) -> Result<(usize, usize)> {
    match t.shape().last() {
        Some(&c) => Ok((t.numel().checked_div(c).unwrap_or(0), c)),
        None => shape_err(op, "needs at least one axis"),
    }
}

/// Checks class indices against a rows×cols matrix.
pub(crate) fn check_targets(
    op: &'static str,
    rows: usize,
    cols: usize,
    targets: &[usize],
) -> Result<()> {
    if targets.len() != rows {
        return shape_err(op, format!("{} targets for {rows} rows", targets.len()));
    }
    if let Some((i, &t)) = targets.iter().enumerate().find(|&(_, &t)| t >= cols) {
        return arg_err(
            op,
            format!("target {t} at row {i} is not a class index below {cols}"),
        );
    }
    Ok(())
}

impl Tensor {
    /// Softmax along the last axis.
    pub fn softmax(&self) -> Result<Tensor> {
        let (r, c) = rows_cols("softmax", self)?;
        let s = self
            .device()
            .backend()
            .softmax(self.storage(), r, c, false)?;
        wrap(self, s, self.shape())
    }

    /// Log-softmax along the last axis.
    pub fn log_softmax(&self) -> Result<Tensor> {
        let (r, c) = rows_cols("log_softmax", self)?;
        let s = self
            .device()
            .backend()
            .softmax(self.storage(), r, c, true)?;
        wrap(self, s, self.shape())
    }

    /// `out[r] = self[r, targets[r]]` for a rows×classes matrix (output shape: rows).
    pub fn pick(&self, targets: &[usize]) -> Result<Tensor> {
        if self.rank() != 2 {
            return shape_err(
                "pick",
                format!("needs a rows×classes matrix, got {:?}", self.shape()),
            );
        }
        let (r, c) = (self.shape()[0], self.shape()[1]);
        check_targets("pick", r, c, targets)?;
        let s = self
            .device()
            .backend()
            .pick(self.storage(), r, c, targets)?;
        wrap(self, s, &[r])
    }

    /// Mean cross-entropy of rows×classes logits against class indices.
    pub fn cross_entropy(&self, targets: &[usize]) -> Result<Tensor> {
        self.log_softmax()?.pick(targets)?.mean(&[], false)?.neg()
    }
}
