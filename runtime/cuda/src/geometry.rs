//! Pure translations from the engine's shapes to what the kernels and libraries take: merged strided views for
//! the elementwise kernels, reduction plans (how one pass splits over the GPU; which passes a reduction takes is
//! the engine's `shape::reduction_runs`), pooling arguments, cuDNN tensor/filter dimensions for channels-last
//! 5D tensors, and the row-major → column-major mapping of cuBLAS GEMMs. No device needed; all unit-tested.

use cudarc::driver::DeviceRepr;
use vst_engine::shape::collapse;
use vst_engine::{Conv3dGeometry, MatmulGeometry, Pool3dGeometry};

/// Most axes a strided kernel takes (after merging).
pub const MAX_RANK: usize = 8;

/// A strided view over two operands, as the kernels' `Strided` struct (all 64-bit, no padding).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StridedArgs {
    pub rank: i64,
    pub shape: [i64; MAX_RANK],
    pub s0: [i64; MAX_RANK],
    pub s1: [i64; MAX_RANK],
}

// SAFETY: repr(C) plain integers, laid out exactly as the CUDA struct `Strided`.
unsafe impl DeviceRepr for StridedArgs {}

impl StridedArgs {
    /// Merges axes (the engine's [`collapse`], so the kernels' index arithmetic runs over as few axes as possible)
    /// and packs; `None` when more than [`MAX_RANK`] axes remain.
    pub fn new(shape: &[usize], s0: &[usize], s1: &[usize]) -> Option<StridedArgs> {
        let (sh, merged) = collapse(shape, &[s0.to_vec(), s1.to_vec()]);
        let (a, b) = (&merged[0], &merged[1]);
        if sh.len() > MAX_RANK {
            return None;
        }
        let mut args = StridedArgs {
            rank: sh.len() as i64,
            shape: [1; MAX_RANK],
            s0: [0; MAX_RANK],
            s1: [0; MAX_RANK],
        };
        for i in 0..sh.len() {
            args.shape[i] = sh[i] as i64;
            args.s0[i] = a[i] as i64;
            args.s1[i] = b[i] as i64;
        }
        Some(args)
    }

    /// The offsets the kernel computes for flat index `i` (the host mirror of `strided_offsets`).
    pub fn offsets(&self, mut i: i64) -> (i64, i64) {
        let (mut o0, mut o1) = (0, 0);
        for a in (0..self.rank as usize).rev() {
            let (q, r) = (i / self.shape[a], i % self.shape[a]);
            o0 += r * self.s0[a];
            o1 += r * self.s1[a];
            i = q;
        }
        (o0, o1)
    }
}

/// How one reduction pass over outer × r × inner is split: `chunks` blocks along r, each covering `chunk` rows.
/// Splitting keeps the GPU busy when outer × inner is small (a full sum, per-channel statistics); the partials
/// (outer × chunks × inner) are reduced by a second pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReducePlan {
    pub chunks: usize,
    pub chunk: usize,
}

/// Blocks a reduction aims for (a few waves on a large GPU).
pub const REDUCE_TARGET_BLOCKS: usize = 1024;
/// Fewest rows a chunk is given (below this, a second pass costs more than it saves).
pub const REDUCE_MIN_CHUNK: usize = 512;
/// Grid y limit.
pub const MAX_GRID_Y: usize = 65535;

pub fn plan_reduce(outer: usize, r: usize, inner: usize) -> ReducePlan {
    let base_blocks = if inner == 1 {
        outer
    } else {
        outer * inner.div_ceil(32)
    };
    let wanted = REDUCE_TARGET_BLOCKS.div_ceil(base_blocks.max(1));
    let most = r.div_ceil(REDUCE_MIN_CHUNK).clamp(1, MAX_GRID_Y);
    let chunks = wanted.clamp(1, most);
    let chunk = r.div_ceil(chunks).max(1);
    ReducePlan {
        chunks: r.div_ceil(chunk).max(1),
        chunk,
    }
}

/// The kernels' `Pool` struct.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolArgs {
    pub n: i64,
    pub t: i64,
    pub h: i64,
    pub w: i64,
    pub c: i64,
    pub ot: i64,
    pub oh: i64,
    pub ow: i64,
    pub k: [i64; 3],
    pub s: [i64; 3],
    pub p: [i64; 3],
}

// SAFETY: repr(C) plain integers, laid out exactly as the CUDA struct `Pool`.
unsafe impl DeviceRepr for PoolArgs {}

