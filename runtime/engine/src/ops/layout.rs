//! Layout operations: permute/transpose, concat, slice, index_select along an axis.

use super::wrap;
use crate::error::{Result, arg_err, shape_err};
use crate::shape::normalize_axis;
use crate::tensor::Tensor;

impl Tensor {
    /// Reorders axes: output axis i is input axis `perm[i]` (a dense copy).
    pub fn permute(&self, perm: &[usize]) -> Result<Tensor> {
        let mut seen = vec![false; self.rank()];
        if perm.len() != self.rank()
            || perm
                .iter()
                .any(|&p| p >= self.rank() || std::mem::replace(&mut seen[p], true))
        {
            return arg_err(
                "permute",
                format!(
                    "{perm:?} is not a permutation of the axes of {:?}",
                    self.shape()
                ),
            );
        }
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape()[p]).collect();
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        let s = self
            .device()
            .backend()
            .permute(self.storage(), self.shape(), perm)?;
        wrap(self, s, &shape)
    }

    /// Swaps two axes (a dense copy).
    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        let (a, b) = (
            normalize_axis("transpose", a, self.rank())?,
            normalize_axis("transpose", b, self.rank())?,
        );
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Concatenates tensors along `axis`; all other axes must agree.
    pub fn concat(parts: &[&Tensor], axis: isize) -> Result<Tensor> {
        let Some(first) = parts.first() else {
            return arg_err("concat", "needs at least one tensor");
        };
        let ax = normalize_axis("concat", axis, first.rank())?;
        let mut shape = first.shape().to_vec();
        shape[ax] = 0;
        for p in parts {
            first.device().check_same(p.device(), "concat")?;
            let ok = p.rank() == first.rank()
                && p.shape()
                    .iter()
                    .zip(first.shape())
                    .enumerate()
                    .all(|(i, (a, b))| i == ax || a == b);
            if !ok {
                return shape_err(
                    "concat",
                    format!(
                        "{:?} does not fit {:?} along axis {ax}",
                        p.shape(),
                        first.shape()
                    ),
                );
            }
            shape[ax] += p.shape()[ax];
        }
        let storages: Vec<(&crate::storage::Storage, &[usize])> =
            parts.iter().map(|p| (p.storage(), p.shape())).collect();
        let s = first.device().backend().concat(&storages, ax)?;
        wrap(first, s, &shape)
    }

    /// `len` entries from `start` along `axis` (a copy).
    pub fn slice(&self, axis: isize, start: usize, len: usize) -> Result<Tensor> {
        let ax = normalize_axis("slice", axis, self.rank())?;
        if start + len > self.shape()[ax] {
            return shape_err(
                "slice",
                format!(
                    "{start}..{} is outside axis {ax} of {:?}",
                    start + len,
                    self.shape()
                ),
            );
        }
        let mut shape = self.shape().to_vec();
        shape[ax] = len;
        let s = self
            .device()
            .backend()
            .slice(self.storage(), self.shape(), ax, start, len)?;
        wrap(self, s, &shape)
    }

    /// Places self at `start` along `axis` inside zeros of length `full` on that axis.
    pub fn pad_axis(&self, axis: isize, start: usize, full: usize) -> Result<Tensor> {
        let ax = normalize_axis("pad_axis", axis, self.rank())?;
        if start + self.shape()[ax] > full {
            return shape_err(
                "pad_axis",
                format!("{:?} at {start} does not fit in {full}", self.shape()),
            );
        }
        let mut shape = self.shape().to_vec();
        shape[ax] = full;
        let s = self
            .device()
            .backend()
            .pad_axis(self.storage(), self.shape(), ax, start, full)?;
        wrap(self, s, &shape)
    }

    /// Entries `indices` along `axis` (repeats allowed).
    pub fn index_select(&self, axis: isize, indices: &[usize]) -> Result<Tensor> {
        let ax = normalize_axis("index_select", axis, self.rank())?;
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.shape()[ax]) {
            return arg_err(
                "index_select",
                format!("index {bad} is outside axis {ax} of {:?}", self.shape()),
            );
        }
        let mut shape = self.shape().to_vec();
        shape[ax] = indices.len();
        let s = self
            .device()
            .backend()
            .index_select(self.storage(), self.shape(), ax, indices)?;
        wrap(self, s, &shape)
    }

    /// Zeros of length `full` along `axis` with self's entries added at `indices` (index_select's gradient).
    pub fn index_add(&self, axis: isize, indices: &[usize], full: usize) -> Result<Tensor> {
        let ax = normalize_axis("index_add", axis, self.rank())?;
        if indices.len() != self.shape()[ax] || indices.iter().any(|&i| i >= full) {
            return arg_err(
                "index_add",
                format!("indices do not fit {:?} into length {full}", self.shape()),
            );
        }
        let mut shape = self.shape().to_vec();
        shape[ax] = full;
        let s =
            self.device()
                .backend()
                .index_add(self.storage(), self.shape(), ax, indices, full)?;
        wrap(self, s, &shape)
    }
}
