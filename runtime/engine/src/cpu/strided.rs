//! Iteration over broadcast/strided operands: axes are merged where every operand is contiguous across them, and
//! the last merged axis becomes an inner loop, so that common cases (same shape, per-channel vectors, per-row
//! scalars) run as long unit-stride or stride-0 loops.

/// Merges adjacent axes of `shape` where, for every operand, `stride[i] == stride[i+1] * shape[i+1]`.
/// Returns the merged shape and each operand's merged strides.
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

/// For a collapsed shape, the offsets (per operand) of the start of row `row` (all axes but the last).
pub fn row_offsets(shape: &[usize], strides: &[Vec<usize>], mut row: usize, offsets: &mut [usize]) {
    for o in offsets.iter_mut() {
        *o = 0;
    }
    for axis in (0..shape.len() - 1).rev() {
        let i = row % shape[axis];
        row /= shape[axis];
        for (o, s) in offsets.iter_mut().zip(strides) {
            *o += i * s[axis];
        }
    }
}
