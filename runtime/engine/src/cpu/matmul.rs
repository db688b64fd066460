//! Batched matrix products on top of `gemm`.

use rayon::prelude::*;

use super::gemm::{Accumulate, MatRef, gemm, threads_for};
use crate::backend::MatmulGeometry;

pub fn matmul(a: &[f32], b: &[f32], g: &MatmulGeometry, out: &mut [f32]) {
    let (m, k, n) = (g.m, g.k, g.n);
    let a_view = |bi: usize| {
        let off = if g.a_batched { bi * m * k } else { 0 };
        if g.trans_a {
            MatRef::row_major(a, off, k, m).t()
        } else {
            MatRef::row_major(a, off, m, k)
        }
    };
    let b_view = |bi: usize| {
        let off = if g.b_batched { bi * k * n } else { 0 };
        if g.trans_b {
            MatRef::row_major(b, off, n, k).t()
        } else {
            MatRef::row_major(b, off, k, n)
        }
    };
    let flops = 2.0 * (m * n * k) as f64;
    if m * n == 0 {
        return;
    }
    if g.batch == 1 || threads_for(flops) > 1 {
        for (bi, o) in out.chunks_mut(m * n).enumerate() {
            gemm(
                o,
                n,
                a_view(bi),
                b_view(bi),
                Accumulate::Overwrite,
                threads_for(flops),
            );
        }
    } else {
        out.par_chunks_mut(m * n).enumerate().for_each(|(bi, o)| {
            gemm(o, n, a_view(bi), b_view(bi), Accumulate::Overwrite, 1);
        });
    }
}
