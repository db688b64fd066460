//! Matrix products: 2D, and batched 3D (a 2D operand is shared across the batch).

use super::wrap;
use crate::backend::MatmulGeometry;
use crate::error::{Result, shape_err};
use crate::tensor::Tensor;

/// Geometry of `op(a)·op(b)` for 2D/3D operands, and the output shape.
pub(crate) fn matmul_geometry(
    a: &[usize],
    b: &[usize],
    ta: bool,
    tb: bool,
) -> Result<(MatmulGeometry, Vec<usize>)> {
    let bad = || {
        shape_err(
            "matmul",
            format!("cannot multiply {a:?}{} by {b:?}{}", t(ta), t(tb)),
        )
    };
    fn t(x: bool) -> &'static str {
        if x { "ᵀ" } else { "" }
    }
    let (ab, ar, ac) = match a.len() {
        2 => (None, a[0], a[1]),
        3 => (Some(a[0]), a[1], a[2]),
        _ => return bad(),
    };
    let (bb, br, bc) = match b.len() {
        2 => (None, b[0], b[1]),
        3 => (Some(b[0]), b[1], b[2]),
        _ => return bad(),
    };
    let (m, k1) = if ta { (ac, ar) } else { (ar, ac) };
    let (k2, n) = if tb { (bc, br) } else { (br, bc) };
    if k1 != k2 {
        return bad();
    }
    let batch = match (ab, bb) {
        (Some(x), Some(y)) if x != y => return bad(),
        (Some(x), _) | (_, Some(x)) => Some(x),
        _ => None,
    };
    let g = MatmulGeometry {
        batch: batch.unwrap_or(1),
        m,
        k: k1,
        n,
        trans_a: ta,
        trans_b: tb,
        a_batched: ab.is_some(),
        b_batched: bb.is_some(),
    };
    let shape = match batch {
        Some(bs) => vec![bs, m, n],
        None => vec![m, n],
    };
    Ok((g, shape))
}

impl Tensor {
    /// `self · other` for 2D or batched 3D operands.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        self.matmul_t(other, false, false)
    }

    /// `op(self) · op(other)` where op transposes the last two axes when asked (no copy is made).
    pub fn matmul_t(&self, other: &Tensor, trans_self: bool, trans_other: bool) -> Result<Tensor> {
        self.device().check_same(other.device(), "matmul")?;
        let (g, shape) = matmul_geometry(self.shape(), other.shape(), trans_self, trans_other)?;
        let s = self
            .device()
            .backend()
            .matmul(self.storage(), other.storage(), &g)?;
        wrap(self, s, &shape)
    }

    /// `self · weightᵀ (+ bias)` with weight out×in (PyTorch's layout), self rows×in.
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let y = self.matmul_t(weight, false, true)?;
        match bias {
            Some(b) => y.add(b),
            None => Ok(y),
        }
    }
}
