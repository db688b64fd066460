//! Shapes, strides and broadcasting rules. Tensors are always dense and row-major (the last axis is contiguous);
//! "channels-last" is the convention that the channel axis is that last axis (activations are N×T×H×W×C).

use crate::error::{Result, shape_err};

/// Number of elements of a shape (1 for a scalar, the empty shape).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides (in elements) of a dense tensor of this shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Resolves a possibly negative axis (`-1` = last) against a rank.
pub fn normalize_axis(op: &'static str, axis: isize, rank: usize) -> Result<usize> {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return shape_err(
            op,
            format!("axis {axis} is out of range for a tensor of rank {rank}"),
        );
    }
    Ok(a as usize)
}

/// The shape two operands broadcast to under NumPy rules (align trailing axes; size 1 stretches).
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return shape_err(
                    op,
                    format!("shapes {a:?} and {b:?} cannot be broadcast together"),
                );
            }
        };
    }
    Ok(out)
}

/// Strides for reading a tensor of shape `shape` as if it had the (broadcast) shape `out`: broadcast axes get 0.
pub fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let own = strides(shape);
    let offset = out.len() - shape.len();
    (0..out.len())
        .map(|i| {
            if i < offset || shape[i - offset] == 1 {
                0
            } else {
                own[i - offset]
            }
        })
        .collect()
}

/// Merges adjacent axes of `shape` where, for every operand, `stride[i] == stride[i+1] * shape[i+1]`.
/// Returns the merged shape and each operand's merged strides (size-1 axes dropped; a scalar is one axis of
/// length 1 and stride 0).
pub fn collapse(shape: &[usize], operand_strides: &[Vec<usize>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut out_shape: Vec<usize> = Vec::new();
    let mut out_strides: Vec<Vec<usize>> = vec![Vec::new(); operand_strides.len()];
    for axis in 0..shape.len() {
        if shape[axis] == 1 {
            continue;
        }
        let mergeable = !out_shape.is_empty()
            && operand_strides
                .iter()
                .zip(out_strides.iter())
                .all(|(s, o)| {
                    let last = *o.last().unwrap_or(&0);
                    last == s[axis] * shape[axis]
                });
        if mergeable {
            let n = out_shape.len() - 1;
            out_shape[n] *= shape[axis];
            for (o, s) in out_strides.iter_mut().zip(operand_strides) {
                let m = o.len() - 1;
                o[m] = s[axis];
            }
        } else {
            out_shape.push(shape[axis]);
            for (o, s) in out_strides.iter_mut().zip(operand_strides) {
                o.push(s[axis]);
            }
        }
    }
    if out_shape.is_empty() {
        out_shape.push(1);
        for o in out_strides.iter_mut() {
            o.push(0);
        }
    }
    (out_shape, out_strides)
}

/// (outer, axis length, inner) of a shape around `axis`: everything before the axis, the axis, everything after.
pub fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        numel(&shape[..axis]),
        shape[axis],
        numel(&shape[axis + 1..]),
    )
}

/// How a reduction over sorted distinct `axes` runs: each run of consecutive axes is one outer × r × inner pass,
/// last run first (the first pass reads the input; each later pass reads the previous pass's smaller result, of
/// the shape with the reduced run removed). Shared by every backend, so they reduce in the same order.
pub fn reduction_runs(shape: &[usize], axes: &[usize]) -> Vec<(usize, usize, usize)> {
    let mut cur = shape.to_vec();
    let mut remaining = axes.to_vec();
    let mut runs = Vec::new();
    while let Some(&last) = remaining.last() {
        let mut first = last;
        while remaining.len() >= 2 && remaining[remaining.len() - 2] + 1 == first {
            remaining.pop();
            first -= 1;
        }
        remaining.pop();
        runs.push((
            numel(&cur[..first]),
            numel(&cur[first..=last]),
            numel(&cur[last + 1..]),
        ));
        cur.drain(first..=last);
    }
    runs
}

/// Formats a shape for error messages.
pub fn fmt_shape(shape: &[usize]) -> String {
    format!("{shape:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduction_runs_go_last_run_first() {
        let shape = [2, 3, 4, 5];
        assert_eq!(reduction_runs(&shape, &[1, 2]), vec![(2, 12, 5)]);
        assert_eq!(
            reduction_runs(&shape, &[0, 2, 3]),
            vec![(6, 20, 1), (1, 2, 3)]
        );
        assert_eq!(reduction_runs(&shape, &[0, 1, 2, 3]), vec![(1, 120, 1)]);
        assert!(reduction_runs(&shape, &[]).is_empty());
    }
}
