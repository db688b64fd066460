//! The fast stride-1 path against the general im2col path on geometries the fixtures do not reach
//! (3D kernels, padding without kernel extent on an axis, large weights that split across threads).

use super::{im2col, lowered, shifted};
use crate::backend::Conv3dGeometry;
use crate::cpu::buffer_pool::BufferPool;

fn data(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn max_rel(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

#[test]
fn shifted_window_path_equals_im2col() {
    let pool = BufferPool::new(1 << 30);
    // (N, T, H, W, Cin, Cout, kernel, padding)
    let cases = [
        (2, 3, 5, 6, 3, 4, [1, 3, 3], [0, 1, 1]),
        (2, 4, 3, 3, 5, 4, [3, 1, 1], [1, 0, 0]),
        (1, 4, 5, 5, 3, 2, [3, 3, 3], [1, 1, 1]),
        (1, 4, 5, 6, 2, 3, [3, 3, 3], [0, 0, 0]),
        (2, 2, 5, 5, 3, 3, [1, 3, 3], [0, 0, 0]),
        (1, 3, 4, 6, 2, 2, [2, 2, 3], [1, 1, 2]),
        (1, 5, 3, 6, 2, 3, [3, 1, 3], [2, 0, 1]),
        (1, 3, 2, 2, 700, 128, [3, 1, 1], [1, 0, 0]),
    ];
    for (i, (n, t, h, w, ci, co, kernel, padding)) in cases.into_iter().enumerate() {
        let g = Conv3dGeometry {
            batch: n,
            input: [t, h, w],
            in_channels: ci,
            out_channels: co,
            kernel,
            stride: [1, 1, 1],
            padding,
            groups: 1,
        };
        assert!(shifted::applies(&g));
        let x = data(n * t * h * w * ci, 1 + i as u64);
        let wt = data(co * kernel.iter().product::<usize>() * ci, 50 + i as u64);
        let [to, ho, wo] = g.output();
        let ylen = n * to * ho * wo * co;
        let dy = data(ylen, 100 + i as u64);

        let (mut y1, mut y2) = (vec![0.0; ylen], vec![0.0; ylen]);
        shifted::forward(&x, &wt, &g, &mut y1, &pool);
        im2col::forward(&x, &wt, &g, &mut y2);
        assert!(
            max_rel(&y1, &y2) < 1e-5,
            "case {i} forward: {}",
            max_rel(&y1, &y2)
        );

        let (mut dx1, mut dx2) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        shifted::backward_data(&dy, &wt, &g, &mut dx1, &pool);
        im2col::backward_data(&dy, &wt, &g, &mut dx2);
        assert!(
            max_rel(&dx1, &dx2) < 1e-5,
            "case {i} backward data: {}",
            max_rel(&dx1, &dx2)
        );

        let (mut dw1, mut dw2) = (vec![0.0; wt.len()], vec![0.0; wt.len()]);
        shifted::backward_filter(&x, &dy, &g, &mut dw1, &pool);
        im2col::backward_filter(&x, &dy, &g, &mut dw2);
        assert!(
            max_rel(&dw1, &dw2) < 1e-5,
            "case {i} backward filter: {}",
            max_rel(&dw1, &dw2)
        );
    }
}

#[test]
fn pointwise_path_equals_im2col() {
    use super::pointwise;
    // Small weight with many positions (partials path) and a wide weight (row-block path).
    for (i, (n, t, h, w, ci, co)) in [
        (2, 4, 16, 16, 8, 40),
        (1, 2, 3, 3, 20, 7),
        (1, 1, 2, 2, 1100, 1000),
    ]
    .into_iter()
    .enumerate()
    {
        let g = Conv3dGeometry {
            batch: n,
            input: [t, h, w],
            in_channels: ci,
            out_channels: co,
            kernel: [1, 1, 1],
            stride: [1, 1, 1],
            padding: [0, 0, 0],
            groups: 1,
        };
        let rows = n * t * h * w;
        let x = data(rows * ci, 7 + i as u64);
        let wt = data(co * ci, 8 + i as u64);
        let dy = data(rows * co, 9 + i as u64);
        let (mut y1, mut y2) = (vec![0.0; rows * co], vec![0.0; rows * co]);
        pointwise::forward(&x, &wt, &g, &mut y1);
        im2col::forward(&x, &wt, &g, &mut y2);
        assert!(max_rel(&y1, &y2) < 1e-5, "case {i} forward");
        let (mut dx1, mut dx2) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        pointwise::backward_data(&dy, &wt, &g, &mut dx1);
        im2col::backward_data(&dy, &wt, &g, &mut dx2);
        assert!(max_rel(&dx1, &dx2) < 1e-5, "case {i} backward data");
        let (mut dw1, mut dw2) = (vec![0.0; wt.len()], vec![0.0; wt.len()]);
        pointwise::backward_filter(&x, &dy, &g, &mut dw1);
        im2col::backward_filter(&x, &dy, &g, &mut dw2);
        assert!(
            max_rel(&dw1, &dw2) < 1e-5,
            "case {i} backward filter: {}",
            max_rel(&dw1, &dw2)
        );
    }
}

#[test]
fn lowered_path_equals_im2col() {
    // Scratch buffers come back from the pool with stale values (from earlier cases, or NaN where a size
    // matches one of these): the kernels must overwrite every cell they read.
    let pool = BufferPool::new(1 << 30);
    for len in [1 << 12, 1 << 13, 1 << 14, 1 << 15] {
        pool.scratch(len).fill(f32::NAN);
    }
    // Small output frames: 1×1 (dead taps), 2×2, strides, temporal padding, a kernel wider than the frame.
    // (N, T, H, W, Cin, Cout, kernel, stride, padding)
    let cases = [
        (3, 4, 1, 1, 8, 16, [3, 3, 3], [1, 1, 1], [1, 1, 1]),
        (2, 4, 2, 2, 5, 4, [1, 3, 3], [1, 1, 1], [0, 1, 1]),
        (2, 4, 4, 4, 3, 6, [3, 3, 3], [1, 2, 2], [1, 1, 1]),
        (9, 3, 3, 3, 2, 3, [3, 1, 1], [1, 2, 2], [1, 0, 0]),
        (2, 2, 2, 3, 4, 2, [1, 7, 7], [1, 2, 2], [0, 3, 3]),
        (17, 2, 2, 2, 3, 5, [1, 3, 3], [1, 2, 2], [0, 1, 1]),
        (4, 2, 4, 4, 4, 4, [1, 3, 3], [1, 1, 1], [0, 1, 1]),
        (4, 2, 2, 2, 8, 8, [3, 3, 3], [1, 1, 1], [1, 1, 1]),
        (4, 2, 4, 4, 4, 8, [1, 3, 3], [1, 2, 2], [0, 1, 1]),
    ];
    for (i, (n, t, h, w, ci, co, kernel, stride, padding)) in cases.into_iter().enumerate() {
        let g = Conv3dGeometry {
            batch: n,
            input: [t, h, w],
            in_channels: ci,
            out_channels: co,
            kernel,
            stride,
            padding,
            groups: 1,
        };
        assert!(lowered::applies(&g), "case {i}");
        let x = data(n * t * h * w * ci, 11 + i as u64);
        let wt = data(co * kernel.iter().product::<usize>() * ci, 60 + i as u64);
        let [to, ho, wo] = g.output();
        let ylen = n * to * ho * wo * co;
        let dy = data(ylen, 110 + i as u64);

        let (mut y1, mut y2) = (vec![f32::NAN; ylen], vec![0.0; ylen]);
        lowered::forward(&x, &wt, &g, &mut y1, &pool);
        im2col::forward(&x, &wt, &g, &mut y2);
        assert!(
            max_rel(&y1, &y2) < 1e-5,
            "case {i} forward: {}",
            max_rel(&y1, &y2)
        );

        let (mut dx1, mut dx2) = (vec![f32::NAN; x.len()], vec![0.0; x.len()]);
        lowered::backward_data(&dy, &wt, &g, &mut dx1, &pool);
        im2col::backward_data(&dy, &wt, &g, &mut dx2);
        assert!(
            max_rel(&dx1, &dx2) < 1e-5,
            "case {i} backward data: {}",
            max_rel(&dx1, &dx2)
        );

        let (mut dw1, mut dw2) = (vec![f32::NAN; wt.len()], vec![0.0; wt.len()]);
        lowered::backward_filter(&x, &dy, &g, &mut dw1, &pool);
        im2col::backward_filter(&x, &dy, &g, &mut dw2);
        assert!(
            max_rel(&dw1, &dw2) < 1e-5,
            "case {i} backward filter: {}",
            max_rel(&dw1, &dw2)
        );
    }
}

/// Strided 16-output-channel convolutions (the mini model's RGB stem, 1×7×7 stride 2, and ragged ones; read in
/// place from a padded frame or, with temporal taps, from a written tile) give the same bits through the
/// 16-channel kernel as through `gemm`, forward and filter gradient.
#[test]
fn narrow_im2col_bit_identical_to_gemm() {
    if !super::narrow::available() {
        return;
    }
    // (N, T, H, W, Cin, kernel, stride, padding)
    let cases = [
        (2, 2, 32, 32, 3, [1, 7, 7], [1, 2, 2], [0, 3, 3]),
        (1, 3, 11, 9, 5, [3, 3, 3], [2, 2, 1], [1, 1, 1]),
        (1, 2, 9, 13, 2, [1, 5, 3], [1, 1, 2], [0, 2, 1]),
    ];
    for (i, (n, t, h, w, ci, kernel, stride, padding)) in cases.into_iter().enumerate() {
        let g = Conv3dGeometry {
            batch: n,
            input: [t, h, w],
            in_channels: ci,
            out_channels: 16,
            kernel,
            stride,
            padding,
            groups: 1,
        };
        assert!(!shifted::applies(&g) && !lowered::applies(&g));
        let x = data(n * t * h * w * ci, 7 + i as u64);
        let wt = data(16 * kernel.iter().product::<usize>() * ci, 70 + i as u64);
        let [to, ho, wo] = g.output();
        let ylen = n * to * ho * wo * 16;
        let dy = data(ylen, 700 + i as u64);
        let (mut y1, mut y2) = (vec![0.0; ylen], vec![0.0; ylen]);
        im2col::forward_with(&x, &wt, &g, &mut y1, false);
        im2col::forward_with(&x, &wt, &g, &mut y2, true);
        assert!(
            y1.iter().zip(&y2).all(|(a, b)| a.to_bits() == b.to_bits()),
            "case {i}: forward"
        );
        let (mut w1, mut w2) = (vec![0.0; wt.len()], vec![0.0; wt.len()]);
        im2col::backward_filter_with(&x, &dy, &g, &mut w1, false);
        im2col::backward_filter_with(&x, &dy, &g, &mut w2, true);
        assert!(
            w1.iter().zip(&w2).all(|(a, b)| a.to_bits() == b.to_bits()),
            "case {i}: filter"
        );
    }
}

/// The wide kernel gives the `gemm` path's bits on the mini model's lowered layers (Slow R-18 × 1/4 on 4×32²
/// crops: res3–res5, every depth `gemm` sums in one block or splits) and on a few other shapes.
#[test]
fn lowered_wide_kernel_bit_identical_to_gemm() {
    use lowered::Kernel::{Gemm, Wide};
    if !crate::cpu::simd::avx512() {
        eprintln!("no AVX-512F: the wide kernel is not used on this CPU");
        return;
    }
    let pool = BufferPool::new(1 << 30);
    // (N, [T, H, W], Cin, Cout, kernel, stride, padding)
    let cases = [
        (32, [4, 8, 8], 16, 32, [1, 3, 3], [1, 2, 2], [0, 1, 1]),
        (32, [4, 8, 8], 16, 32, [1, 1, 1], [1, 2, 2], [0, 0, 0]),
        (32, [4, 4, 4], 32, 32, [1, 3, 3], [1, 1, 1], [0, 1, 1]),
        (32, [4, 4, 4], 32, 64, [3, 3, 3], [1, 2, 2], [1, 1, 1]),
        (32, [4, 4, 4], 32, 64, [1, 1, 1], [1, 2, 2], [0, 0, 0]),
        (32, [4, 2, 2], 64, 64, [3, 3, 3], [1, 1, 1], [1, 1, 1]),
        (32, [4, 2, 2], 64, 64, [1, 3, 3], [1, 1, 1], [0, 1, 1]),
        (32, [4, 2, 2], 64, 128, [3, 3, 3], [1, 2, 2], [1, 1, 1]),
        (32, [4, 2, 2], 64, 128, [1, 1, 1], [1, 2, 2], [0, 0, 0]),
        (32, [4, 1, 1], 128, 128, [3, 3, 3], [1, 1, 1], [1, 1, 1]),
        (32, [4, 1, 1], 128, 128, [1, 3, 3], [1, 1, 1], [0, 1, 1]),
        (5, [3, 3, 3], 24, 48, [3, 3, 3], [1, 1, 1], [1, 1, 1]),
        (3, [2, 4, 4], 16, 16, [1, 3, 3], [1, 2, 2], [0, 1, 1]),
        (8, [4, 2, 2], 256, 32, [3, 3, 3], [1, 1, 1], [1, 1, 1]),
    ];
    for (i, (n, input, ci, co, kernel, stride, padding)) in cases.into_iter().enumerate() {
        let g = Conv3dGeometry {
            batch: n,
            input,
            in_channels: ci,
            out_channels: co,
            kernel,
            stride,
            padding,
            groups: 1,
        };
        assert!(lowered::applies(&g), "case {i}");
        let x = data(n * input.iter().product::<usize>() * ci, 300 + i as u64);
        let wt = data(co * kernel.iter().product::<usize>() * ci, 400 + i as u64);
        let ylen = n * g.output().iter().product::<usize>() * co;
        let dy = data(ylen, 500 + i as u64);
        let differ = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count()
        };

        let (mut y1, mut y2) = (vec![f32::NAN; ylen], vec![0.0; ylen]);
        lowered::forward_with(&x, &wt, &g, &mut y1, &pool, Wide);
        lowered::forward_with(&x, &wt, &g, &mut y2, &pool, Gemm);
        assert_eq!(differ(&y1, &y2), 0, "case {i}: forward");

        let (mut dx1, mut dx2) = (vec![f32::NAN; x.len()], vec![0.0; x.len()]);
        lowered::backward_data_with(&dy, &wt, &g, &mut dx1, &pool, Wide);
        lowered::backward_data_with(&dy, &wt, &g, &mut dx2, &pool, Gemm);
        assert_eq!(differ(&dx1, &dx2), 0, "case {i}: input gradient");

        let (mut dw1, mut dw2) = (vec![f32::NAN; wt.len()], vec![0.0; wt.len()]);
        lowered::backward_filter_with(&x, &dy, &g, &mut dw1, &pool, Wide);
        lowered::backward_filter_with(&x, &dy, &g, &mut dw2, &pool, Gemm);
        assert_eq!(differ(&dw1, &dw2), 0, "case {i}: weight gradient");
    }
}

/// The tiled transpose on shapes with and without 16-multiples (the AVX-512 tiles and the element-wise edges).
#[test]
fn transpose_matches_definition() {
    for (r, c) in [(16usize, 16usize), (64, 48), (37, 70), (5, 3), (128, 17)] {
        let src = data(r * c, 9);
        let mut dst = vec![f32::NAN; r * c];
        super::transpose_into(&src, r, c, &mut dst);
        for i in 0..r {
            for j in 0..c {
                assert_eq!(
                    dst[j * r + i].to_bits(),
                    src[i * c + j].to_bits(),
                    "{r}x{c} at ({i}, {j})"
                );
            }
        }
    }
}
