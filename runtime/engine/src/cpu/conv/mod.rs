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

/// `sum` = the partial products `parts` added in order from zero — the fixed order that keeps the weight
/// gradients reproducible. The first pass writes every cell, so `sum` may hold stale values.
pub(super) fn sum_in_order<P: std::ops::Deref<Target = [f32]>>(parts: &[P], sum: &mut [f32]) {
    let Some((first, rest)) = parts.split_first() else {
        sum.fill(0.0);
        return;
    };
    sum.iter_mut()
        .zip(first.iter())
        .for_each(|(s, &v)| *s = 0.0 + v);
    for part in rest {
        sum.iter_mut().zip(part.iter()).for_each(|(s, &v)| *s += v);
    }
}

/// `dst` (cols × rows, row-major) = transpose of `src` (rows × cols, row-major): 16 × 16 tiles through AVX-512
/// registers where the CPU has them, the edges (and other CPUs) element by element in cache-sized tiles.
pub(super) fn transpose_into(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    const TILE: usize = 16;
    let src = &src[..rows * cols];
    let dst = &mut dst[..rows * cols];
    let (full_rows, full_cols) = if crate::cpu::simd::avx512() {
        (rows / TILE * TILE, cols / TILE * TILE)
    } else {
        (0, 0)
    };
    for i0 in (0..full_rows).step_by(TILE) {
        for j0 in (0..full_cols).step_by(TILE) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX-512F is present (checked above) and the tile lies within both matrices.
            unsafe {
                avx512_transpose::tile16(src, cols, i0, j0, dst, rows)
            };
        }
    }
    for i0 in (0..rows).step_by(TILE) {
        let i1 = (i0 + TILE).min(rows);
        for j0 in (0..cols).step_by(TILE) {
            if i0 < full_rows && j0 < full_cols {
                continue;
            }
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

#[cfg(target_arch = "x86_64")]
mod avx512_transpose {
    use std::arch::x86_64::*;

    /// The 16 × 16 tile of `src` (row stride `src_rs`) at (i0, j0), transposed into `dst` (row stride `dst_rs`)
    /// at (j0, i0): four rounds of shuffles (pairs of values, of 2, of 4 and of 8).
    ///
    /// # Safety
    /// AVX-512F must be available; rows i0..i0 + 16 × columns j0..j0 + 16 must lie within `src`, and rows
    /// j0..j0 + 16 × columns i0..i0 + 16 within `dst`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tile16(
        src: &[f32],
        src_rs: usize,
        i0: usize,
        j0: usize,
        dst: &mut [f32],
        dst_rs: usize,
    ) {
        assert!((i0 + 15) * src_rs + j0 + 16 <= src.len());
        assert!((j0 + 15) * dst_rs + i0 + 16 <= dst.len());
        let (src, dst) = (src.as_ptr(), dst.as_mut_ptr());
        let mut r = [_mm512_setzero_ps(); 16];
        for (i, row) in r.iter_mut().enumerate() {
            // SAFETY: bounded by the first assert above.
            *row = unsafe { _mm512_loadu_ps(src.add((i0 + i) * src_rs + j0)) };
        }
        let mut t = [_mm512_setzero_ps(); 16];
        for i in (0..16).step_by(2) {
            t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
        }
        // Within each group of four: (t0, t2) and (t1, t3) combined by pairs of values.
        for g in (0..16).step_by(4) {
            r[g] = _mm512_shuffle_ps::<0x44>(t[g], t[g + 2]);
            r[g + 1] = _mm512_shuffle_ps::<0xEE>(t[g], t[g + 2]);
            r[g + 2] = _mm512_shuffle_ps::<0x44>(t[g + 1], t[g + 3]);
            r[g + 3] = _mm512_shuffle_ps::<0xEE>(t[g + 1], t[g + 3]);
        }
        // 128-bit lanes within groups of eight rows: (r_k, r_{k+4}).
        for g in (0..16).step_by(8) {
            for k in 0..4 {
                t[g + k] = _mm512_shuffle_f32x4::<0x88>(r[g + k], r[g + k + 4]);
                t[g + k + 4] = _mm512_shuffle_f32x4::<0xDD>(r[g + k], r[g + k + 4]);
            }
        }
        for k in 0..8 {
            let lo = _mm512_shuffle_f32x4::<0x88>(t[k], t[k + 8]);
            let hi = _mm512_shuffle_f32x4::<0xDD>(t[k], t[k + 8]);
            // SAFETY: bounded by the second assert above.
            unsafe {
                _mm512_storeu_ps(dst.add((j0 + k) * dst_rs + i0), lo);
                _mm512_storeu_ps(dst.add((j0 + k + 8) * dst_rs + i0), hi);
            }
        }
    }
}

#[cfg(test)]
mod tests;
