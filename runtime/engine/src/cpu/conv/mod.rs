//! 3D convolution on channels-last tensors. `forward`, `backward_data` and `backward_filter` pick the fastest
//! path that fits the geometry:
//! - pointwise (1×1×1, stride 1, no padding, one group): one GEMM over all positions (`pointwise.rs`);
//! - stride 1, one group: shifted-window implicit GEMM without im2col (`shifted.rs`);
//! - small output frames (at most 16 positions, a spatial kernel or a stride; one group): im2col over blocks of
//!   clips, one product per block (`lowered.rs`; with AVX-512 and channel counts in multiples of 16 the same
//!   products are summed in place by `wide.rs`, without writing the im2col matrix or multiplying padding);
//! - everything else (strides, groups): per-frame im2col tiles multiplied with `gemm` (`im2col.rs`).

mod im2col;
mod lowered;
mod narrow;
mod pointwise;
mod shifted;
mod wide;

use crate::backend::Conv3dGeometry;
use crate::cpu::buffer_pool::BufferPool;

fn is_pointwise(g: &Conv3dGeometry) -> bool {
    g.kernel == [1, 1, 1] && g.stride == [1, 1, 1] && g.padding == [0, 0, 0] && g.groups == 1
}

pub fn forward(x: &[f32], w: &[f32], g: &Conv3dGeometry, y: &mut [f32], pool: &BufferPool) {
    if is_pointwise(g) {
        pointwise::forward(x, w, g, y)
    } else if lowered::applies(g) {
        lowered::forward(x, w, g, y, pool)
    } else if shifted::applies(g) {
        shifted::forward(x, w, g, y, pool)
    } else {
        im2col::forward(x, w, g, y)
    }
}

pub fn backward_data(dy: &[f32], w: &[f32], g: &Conv3dGeometry, dx: &mut [f32], pool: &BufferPool) {
    if is_pointwise(g) {
        pointwise::backward_data(dy, w, g, dx)
    } else if lowered::applies(g) {
        lowered::backward_data(dy, w, g, dx, pool)
    } else if shifted::applies(g) {
        shifted::backward_data(dy, w, g, dx, pool)
    } else {
        im2col::backward_data(dy, w, g, dx)
    }
}

pub fn backward_filter(
    x: &[f32],
    dy: &[f32],
    g: &Conv3dGeometry,
    dw: &mut [f32],
    pool: &BufferPool,
) {
    if is_pointwise(g) {
        pointwise::backward_filter(x, dy, g, dw)
    } else if lowered::applies(g) {
        lowered::backward_filter(x, dy, g, dw, pool)
    } else if shifted::applies(g) {
        shifted::backward_filter(x, dy, g, dw, pool)
    } else {
        im2col::backward_filter(x, dy, g, dw)
    }
}

/// `dst` (cols × rows, row-major) = transpose of `src` (rows × cols, row-major), in tiles that stay in cache.
pub(super) fn transpose_into(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    const TILE: usize = 16;
    let src = &src[..rows * cols];
    let dst = &mut dst[..rows * cols];
    for i0 in (0..rows).step_by(TILE) {
        let i1 = (i0 + TILE).min(rows);
        for j0 in (0..cols).step_by(TILE) {
            let j1 = (j0 + TILE).min(cols);
            for j in j0..j1 {
                // One destination row segment per source column: contiguous writes, reads within the tile.
                let out = &mut dst[j * rows + i0..j * rows + i1];
                for (o, i) in out.iter_mut().zip(i0..i1) {
                    *o = src[i * cols + j];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