impl PoolArgs {
    pub fn new(g: &Pool3dGeometry) -> PoolArgs {
        let [ot, oh, ow] = g.output();
        let i = |v: usize| v as i64;
        PoolArgs {
            n: i(g.batch),
            t: i(g.input[0]),
            h: i(g.input[1]),
            w: i(g.input[2]),
            c: i(g.channels),
            ot: i(ot),
            oh: i(oh),
            ow: i(ow),
            k: g.kernel.map(i),
            s: g.stride.map(i),
            p: g.padding.map(i),
        }
    }
}

/// The output windows (along one axis) that contain input position `i`: `lo..=hi`, empty when `lo > hi`. This is
/// the host mirror of the bounds `vst_max_pool_backward` computes (t0/t1, h0/h1, w0/w1 in `source.cu`): window
/// `o` covers `o·s − p ..= o·s − p + k − 1`.
pub fn covering_windows(i: i64, k: i64, s: i64, p: i64, out_len: i64) -> (i64, i64) {
    let first = i + p - k + 1;
    let lo = if first <= 0 { 0 } else { (first + s - 1) / s };
    let hi = ((i + p) / s).min(out_len - 1);
    (lo, hi)
}

/// cuDNN's description of a channels-last 5D tensor N×T×H×W×C: dimensions in cuDNN's fixed N, C, D, H, W order
/// and the strides that place C innermost. Using the real layout (rather than converting to NCDHW) means no
/// transposes around every convolution, and cuDNN's tensor-core kernels prefer channels-last anyway.
pub fn ndhwc_descriptor(shape: [usize; 5]) -> Option<([i32; 5], [i32; 5])> {
    let [n, t, h, w, c] = shape;
    let dims = [n, c, t, h, w];
    let strides = [t * h * w * c, 1, h * w * c, w * c, c];
    let total: usize = shape.iter().product();
    if total > i32::MAX as usize {
        return None;
    }
    Some((dims.map(|d| d as i32), strides.map(|s| s.max(1) as i32)))
}

/// cuDNN's description of the same tensor stored channels-first (N×C×T×H×W, packed): the fallback layout for a
/// convolution cuDNN cannot run channels-last.
pub fn ncdhw_descriptor(shape: [usize; 5]) -> Option<([i32; 5], [i32; 5])> {
    let [n, t, h, w, c] = shape;
    let total: usize = shape.iter().product();
    if total > i32::MAX as usize {
        return None;
    }
    let dims = [n, c, t, h, w];
    let strides = [c * t * h * w, t * h * w, h * w, w, 1];
    Some((dims.map(|d| d as i32), strides.map(|s| s.max(1) as i32)))
}

/// Axis order taking a channels-last N×T×H×W×C tensor (or a K×T×R×S×C weight) to channels-first.
pub const TO_CHANNELS_FIRST: [usize; 5] = [0, 4, 1, 2, 3];
/// Axis order taking channels-first back to channels-last.
pub const TO_CHANNELS_LAST: [usize; 5] = [0, 2, 3, 4, 1];

/// Strides of a packed channels-first buffer, listed in channels-last axis order: reading a channels-first result
/// with these over the channels-last shape `[n, t, h, w, c]` transposes it back.
pub fn channels_first_strides(shape: [usize; 5]) -> [usize; 5] {
    let [_, t, h, w, c] = shape;
    [c * t * h * w, h * w, w, 1, t * h * w]
}

/// cuDNN filter dimensions for a Cout×kT×kH×kW×(Cin/groups) weight, declared with `CUDNN_TENSOR_NHWC` (cuDNN's
/// K, C, T, R, S order; the NHWC format flag says the data is K×T×R×S×C — exactly the engine's layout).
pub fn filter_dims(g: &Conv3dGeometry) -> [i32; 5] {
    let [kt, kh, kw] = g.kernel;
    [g.out_channels, g.in_channels / g.groups, kt, kh, kw].map(|d| d as i32)
}

/// A cuBLAS column-major strided-batched GEMM computing a row-major product: row-major C = op(A)·op(B) is
/// column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, so A and B swap places and m and n swap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnMajorGemm {
    /// Whether the first operand (the engine's B) is transposed.
    pub trans_first: bool,
    pub trans_second: bool,
    pub m: i32,
    pub n: i32,
    pub k: i32,
    pub ld_first: i32,
    pub ld_second: i32,
    pub ldc: i32,
    pub stride_first: i64,
    pub stride_second: i64,
    pub stride_c: i64,
    pub batch: i32,
}

