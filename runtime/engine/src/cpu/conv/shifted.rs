//! Stride-1 convolution as shifted-window implicit GEMM, with no im2col copy.
//!
//! In channels-last layout, with the input zero-padded spatially to Hp×Wp, output position (h, w) of tap
//! (kt, kh, kw) reads padded pixel (h + kh, w + kw). Computing the output on the padded grid (h < Ho, w < Wp; the
//! columns w ≥ Wo are junk that is dropped afterwards) makes that a constant shift of `kh·Wp + kw` pixels for every
//! position, so the kW taps and the channels fuse into one K = kW·C dimension: the A operand is an overlapping
//! view of the padded input with row stride C. Each (kt, kh) tap is then one GEMM over a run of output frames
//! (whole clips when kH = 1, since grid and input frames then have the same stride). Temporal padding needs no copy:
//! a tap simply skips the output frames whose input frame lies outside the clip.
//!
//! The input gradient is the same computation on dy with the flipped, transposed weight and padding k − 1 − p;
//! the weight gradient uses the same views with dy (junk columns zeroed) as the other operand.

use rayon::prelude::*;

use super::narrow;
use crate::backend::Conv3dGeometry;
use crate::cpu::buffer_pool::BufferPool;
use crate::cpu::gemm::{Accumulate, MatRef, gemm, gemm_strided};
use crate::cpu::parallel::fixed_ranges;

/// Whether this path handles the geometry.
pub fn applies(g: &Conv3dGeometry) -> bool {
    g.stride == [1, 1, 1] && g.groups == 1 && (0..3).all(|a| g.padding[a] < g.kernel[a])
}

struct Plan {
    n: usize,
    t: usize,
    c: usize,
    co: usize,
    kt: usize,
    kh: usize,
    kw: usize,
    pt: usize,
    ph: usize,
    pw: usize,
    h: usize,
    w: usize,
    to: usize,
    ho: usize,
    wo: usize,
    wp: usize,
    /// Pixels per (padded) input frame.
    fp: usize,
    /// Grid rows per output frame (Ho·Wp).
    gm: usize,
    /// Columns of the whole weight matrix (kT·kH·kW·C).
    kg: usize,
    /// Whether the input is read through a padded copy.
    padded: bool,
    /// Whether whole clips form one GEMM (kH = 1: grid and input frames have equal strides).
    merge_frames: bool,
    /// Whether the grid is the output layout (no junk columns).
    direct: bool,
}

impl Plan {
    fn new(g: &Conv3dGeometry) -> Plan {
        let [to, ho, wo] = g.output();
        let [kt, kh, kw] = g.kernel;
        let [pt, ph, pw] = g.padding;
        let [t, h, w] = g.input;
        let padded = !(kh == 1 && kw == 1 && ph == 0 && pw == 0);
        let (hp, wp) = (h + 2 * ph, w + 2 * pw);
        Plan {
            n: g.batch,
            t,
            c: g.in_channels,
            co: g.out_channels,
            kt,
            kh,
            kw,
            pt,
            ph,
            pw,
            h,
            w,
            to,
            ho,
            wo,
            wp,
            fp: hp * wp,
            gm: ho * wp,
            kg: kt * kh * kw * g.in_channels,
            padded,
            merge_frames: kh == 1,
            direct: wp == wo,
        }
    }

    /// Output frames [a, b) of `range` whose input frame at temporal tap `kt` lies inside the clip.
    fn valid(&self, kt: usize, range: (usize, usize)) -> Option<(usize, usize)> {
        let lo = range.0.max(self.pt.saturating_sub(kt));
        let hi = range.1.min((self.t + self.pt).saturating_sub(kt));
        (lo < hi).then_some((lo, hi))
    }

    /// Work units: (clip, first output frame, last output frame + 1).
    fn units(&self) -> Vec<(usize, usize, usize)> {
        if self.merge_frames {
            (0..self.n).map(|n| (n, 0, self.to)).collect()
        } else {
            (0..self.n)
                .flat_map(|n| (0..self.to).map(move |f| (n, f, f + 1)))
                .collect()
        }
    }

    /// The overlapping A view of tap (kt, kh) for output frames starting at `a` of clip `n`: rows are grid
    /// positions, columns the kW·C values read by each.
    fn input_view<'a>(
        &self,
        xp: &'a [f32],
        n: usize,
        a: usize,
        kt: usize,
        kh: usize,
        rows: usize,
    ) -> MatRef<'a> {
        let frame = n * self.t + a + kt - self.pt;
        MatRef {
            data: xp,
            offset: (frame * self.fp + kh * self.wp) * self.c,
            rows,
            cols: self.kw * self.c,
            rs: self.c,
            cs: 1,
        }
    }
}

