//! Elementwise kernels: unary maps, broadcasting binary ops, axpby, the ReLU mask.

use rayon::prelude::*;

use super::parallel::{PAR_MIN, for_chunks_mut};
use super::strided::row_offsets;
use crate::backend::{BinaryOp, UnaryOp};
use crate::shape::{broadcast_strides, collapse, numel, strides};

pub fn unary(op: UnaryOp, x: &[f32], out: &mut [f32]) {
    for_chunks_mut(
        out,
        1 << 14,
        #[inline(always)]
        |off, o| {
            let x = &x[off..off + o.len()];
            match op {
                UnaryOp::Relu => o
                    .iter_mut()
                    .zip(x)
                    .for_each(|(o, &x)| *o = if x > 0.0 { x } else { 0.0 }),
                UnaryOp::Exp => o.iter_mut().zip(x).for_each(|(o, &x)| *o = x.exp()),
                UnaryOp::Log => o.iter_mut().zip(x).for_each(|(o, &x)| *o = x.ln()),
                UnaryOp::Neg => o.iter_mut().zip(x).for_each(|(o, &x)| *o = -x),
                UnaryOp::Sqrt => o.iter_mut().zip(x).for_each(|(o, &x)| *o = x.sqrt()),
                UnaryOp::Recip => o.iter_mut().zip(x).for_each(|(o, &x)| *o = 1.0 / x),
                UnaryOp::Square => o.iter_mut().zip(x).for_each(|(o, &x)| *o = x * x),
                UnaryOp::Step => o
                    .iter_mut()
                    .zip(x)
                    .for_each(|(o, &x)| *o = if x > 0.0 { 1.0 } else { 0.0 }),
                UnaryOp::Scale(s) => o.iter_mut().zip(x).for_each(|(o, &x)| *o = x * s),
                UnaryOp::AddScalar(s) => o.iter_mut().zip(x).for_each(|(o, &x)| *o = x + s),
                UnaryOp::ClampMin(s) => o
                    .iter_mut()
                    .zip(x)
                    .for_each(|(o, &x)| *o = if x > s { x } else { s }),
                UnaryOp::Powf(p) => o.iter_mut().zip(x).for_each(|(o, &x)| *o = x.powf(p)),
            }
        },
    );
}

#[inline(always)]
fn apply(op: BinaryOp, a: f32, b: f32) -> f32 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
    }
}

/// Inner loop specialised on the operands' inner strides (1 or 0) so that it vectorises.
#[inline(always)]
fn row(op: BinaryOp, a: &[f32], sa: usize, b: &[f32], sb: usize, o: &mut [f32]) {
    let n = o.len();
    macro_rules! body {
        ($f:expr) => {
            match (sa, sb) {
                (1, 1) => o
                    .iter_mut()
                    .zip(&a[..n])
                    .zip(&b[..n])
                    .for_each(|((o, &a), &b)| *o = $f(a, b)),
                (1, 0) => {
                    let b = b[0];
                    o.iter_mut().zip(&a[..n]).for_each(|(o, &a)| *o = $f(a, b))
                }
                (0, 1) => {
                    let a = a[0];
                    o.iter_mut().zip(&b[..n]).for_each(|(o, &b)| *o = $f(a, b))
                }
                _ => {
                    for (i, o) in o.iter_mut().enumerate() {
                        *o = $f(a[i * sa], b[i * sb]);
                    }
                }
            }
        };
    }
    match op {
        BinaryOp::Add => body!(|a: f32, b: f32| a + b),
        BinaryOp::Sub => body!(|a: f32, b: f32| a - b),
        BinaryOp::Mul => body!(|a: f32, b: f32| a * b),
        BinaryOp::Div => body!(|a: f32, b: f32| apply(BinaryOp::Div, a, b)),
    }
}

