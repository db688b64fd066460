//! Row-wise softmax / log-softmax and their gradients; `pick` (one entry per row, for cross-entropy).

use rayon::prelude::*;

use super::parallel::PAR_MIN;

fn rows_mut(out: &mut [f32], cols: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    if cols == 0 {
        return;
    }
    if out.len() > PAR_MIN {
        out.par_chunks_mut(cols)
            .enumerate()
            .for_each(|(r, o)| f(r, o));
    } else {
        out.chunks_mut(cols).enumerate().for_each(|(r, o)| f(r, o));
    }
}

pub fn softmax(x: &[f32], cols: usize, log: bool, out: &mut [f32]) {
    rows_mut(out, cols, |r, o| {
        let xr = &x[r * cols..(r + 1) * cols];
        let max = xr.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let mut sum = 0.0f64;
        for (o, &v) in o.iter_mut().zip(xr) {
            let e = (v - max).exp();
            *o = e;
            sum += e as f64;
        }
        if log {
            let lse = (sum as f32).ln() + max;
            o.iter_mut().zip(xr).for_each(|(o, &v)| *o = v - lse);
        } else {
            let inv = (1.0 / sum) as f32;
            o.iter_mut().for_each(|o| *o *= inv);
        }
    });
}

/// softmax: dx = y ⊙ (dy − Σ dy·y); log-softmax: dx = dy − exp(y) · Σ dy.
pub fn softmax_backward(y: &[f32], dy: &[f32], cols: usize, log: bool, out: &mut [f32]) {
    rows_mut(out, cols, |r, o| {
        let yr = &y[r * cols..(r + 1) * cols];
        let gr = &dy[r * cols..(r + 1) * cols];
        if log {
            let s: f64 = gr.iter().map(|&g| g as f64).sum();
            let s = s as f32;
            o.iter_mut()
                .zip(yr)
                .zip(gr)
                .for_each(|((o, &y), &g)| *o = g - y.exp() * s);
        } else {
            let s: f64 = gr.iter().zip(yr).map(|(&g, &y)| (g * y) as f64).sum();
            let s = s as f32;
            o.iter_mut()
                .zip(yr)
                .zip(gr)
                .for_each(|((o, &y), &g)| *o = y * (g - s));
        }
    });
}

pub fn pick(x: &[f32], cols: usize, targets: &[usize], out: &mut [f32]) {
    for (r, (o, &t)) in out.iter_mut().zip(targets).enumerate() {
        *o = x[r * cols + t];
    }
}

pub fn pick_backward(dy: &[f32], cols: usize, targets: &[usize], out: &mut [f32]) {
    out.fill(0.0);
    for (r, (&g, &t)) in dy.iter().zip(targets).enumerate() {
        out[r * cols + t] = g;
    }
}
