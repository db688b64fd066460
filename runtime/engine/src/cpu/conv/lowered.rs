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
//!
//! With AVX-512 and channel counts in multiples of 16, the products are not handed to `gemm` but summed by
//! `wide.rs` straight from the input (no im2col matrix is written) and without the products that read padding
//! (at 2×2 positions most of a 3×3 kernel's taps do, for some position). Each result is summed in `gemm`'s
//! order, in `gemm`'s blocks: the bits are those of the `gemm` path (tested), so no result moves.

use std::ops::Range;

use rayon::prelude::*;

use crate::backend::Conv3dGeometry;
use crate::cpu::buffer_pool::BufferPool;
use crate::cpu::conv::wide::{self, Step};
use crate::cpu::gemm::{Accumulate, MatRef, depth_block, gemm, gemm_strided, uses_microkernels};
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

/// Output positions of a clip whose lowered rows have the same live runs (see [`Plan::patterns`]).
struct Pattern {
    /// (column, input offset relative to the anchor, length) of each live run, in column order.
    runs: Vec<(usize, usize, usize)>,
    /// (position within the clip, input offset of its first live run within the clip).
    positions: Vec<(usize, usize)>,
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

    /// Values of one input clip.
    fn clip_values(&self) -> usize {
        self.input.iter().product::<usize>() * self.c
    }

    /// The output positions of a clip grouped by the runs of the lowered matrix their rows read: positions
    /// whose live runs have the same columns and lengths, at the same input offsets relative to the first run
    /// (their anchor), form one [`Pattern`], so the wide kernel can compute their rows together.
    fn patterns(&self) -> Vec<Pattern> {
        let mut per_row: Vec<Vec<(usize, usize, usize)>> = vec![Vec::new(); self.rows_per_clip];
        self.for_runs(0..1, |r, j, src, len| {
            if let Some(src) = src {
                per_row[r].push((j, src, len));
            }
        });
        let mut patterns: Vec<Pattern> = Vec::new();
        for (pos, runs) in per_row.into_iter().enumerate() {
            let anchor = runs.first().map_or(0, |r| r.1);
            let runs: Vec<_> = runs
                .iter()
                .map(|&(j, src, len)| (j, src - anchor, len))
                .collect();
            match patterns.iter_mut().find(|p| p.runs == runs) {
                Some(p) => p.positions.push((pos, anchor)),
                None => patterns.push(Pattern {
                    runs,
                    positions: vec![(pos, anchor)],
                }),
            }
        }
        patterns
    }

    /// For each live tap, in column order (tap i owns columns i·Cin..(i + 1)·Cin), the output positions of a
    /// clip whose receptive field it reads inside the input, with the input offset (within the clip) it reads.
    fn tap_positions(&self) -> Vec<Vec<(usize, usize)>> {
        let [to, ho, wo] = self.output;
        let [_, h, w] = self.input;
        let [lt, lh, lw] = [self.live[0].len(), self.live[1].len(), self.live[2].len()];
        let mut taps = vec![Vec::new(); lt * lh * lw];
        for (tap, list) in taps.iter_mut().enumerate() {
            let (kt, kh, kw) = (tap / (lh * lw), tap / lw % lh, tap % lw);
            for ot in 0..to {
                for oh in 0..ho {
                    for ow in 0..wo {
                        let pos = (ot * ho + oh) * wo + ow;
                        if let (Some(ti), Some(hi), Some(wi)) = (
                            self.input_at(0, ot, kt),
                            self.input_at(1, oh, kh),
                            self.input_at(2, ow, kw),
                        ) {
                            list.push((pos, ((ti * h + hi) * w + wi) * self.c));
                        }
                    }
                }
            }
        }
        taps
    }

    /// Rows of the smallest of these blocks of clips (the `gemm` path's smallest product).
    fn smallest_rows(&self, blocks: &[Range<usize>]) -> usize {
        blocks.iter().map(|b| b.len()).min().unwrap_or(0) * self.rows_per_clip
    }