/// The input, zero-padded spatially, with kH·Wp + kW pixels of slack at the end for the junk positions' reads.
fn pad_input<'p>(
    x: &[f32],
    p: &Plan,
    pool: &'p BufferPool,
) -> Option<crate::cpu::buffer_pool::ScratchBuf<'p>> {
    if !p.padded {
        return None;
    }
    let frames = p.n * p.t;
    let frame_len = p.fp * p.c;
    let mut xp = pool.scratch(frames * frame_len + (p.kh * p.wp + p.kw) * p.c);
    let (body, slack) = xp.split_at_mut(frames * frame_len);
    slack.fill(0.0);
    let in_frame = p.h * p.w * p.c;
    body.par_chunks_mut(frame_len)
        .enumerate()
        .for_each(|(f, dst)| {
            let src = &x[f * in_frame..(f + 1) * in_frame];
            let row_len = p.wp * p.c;
            dst[..p.ph * row_len].fill(0.0);
            dst[(p.ph + p.h) * row_len..].fill(0.0);
            for r in 0..p.h {
                let d = &mut dst[(p.ph + r) * row_len..(p.ph + r + 1) * row_len];
                d[..p.pw * p.c].fill(0.0);
                d[(p.pw + p.w) * p.c..].fill(0.0);
                d[p.pw * p.c..(p.pw + p.w) * p.c]
                    .copy_from_slice(&src[r * p.w * p.c..(r + 1) * p.w * p.c]);
            }
        });
    Some(xp)
}

/// Whether work units are many enough to spread across threads one per task (else GEMMs use all threads).
fn threads_per_gemm(units: usize) -> usize {
    let threads = rayon::current_num_threads();
    if units >= 2 * threads { 1 } else { threads }
}

pub fn forward(x: &[f32], w: &[f32], g: &Conv3dGeometry, y: &mut [f32], pool: &BufferPool) {
    let p = Plan::new(g);
    let weights = |kt: usize, kh: usize| MatRef {
        data: w,
        offset: (kt * p.kh + kh) * p.kw * p.c,
        rows: p.kw * p.c,
        cols: p.co,
        rs: 1,
        cs: p.kg,
    };
    forward_with(x, &weights, &p, y, pool);
}