pub fn column_major_gemm(g: &MatmulGeometry) -> Option<ColumnMajorGemm> {
    let fits = |v: usize| i32::try_from(v).ok();
    Some(ColumnMajorGemm {
        trans_first: g.trans_b,
        trans_second: g.trans_a,
        m: fits(g.n)?,
        n: fits(g.m)?,
        k: fits(g.k)?,
        ld_first: fits(if g.trans_b { g.k } else { g.n }.max(1))?,
        ld_second: fits(if g.trans_a { g.m } else { g.k }.max(1))?,
        ldc: fits(g.n.max(1))?,
        stride_first: if g.b_batched { (g.k * g.n) as i64 } else { 0 },
        stride_second: if g.a_batched { (g.m * g.k) as i64 } else { 0 },
        stride_c: (g.m * g.n) as i64,
        batch: fits(g.batch)?,
    })
}

#[cfg(test)]
mod tests {
    use vst_engine::shape::{broadcast_strides, strides};

    use super::*;

    #[test]
    fn collapse_merges_contiguous_axes_and_keeps_broadcast_ones() {
        // Same shape: one axis.
        let shape = [2, 3, 4];
        let s = strides(&shape);
        let same = [s.clone(), s];
        assert_eq!(collapse(&shape, &same), (vec![24], vec![vec![1], vec![1]]));
        // A per-channel vector broadcast over N×T×H×W×C: rows × C with stride 0 on the rows.
        let out = [2, 4, 5, 5, 8];
        let c = broadcast_strides(&[8], &out);
        let (sh, st) = collapse(&out, &[strides(&out), c]);
        assert_eq!(sh, vec![200, 8]);
        assert_eq!(st[0], vec![8, 1]);
        assert_eq!(st[1], vec![0, 1]);
        // Size-1 axes vanish; a scalar is one axis of length 1.
        assert_eq!(collapse(&[1, 1], &[vec![1, 1], vec![0, 0]]).0, vec![1]);
    }

    #[test]
    fn strided_offsets_match_a_direct_broadcast() {
        let (a_shape, b_shape, out) = ([3, 1, 4], [2, 1], [3, 2, 4]);
        let (sa, sb) = (
            broadcast_strides(&a_shape, &out),
            broadcast_strides(&b_shape, &out),
        );
        let args = StridedArgs::new(&out, &sa, &sb).unwrap();
        let mut i = 0;
        for x in 0..3 {
            for y in 0..2 {
                for z in 0..4 {
                    let (oa, ob) = args.offsets(i);
                    assert_eq!(oa, (x * 4 + z) as i64);
                    assert_eq!(ob, y as i64);
                    i += 1;
                }
            }
        }
    }

    #[test]
    fn permute_as_a_strided_copy() {
        // y = x.permute(2, 0, 1) for x of 2×3×4: output axis j reads input axis perm[j].
        let shape = [2usize, 3, 4];
        let perm = [2usize, 0, 1];
        let xs = strides(&shape);
        let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let src: Vec<usize> = perm.iter().map(|&p| xs[p]).collect();
        let args = StridedArgs::new(&out, &strides(&out), &src).unwrap();
        for i in 0..24i64 {
            let (oy, ox) = args.offsets(i);
            assert_eq!(oy, i);
            // y has shape 4×2×3: index (k, i0, j) reads x[i0, j, k].
            let (k, i0, j) = (i / 6, (i % 6) / 3, i % 3);
            assert_eq!(ox, i0 * 12 + j * 4 + k);
        }
    }

    #[test]
    fn too_many_axes_are_refused() {
        let shape = [2usize; 9];
        let s = strides(&shape);
        // Make every axis non-mergeable in the second operand.
        let odd: Vec<usize> = (0..9).map(|i| 1 << (2 * i)).collect();
        assert!(StridedArgs::new(&shape, &s, &odd).is_none());
        assert!(StridedArgs::new(&shape, &s, &s).is_some());
    }

    #[test]
    fn reduce_plans_split_long_narrow_reductions_only() {
        // A full sum of 10M values: many chunks of at least REDUCE_MIN_CHUNK.
        let p = plan_reduce(1, 10_000_000, 1);
        assert!(p.chunks > 100 && p.chunk >= REDUCE_MIN_CHUNK);
        assert!(p.chunks * p.chunk >= 10_000_000);
        assert!((p.chunks - 1) * p.chunk < 10_000_000);
        // Many rows already fill the GPU: no split.
        assert_eq!(
            plan_reduce(100_000, 2048, 1),
            ReducePlan {
                chunks: 1,
                chunk: 2048
            }
        );
        // Short reductions are never split.
        assert_eq!(plan_reduce(1, 100, 64).chunks, 1);
        // Per-channel statistics of a big activation (rows × 64 channels): split along the rows.
        let p = plan_reduce(1, 200_000, 64);
        assert!(p.chunks > 1 && p.chunks <= MAX_GRID_Y);
        // Empty reductions still launch one (empty) chunk.
        assert_eq!(plan_reduce(3, 0, 1).chunks, 1);
    }

