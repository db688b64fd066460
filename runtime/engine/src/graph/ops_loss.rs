//! Softmax, log-softmax, cross-entropy, L2 normalisation and cosine similarity, with gradients.

use super::{Graph, Var};
use crate::error::{Result, shape_err};
use crate::ops::softmax::{check_targets, rows_cols};
use crate::tensor::Tensor;

fn softmax_rule(y: Tensor, log: bool) -> super::BackwardFn {
    Box::new(move |dy: &Tensor, _: &[bool]| {
        let (r, c) = rows_cols("softmax backward", &y)?;
        let s = y
            .device()
            .backend()
            .softmax_backward(y.storage(), dy.storage(), r, c, log)?;
        Ok(vec![Some(Tensor::from_storage(s, y.shape(), y.device())?)])
    })
}

impl Graph {
    /// Softmax along the last axis.
    pub fn softmax(&mut self, x: &Var) -> Result<Var> {
        let y = x.value().softmax()?;
        self.record("softmax", &[x], y, |y| softmax_rule(y.clone(), false))
    }

    /// Log-softmax along the last axis.
    pub fn log_softmax(&mut self, x: &Var) -> Result<Var> {
        let y = x.value().log_softmax()?;
        self.record("log_softmax", &[x], y, |y| softmax_rule(y.clone(), true))
    }

    /// Mean cross-entropy of rows×classes logits against class indices (a scalar).
    pub fn cross_entropy(&mut self, logits: &Var, targets: &[usize]) -> Result<Var> {
        if logits.shape().len() != 2 {
            return shape_err(
                "cross_entropy",
                format!("needs rows×classes logits, got {:?}", logits.shape()),
            );
        }
        let (rows, cols) = (logits.shape()[0], logits.shape()[1]);
        check_targets("cross_entropy", rows, cols, targets)?;
        if rows == 0 {
            return shape_err("cross_entropy", "needs at least one row");
        }
        let logp = logits.value().log_softmax()?;
        let loss = logp.pick(targets)?.mean(&[], false)?.neg()?;
        let t = targets.to_vec();
        self.record("cross_entropy", &[logits], loss, move |_| {
            Box::new(move |dy: &Tensor, _: &[bool]| {
                // d/dlogits = (softmax − onehot) · dy / rows
                let scale = dy.scale(1.0 / rows as f32)?;
                let onehot = Tensor::ones(&[rows], logp.device())?;
                let s = logp
                    .device()
                    .backend()
                    .pick_backward(onehot.storage(), rows, cols, &t)?;
                let onehot = Tensor::from_storage(s, &[rows, cols], logp.device())?;
                let g = logp.exp()?.sub(&onehot)?.mul(&scale)?;
                Ok(vec![Some(g)])
            })
        })
    }

    /// Picks `x[r, targets[r]]` from a rows×classes matrix (a gather along the last axis).
    pub fn pick(&mut self, x: &Var, targets: &[usize]) -> Result<Var> {
        let y = x.value().pick(targets)?;
        let (rows, cols) = (x.shape()[0], x.shape()[1]);
        let t = targets.to_vec();
        self.record("pick", &[x], y, move |_| {
            Box::new(move |dy: &Tensor, _: &[bool]| {
                let s = dy
                    .device()
                    .backend()
                    .pick_backward(dy.storage(), rows, cols, &t)?;
                Ok(vec![Some(Tensor::from_storage(
                    s,
                    &[rows, cols],
                    dy.device(),
                )?)])
            })
        })
    }

    /// `x / max(‖x‖₂, eps)` along the last axis (PyTorch's `F.normalize`).
    pub fn l2_normalize(&mut self, x: &Var, eps: f32) -> Result<Var> {
        let sq = self.square(x)?;
        let ss = self.sum(&sq, &[-1], true)?;
        let norm = self.sqrt(&ss)?;
        let norm = self.clamp_min(&norm, eps)?;
        self.div(x, &norm)
    }

    /// Row-wise cosine similarity of two rows×d matrices (shape: rows).
    pub fn cosine_similarity(&mut self, a: &Var, b: &Var, eps: f32) -> Result<Var> {
        let an = self.l2_normalize(a, eps)?;
        let bn = self.l2_normalize(b, eps)?;
        let p = self.mul(&an, &bn)?;
        self.sum(&p, &[-1], false)
    }
}
