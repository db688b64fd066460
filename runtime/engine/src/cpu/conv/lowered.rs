//! Convolutions with small output frames (the deep stages of a network on small inputs: 4×4, 2×2, 1×1 positions
//! per frame): im2col over blocks of whole clips, one product per block. Per-frame or per-tap products are too
//! small there for `gemm` to run well (a 1×1 frame gives a product of 1 row per tap), so the receptive fields of
//! every output position of a block of clips form one tall matrix (rows: positions; columns: taps × Cin, in the
//! weight's kT, kH, kW, Cin order). Taps that read only padding at every output position (all but the centre of
//! a 3×3 kernel on a 1×1 frame) are left out, with the matching weight columns.
//!
//! Blocks are a fixed split of the clips (independent of the thread count), so results are reproducible; the
//! weight gradient adds the blocks' partial products in order, and the input gradient scatters each block into
//! its own clips only.

use std::ops::Range;

use rayon::prelude::*;

use crate::backend::Conv3dGeometry;
use crate::cpu::buffer_pool::BufferPool;
use crate::cpu::gemm::{Accumulate, MatRef, gemm, gemm_strided};
use crate::cpu::parallel::fixed_ranges;

/// Output positions per frame up to which this path is used (4×4). Measured on the mini model: at 8×8 it is level
/// with the shifted-window path. Note: the 20-step parity fixtures (runtime/tests/parity.rs) are chaotic in the
/// summation order of these layers — with this path up to 2×2 or up to 8×8, BYOL ρ = 4 leaves their 1e-4 tolerance
/// after 5 steps; up to 1×1 or 4×4 every case stays at the float32 noise floor (~1e-6).
const MAX_FRAME_POSITIONS: usize = 16;
/// Rows of the im2col matrix of a block, about (a few hundred kB of columns).
const BLOCK_VALUES: usize = 1 << 16;
/// Blocks a problem is split into at least (when it has that many clips), for the threads to share.
const MIN_BLOCKS: usize = 8;
/// Rows of a weight-gradient block at least: each block adds a whole k × Cout partial, which must be worth it.
const MIN_FILTER_ROWS: usize = 256;

/// Small output frames with a spatial kernel or a stride. A stride-1 kT×1×1 kernel is left to the shifted-window
/// path, which reads the input in place with one product per clip (measured: 1.3× faster on a 3×1×1 layer with
/// 1024 channels at 7²).
pub fn applies(g: &Conv3dGeometry) -> bool {
    let [_, ho, wo] = g.output();
    let spatial = g.kernel[1] > 1 || g.kernel[2] > 1 || g.stride != [1, 1, 1];
    g.groups == 1 && spatial && ho * wo <= MAX_FRAME_POSITIONS
}