    #[test]
    fn channels_first_fallback_is_packed_and_its_permutations_invert() {
        let (dims, packed) = ncdhw_descriptor([2, 8, 56, 56, 64]).unwrap();
        assert_eq!(dims, [2, 64, 8, 56, 56]);
        assert_eq!(packed, [64 * 8 * 56 * 56, 8 * 56 * 56, 56 * 56, 56, 1]);
        for i in 0..5 {
            assert_eq!(TO_CHANNELS_LAST[TO_CHANNELS_FIRST[i]], i);
        }
        let shape = [2usize, 8, 56, 56, 64];
        let permuted: Vec<usize> = TO_CHANNELS_FIRST.iter().map(|&a| shape[a]).collect();
        assert_eq!(permuted, dims.map(|d| d as usize));
        // Transposing to channels-first and reading back with `channels_first_strides` is the identity.
        let shape = [2usize, 3, 4, 5, 6];
        let n: usize = shape.iter().product();
        let xs = strides(&shape);
        let cf_shape = TO_CHANNELS_FIRST.map(|a| shape[a]);
        let to_cf = StridedArgs::new(
            &cf_shape,
            &strides(&cf_shape),
            &TO_CHANNELS_FIRST.map(|a| xs[a]),
        )
        .unwrap();
        let mut cf = vec![0i64; n];
        for i in 0..n as i64 {
            let (dst, src) = to_cf.offsets(i);
            cf[dst as usize] = src;
        }
        let back = StridedArgs::new(&shape, &xs, &channels_first_strides(shape)).unwrap();
        for i in 0..n as i64 {
            let (dst, src) = back.offsets(i);
            assert_eq!(cf[src as usize], dst, "element {i}");
        }
    }

    /// Host mirror of a reduction as the backend runs it: `vst_reduce_rows`/`vst_reduce_cols` write
    /// outer × chunks × inner partials of `chunk` rows each, and a further pass reduces the chunks.
    fn simulate_reduce(x: &[f64], outer: usize, r: usize, inner: usize) -> Vec<f64> {
        let plan = plan_reduce(outer, r, inner);
        let mut partial = vec![0.0; outer * plan.chunks * inner];
        for o in 0..outer {
            for c in 0..plan.chunks {
                for i in 0..inner {
                    let (lo, hi) = (c * plan.chunk, ((c + 1) * plan.chunk).min(r));
                    partial[(o * plan.chunks + c) * inner + i] =
                        (lo..hi).map(|j| x[(o * r + j) * inner + i]).sum();
                }
            }
        }
        if plan.chunks == 1 {
            partial
        } else {
            simulate_reduce(&partial, outer, plan.chunks, inner)
        }
    }

    #[test]
    fn split_reductions_cover_every_row_exactly_once() {
        for (outer, r, inner) in [
            (1, 1_000_003, 1),
            (1, 200_001, 3),
            (2, 70_000, 40),
            (5, 7, 3),
            (1, 513, 1),
        ] {
            // Integers, so any double counting or gap shows exactly.
            let x: Vec<f64> = (0..outer * r * inner).map(|v| (v % 7) as f64).collect();
            let got = simulate_reduce(&x, outer, r, inner);
            for o in 0..outer {
                for i in 0..inner {
                    let want: f64 = (0..r).map(|j| x[(o * r + j) * inner + i]).sum();
                    assert_eq!(got[o * inner + i], want, "{outer}×{r}×{inner}");
                }
            }
        }
    }

    #[test]
    fn cudnn_sees_channels_last_tensors_as_strided_ncdhw() {
        let (dims, strides) = ndhwc_descriptor([2, 8, 56, 56, 64]).unwrap();
        assert_eq!(dims, [2, 64, 8, 56, 56]);
        assert_eq!(strides, [8 * 56 * 56 * 64, 1, 56 * 56 * 64, 56 * 64, 64]);
        assert!(ndhwc_descriptor([64, 8, 224, 224, 1024]).is_none());
        let g = Conv3dGeometry {
            batch: 2,
            input: [8, 56, 56],
            in_channels: 64,
            out_channels: 128,
            kernel: [3, 1, 1],
            stride: [1, 1, 1],
            padding: [1, 0, 0],
            groups: 2,
        };
        assert_eq!(filter_dims(&g), [128, 32, 3, 1, 1]);
    }

