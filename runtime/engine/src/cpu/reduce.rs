//! Reductions over axes, and broadcasting (the gradient of a reduction).

use rayon::prelude::*;

use super::parallel::{PAR_MIN, fixed_ranges};
use super::strided::row_offsets;
use crate::backend::ReduceOp;
use crate::shape::{broadcast_strides, collapse, reduction_runs, strides};

/// Rows accumulated in f32 before being added to an f64 partial (accuracy at long reductions).
const F32_BLOCK: usize = 128;

fn init(op: ReduceOp) -> f32 {
    match op {
        ReduceOp::Sum => 0.0,
        ReduceOp::Max => f32::NEG_INFINITY,
    }
}

#[inline(always)]
fn combine(op: ReduceOp, a: f32, b: f32) -> f32 {
    match op {
        ReduceOp::Sum => a + b,
        ReduceOp::Max => {
            if b > a || b.is_nan() {
                b
            } else {
                a
            }
        }
    }
}

/// Reduces a contiguous row with 8 independent lanes (vectorises, and is more accurate than one running sum).
fn reduce_row(op: ReduceOp, x: &[f32]) -> f64 {
    let mut lanes = [init(op); 8];
    let mut chunks = x.chunks_exact(8);
    let mut acc = match op {
        ReduceOp::Sum => 0.0f64,
        ReduceOp::Max => f64::NEG_INFINITY,
    };
    let mut n = 0;
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l = combine(op, *l, v);
        }
        n += 1;
        if op == ReduceOp::Sum && n == F32_BLOCK {
            acc += lanes.iter().map(|&v| v as f64).sum::<f64>();
            lanes = [0.0; 8];
            n = 0;
        }
    }
    for &v in chunks.remainder() {
        lanes[0] = combine(op, lanes[0], v);
    }
    match op {
        ReduceOp::Sum => acc + lanes.iter().map(|&v| v as f64).sum::<f64>(),
        ReduceOp::Max => lanes.iter().fold(acc, |m, &v| {
            if (v as f64) > m || v.is_nan() {
                v as f64
            } else {
                m
            }
        }),
    }
}

