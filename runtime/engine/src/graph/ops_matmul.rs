//! Matrix products and linear layers, and their gradients.

use super::{Graph, Var};
use crate::error::Result;
use crate::tensor::Tensor;

/// Sums a batched gradient over the batch when the operand was a shared 2D matrix.
fn unbatch(g: Tensor, operand_rank: usize) -> Result<Tensor> {
    if operand_rank == 2 && g.rank() == 3 {
        g.sum(&[0], false)
    } else {
        Ok(g)
    }
}

impl Graph {
    /// `a · b` (2D, or batched 3D with a 2D operand shared across the batch).
    pub fn matmul(&mut self, a: &Var, b: &Var) -> Result<Var> {
        self.matmul_t(a, b, false, false)
    }

    /// `op(a) · op(b)` where op transposes the last two axes when asked.
    pub fn matmul_t(&mut self, a: &Var, b: &Var, ta: bool, tb: bool) -> Result<Var> {
        let y = a.value().matmul_t(b.value(), ta, tb)?;
        let (av, bv) = (a.value().clone(), b.value().clone());
        self.record("matmul", &[a, b], y, move |_| {
            Box::new(move |dy: &Tensor, needs: &[bool]| {
                // C = op(A)·op(B): dA = dC·op(B)ᵀ (transposed back if A was), dB likewise.
                let da = if needs[0] {
                    let g = if ta {
                        bv.matmul_t(dy, tb, true)?
                    } else {
                        dy.matmul_t(&bv, false, !tb)?
                    };
                    Some(unbatch(g, av.rank())?)
                } else {
                    None
                };
                let db = if needs[1] {
                    let g = if tb {
                        dy.matmul_t(&av, true, ta)?
                    } else {
                        av.matmul_t(dy, !ta, false)?
                    };
                    Some(unbatch(g, bv.rank())?)
                } else {
                    None
                };
                Ok(vec![da, db])
            })
        })
    }

    /// `x · weightᵀ + bias` with weight out×in (PyTorch's layout).
    pub fn linear(&mut self, x: &Var, weight: &Var, bias: Option<&Var>) -> Result<Var> {
        let y = self.matmul_t(x, weight, false, true)?;
        match bias {
            Some(b) => self.add(&y, b),
            None => Ok(y),
        }
    }
}
