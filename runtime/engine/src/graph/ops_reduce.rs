//! Reductions, broadcasting and reshapes, and their gradients.

use super::{Graph, Var};
use crate::error::Result;
use crate::ops::reduce::{reduced_shape, resolve_axes};
use crate::tensor::Tensor;

impl Graph {
    /// Sum over `axes` (empty = all axes).
    pub fn sum(&mut self, x: &Var, axes: &[isize], keepdim: bool) -> Result<Var> {
        let y = x.value().sum(axes, keepdim)?;
        let in_shape = x.shape().to_vec();
        let kept = reduced_shape(&in_shape, &resolve_axes("sum", axes, in_shape.len())?, true);
        self.record("sum", &[x], y, move |_| {
            Box::new(move |dy: &Tensor, _: &[bool]| {
                Ok(vec![Some(dy.reshape(&kept)?.broadcast_to(&in_shape)?)])
            })
        })
    }

    /// Mean over `axes` (empty = all axes).
    pub fn mean(&mut self, x: &Var, axes: &[isize], keepdim: bool) -> Result<Var> {
        let resolved = resolve_axes("mean", axes, x.shape().len())?;
        let count: usize = resolved.iter().map(|&a| x.shape()[a]).product();
        let s = self.sum(x, axes, keepdim)?;
        self.scale(&s, 1.0 / count.max(1) as f32)
    }

    /// Expands size-1 (or missing leading) axes to `shape`.
    pub fn broadcast_to(&mut self, x: &Var, shape: &[usize]) -> Result<Var> {
        let y = x.value().broadcast_to(shape)?;
        let in_shape = x.shape().to_vec();
        self.record("broadcast_to", &[x], y, move |_| {
            Box::new(move |dy: &Tensor, _: &[bool]| Ok(vec![Some(dy.sum_to_shape(&in_shape)?)]))
        })
    }

    /// The same values with another shape (no copy).
    pub fn reshape(&mut self, x: &Var, shape: &[usize]) -> Result<Var> {
        let y = x.value().reshape(shape)?;
        let in_shape = x.shape().to_vec();
        self.record("reshape", &[x], y, move |_| {
            Box::new(move |dy: &Tensor, _: &[bool]| Ok(vec![Some(dy.reshape(&in_shape)?)]))
        })
    }

    /// Global average pooling of N×T×H×W×C activations to N×C.
    pub fn global_avg_pool(&mut self, x: &Var) -> Result<Var> {
        if x.shape().len() != 5 {
            return crate::error::shape_err(
                "global_avg_pool",
                format!("needs N×T×H×W×C, got {:?}", x.shape()),
            );
        }
        self.mean(x, &[1, 2, 3], false)
    }
}