/// The forward computation with the B operand of tap (kt, kh) — a kW·C × Cout matrix — from `weights`.
fn forward_with<'w>(
    x: &[f32],
    weights: &(dyn Fn(usize, usize) -> MatRef<'w> + Sync),
    p: &Plan,
    y: &mut [f32],
    pool: &BufferPool,
) {
    let xp_buf = pad_input(x, p, pool);
    let xp: &[f32] = xp_buf.as_deref().unwrap_or(x);
    let units = p.units();
    let frames_per_unit = if p.merge_frames { p.to } else { 1 };
    let unit_out = frames_per_unit * p.ho * p.wo * p.co;
    if unit_out == 0 {
        return;
    }
    let inner_threads = threads_per_gemm(units.len());
    // 16 output channels on one thread per product: the register-blocked kernel (`narrow.rs`, the same bits as
    // `gemm`), with each tap's weight packed once as K × 16.
    let narrow_taps: Option<Vec<Vec<f32>>> =
        (p.co == narrow::WIDTH && inner_threads == 1 && narrow::available()).then(|| {
            (0..p.kt * p.kh)
                .map(|tap| {
                    let w = weights(tap / p.kh, tap % p.kh);
                    let mut packed = Vec::with_capacity(w.rows * w.cols);
                    for k in 0..w.rows {
                        for c in 0..w.cols {
                            packed.push(w.data[w.offset + k * w.rs + c * w.cs]);
                        }
                    }
                    packed
                })
                .collect()
        });
    // The tap visited first overwrites every row when its valid range covers the unit; otherwise zero first.
    let run_taps = |(n, t0, t1): (usize, usize, usize), dst: &mut [f32]| {
        let full_tap = (0..p.kt).find(|&kt| p.valid(kt, (t0, t1)) == Some((t0, t1)));
        if full_tap.is_none() {
            dst.fill(0.0);
        }
        let order = full_tap
            .into_iter()
            .chain((0..p.kt).filter(|&kt| Some(kt) != full_tap));
        let mut first = full_tap.is_some();
        // Every tap over the whole unit (kT = 1, or no temporal padding in reach) and the narrow kernel: the
        // kH taps of each kt summed together (`narrow::product_taps`, the same bits as one product per tap).
        if let Some(taps) = narrow_taps.as_ref().filter(|_| {
            (0..p.kt).all(|kt| p.valid(kt, (t0, t1)) == Some((t0, t1)))
                && narrow::fits_product((t1 - t0) * p.gm, p.kw * p.c)
        }) {
            let m = (t1 - t0) * p.gm;
            for kt in order {
                let offsets: Vec<usize> = (0..p.kh)
                    .map(|kh| p.input_view(xp, n, t0, kt, kh, m).offset)
                    .collect();
                let weights: Vec<&[f32]> = (0..p.kh).map(|kh| &taps[kt * p.kh + kh][..]).collect();
                let acc = if first {
                    Accumulate::Overwrite
                } else {
                    Accumulate::Add
                };
                first = false;
                narrow::product_taps(dst, xp, &offsets, p.c, m, p.kw * p.c, &weights, acc);
            }
            return;
        }
        for kt in order {
            let Some((a, b)) = p.valid(kt, (t0, t1)) else {
                continue;
            };
            for kh in 0..p.kh {
                let m = (b - a) * p.gm;
                let lhs = p.input_view(xp, n, a, kt, kh, m);
                let acc = if first {
                    Accumulate::Overwrite
                } else {
                    Accumulate::Add
                };
                first = false;
                let out = &mut dst[(a - t0) * p.gm * p.co..];
                if let Some(taps) = narrow_taps
                    .as_ref()
                    .filter(|_| narrow::fits_product(m, lhs.cols))
                {
                    let packed = &taps[kt * p.kh + kh];
                    narrow::product(out, xp, lhs.offset, lhs.rs, m, lhs.cols, packed, acc);
                } else {
                    gemm(out, p.co, lhs, weights(kt, kh), acc, inner_threads);
                }
            }
        }
    };
    let run_unit = |u: (usize, usize, usize), out: &mut [f32], grid: &mut Vec<f32>| {
        if p.direct {
            run_taps(u, out);
            return;
        }
        let frames = u.2 - u.1;
        grid.resize(frames * p.gm * p.co, 0.0);
        run_taps(u, grid);
        // Drop the junk columns.
        for f in 0..frames {
            for h in 0..p.ho {
                let src = &grid[((f * p.ho + h) * p.wp) * p.co..][..p.wo * p.co];
                out[((f * p.ho + h) * p.wo) * p.co..][..p.wo * p.co].copy_from_slice(src);
            }
        }
    };
    if inner_threads == 1 {
        y.par_chunks_mut(unit_out)
            .zip(units)
            .for_each_init(Vec::new, |grid, (out, u)| run_unit(u, out, grid));
    } else {
        let mut grid = Vec::new();
        for (out, u) in y.chunks_mut(unit_out).zip(units) {
            run_unit(u, out, &mut grid);
        }
    }
}

pub fn backward_data(dy: &[f32], w: &[f32], g: &Conv3dGeometry, dx: &mut [f32], pool: &BufferPool) {
    // dx = conv(dy, flipped wᵀ) with padding k − 1 − p: the same kernel with the channel roles swapped.
    let [kt, kh, kw] = g.kernel;
    let (ci, co) = (g.in_channels, g.out_channels);
    let gt = Conv3dGeometry {
        batch: g.batch,
        input: g.output(),
        in_channels: co,
        out_channels: ci,
        kernel: g.kernel,
        stride: [1, 1, 1],
        padding: [
            kt - 1 - g.padding[0],
            kh - 1 - g.padding[1],
            kw - 1 - g.padding[2],
        ],
        groups: 1,
    };
    let p = Plan::new(&gt);
    let kg = kt * kh * kw * ci;
    if kw == 1 {
        // Tap (t, h) of the transposed convolution is tap (kT−1−t, kH−1−h) of w, read as Cout×Cin: no copy.
        let weights = |t: usize, h: usize| MatRef {
            data: w,
            offset: ((kt - 1 - t) * kh + (kh - 1 - h)) * ci,
            rows: co,
            cols: ci,
            rs: kg,
            cs: 1,
        };
        forward_with(dy, &weights, &p, dx, pool);
    } else {
        let taps = kt * kh * kw;
        let mut wf = pool.scratch(w.len());
        for i in 0..ci {
            for tap in 0..taps {
                let flipped = taps - 1 - tap;
                for o in 0..co {
                    wf[(i * taps + flipped) * co + o] = w[(o * taps + tap) * ci + i];
                }
            }
        }
        let wf: &[f32] = &wf;
        let weights = |t: usize, h: usize| MatRef {
            data: wf,
            offset: (t * kh + h) * kw * co,
            rows: kw * co,
            cols: ci,
            rs: 1,
            cs: taps * co,
        };
        forward_with(dy, &weights, &p, dx, pool);
    }
}

