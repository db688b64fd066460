//! Iteration over broadcast/strided operands: axes are merged where every operand is contiguous across them
//! ([`collapse`](crate::shape::collapse), shared with the other backends), and the last merged axis becomes an
//! inner loop, so that common cases (same shape, per-channel vectors, per-row scalars) run as long unit-stride or
//! stride-0 loops.

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