    /// Whether the wide kernel computes this convolution (with `gemm`'s bits): AVX-512, output channels in
    /// multiples of 16, and every product of the `gemm` path through `gemm`'s microkernels.
    fn wide_fits(&self) -> bool {
        let rows = self.smallest_rows(&self.blocks);
        let filter_rows = self.smallest_rows(&self.filter_blocks);
        crate::cpu::simd::avx512()
            && self.co.is_multiple_of(wide::LANES)
            && uses_microkernels(rows, self.co, self.k)
            && uses_microkernels(self.co, self.k, filter_rows)
    }

    /// Whether the wide kernel also computes the weight gradient: its vectors run along input channels.
    fn wide_fits_filter(&self) -> bool {
        self.wide_fits() && self.c.is_multiple_of(wide::LANES)
    }

    /// Whether the wide kernel also computes the input gradient: its rows run along the columns of a tap, so
    /// the input channels must come in multiples of 16 too.
    fn wide_fits_data(&self) -> bool {
        let rows = self.smallest_rows(&self.blocks);
        self.wide_fits()
            && self.c.is_multiple_of(wide::LANES)
            && uses_microkernels(rows, self.k, self.co)
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

/// Which kernel sums the products: `Wide` where it fits (the default), or always `gemm` (tests compare the two).
#[derive(Clone, Copy, PartialEq)]
pub enum Kernel {
    Wide,
    #[cfg_attr(not(test), allow(dead_code))]
    Gemm,
}

pub fn forward(x: &[f32], w: &[f32], g: &Conv3dGeometry, y: &mut [f32], pool: &BufferPool) {
    forward_with(x, w, g, y, pool, Kernel::Wide)
}

pub fn backward_data(dy: &[f32], w: &[f32], g: &Conv3dGeometry, dx: &mut [f32], pool: &BufferPool) {
    backward_data_with(dy, w, g, dx, pool, Kernel::Wide)
}

pub fn backward_filter(
    x: &[f32],
    dy: &[f32],
    g: &Conv3dGeometry,
    dw: &mut [f32],
    pool: &BufferPool,
) {
    backward_filter_with(x, dy, g, dw, pool, Kernel::Wide)
}

pub fn forward_with(
    x: &[f32],
    w: &[f32],
    g: &Conv3dGeometry,
    y: &mut [f32],
    pool: &BufferPool,
    kernel: Kernel,
) {
    let p = Plan::new(g);
    let live = p.live_weight(w);
    let wl: &[f32] = live.as_deref().unwrap_or(w);
    // The weight transposed (k × Cout): `gemm` then reads it in place as the left operand of yᵀ = W·colᵀ. Every
    // cell is written below, so a pooled buffer needs no zeroing.
    let mut wt = pool.scratch(p.k * p.co);
    super::transpose_into(wl, p.co, p.k, &mut wt);
    if kernel == Kernel::Wide && p.wide_fits() {
        return forward_wide(&p, x, &wt, y);
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

/// [`forward`] through the wide kernel: each block's rows, pattern by pattern, read from the input in place.
fn forward_wide(p: &Plan, x: &[f32], wt: &[f32], y: &mut [f32]) {
    let patterns = p.patterns();
    let clip_in = p.clip_values();
    let vectors = wide::vectors_for(p.co);
    let per_clip = p.rows_per_clip * p.co;
    p.split_blocks(y, per_clip)
        .into_par_iter()
        .for_each(|(clips, yb)| {
            let block = depth_block(clips.len() * p.rows_per_clip, p.co, p.k);
            for pattern in &patterns {
                let steps: Vec<(usize, Step)> = pattern
                    .runs
                    .iter()
                    .map(|&(col, rel, len)| (col, Step::run(rel, col * p.co, p.co, len)))
                    .collect();
                let blocks = wide::split_blocks(&steps, p.k, block);
                for ch in (0..p.co).step_by(vectors * wide::LANES) {
                    let rows: Vec<(usize, usize)> = clips
                        .clone()
                        .flat_map(|n| {
                            pattern.positions.iter().map(move |&(pos, anchor)| {
                                let row = (n - clips.start) * p.rows_per_clip + pos;
                                (n * clip_in + anchor, row * p.co + ch)
                            })
                        })
                        .collect();
                    wide::chain_blocks(yb, x, &wt[ch..], &rows, &blocks, vectors);
                }
            }
        });
}

pub fn backward_data_with(
    dy: &[f32],
    w: &[f32],
    g: &Conv3dGeometry,
    dx: &mut [f32],
    pool: &BufferPool,
    kernel: Kernel,
) {
    let p = Plan::new(g);
    let live = p.live_weight(w);
    let wl_values = live.as_deref().unwrap_or(w);
    let wl = MatRef::row_major(wl_values, 0, p.co, p.k);
    let wide = kernel == Kernel::Wide && p.wide_fits_data();
    let patterns = if wide { p.patterns() } else { Vec::new() };
    // Each position's live runs and anchor, for the wide path's col2im.
    let mut position_runs = vec![(0, &[][..]); if wide { p.rows_per_clip } else { 0 }];
    for pattern in &patterns {
        for &(pos, anchor) in &pattern.positions {
            position_runs[pos] = (anchor, &pattern.runs[..]);
        }
    }
    let per_clip_in = p.clip_values();
    p.split_blocks(dx, per_clip_in)
        .into_par_iter()
        .for_each(|(clips, dxb)| {
            let rows = clips.len() * p.rows_per_clip;
            // Every cell that col2im reads is written by the product: a pooled buffer, not zeroed.
            let mut dcol = pool.scratch(rows * p.k);
            if wide {
                dcol_wide(&p, &patterns, dy, wl_values, clips.clone(), &mut dcol);
            } else {
                let a = MatRef::row_major(dy, clips.start * p.rows_per_clip * p.co, rows, p.co);
                gemm(&mut dcol, p.k, a, wl, Accumulate::Overwrite, 1);
            }
            // col2im: add every run back onto the block's own clips, row by row and run by run (the order of
            // the additions into each input value is the same on both paths).
            dxb.fill(0.0);
            let k = p.k;
            if wide {
                crate::cpu::simd::wide(
                    #[inline(always)]
                    || {
                        for (n, dxc) in dxb.chunks_mut(per_clip_in).enumerate() {
                            for (pos, &(anchor, runs)) in position_runs.iter().enumerate() {
                                let r = n * p.rows_per_clip + pos;
                                for &(j, rel, len) in runs {
                                    let src = &dcol[r * k + j..][..len];
                                    let dst = &mut dxc[anchor + rel..][..len];
                                    dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
                                }
                            }
                        }
                    },
                );
                return;
            }
            let base = clips.start * per_clip_in;
            p.for_runs(clips, |r, j, dst, len| {
                if let Some(dst) = dst {
                    let src = &dcol[r * k + j..][..len];
                    let dst = &mut dxb[dst - base..][..len];
                    dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
                }
            });
        });
}

/// The cells of a block's lowered input gradient (dy · W) that col2im reads — those of the live runs — through
/// the wide kernel: per pattern, 16·V columns of a run at a time, summed over the output channels.
fn dcol_wide(
    p: &Plan,
    patterns: &[Pattern],
    dy: &[f32],
    wl: &[f32],
    clips: Range<usize>,
    dcol: &mut [f32],
) {
    let rows_in_block = clips.len() * p.rows_per_clip;
    let block = depth_block(rows_in_block, p.k, p.co);
    let steps = [(0, Step::run(0, 0, p.k, p.co))];
    let blocks = wide::split_blocks(&steps, p.co, block);
    for pattern in patterns {
        for &(col, _, len) in &pattern.runs {
            let vectors = wide::vectors_for(len);
            for k0 in (col..col + len).step_by(vectors * wide::LANES) {
                let rows: Vec<(usize, usize)> = clips
                    .clone()
                    .flat_map(|n| {
                        pattern.positions.iter().map(move |&(pos, _)| {
                            let row = (n - clips.start) * p.rows_per_clip + pos;
                            ((clips.start * p.rows_per_clip + row) * p.co, row * p.k + k0)
                        })
                    })
                    .collect();
                wide::chain_blocks(dcol, dy, &wl[k0..], &rows, &blocks, vectors);
            }
        }
    }
}

/// One block's weight-gradient partial (Cout × K, the weight's own layout) through the wide kernel: per tile of
/// output channels and per live tap, 16·V input channels at a time, summed over the block's positions that read
/// the tap inside the input, in position order.
fn filter_partial_wide(
    p: &Plan,
    taps: &[Vec<(usize, usize)>],
    x: &[f32],
    dy: &[f32],
    clips: &Range<usize>,
    partial: &mut [f32],
) {
    let rows_in_block = clips.len() * p.rows_per_clip;
    let block = depth_block(p.co, p.k, rows_in_block);
    let clip_in = p.clip_values();
    let vectors = wide::vectors_for(p.c);
    let tile = wide::rows_for(vectors);
    // Per tap, one product per position (the position's output gradient row, the tap's input pixel), joined into
    // runs where positions follow each other evenly, and cut into `gemm`'s depth blocks.
    let tap_blocks: Vec<Vec<Vec<Step>>> = taps
        .iter()
        .map(|positions| {
            let steps = wide::merge_runs(clips.clone().flat_map(|n| {
                positions.iter().map(move |&(pos, offset)| {
                    let row = (n - clips.start) * p.rows_per_clip + pos;
                    let g = (clips.start * p.rows_per_clip + row) * p.co;
                    (row, Step::run(g, n * clip_in + offset, 0, 1))
                })
            }));
            wide::split_blocks(&steps, rows_in_block, block)
        })
        .collect();
    partial
        .par_chunks_mut(tile * p.k)
        .enumerate()
        .for_each(|(t, part)| {
            let first = t * tile;
            let outputs = part.len() / p.k;
            for (tap, blocks) in tap_blocks.iter().enumerate() {
                for cin in (0..p.c).step_by(vectors * wide::LANES) {
                    let col = tap * p.c + cin;
                    let rows: Vec<(usize, usize)> =
                        (0..outputs).map(|j| (first + j, j * p.k + col)).collect();
                    wide::chain_blocks(part, dy, &x[cin..], &rows, blocks, vectors);
                }
            }
        });
}

pub fn backward_filter_with(
    x: &[f32],
    dy: &[f32],
    g: &Conv3dGeometry,
    dw: &mut [f32],
    pool: &BufferPool,
    kernel: Kernel,
) {
    let p = Plan::new(g);
    let wide = kernel == Kernel::Wide && p.wide_fits_filter();
    let taps = if wide { p.tap_positions() } else { Vec::new() };
    // Per-block partials, added in block order: Cout × K from the wide kernel, K × Cout (transposed) from `gemm`.
    // Pooled buffers: the product overwrites every cell.
    let partials: Vec<_> = p
        .filter_blocks
        .par_iter()
        .map(|clips| {
            let rows = clips.len() * p.rows_per_clip;
            let mut acc = pool.scratch(p.k * p.co);
            if wide {
                filter_partial_wide(&p, &taps, x, dy, clips, &mut acc);
                return acc;
            }
            let mut col = pool.scratch(rows * p.k);
            p.lower(x, clips.clone(), &mut col);
            let a = MatRef::row_major(dy, clips.start * p.rows_per_clip * p.co, rows, p.co).t();
            let b = MatRef::row_major(&col, 0, rows, p.k);
            gemm_strided(&mut acc, 1, p.co, a, b, Accumulate::Overwrite, 1);
            acc
        })
        .collect();
    // The sum in block order. In the weight's layout with every tap live it is dW itself; otherwise it goes
    // through a buffer (and a transpose after `gemm`).
    if wide && p.all_live() {
        super::sum_in_order(&partials, &mut dw[..p.co * p.k]);
        return;
    }
    let mut sum = pool.scratch(p.k * p.co);
    super::sum_in_order(&partials, &mut sum);
    let live_dw = if wide {
        sum
    } else {
        let mut t = pool.scratch(p.co * p.k);
        super::transpose_into(&sum, p.k, p.co, &mut t);
        t
    };
    if p.all_live() {
        dw[..p.co * p.k].copy_from_slice(&live_dw);
        return;
    }
    // With dead taps, the live columns go back into place and the dead ones are zero.
    let full = p.full_k();
    let runs = p.live_runs();
    for (row, live) in dw.chunks_mut(full).take(p.co).zip(live_dw.chunks(p.k)) {
        let (mut j, mut pos) = (0, 0);
        for &(start, len) in &runs {
            row[pos..start].fill(0.0);
            row[start..][..len].copy_from_slice(&live[j..][..len]);
            j += len;
            pos = start + len;
        }
        row[pos..].fill(0.0);
    }
}