    /// Column-major GEMM as cuBLAS defines it, on host slices: C[i + j·ldc] = Σ op(A)[i, l]·op(B)[l, j].
    #[allow(clippy::too_many_arguments)]
    fn reference_column_major(
        ta: bool,
        tb: bool,
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
        c: &mut [f32],
        ldc: usize,
    ) {
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for l in 0..k {
                    let av = if ta { a[l + i * lda] } else { a[i + l * lda] };
                    let bv = if tb { b[j + l * ldb] } else { b[l + j * ldb] };
                    s += av * bv;
                }
                c[i + j * ldc] = s;
            }
        }
    }

    #[test]
    fn row_major_products_map_onto_column_major_gemm() {
        let (m, k, n) = (3usize, 4usize, 5usize);
        let a: Vec<f32> = (0..m * k).map(|v| v as f32 * 0.5 - 1.0).collect();
        let b: Vec<f32> = (0..k * n).map(|v| (v as f32 * 0.37).sin()).collect();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            // Store A as m×k (or k×m when transposed), B as k×n (or n×k), row-major.
            let a_stored: Vec<f32> = if ta {
                (0..k * m).map(|i| a[(i % m) * k + i / m]).collect()
            } else {
                a.clone()
            };
            let b_stored: Vec<f32> = if tb {
                (0..n * k).map(|i| b[(i % k) * n + i / k]).collect()
            } else {
                b.clone()
            };
            let g = MatmulGeometry {
                batch: 1,
                m,
                k,
                n,
                trans_a: ta,
                trans_b: tb,
                a_batched: true,
                b_batched: true,
            };
            let cm = column_major_gemm(&g).unwrap();
            let mut c = vec![0.0f32; m * n];
            reference_column_major(
                cm.trans_first,
                cm.trans_second,
                cm.m as usize,
                cm.n as usize,
                cm.k as usize,
                &b_stored,
                cm.ld_first as usize,
                &a_stored,
                cm.ld_second as usize,
                &mut c,
                cm.ldc as usize,
            );
            for i in 0..m {
                for j in 0..n {
                    let want: f32 = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
                    assert!((c[i * n + j] - want).abs() < 1e-5, "ta={ta} tb={tb}");
                }
            }
        }
    }

    #[test]
    fn shared_operands_have_zero_batch_stride() {
        let g = MatmulGeometry {
            batch: 4,
            m: 2,
            k: 3,
            n: 5,
            trans_a: false,
            trans_b: false,
            a_batched: true,
            b_batched: false,
        };
        let cm = column_major_gemm(&g).unwrap();
        assert_eq!((cm.stride_first, cm.stride_second, cm.stride_c), (0, 6, 10));
        assert_eq!(cm.batch, 4);
    }

    #[test]
    fn pooling_windows_covering_an_input_match_brute_force() {
        for k in 1..5i64 {
            for st in 1..4i64 {
                for p in 0..=k / 2 {
                    for len in 1..12i64 {
                        if len + 2 * p < k {
                            continue;
                        }
                        let out = (len + 2 * p - k) / st + 1;
                        for i in 0..len {
                            let want: Vec<i64> = (0..out)
                                .filter(|&o| o * st - p <= i && i < o * st - p + k)
                                .collect();
                            let (lo, hi) = covering_windows(i, k, st, p, out);
                            let got: Vec<i64> = (lo..=hi).collect();
                            assert_eq!(got, want, "k={k} s={st} p={p} len={len} i={i}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn pool_arguments_carry_the_output_size() {
        let g = Pool3dGeometry {
            batch: 2,
            input: [8, 112, 112],
            channels: 64,
            kernel: [1, 3, 3],
            stride: [1, 2, 2],
            padding: [0, 1, 1],
        };
        let p = PoolArgs::new(&g);
        assert_eq!((p.ot, p.oh, p.ow), (8, 56, 56));
        assert_eq!(p.k, [1, 3, 3]);
        assert_eq!(std::mem::size_of::<PoolArgs>(), 17 * 8);
        assert_eq!(std::mem::size_of::<StridedArgs>(), (1 + 3 * MAX_RANK) * 8);
    }
}
