//! 1×1×1 convolution without stride or padding: in channels-last layout it is exactly a matrix product over all
//! N·T·H·W positions. Forward and input-gradient products split the positions into row blocks, one
//! single-threaded GEMM each (measured here: faster than `gemm`'s own threading at these shapes); the weight
//! gradient, a long-K product into a small matrix, sums per-block partials in a fixed order.

use rayon::prelude::*;

use crate::backend::Conv3dGeometry;
use crate::cpu::gemm::{Accumulate, MatRef, gemm, gemm_strided};
use crate::cpu::parallel::fixed_ranges;

fn rows(g: &Conv3dGeometry) -> usize {
    g.batch * g.input.iter().product::<usize>()
}

/// Rows per block so that every thread gets a few blocks of a product with `r` rows.
fn row_block(r: usize) -> usize {
    let blocks = (rayon::current_num_threads() * 4).max(1);
    r.div_ceil(blocks).max(64)
}

/// out (R×n) = a (R×k, row-major) · b, by row blocks in parallel.
fn by_row_blocks(a: &[f32], k: usize, b: MatRef<'_>, out: &mut [f32], n: usize) {
    let r = out.len() / n.max(1);
    let block = row_block(r);
    out.par_chunks_mut(block * n)
        .enumerate()
        .for_each(|(i, o)| {
            let rows = o.len() / n;
            gemm(
                o,
                n,
                MatRef::row_major(a, i * block * k, rows, k),
                b,
                Accumulate::Overwrite,
                1,
            );
        });
}

/// y (R×Cout) = x (R×Cin) · wᵀ (w is Cout×Cin).
pub fn forward(x: &[f32], w: &[f32], g: &Conv3dGeometry, y: &mut [f32]) {
    let (ci, co) = (g.in_channels, g.out_channels);
    if co == 0 {
        return;
    }
    by_row_blocks(x, ci, MatRef::row_major(w, 0, co, ci).t(), y, co);
}

/// dx (R×Cin) = dy (R×Cout) · w (Cout×Cin).
pub fn backward_data(dy: &[f32], w: &[f32], g: &Conv3dGeometry, dx: &mut [f32]) {
    let (ci, co) = (g.in_channels, g.out_channels);
    if ci == 0 {
        return;
    }
    by_row_blocks(dy, co, MatRef::row_major(w, 0, co, ci), dx, ci);
}

/// dw (Cout×Cin) = dyᵀ (Cout×R) · x (R×Cin).
pub fn backward_filter(x: &[f32], dy: &[f32], g: &Conv3dGeometry, dw: &mut [f32]) {
    let (r, ci, co) = (rows(g), g.in_channels, g.out_channels);
    let threads = rayon::current_num_threads();
    if co * ci >= 1 << 20 || co < 16 * threads {
        // Large weight (partials would cost more than they save), or too few rows of dW to split: threads own
        // row blocks of dW and sum over all positions.
        let block = co.div_ceil(threads).max(1);
        dw.par_chunks_mut(block * ci)
            .enumerate()
            .for_each(|(i, out)| {
                let rows_here = out.len() / ci;
                let a = MatRef {
                    data: dy,
                    offset: i * block,
                    rows: rows_here,
                    cols: r,
                    rs: 1,
                    cs: co,
                };
                gemm(
                    out,
                    ci,
                    a,
                    MatRef::row_major(x, 0, r, ci),
                    Accumulate::Overwrite,
                    1,
                );
            });
        return;
    }
    // Small weight: partial products over a fixed split of the positions, kept transposed (Cin×Cout, dW
    // column-major — faster in `gemm` for long K), added in order.
    let partials: Vec<Vec<f32>> = fixed_ranges(r, 1024, 8)
        .into_par_iter()
        .map(|range| {
            let mut acc_t = vec![0.0f32; co * ci];
            let m = range.len();
            let a = MatRef {
                data: dy,
                offset: range.start * co,
                rows: co,
                cols: m,
                rs: 1,
                cs: co,
            };
            let b = MatRef::row_major(x, range.start * ci, m, ci);
            gemm_strided(&mut acc_t, 1, co, a, b, Accumulate::Overwrite, 1);
            acc_t
        })
        .collect();
    let mut sum_t = vec![0.0f32; co * ci];
    super::sum_in_order(&partials, &mut sum_t);
    super::transpose_into(&sum_t, ci, co, dw);
}