pub fn binary(
    op: BinaryOp,
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
    out_shape: &[usize],
    out: &mut [f32],
) {
    if out.is_empty() {
        return;
    }
    let sa = broadcast_strides(a_shape, out_shape);
    let sb = broadcast_strides(b_shape, out_shape);
    let so = strides(out_shape);
    let (shape, st) = collapse(out_shape, &[so, sa, sb]);
    let inner = *shape.last().unwrap_or(&1);
    let (ia, ib) = (st[1][shape.len() - 1], st[2][shape.len() - 1]);
    let rows = numel(&shape) / inner.max(1);
    let do_rows = |r0: usize, o: &mut [f32]| {
        let mut offs = [0usize; 3];
        for (k, orow) in o.chunks_mut(inner).enumerate() {
            row_offsets(&shape, &st, r0 + k, &mut offs);
            row(op, &a[offs[1]..], ia, &b[offs[2]..], ib, orow);
        }
    };
    if out.len() <= PAR_MIN || rows == 1 {
        if rows == 1 {
            // One long row: split it.
            for_chunks_mut(
                out,
                1 << 14,
                #[inline(always)]
                |off, o| {
                    let a0 = if ia == 0 { 0 } else { off };
                    let b0 = if ib == 0 { 0 } else { off };
                    row(op, &a[a0..], ia, &b[b0..], ib, o);
                },
            );
        } else {
            do_rows(0, out);
        }
    } else {
        let rows_per = ((1 << 14) / inner).max(1);
        out.par_chunks_mut(rows_per * inner)
            .enumerate()
            .for_each(|(i, o)| do_rows(i * rows_per, o));
    }
}

/// `y = a·y + b·x`.
pub fn axpby(y: &mut [f32], a: f32, b: f32, x: &[f32]) {
    for_chunks_mut(
        y,
        1 << 14,
        #[inline(always)]
        |off, y| {
            let x = &x[off..off + y.len()];
            if a == 0.0 {
                y.iter_mut().zip(x).for_each(|(y, &x)| *y = b * x);
            } else if a == 1.0 {
                y.iter_mut().zip(x).for_each(|(y, &x)| *y += b * x);
            } else {
                y.iter_mut().zip(x).for_each(|(y, &x)| *y = a * *y + b * x);
            }
        },
    );
}

/// The SGD-with-momentum update of `Backend::sgd_momentum` in one pass over the three arrays instead of four
/// `axpby` passes: per value the operations those passes make (`axpby` with `a = 1` is `y + b·x`; the buffer's
/// `a` is the momentum, 1 included), in the same order, so the same results.
#[allow(clippy::too_many_arguments)]
pub fn sgd_momentum(
    w: &mut [f32],
    g: &[f32],
    buf: &mut [f32],
    decay: Option<f32>,
    momentum: f32,
    nesterov: bool,
    lr: f32,
) {
    match (decay.is_some(), momentum == 1.0, nesterov) {
        (false, false, false) => sgd_pass::<false, false, false>(w, g, buf, decay, momentum, lr),
        (false, false, true) => sgd_pass::<false, false, true>(w, g, buf, decay, momentum, lr),
        (false, true, false) => sgd_pass::<false, true, false>(w, g, buf, decay, momentum, lr),
        (false, true, true) => sgd_pass::<false, true, true>(w, g, buf, decay, momentum, lr),
        (true, false, false) => sgd_pass::<true, false, false>(w, g, buf, decay, momentum, lr),
        (true, false, true) => sgd_pass::<true, false, true>(w, g, buf, decay, momentum, lr),
        (true, true, false) => sgd_pass::<true, true, false>(w, g, buf, decay, momentum, lr),
        (true, true, true) => sgd_pass::<true, true, true>(w, g, buf, decay, momentum, lr),
    }
}

