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

/// Formats a shape for error messages.
pub fn fmt_shape(shape: &[usize]) -> String {
    format!("{shape:?}")
}
