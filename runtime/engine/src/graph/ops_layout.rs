//! Layout ops (permute, concat, slice, index_select) and their gradients.

use super::{Graph, Var};
use crate::error::Result;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;

impl Graph {
    /// Reorders axes (output axis i is input axis `perm[i]`).
    pub fn permute(&mut self, x: &Var, perm: &[usize]) -> Result<Var> {
        let y = x.value().permute(perm)?;
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        self.record("permute", &[x], y, move |_| {
            Box::new(move |dy: &Tensor, _: &[bool]| Ok(vec![Some(dy.permute(&inverse)?)]))
        })
    }

    /// Swaps two axes.
    pub fn transpose(&mut self, x: &Var, a: isize, b: isize) -> Result<Var> {
        let rank = x.shape().len();
        let (a, b) = (
            normalize_axis("transpose", a, rank)?,
            normalize_axis("transpose", b, rank)?,
        );
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.swap(a, b);
        self.permute(x, &perm)
    }

    /// Concatenation along `axis`.
    pub fn concat(&mut self, parts: &[&Var], axis: isize) -> Result<Var> {
        let values: Vec<&Tensor> = parts.iter().map(|v| v.value()).collect();
        let y = Tensor::concat(&values, axis)?;
        let ax = normalize_axis("concat", axis, y.rank())?;
        let lens: Vec<usize> = parts.iter().map(|v| v.shape()[ax]).collect();
        self.record("concat", parts, y, move |_| {
            Box::new(move |dy: &Tensor, needs: &[bool]| {
                let mut start = 0;
                let mut out = Vec::with_capacity(lens.len());
                for (i, &len) in lens.iter().enumerate() {
                    out.push(if needs[i] {
                        Some(dy.slice(ax as isize, start, len)?)
                    } else {
                        None
                    });
                    start += len;
                }
                Ok(out)
            })
        })
    }

    /// `len` entries from `start` along `axis`.
    pub fn slice(&mut self, x: &Var, axis: isize, start: usize, len: usize) -> Result<Var> {
        let y = x.value().slice(axis, start, len)?;
        let ax = normalize_axis("slice", axis, x.shape().len())?;
        let full = x.shape()[ax];
        self.record("slice", &[x], y, move |_| {
            Box::new(move |dy: &Tensor, _: &[bool]| {
                Ok(vec![Some(dy.pad_axis(ax as isize, start, full)?)])
            })
        })
    }

    /// Entries `indices` along `axis` (a gather; repeated indices accumulate gradient).
    pub fn index_select(&mut self, x: &Var, axis: isize, indices: &[usize]) -> Result<Var> {
        let y = x.value().index_select(axis, indices)?;
        let ax = normalize_axis("index_select", axis, x.shape().len())?;
        let full = x.shape()[ax];
        let idx = indices.to_vec();
        self.record("index_select", &[x], y, move |_| {
            Box::new(move |dy: &Tensor, _: &[bool]| {
                Ok(vec![Some(dy.index_add(ax as isize, &idx, full)?)])
            })
        })
    }
}