/// The taps of one axis that read inside the input for at least one output position.
fn live_taps(
    input: usize,
    output: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Range<usize> {
    let live = |k: usize| {
        (0..output).any(|o| {
            let i = (o * stride + k) as isize - padding as isize;
            i >= 0 && (i as usize) < input
        })
    };
    let lo = (0..kernel).find(|&k| live(k)).unwrap_or(0);
    let hi = (0..kernel).rev().find(|&k| live(k)).map_or(lo, |k| k + 1);
    lo..hi
}

struct Plan {
    input: [usize; 3],
    c: usize,
    co: usize,
    kernel: [usize; 3],
    stride: [usize; 3],
    padding: [usize; 3],
    output: [usize; 3],
    live: [Range<usize>; 3],
    /// Columns of the lowered matrix: live taps × Cin.
    k: usize,
    /// Rows (output positions) per clip.
    rows_per_clip: usize,
    /// Blocks of clips.
    blocks: Vec<Range<usize>>,
    /// Blocks of clips for the weight gradient.
    filter_blocks: Vec<Range<usize>>,
}

impl Plan {
    fn new(g: &Conv3dGeometry) -> Plan {
        let output = g.output();
        let live: [Range<usize>; 3] = std::array::from_fn(|a| {
            live_taps(
                g.input[a],
                output[a],
                g.kernel[a],
                g.stride[a],
                g.padding[a],
            )
        });
        let k = live.iter().map(|r| r.len()).product::<usize>() * g.in_channels;
        let rows_per_clip = output.iter().product::<usize>();
        let clips_for_size = (BLOCK_VALUES / (k * rows_per_clip).max(1)).max(1);
        let clips_for_split = g.batch.div_ceil(MIN_BLOCKS).max(1);
        let blocks = fixed_ranges(g.batch, clips_for_size.min(clips_for_split), g.batch);
        let filter_clips = clips_for_split.max(MIN_FILTER_ROWS.div_ceil(rows_per_clip.max(1)));
        let filter_blocks = fixed_ranges(g.batch, filter_clips, g.batch);
        Plan {
            input: g.input,
            c: g.in_channels,
            co: g.out_channels,
            kernel: g.kernel,
            stride: g.stride,
            padding: g.padding,
            output,
            live,
            k,
            rows_per_clip,
            blocks,
            filter_blocks,
        }
    }

    /// Whether every tap is live (the weight is used as is).
    fn all_live(&self) -> bool {
        (0..3).all(|a| self.live[a] == (0..self.kernel[a]))
    }

    /// Input index along axis `a` of output position `o` at live tap `k` (relative to the live range's start).
    fn input_at(&self, a: usize, o: usize, k: usize) -> Option<usize> {
        let i = (o * self.stride[a] + self.live[a].start + k) as isize - self.padding[a] as isize;
        (i >= 0 && (i as usize) < self.input[a]).then_some(i as usize)
    }

    /// Calls `f(row, column, source, length)` for every run of the lowered matrix of `clips` (rows relative to
    /// the block): `source` is the offset of the run's input values, or None for padding (zeros).
    fn for_runs(&self, clips: Range<usize>, mut f: impl FnMut(usize, usize, Option<usize>, usize)) {
        let [to, ho, wo] = self.output;
        let [t, h, w] = self.input;
        let [lt, lh, lw] = [self.live[0].len(), self.live[1].len(), self.live[2].len()];
        let c = self.c;
        let mut row = 0;
        for n in clips {
            for ot in 0..to {
                for oh in 0..ho {
                    for ow in 0..wo {
                        for kt in 0..lt {
                            let Some(ti) = self.input_at(0, ot, kt) else {
                                f(row, kt * lh * lw * c, None, lh * lw * c);
                                continue;
                            };
                            for kh in 0..lh {
                                let col = (kt * lh + kh) * lw * c;
                                let Some(hi) = self.input_at(1, oh, kh) else {
                                    f(row, col, None, lw * c);
                                    continue;
                                };
                                let base = ((n * t + ti) * h + hi) * w;
                                let first = self.input_at(2, ow, 0);
                                if let (Some(wi), Some(_)) = (first, self.input_at(2, ow, lw - 1)) {
                                    // The kW taps are adjacent pixels: one run of kW·Cin values.
                                    f(row, col, Some((base + wi) * c), lw * c);
                                    continue;
                                }
                                for kw in 0..lw {
                                    let src = self.input_at(2, ow, kw).map(|wi| (base + wi) * c);
                                    f(row, col + kw * c, src, c);
                                }
                            }
                        }
                        row += 1;
                    }
                }
            }
        }
    }

    /// The lowered matrix of `clips` into `col` (rows × k, exactly): every cell is written, padding cells with
    /// zeros, so `col` may hold stale values (a pooled scratch buffer; zeroing it first cost a pass of its own).
    fn lower(&self, x: &[f32], clips: Range<usize>, col: &mut [f32]) {
        let k = self.k;
        assert_eq!(
            col.len(),
            clips.len() * self.rows_per_clip * k,
            "lowered: column buffer size"
        );
        self.for_runs(clips, |r, j, src, len| {
            let dst = &mut col[r * k + j..][..len];
            match src {
                Some(s) => dst.copy_from_slice(&x[s..s + len]),
                None => dst.fill(0.0),
            }
        });
    }

    /// Offsets (within one output channel's weight row) and lengths of the live runs, in column order.
    fn live_runs(&self) -> Vec<(usize, usize)> {
        let [_, kh, kw] = self.kernel;
        let c = self.c;
        let mut runs = Vec::new();
        for t in self.live[0].clone() {
            for h in self.live[1].clone() {
                let start = ((t * kh + h) * kw + self.live[2].start) * c;
                runs.push((start, self.live[2].len() * c));
            }
        }
        runs
    }

    /// Values per output channel of the full weight (kT·kH·kW·Cin).
    fn full_k(&self) -> usize {
        self.kernel.iter().product::<usize>() * self.c
    }

    /// The live columns of the weight (Cout × kT·kH·kW·Cin) as Cout × k, or None when all taps are live.
    fn live_weight(&self, w: &[f32]) -> Option<Vec<f32>> {
        if self.all_live() {
            return None;
        }
        let full = self.full_k();
        let runs = self.live_runs();
        let mut out = Vec::with_capacity(self.co * self.k);
        for o in 0..self.co {
            for &(start, len) in &runs {
                out.extend_from_slice(&w[o * full + start..][..len]);
            }
        }
        Some(out)
    }

    /// Splits a per-clip buffer (`per_clip` values per clip) into the blocks' parts.
    fn split_blocks<'a>(
        &self,
        mut buf: &'a mut [f32],
        per_clip: usize,
    ) -> Vec<(Range<usize>, &'a mut [f32])> {
        let mut parts = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            let (head, tail) = buf.split_at_mut(b.len() * per_clip);
            parts.push((b.clone(), head));
            buf = tail;
        }
        parts
    }
}

