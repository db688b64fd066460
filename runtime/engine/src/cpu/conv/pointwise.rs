//! 1×1×1 convolution without stride or padding: in channels-last layout it is exactly a matrix product over all
//! N·T·H·W positions, so each pass is a single large GEMM split across threads by `gemm` itself.

use crate::backend::Conv3dGeometry;
use crate::cpu::gemm::{Accumulate, MatRef, gemm, threads_for};

fn rows(g: &Conv3dGeometry) -> usize {
    g.batch * g.input.iter().product::<usize>()
}

/// y (R×Cout) = x (R×Cin) · wᵀ (w is Cout×Cin).
pub fn forward(x: &[f32], w: &[f32], g: &Conv3dGeometry, y: &mut [f32]) {
    let (r, ci, co) = (rows(g), g.in_channels, g.out_channels);
    let a = MatRef::row_major(x, 0, r, ci);
    let b = MatRef::row_major(w, 0, co, ci).t();
    gemm(
        y,
        co,
        a,
        b,
        Accumulate::Overwrite,
        threads_for(g.forward_flops()),
    );
}

/// dx (R×Cin) = dy (R×Cout) · w (Cout×Cin).
pub fn backward_data(dy: &[f32], w: &[f32], g: &Conv3dGeometry, dx: &mut [f32]) {
    let (r, ci, co) = (rows(g), g.in_channels, g.out_channels);
    let a = MatRef::row_major(dy, 0, r, co);
    let b = MatRef::row_major(w, 0, co, ci);
    gemm(
        dx,
        ci,
        a,
        b,
        Accumulate::Overwrite,
        threads_for(g.forward_flops()),
    );
}

/// dw (Cout×Cin) = dyᵀ (Cout×R) · x (R×Cin).
pub fn backward_filter(x: &[f32], dy: &[f32], g: &Conv3dGeometry, dw: &mut [f32]) {
    let (r, ci, co) = (rows(g), g.in_channels, g.out_channels);
    let a = MatRef::row_major(dy, 0, r, co).t();
    let b = MatRef::row_major(x, 0, r, ci);
    gemm(
        dw,
        ci,
        a,
        b,
        Accumulate::Overwrite,
        threads_for(g.forward_flops()),
    );
}
