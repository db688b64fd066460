//! Batch-norm passes on a rows×channels (channels-last) view. Per-channel sums split the rows into a fixed number
//! of chunks, accumulate 128 rows at a time in f32 and everything else in f64, and combine chunks in order.

use rayon::prelude::*;

use super::parallel::{fixed_ranges, for_chunks_mut, rows_chunk};

const BLOCK: usize = 128;

/// Per-channel sums of `term(row_index, channel_values_out)` over all rows, reproducibly.
fn channel_sums<const K: usize>(
    rows: usize,
    c: usize,
    term: impl Fn(usize, &mut [[f32; K]]) + Sync + Send,
) -> Vec<[f64; K]> {
    let parts: Vec<Vec<[f64; K]>> = fixed_ranges(rows, 256, 16)
        .into_par_iter()
        .map(|range| {
            let mut acc64 = vec![[0.0f64; K]; c];
            let mut acc = vec![[0.0f32; K]; c];
            let mut n = 0;
            for r in range {
                term(r, &mut acc);
                n += 1;
                if n == BLOCK {
                    flush(&mut acc64, &mut acc);
                    n = 0;
                }
            }
            flush(&mut acc64, &mut acc);
            acc64
        })
        .collect();
    let mut total = vec![[0.0f64; K]; c];
    for p in &parts {
        for (t, v) in total.iter_mut().zip(p) {
            for k in 0..K {
                t[k] += v[k];
            }
        }
    }
    total
}

fn flush<const K: usize>(acc64: &mut [[f64; K]], acc: &mut [[f32; K]]) {
    for (d, a) in acc64.iter_mut().zip(acc.iter_mut()) {
        for k in 0..K {
            d[k] += a[k] as f64;
            a[k] = 0.0;
        }
    }
}

pub fn centered_sumsq(x: &[f32], mean: &[f32], c: usize, out: &mut [f32]) {
    let rows = x.len().checked_div(c).unwrap_or(0);
    let sums = channel_sums::<1>(rows, c, |r, acc| {
        let xr = &x[r * c..(r + 1) * c];
        for ((a, &v), &m) in acc.iter_mut().zip(xr).zip(mean) {
            let d = v - m;
            a[0] += d * d;
        }
    });
    out.iter_mut()
        .zip(&sums)
        .for_each(|(o, s)| *o = s[0] as f32);
}

pub fn affine(x: &[f32], scale: &[f32], shift: &[f32], c: usize, relu: bool, y: &mut [f32]) {
    for_chunks_mut(y, rows_chunk(c, 1 << 14), |off, ys| {
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
    });
}

#[inline(always)]
fn masked(g: f32, y: Option<f32>) -> f32 {
    match y {
        Some(y) if y <= 0.0 => 0.0,
        _ => g,
    }
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
    let sums = channel_sums::<2>(rows, c, |r, acc| {
        let (gr, xr) = (&dy[r * c..(r + 1) * c], &x[r * c..(r + 1) * c]);
        match relu_y {
            Some(y) => {
                let yr = &y[r * c..(r + 1) * c];
                for i in 0..c {
                    let g = masked(gr[i], Some(yr[i]));
                    acc[i][0] += g;
                    acc[i][1] += g * (xr[i] - mean[i]);
                }
            }
            None => {
                for i in 0..c {
                    acc[i][0] += gr[i];
                    acc[i][1] += gr[i] * (xr[i] - mean[i]);
                }
            }
        }
    });
    for i in 0..c {
        sum_g[i] = sums[i][0] as f32;
        sum_gx[i] = sums[i][1] as f32;
    }
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
    for_chunks_mut(dx, rows_chunk(c, 1 << 14), |off, out| {
        for (k, o) in out.chunks_mut(c).enumerate() {
            let base = off + k * c;
            let (gr, xr) = (&dy[base..base + c], &x[base..base + c]);
            match relu_y {
                Some(y) => {
                    let yr = &y[base..base + c];
                    for i in 0..c {
                        let g = masked(gr[i], Some(yr[i]));
                        o[i] = a[i] * g + b[i] * (xr[i] - mean[i]) + d[i];
                    }
                }
                None => {
                    for i in 0..c {
                        o[i] = a[i] * gr[i] + b[i] * (xr[i] - mean[i]) + d[i];
                    }
                }
            }
        }
    });
}
