//! Layout kernels: permute, concat, slice (and its zero-padded gradient), index_select / index_add along an axis.
//! Each views the tensor as outer × axis × inner around the axis concerned and copies whole inner blocks.

use rayon::prelude::*;

use super::parallel::PAR_MIN;
use super::strided::row_offsets;
use crate::shape::{collapse, numel, split_at_axis, strides};

pub fn permute(x: &[f32], shape: &[usize], perm: &[usize], out: &mut [f32]) {
    if out.is_empty() {
        return;
    }
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let xs = strides(shape);
    let in_strides: Vec<usize> = perm.iter().map(|&p| xs[p]).collect();
    let (cshape, st) = collapse(&out_shape, &[strides(&out_shape), in_strides]);
    let inner = *cshape.last().unwrap_or(&1);
    let is = st[1][cshape.len() - 1];
    let rows = |r0: usize, o: &mut [f32]| {
        let mut offs = [0usize; 2];
        for (k, orow) in o.chunks_mut(inner).enumerate() {
            row_offsets(&cshape, &st, r0 + k, &mut offs);
            if is == 1 {
                orow.copy_from_slice(&x[offs[1]..offs[1] + inner]);
            } else {
                for (i, o) in orow.iter_mut().enumerate() {
                    *o = x[offs[1] + i * is];
                }
            }
        }
    };
    let rows_per = ((1 << 14) / inner).max(1);
    if out.len() > PAR_MIN {
        out.par_chunks_mut(rows_per * inner)
            .enumerate()
            .for_each(|(i, o)| rows(i * rows_per, o));
    } else {
        rows(0, out);
    }
}

pub fn concat(parts: &[(&[f32], &[usize])], axis: usize, out: &mut [f32]) {
    let outer = numel(&parts[0].1[..axis]);
    let inner = numel(&parts[0].1[axis + 1..]);
    let total: usize = parts.iter().map(|(_, s)| s[axis]).sum();
    let row = total * inner;
    for o in 0..outer {
        let mut at = o * row;
        for (x, s) in parts {
            let blk = s[axis] * inner;
            out[at..at + blk].copy_from_slice(&x[o * blk..(o + 1) * blk]);
            at += blk;
        }
    }
}

pub fn slice(x: &[f32], shape: &[usize], axis: usize, start: usize, len: usize, out: &mut [f32]) {
    let (outer, n, inner) = split_at_axis(shape, axis);
    for o in 0..outer {
        let src = (o * n + start) * inner;
        out[o * len * inner..(o + 1) * len * inner].copy_from_slice(&x[src..src + len * inner]);
    }
}

pub fn pad_axis(
    x: &[f32],
    shape: &[usize],
    axis: usize,
    start: usize,
    full: usize,
    out: &mut [f32],
) {
    let (outer, n, inner) = split_at_axis(shape, axis);
    out.fill(0.0);
    for o in 0..outer {
        let dst = (o * full + start) * inner;
        out[dst..dst + n * inner].copy_from_slice(&x[o * n * inner..(o + 1) * n * inner]);
    }
}

pub fn index_select(x: &[f32], shape: &[usize], axis: usize, indices: &[usize], out: &mut [f32]) {
    let (outer, n, inner) = split_at_axis(shape, axis);
    let k = indices.len();
    for o in 0..outer {
        for (j, &i) in indices.iter().enumerate() {
            let src = (o * n + i) * inner;
            let dst = (o * k + j) * inner;
            out[dst..dst + inner].copy_from_slice(&x[src..src + inner]);
        }
    }
}

pub fn index_add(
    x: &[f32],
    shape: &[usize],
    axis: usize,
    indices: &[usize],
    full: usize,
    out: &mut [f32],
) {
    let (outer, k, inner) = split_at_axis(shape, axis);
    out.fill(0.0);
    for o in 0..outer {
        for (j, &i) in indices.iter().enumerate().take(k) {
            let src = (o * k + j) * inner;
            let dst = (o * full + i) * inner;
            out[dst..dst + inner]
                .iter_mut()
                .zip(&x[src..src + inner])
                .for_each(|(d, &s)| *d += s);
        }
    }
}