/// [`sgd_momentum`] with its choices fixed at compile time, so that the loop has no branches and vectorises.
fn sgd_pass<const DECAY: bool, const MOMENTUM_ONE: bool, const NESTEROV: bool>(
    w: &mut [f32],
    g: &[f32],
    buf: &mut [f32],
    decay: Option<f32>,
    momentum: f32,
    lr: f32,
) {
    let wd = decay.unwrap_or(0.0);
    let step = -lr;
    // A function item, inlined into `simd::wide`'s AVX-512 context (the same bits, faster).
    #[inline(always)]
    fn update<const DECAY: bool, const MOMENTUM_ONE: bool, const NESTEROV: bool>(
        w: &mut [f32],
        g: &[f32],
        buf: &mut [f32],
        (wd, momentum, step): (f32, f32, f32),
    ) {
        for ((w, &g), b) in w.iter_mut().zip(g).zip(buf.iter_mut()) {
            // axpby(g, 1, wd, w)
            let d = if DECAY { g + wd * *w } else { g };
            // axpby(buf, momentum, 1, d)
            *b = if MOMENTUM_ONE {
                *b + 1.0 * d
            } else {
                momentum * *b + 1.0 * d
            };
            // axpby(d, 1, momentum, buf), then axpby(w, 1, −lr, direction)
            let direction = if NESTEROV { d + momentum * *b } else { *b };
            *w += step * direction;
        }
    }
    let k = (wd, momentum, step);
    const CHUNK: usize = 1 << 14;
    if w.len() <= PAR_MIN {
        super::simd::wide(
            #[inline(always)]
            || update::<DECAY, MOMENTUM_ONE, NESTEROV>(w, g, buf, k),
        );
    } else {
        w.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(buf.par_chunks_mut(CHUNK))
            .for_each(|((w, g), b)| {
                super::simd::wide(
                    #[inline(always)]
                    || update::<DECAY, MOMENTUM_ONE, NESTEROV>(w, g, b, k),
                )
            });
    }
}

pub fn relu_backward(y: &[f32], dy: &[f32], out: &mut [f32]) {
    for_chunks_mut(
        out,
        1 << 14,
        #[inline(always)]
        |off, o| {
            let (y, dy) = (&y[off..off + o.len()], &dy[off..off + o.len()]);
            o.iter_mut()
                .zip(y)
                .zip(dy)
                .for_each(|((o, &y), &g)| *o = if y > 0.0 { g } else { 0.0 });
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::test_values::values;

    /// The fused update gives the bits of the `axpby` passes it replaces (`Backend::sgd_momentum`'s default), for
    /// every combination of decay, momentum 1 or not and Nesterov, on a length that splits across threads.
    #[test]
    fn sgd_momentum_equals_axpby_passes() {
        let n = PAR_MIN + 1000;
        let (w0, g0, b0) = (values(n, 1), values(n, 2), values(n, 3));
        for decay in [None, Some(1e-4f32)] {
            for momentum in [0.9f32, 1.0] {
                for nesterov in [false, true] {
                    let lr = 0.05f32;
                    let (mut w, mut g, mut b) = (w0.clone(), g0.clone(), b0.clone());
                    if let Some(wd) = decay {
                        axpby(&mut g, 1.0, wd, &w);
                    }
                    axpby(&mut b, momentum, 1.0, &g);
                    if nesterov {
                        axpby(&mut g, 1.0, momentum, &b);
                        axpby(&mut w, 1.0, -lr, &g);
                    } else {
                        axpby(&mut w, 1.0, -lr, &b);
                    }
                    let (mut wf, mut bf) = (w0.clone(), b0.clone());
                    sgd_momentum(&mut wf, &g0, &mut bf, decay, momentum, nesterov, lr);
                    let same = |x: &[f32], y: &[f32]| {
                        x.iter().zip(y).all(|(a, b)| a.to_bits() == b.to_bits())
                    };
                    assert!(
                        same(&w, &wf) && same(&b, &bf),
                        "decay {decay:?} momentum {momentum} nesterov {nesterov}"
                    );
                }
            }
        }
    }
}
