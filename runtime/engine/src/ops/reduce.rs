//! Reductions over axes and broadcasting to a shape.

use super::wrap;
use crate::backend::ReduceOp;
use crate::error::{Result, shape_err};
use crate::shape::{broadcast_shapes, normalize_axis, numel};
use crate::tensor::Tensor;

/// Sorted, distinct, non-negative axes (negative counts from the end); empty means every axis.
pub fn resolve_axes(op: &'static str, axes: &[isize], rank: usize) -> Result<Vec<usize>> {
    if axes.is_empty() {
        return Ok((0..rank).collect());
    }
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        out.push(normalize_axis(op, a, rank)?);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The shape after reducing `axes` (kept as size 1 when `keepdim`).
pub fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    let mut out = Vec::with_capacity(shape.len());
    for (i, &d) in shape.iter().enumerate() {
        if axes.contains(&i) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    out
}

impl Tensor {
    fn reduce_op(
        &self,
        op: ReduceOp,
        name: &'static str,
        axes: &[isize],
        keepdim: bool,
    ) -> Result<Tensor> {
        let axes = resolve_axes(name, axes, self.rank())?;
        if op == ReduceOp::Max && axes.iter().any(|&a| self.shape()[a] == 0) {
            return shape_err(name, "max over an empty axis");
        }
        let s = self
            .device()
            .backend()
            .reduce(op, self.storage(), self.shape(), &axes)?;
        wrap(self, s, &reduced_shape(self.shape(), &axes, keepdim))
    }

    /// Sum over `axes` (empty = all axes).
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce_op(ReduceOp::Sum, "sum", axes, keepdim)
    }

    /// Mean over `axes` (empty = all axes).
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let resolved = resolve_axes("mean", axes, self.rank())?;
        let count: usize = resolved.iter().map(|&a| self.shape()[a]).product();
        if count == 0 {
            return shape_err(
                "mean",
                format!("mean over an empty axis of {:?}", self.shape()),
            );
        }
        self.sum(axes, keepdim)?.scale(1.0 / count as f32)
    }

    /// Maximum over `axes` (empty = all axes). Not differentiable in the graph.
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce_op(ReduceOp::Max, "max", axes, keepdim)
    }

    /// Index of the largest value of each row (last axis), computed on the host; the first one wins ties.
    /// For accuracy and nearest-neighbour evaluation.
    pub fn argmax_rows(&self) -> Result<Vec<usize>> {
        let Some(&cols) = self.shape().last() else {
            return shape_err("argmax_rows", "needs at least one axis");
        };
        if cols == 0 {
            return shape_err(
                "argmax_rows",
                format!("rows of {:?} are empty", self.shape()),
            );
        }
        let values = self.to_vec()?;
        Ok(values
            .chunks(cols)
            .map(|row| {
                let mut best = 0;
                for (i, &v) in row.iter().enumerate() {
                    if v > row[best] || (v.is_nan() && !row[best].is_nan()) {
                        best = i;
                    }
                }
                best
            })
            .collect())
    }

    /// Expands size-1 (or missing leading) axes to `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        let out = broadcast_shapes("broadcast_to", self.shape(), shape)?;
        if out != shape {
            return shape_err(
                "broadcast_to",
                format!("{:?} does not broadcast to {shape:?}", self.shape()),
            );
        }
        if out == self.shape() {
            return Ok(self.clone());
        }
        let s = self
            .device()
            .backend()
            .broadcast(self.storage(), self.shape(), shape)?;
        wrap(self, s, shape)
    }

    /// Sums a broadcast result back to `shape` (the gradient of broadcasting an operand of that shape).
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let rank = self.rank();
        if shape.len() > rank {
            return shape_err("sum_to_shape", format!("{:?} to {shape:?}", self.shape()));
        }
        let offset = rank - shape.len();
        let mut axes = Vec::new();
        for i in 0..rank {
            if i < offset || (shape[i - offset] == 1 && self.shape()[i] != 1) {
                axes.push(i as isize);
            } else if shape[i - offset] != self.shape()[i] {
                return shape_err("sum_to_shape", format!("{:?} to {shape:?}", self.shape()));
            }
        }
        let summed = if axes.is_empty() {
            self.clone()
        } else {
            self.sum(&axes, true)?
        };
        if numel(summed.shape()) != numel(shape) {
            return shape_err("sum_to_shape", format!("{:?} to {shape:?}", self.shape()));
        }
        summed.reshape(shape)
    }
}
