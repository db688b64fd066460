//! Batch-norm passes on a rows×channels (channels-last) view. Per-channel sums split the rows into a fixed number
//! of chunks, accumulate 128 rows at a time in f32 and everything else in f64, and combine chunks in order.

use rayon::prelude::*;

use super::parallel::{fixed_ranges, for_chunks_mut, rows_chunk};

const BLOCK: usize = 128;

/// Two per-channel sums over all rows, reproducibly: `term(row, acc_a, acc_b)` adds one row's terms into two
/// f32 accumulators (kept as separate vectors so the loops vectorise), flushed to f64 every `BLOCK` rows.
fn channel_sums(
    rows: usize,
    c: usize,
    term: impl Fn(usize, &mut [f32], &mut [f32]) + Sync + Send,
) -> (Vec<f64>, Vec<f64>) {
    let parts: Vec<(Vec<f64>, Vec<f64>)> = fixed_ranges(rows, 256, 16)
        .into_par_iter()
        .map(|range| {
            let (mut a64, mut b64) = (vec![0.0f64; c], vec![0.0f64; c]);
            let (mut a, mut b) = (vec![0.0f32; c], vec![0.0f32; c]);
            // The rows' loop compiled for the CPU's widest vectors (`simd::wide`: the same bits, faster).
            super::simd::wide(
                #[inline(always)]
                || {
                    let mut n = 0;
                    for r in range {
                        term(r, &mut a, &mut b);
                        n += 1;
                        if n == BLOCK {
                            flush(&mut a64, &mut a);
                            flush(&mut b64, &mut b);
                            n = 0;
                        }
                    }
                    flush(&mut a64, &mut a);
                    flush(&mut b64, &mut b);
                },
            );
            (a64, b64)
        })
        .collect();
    let (mut ta, mut tb) = (vec![0.0f64; c], vec![0.0f64; c]);
    for (pa, pb) in &parts {
        ta.iter_mut().zip(pa).for_each(|(t, v)| *t += v);
        tb.iter_mut().zip(pb).for_each(|(t, v)| *t += v);
    }
    (ta, tb)
}

fn flush(acc64: &mut [f64], acc: &mut [f32]) {
    for (d, a) in acc64.iter_mut().zip(acc.iter_mut()) {
        *d += *a as f64;
        *a = 0.0;
    }
}

pub fn centered_sumsq(x: &[f32], mean: &[f32], c: usize, out: &mut [f32]) {
    let rows = x.len().checked_div(c).unwrap_or(0);
    let (sums, _) = channel_sums(
        rows,
        c,
        #[inline(always)]
        |r, acc, _| {
            let xr = &x[r * c..(r + 1) * c];
            for ((a, &v), &m) in acc.iter_mut().zip(xr).zip(mean) {
                let d = v - m;
                *a += d * d;
            }
        },
    );
    out.iter_mut().zip(&sums).for_each(|(o, s)| *o = *s as f32);
}

pub fn affine(x: &[f32], scale: &[f32], shift: &[f32], c: usize, relu: bool, y: &mut [f32]) {
    for_chunks_mut(
        y,
        rows_chunk(c, 1 << 14),
        #[inline(always)]
        |off, ys| {
            let xs = &x[off..off + ys.len()];
            for (yr, xr) in ys.chunks_mut(c).zip(xs.chunks(c)) {
                if relu {
                    yr.iter_mut()
                        .zip(xr)
                        .zip(scale.iter().zip(shift))
                        .for_each(|((y, &x), (&a, &b))| *y = (x * a + b).max(0.0));
                } else {
                    yr.iter_mut()
                        .zip(xr)
                        .zip(scale.iter().zip(shift))
                        .for_each(|((y, &x), (&a, &b))| *y = x * a + b);
                }
            }
        },
    );
}

pub fn backward_reduce(
    dy: &[f32],
    x: &[f32],
    mean: &[f32],
    relu_y: Option<&[f32]>,
    c: usize,
    sum_g: &mut [f32],
    sum_gx: &mut [f32],
) {
    let rows = x.len().checked_div(c).unwrap_or(0);
    let (sg, sgx) = channel_sums(
        rows,
        c,
        #[inline(always)]
        |r, acc_g, acc_gx| {
            let (gr, xr) = (&dy[r * c..(r + 1) * c], &x[r * c..(r + 1) * c]);
            let lanes = acc_g
                .iter_mut()
                .zip(acc_gx.iter_mut())
                .zip(gr.iter().zip(xr))
                .zip(mean);
            match relu_y {
                Some(y) => {
                    let yr = &y[r * c..(r + 1) * c];
                    for ((((ag, agx), (&g, &xv)), &m), &yv) in lanes.zip(yr) {
                        let g = if yv > 0.0 { g } else { 0.0 };
                        *ag += g;
                        *agx += g * (xv - m);
                    }
                }
                None => {
                    for (((ag, agx), (&g, &xv)), &m) in lanes {
                        *ag += g;
                        *agx += g * (xv - m);
                    }
                }
            }
        },
    );
    sum_g.iter_mut().zip(&sg).for_each(|(o, s)| *o = *s as f32);
    sum_gx
        .iter_mut()
        .zip(&sgx)
        .for_each(|(o, s)| *o = *s as f32);
}

#[allow(clippy::too_many_arguments)]
pub fn backward_data(
    dy: &[f32],
    x: &[f32],
    mean: &[f32],
    relu_y: Option<&[f32]>,
    a: &[f32],
    b: &[f32],
    d: &[f32],
    c: usize,
    dx: &mut [f32],
) {
    // Folded per channel: dx = a·g + b·(x − mean) + d = a·g + b·x + (d − b·mean).
    let d2: Vec<f32> = d
        .iter()
        .zip(b)
        .zip(mean)
        .map(|((&d, &b), &m)| d - b * m)
        .collect();
    for_chunks_mut(
        dx,
        rows_chunk(c, 1 << 14),
        #[inline(always)]
        |off, out| {
            for (k, o) in out.chunks_mut(c).enumerate() {
                let base = off + k * c;
                let (gr, xr) = (&dy[base..base + c], &x[base..base + c]);
                let lanes = o
                    .iter_mut()
                    .zip(gr.iter().zip(xr))
                    .zip(a.iter().zip(b).zip(&d2));
                match relu_y {
                    Some(y) => {
                        for (((o, (&g, &xv)), ((&a, &b), &d)), &yv) in lanes.zip(&y[base..base + c])
                        {
                            let g = if yv > 0.0 { g } else { 0.0 };
                            *o = a * g + b * xv + d;
                        }
                    }
                    None => {
                        for ((o, (&g, &xv)), ((&a, &b), &d)) in lanes {
                            *o = a * g + b * xv + d;
                        }
                    }
                }
            }
        },
    );
}