/// Reduces `x` viewed as outer×r×inner over the middle axis into `out` (outer×inner).
pub fn reduce_block(
    op: ReduceOp,
    x: &[f32],
    outer: usize,
    r: usize,
    inner: usize,
    out: &mut [f32],
) {
    if out.is_empty() {
        return;
    }
    if r == 0 {
        out.fill(init(op));
        return;
    }
    if inner == 1 {
        if outer >= 8 || r * outer <= PAR_MIN {
            let f = |o: usize, dst: &mut f32| *dst = reduce_row(op, &x[o * r..(o + 1) * r]) as f32;
            if r * outer > PAR_MIN {
                out.par_iter_mut().enumerate().for_each(|(o, d)| f(o, d));
            } else {
                out.iter_mut().enumerate().for_each(|(o, d)| f(o, d));
            }
        } else {
            for (o, dst) in out.iter_mut().enumerate() {
                let row = &x[o * r..(o + 1) * r];
                let parts: Vec<f64> = fixed_ranges(r, 4096, 16)
                    .into_par_iter()
                    .map(|rg| reduce_row(op, &row[rg]))
                    .collect();
                let v = match op {
                    ReduceOp::Sum => parts.iter().sum::<f64>(),
                    ReduceOp::Max => parts.iter().fold(f64::NEG_INFINITY, |m, &v| {
                        if v > m || v.is_nan() { v } else { m }
                    }),
                };
                *dst = v as f32;
            }
        }
        return;
    }
    // inner > 1: accumulate whole rows of `inner` values.
    let accumulate = |o: usize, rg: std::ops::Range<usize>, acc64: &mut [f64]| {
        let mut acc = vec![init(op); inner];
        let mut n = 0;
        for j in rg {
            let src = &x[(o * r + j) * inner..(o * r + j + 1) * inner];
            match op {
                ReduceOp::Sum => acc.iter_mut().zip(src).for_each(|(a, &v)| *a += v),
                ReduceOp::Max => acc
                    .iter_mut()
                    .zip(src)
                    .for_each(|(a, &v)| *a = combine(op, *a, v)),
            }
            n += 1;
            if op == ReduceOp::Sum && n == F32_BLOCK {
                acc64.iter_mut().zip(acc.iter_mut()).for_each(|(d, a)| {
                    *d += *a as f64;
                    *a = 0.0;
                });
                n = 0;
            }
        }
        match op {
            ReduceOp::Sum => acc64
                .iter_mut()
                .zip(&acc)
                .for_each(|(d, &a)| *d += a as f64),
            ReduceOp::Max => acc64.iter_mut().zip(&acc).for_each(|(d, &a)| {
                if (a as f64) > *d || a.is_nan() {
                    *d = a as f64
                }
            }),
        }
    };
    let start = match op {
        ReduceOp::Sum => 0.0f64,
        ReduceOp::Max => f64::NEG_INFINITY,
    };
    if outer >= 8 || outer * r * inner <= PAR_MIN {
        let f = |o: usize, dst: &mut [f32]| {
            let mut acc64 = vec![start; inner];
            accumulate(o, 0..r, &mut acc64);
            dst.iter_mut().zip(&acc64).for_each(|(d, &a)| *d = a as f32);
        };
        if outer * r * inner > PAR_MIN {
            out.par_chunks_mut(inner)
                .enumerate()
                .for_each(|(o, d)| f(o, d));
        } else {
            out.chunks_mut(inner).enumerate().for_each(|(o, d)| f(o, d));
        }
    } else {
        for (o, dst) in out.chunks_mut(inner).enumerate() {
            let parts: Vec<Vec<f64>> = fixed_ranges(r, (PAR_MIN / inner).max(16), 16)
                .into_par_iter()
                .map(|rg| {
                    let mut acc64 = vec![start; inner];
                    accumulate(o, rg, &mut acc64);
                    acc64
                })
                .collect();
            for (i, d) in dst.iter_mut().enumerate() {
                let mut v = start;
                for p in &parts {
                    v = match op {
                        ReduceOp::Sum => v + p[i],
                        ReduceOp::Max => {
                            if p[i] > v || p[i].is_nan() {
                                p[i]
                            } else {
                                v
                            }
                        }
                    };
                }
                *d = v as f32;
            }
        }
    }
}

/// Reduces over sorted distinct `axes` one run of consecutive axes at a time, in [`reduction_runs`]' order (the
/// first run reads `x` in place; later runs read the previous run's smaller result).
pub fn reduce(op: ReduceOp, x: &[f32], shape: &[usize], axes: &[usize]) -> Vec<f32> {
    let mut cur: Option<Vec<f32>> = None;
    for (outer, r, inner) in reduction_runs(shape, axes) {
        let mut out = vec![0.0; outer * inner];
        reduce_block(op, cur.as_deref().unwrap_or(x), outer, r, inner, &mut out);
        cur = Some(out);
    }
    cur.unwrap_or_else(|| x.to_vec())
}

/// Expands `x` of `shape` to `out_shape`.
pub fn broadcast(x: &[f32], shape: &[usize], out_shape: &[usize], out: &mut [f32]) {
    if out.is_empty() {
        return;
    }
    let sx = broadcast_strides(shape, out_shape);
    let so = strides(out_shape);
    let (cshape, st) = collapse(out_shape, &[so, sx]);
    let inner = *cshape.last().unwrap_or(&1);
    let ix = st[1][cshape.len() - 1];
    let fill_rows = |r0: usize, o: &mut [f32]| {
        let mut offs = [0usize; 2];
        for (k, orow) in o.chunks_mut(inner).enumerate() {
            row_offsets(&cshape, &st, r0 + k, &mut offs);
            if ix == 0 {
                orow.fill(x[offs[1]]);
            } else {
                orow.copy_from_slice(&x[offs[1]..offs[1] + inner]);
            }
        }
    };
    let rows_per = ((1 << 14) / inner).max(1);
    if out.len() > PAR_MIN {
        out.par_chunks_mut(rows_per * inner)
            .enumerate()
            .for_each(|(i, o)| fill_rows(i * rows_per, o));
    } else {
        fill_rows(0, out);
    }
}
