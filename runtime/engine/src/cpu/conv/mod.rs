//! 3D convolution on channels-last tensors. `forward`, `backward_data` and `backward_filter` pick the fastest
//! path that fits the geometry:
//! - pointwise (1×1×1, stride 1, no padding, one group): one GEMM over all positions (`pointwise.rs`);
//! - stride 1, one group: shifted-window implicit GEMM without im2col (`shifted.rs`);
//! - small output frames (at most 16 positions, a spatial kernel or a stride; one group): im2col over blocks of
//!   clips, one product per block (`lowered.rs`);
//! - everything else (strides, groups): per-frame im2col tiles multiplied with `gemm` (`im2col.rs`).

mod im2col;
mod lowered;
mod narrow;
mod pointwise;
mod shifted;

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

#[cfg(test)]
mod tests;