pub fn forward(x: &[f32], w: &[f32], g: &Conv3dGeometry, y: &mut [f32], pool: &BufferPool) {
    let p = Plan::new(g);
    let live = p.live_weight(w);
    let wl: &[f32] = live.as_deref().unwrap_or(w);
    // The weight transposed (k × Cout): `gemm` then reads it in place as the left operand of yᵀ = W·colᵀ. Every
    // cell is written below, so a pooled buffer needs no zeroing.
    let mut wt = pool.scratch(p.k * p.co);
    for (o, row) in wl.chunks(p.k).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            wt[j * p.co + o] = v;
        }
    }
    let wt = MatRef::row_major(&wt, 0, p.k, p.co);
    let per_clip = p.rows_per_clip * p.co;
    p.split_blocks(y, per_clip)
        .into_par_iter()
        .for_each(|(clips, yb)| {
            let rows = clips.len() * p.rows_per_clip;
            let mut col = pool.scratch(rows * p.k);
            p.lower(x, clips, &mut col);
            let a = MatRef::row_major(&col, 0, rows, p.k);
            gemm(yb, p.co, a, wt, Accumulate::Overwrite, 1);
        });
}

pub fn backward_data(dy: &[f32], w: &[f32], g: &Conv3dGeometry, dx: &mut [f32], pool: &BufferPool) {
    let p = Plan::new(g);
    let live = p.live_weight(w);
    let wl = MatRef::row_major(live.as_deref().unwrap_or(w), 0, p.co, p.k);
    let per_clip_in = p.input.iter().product::<usize>() * p.c;
    p.split_blocks(dx, per_clip_in)
        .into_par_iter()
        .for_each(|(clips, dxb)| {
            let rows = clips.len() * p.rows_per_clip;
            // Every cell is overwritten by the product: a pooled buffer, not zeroed.
            let mut dcol = pool.scratch(rows * p.k);
            let a = MatRef::row_major(dy, clips.start * p.rows_per_clip * p.co, rows, p.co);
            gemm(&mut dcol, p.k, a, wl, Accumulate::Overwrite, 1);
            // col2im: add every run back onto the block's own clips.
            dxb.fill(0.0);
            let base = clips.start * per_clip_in;
            let k = p.k;
            p.for_runs(clips, |r, j, dst, len| {
                if let Some(dst) = dst {
                    let src = &dcol[r * k + j..][..len];
                    let dst = &mut dxb[dst - base..][..len];
                    dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
                }
            });
        });
}

pub fn backward_filter(
    x: &[f32],
    dy: &[f32],
    g: &Conv3dGeometry,
    dw: &mut [f32],
    pool: &BufferPool,
) {
    let p = Plan::new(g);
    // Per-block partials, kept transposed (k × Cout, dW column-major), added in block order. Pooled buffers:
    // the product overwrites every cell.
    let partials: Vec<_> = p
        .filter_blocks
        .par_iter()
        .map(|clips| {
            let rows = clips.len() * p.rows_per_clip;
            let mut col = pool.scratch(rows * p.k);
            p.lower(x, clips.clone(), &mut col);
            let a = MatRef::row_major(dy, clips.start * p.rows_per_clip * p.co, rows, p.co).t();
            let b = MatRef::row_major(&col, 0, rows, p.k);
            let mut acc_t = pool.scratch(p.k * p.co);
            gemm_strided(&mut acc_t, 1, p.co, a, b, Accumulate::Overwrite, 1);
            acc_t
        })
        .collect();
    let mut sum_t = vec![0.0f32; p.k * p.co];
    for part in &partials {
        sum_t
            .iter_mut()
            .zip(part.iter())
            .for_each(|(s, &v)| *s += v);
    }
    // Scatter the live columns back into dW (Cout × kT·kH·kW·Cin); dead taps get zero.
    // Live runs are in increasing order: only the gaps between them (dead taps) are zeroed.
    let full = p.full_k();
    let runs = p.live_runs();
    for (o, row) in dw.chunks_mut(full).take(p.co).enumerate() {
        let (mut j, mut pos) = (0, 0);
        for &(start, len) in &runs {
            row[pos..start].fill(0.0);
            for (i, d) in row[start..][..len].iter_mut().enumerate() {
                *d = sum_t[(j + i) * p.co + o];
            }
            j += len;
            pos = start + len;
        }
        row[pos..].fill(0.0);
    }
}