pub fn backward_filter(
    x: &[f32],
    dy: &[f32],
    g: &Conv3dGeometry,
    dw: &mut [f32],
    pool: &BufferPool,
) {
    let p = Plan::new(g);
    let xp_buf = pad_input(x, &p, pool);
    let xp: &[f32] = xp_buf.as_deref().unwrap_or(x);
    // dy laid out like the padded input (Hp×Wp per frame; junk rows and columns zero, so they contribute
    // nothing): every output frame of a clip then maps to its input frame by one constant shift per tap, and each
    // tap is one long-K GEMM per clip.
    let direct = p.direct && p.merge_frames;
    let dyg_buf = if direct {
        None
    } else {
        let mut buf = pool.scratch(p.n * p.to * p.fp * p.co);
        buf.par_chunks_mut(p.fp * p.co)
            .enumerate()
            .for_each(|(f, dst)| {
                let row_len = p.wp * p.co;
                for h in 0..p.ho {
                    let row = &mut dst[h * row_len..(h + 1) * row_len];
                    row[..p.wo * p.co]
                        .copy_from_slice(&dy[((f * p.ho + h) * p.wo) * p.co..][..p.wo * p.co]);
                    row[p.wo * p.co..].fill(0.0);
                }
                dst[p.ho * row_len..].fill(0.0);
            });
        Some(buf)
    };
    let dyg: &[f32] = dyg_buf.as_deref().unwrap_or(dy);
    // Accumulates clips `clips` into rows [r0, r1) of dW, stored as is (row stride Kg) or transposed
    // (Kg × (r1 − r0)): measured here, `gemm` runs these long-K products faster into a column-major destination
    // when the weight is small, and into a row-major one when it is large.
    let narrow_gradient = p.co == narrow::WIDTH && narrow::available();
    let accumulate =
        |acc: &mut [f32], r0: usize, r1: usize, clips: std::ops::Range<usize>, transposed: bool| {
            for n in clips {
                for kt in 0..p.kt {
                    let Some((a, b)) = p.valid(kt, (0, p.to)) else {
                        continue;
                    };
                    let m = (b - a) * p.fp;
                    for kh in 0..p.kh {
                        let lhs = MatRef {
                            data: dyg,
                            offset: (n * p.to + a) * p.fp * p.co + r0,
                            rows: r1 - r0,
                            cols: m,
                            rs: 1,
                            cs: p.co,
                        };
                        let rhs = p.input_view(xp, n, a, kt, kh, m);
                        let col = (kt * p.kh + kh) * p.kw * p.c;
                        if transposed && narrow_gradient && narrow::fits_gradient(m, rhs.cols) {
                            // 16 output channels: the register-blocked kernel, `gemm`'s bits.
                            narrow::gradient(
                                &mut acc[col * narrow::WIDTH..],
                                xp,
                                rhs.offset,
                                rhs.rs,
                                m,
                                rhs.cols,
                                dyg,
                                lhs.offset,
                            );
                        } else if transposed {
                            gemm_strided(
                                &mut acc[col * (r1 - r0)..],
                                1,
                                r1 - r0,
                                lhs,
                                rhs,
                                Accumulate::Add,
                                1,
                            );
                        } else {
                            gemm(&mut acc[col..], p.kg, lhs, rhs, Accumulate::Add, 1);
                        }
                    }
                }
            }
        };
    let threads = rayon::current_num_threads();
    if p.co >= 64 * threads && p.co * p.kg >= 1 << 18 {
        // Large weight: threads own disjoint row blocks of dW and sum over all clips in order.
        let block = p.co.div_ceil(threads);
        dw.par_chunks_mut(block * p.kg)
            .enumerate()
            .for_each(|(i, rows)| {
                let r0 = i * block;
                let r1 = (r0 + block).min(p.co);
                rows.fill(0.0);
                accumulate(rows, r0, r1, 0..p.n, false);
            });
    } else {
        // Small weight: per-chunk partial sums over a fixed split of the clips, added in order.
        let partials: Vec<Vec<f32>> = fixed_ranges(p.n, 1, 8)
            .into_par_iter()
            .map(|clips| {
                let mut acc_t = vec![0.0f32; p.co * p.kg];
                accumulate(&mut acc_t, 0, p.co, clips, true);
                acc_t
            })
            .collect();
        let mut sum_t = vec![0.0f32; p.co * p.kg];
        super::sum_in_order(&partials, &mut sum_t);
        super::transpose_into(&sum_t, p.kg, p.co, dw);
    }
}
