//! Products with exactly 16 output channels — the width of one AVX-512 register — for the shifted convolution
//! (the mini model's res2 layers: 16 channels on 8×8 frames).
//!
//! `gemm` runs such a product in its 16-row microkernel (6 accumulators, re-entered per 6 positions), about a
//! third of its 64-row kernel's rate, and the other orientation would gather the channels-last input. Here one
//! register holds a position's 16 output channels and 8 positions are kept in registers while the K values stream
//! by: per K value one weight load and 8 broadcast multiply-adds (the blocking oneDNN's direct convolutions use).
//!
//! The arithmetic is `gemm`'s, in the same order: each output element sums its K products from zero with fused
//! multiply-adds in K order, then is stored, or added to the destination with one rounding. So results are
//! bit-identical to the `gemm` path (tested), and nothing downstream changes — as long as the summed dimension is
//! at most [`MAX_DEPTH`]: `gemm` splits longer ones into blocks whose length depends on the CPU's caches (never
//! below 512), each added to the destination on its own.

/// The longest summed dimension for which `gemm` sums in one block on every CPU, and so the longest the kernels
/// here take (callers use `gemm` beyond it).
pub const MAX_DEPTH: usize = 512;

/// Whether [`product`] gives `gemm`'s bits for `rows` positions and a sum over `depth`: `gemm` takes other paths,
/// with other summation orders, for tiny products — a sum over at most 2 values, a vector (one row or column), and
/// a horizontal kernel for at most 16 × 16 results — and splits sums longer than [`MAX_DEPTH`].
pub fn fits_product(rows: usize, depth: usize) -> bool {
    rows > WIDTH && (3..=MAX_DEPTH).contains(&depth)
}

/// Whether [`gradient`] gives `gemm`'s bits: `depth` × 16 results summed over `rows` positions (see
/// [`fits_product`] for the paths `gemm` takes otherwise).
pub fn fits_gradient(rows: usize, depth: usize) -> bool {
    depth > WIDTH && (3..=MAX_DEPTH).contains(&rows)
}

use crate::cpu::gemm::Accumulate;

/// Output channels this kernel computes.
pub const WIDTH: usize = 16;

/// Whether this CPU runs the kernel (AVX-512F).
pub fn available() -> bool {
    crate::cpu::simd::avx512()
}

/// `dst[p·16 + c] (=|+=) Σ_k a[a_offset + p·a_rs + k] · b[k·16 + c]` for rows p < `rows`, k < `depth`.
/// Panics (a bug in the calling kernel, never user input) if a view reaches outside its slice, or if the CPU lacks
/// AVX-512F (callers check [`available`]).
#[allow(clippy::too_many_arguments)]
pub fn product(
    dst: &mut [f32],
    a: &[f32],
    a_offset: usize,
    a_rs: usize,
    rows: usize,
    depth: usize,
    b: &[f32],
    acc: Accumulate,
) {
    if rows == 0 {
        return;
    }
    assert!(available(), "narrow::product needs AVX-512F");
    assert!(
        a_offset + (rows - 1) * a_rs + depth <= a.len(),
        "narrow: left operand out of bounds"
    );
    assert!(b.len() >= depth * WIDTH, "narrow: weight too small");
    assert!(dst.len() >= rows * WIDTH, "narrow: destination too small");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is present (asserted) and every access below is within the bounds asserted above.
    unsafe {
        avx512::product(dst, a, a_offset, a_rs, rows, depth, b, acc);
    }
}

/// Taps summed together: for each tap t (in order), `Σ_k a[offsets[t] + p·a_rs + k] · b[t][k·16 + c]` from zero,
/// the first stored (`acc` Overwrite) or added to `dst`, every later one added — the bits of one [`product`]
/// call per tap, with the taps' sums interleaved in registers (three chains per position instead of one).
/// Panics like [`product`].
#[allow(clippy::too_many_arguments)]
pub fn product_taps(
    dst: &mut [f32],
    a: &[f32],
    offsets: &[usize],
    a_rs: usize,
    rows: usize,
    depth: usize,
    b: &[&[f32]],
    acc: Accumulate,
) {
    if rows == 0 {
        return;
    }
    assert!(available(), "narrow::product_taps needs AVX-512F");
    assert_eq!(offsets.len(), b.len(), "narrow: one weight per tap");
    for (&offset, w) in offsets.iter().zip(b) {
        assert!(
            offset + (rows - 1) * a_rs + depth <= a.len(),
            "narrow: left operand out of bounds"
        );
        assert!(w.len() >= depth * WIDTH, "narrow: weight too small");
    }
    assert!(dst.len() >= rows * WIDTH, "narrow: destination too small");
    #[cfg(target_arch = "x86_64")]
    for (group, (offs, ws)) in offsets.chunks(3).zip(b.chunks(3)).enumerate() {
        let acc = if group == 0 { acc } else { Accumulate::Add };
        // SAFETY: AVX-512F is present (asserted) and every access is within the bounds asserted above.
        unsafe {
            match offs.len() {
                3 => avx512::product_taps::<3>(dst, a, offs, a_rs, rows, depth, ws, acc),
                2 => avx512::product_taps::<2>(dst, a, offs, a_rs, rows, depth, ws, acc),
                _ => avx512::product_taps::<1>(dst, a, offs, a_rs, rows, depth, ws, acc),
            }
        }
    }
}

/// `dst[k·16 + c] += Σ_p a[a_offset + p·a_rs + k] · g[g_offset + p·16 + c]` for k < `depth`, p < `rows`: the
/// filter gradient of one tap, a K × 16 block summed over positions (each element from zero in position order,
/// then added to `dst` — `gemm`'s order). Panics like [`product`].
#[allow(clippy::too_many_arguments)]
pub fn gradient(
    dst: &mut [f32],
    a: &[f32],
    a_offset: usize,
    a_rs: usize,
    rows: usize,
    depth: usize,
    g: &[f32],
    g_offset: usize,
) {
    if rows == 0 || depth == 0 {
        return;
    }
    assert!(available(), "narrow::gradient needs AVX-512F");
    assert!(
        a_offset + (rows - 1) * a_rs + depth <= a.len(),
        "narrow: left operand out of bounds"
    );
    assert!(
        g_offset + rows * WIDTH <= g.len(),
        "narrow: gradient out of bounds"
    );
    assert!(dst.len() >= depth * WIDTH, "narrow: destination too small");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is present (asserted) and every access below is within the bounds asserted above.
    unsafe {
        avx512::gradient(dst, a, a_offset, a_rs, rows, depth, g, g_offset);
    }
}

/// [`product`] with the left operand given by offsets: row p, column k is `a[rows[p] + cols[k]]` (an im2col
/// matrix read in place from a padded input: no tile is written). Same arithmetic, in the same order, as
/// [`product`] on the matrix those offsets describe. Panics like [`product`].
pub fn product_indirect(
    dst: &mut [f32],
    a: &[f32],
    rows: &[usize],
    cols: &[usize],
    b: &[f32],
    acc: Accumulate,
) {
    let (Some(&row_max), Some(&col_max)) = (rows.iter().max(), cols.iter().max()) else {
        return;
    };
    assert!(available(), "narrow::product_indirect needs AVX-512F");
    assert!(
        row_max + col_max < a.len(),
        "narrow: left operand out of bounds"
    );
    assert!(b.len() >= cols.len() * WIDTH, "narrow: weight too small");
    assert!(
        dst.len() >= rows.len() * WIDTH,
        "narrow: destination too small"
    );
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is present (asserted) and every access below is within the bounds asserted above.
    unsafe {
        avx512::product_indirect(dst, a, rows, cols, b, acc);
    }
}

/// [`gradient`] with the left operand given by offsets as in [`product_indirect`]: `dst[k·16 + c] += Σ_p
/// a[rows[p] + cols[k]] · g[g_offset + p·16 + c]`. Panics like [`product`].
pub fn gradient_indirect(
    dst: &mut [f32],
    a: &[f32],
    rows: &[usize],
    cols: &[usize],
    g: &[f32],
    g_offset: usize,
) {
    let (Some(&row_max), Some(&col_max)) = (rows.iter().max(), cols.iter().max()) else {
        return;
    };
    assert!(available(), "narrow::gradient_indirect needs AVX-512F");
    assert!(
        row_max + col_max < a.len(),
        "narrow: left operand out of bounds"
    );
    assert!(
        g_offset + rows.len() * WIDTH <= g.len(),
        "narrow: gradient out of bounds"
    );
    assert!(
        dst.len() >= cols.len() * WIDTH,
        "narrow: destination too small"
    );
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is present (asserted) and every access below is within the bounds asserted above.
    unsafe {
        avx512::gradient_indirect(dst, a, rows, cols, g, g_offset);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::WIDTH;
    use crate::cpu::gemm::Accumulate;
    use std::arch::x86_64::*;

    /// Positions kept in registers at once.
    const BLOCK: usize = 8;

    /// # Safety
    /// AVX-512F must be available and the operands within the bounds `super::product_indirect` checks.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product_indirect(
        dst: &mut [f32],
        a: &[f32],
        rows: &[usize],
        cols: &[usize],
        b: &[f32],
        acc: Accumulate,
    ) {
        let mut p = 0;
        while p + BLOCK <= rows.len() {
            // SAFETY: rows p..p + BLOCK exist; the caller's bounds cover every offset.
            unsafe { rows_block_indirect::<BLOCK>(dst, a, &rows[p..p + BLOCK], p, cols, b, acc) };
            p += BLOCK;
        }
        while p < rows.len() {
            // SAFETY: as above, one row.
            unsafe { rows_block_indirect::<1>(dst, a, &rows[p..p + 1], p, cols, b, acc) };
            p += 1;
        }
    }

    /// Rows `p..p + R` (offsets `rows`) of the indirect product.
    ///
    /// # Safety
    /// As [`product_indirect`], with `rows.len() == R` and `(p + R)·16 <= dst.len()`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn rows_block_indirect<const R: usize>(
        dst: &mut [f32],
        a: &[f32],
        rows: &[usize],
        p: usize,
        cols: &[usize],
        b: &[f32],
        acc: Accumulate,
    ) {
        let a_ptr = a.as_ptr();
        let b_ptr = b.as_ptr();
        let base: [usize; R] = std::array::from_fn(|j| rows[j]);
        let mut sums = [_mm512_setzero_ps(); R];
        for (k, &col) in cols.iter().enumerate() {
            // SAFETY: k < cols.len() and b holds cols.len()·16 values.
            let w = unsafe { _mm512_loadu_ps(b_ptr.add(k * WIDTH)) };
            for (sum, &row) in sums.iter_mut().zip(&base) {
                // SAFETY: row + col <= max(rows) + max(cols) < a.len().
                let x = unsafe { *a_ptr.add(row + col) };
                *sum = _mm512_fmadd_ps(_mm512_set1_ps(x), w, *sum);
            }
        }
        let d_ptr = dst.as_mut_ptr();
        for (j, sum) in sums.iter().enumerate() {
            // SAFETY: (p + j + 1)·16 <= dst.len() by the caller's bounds.
            unsafe {
                let out = d_ptr.add((p + j) * WIDTH);
                let value = match acc {
                    Accumulate::Overwrite => *sum,
                    Accumulate::Add => _mm512_add_ps(_mm512_loadu_ps(out), *sum),
                };
                _mm512_storeu_ps(out, value);
            }
        }
    }

    /// # Safety
    /// AVX-512F must be available and the operands within the bounds `super::gradient_indirect` checks.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gradient_indirect(
        dst: &mut [f32],
        a: &[f32],
        rows: &[usize],
        cols: &[usize],
        g: &[f32],
        g_offset: usize,
    ) {
        let mut k = 0;
        while k + GRADIENT_BLOCK <= cols.len() {
            // SAFETY: columns k..k + GRADIENT_BLOCK exist.
            unsafe {
                gradient_block_indirect::<GRADIENT_BLOCK>(
                    dst,
                    a,
                    rows,
                    &cols[k..k + GRADIENT_BLOCK],
                    k,
                    g,
                    g_offset,
                )
            };
            k += GRADIENT_BLOCK;
        }
        while k < cols.len() {
            // SAFETY: as above, one column.
            unsafe { gradient_block_indirect::<1>(dst, a, rows, &cols[k..k + 1], k, g, g_offset) };
            k += 1;
        }
    }

    /// Columns `k..k + R` (offsets `cols`) of the indirect gradient.
    ///
    /// # Safety
    /// As [`gradient_indirect`], with `cols.len() == R` and `(k + R)·16 <= dst.len()`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn gradient_block_indirect<const R: usize>(
        dst: &mut [f32],
        a: &[f32],
        rows: &[usize],
        cols: &[usize],
        k: usize,
        g: &[f32],
        g_offset: usize,
    ) {
        let (a_ptr, g_ptr) = (a.as_ptr(), g.as_ptr());
        let offs: [usize; R] = std::array::from_fn(|j| cols[j]);
        let mut sums = [_mm512_setzero_ps(); R];
        for (p, &row) in rows.iter().enumerate() {
            // SAFETY: g_offset + (p + 1)·16 <= g.len().
            let gp = unsafe { _mm512_loadu_ps(g_ptr.add(g_offset + p * WIDTH)) };
            for (sum, &col) in sums.iter_mut().zip(&offs) {
                // SAFETY: row + col <= max(rows) + max(cols) < a.len().
                let x = unsafe { *a_ptr.add(row + col) };
                *sum = _mm512_fmadd_ps(_mm512_set1_ps(x), gp, *sum);
            }
        }
        let d_ptr = dst.as_mut_ptr();
        for (j, sum) in sums.iter().enumerate() {
            // SAFETY: (k + j + 1)·16 <= dst.len() by the caller's bounds.
            unsafe {
                let out = d_ptr.add((k + j) * WIDTH);
                _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), *sum));
            }
        }
    }

    /// # Safety
    /// AVX-512F must be available, `offsets.len() == b.len() == T`, and the operands within the bounds
    /// `super::product_taps` checks.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product_taps<const T: usize>(
        dst: &mut [f32],
        a: &[f32],
        offsets: &[usize],
        a_rs: usize,
        rows: usize,
        depth: usize,
        b: &[&[f32]],
        acc: Accumulate,
    ) {
        let mut p = 0;
        while p + BLOCK <= rows {
            // SAFETY: rows p..p + BLOCK are within `rows`; the caller's bounds cover them.
            unsafe { taps_block::<BLOCK, T>(dst, a, offsets, a_rs, p, depth, b, acc) };
            p += BLOCK;
        }
        while p < rows {
            // SAFETY: as above, one row.
            unsafe { taps_block::<1, T>(dst, a, offsets, a_rs, p, depth, b, acc) };
            p += 1;
        }
    }

    /// Rows `p..p + R` of [`product_taps`] for `T` taps.
    ///
    /// # Safety
    /// As [`product_taps`], with `p + R <= rows`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn taps_block<const R: usize, const T: usize>(
        dst: &mut [f32],
        a: &[f32],
        offsets: &[usize],
        a_rs: usize,
        p: usize,
        depth: usize,
        b: &[&[f32]],
        acc: Accumulate,
    ) {
        let a_ptr = a.as_ptr();
        let mut w_ptr = [b[0].as_ptr(); T];
        let mut base = [0usize; T];
        for t in 0..T {
            w_ptr[t] = b[t].as_ptr();
            base[t] = offsets[t] + p * a_rs;
        }
        let mut sums = [[_mm512_setzero_ps(); R]; T];
        for k in 0..depth {
            for t in 0..T {
                // SAFETY: k < depth and each tap's weight holds depth·16 values.
                let w = unsafe { _mm512_loadu_ps(w_ptr[t].add(k * WIDTH)) };
                for (j, sum) in sums[t].iter_mut().enumerate() {
                    // SAFETY: offsets[t] + (p + j)·a_rs + k < a.len() by the caller's bounds.
                    let x = unsafe { *a_ptr.add(base[t] + j * a_rs + k) };
                    *sum = _mm512_fmadd_ps(_mm512_set1_ps(x), w, *sum);
                }
            }
        }
        let d_ptr = dst.as_mut_ptr();
        for j in 0..R {
            // SAFETY: (p + j + 1)·16 <= rows·16 <= dst.len().
            unsafe {
                let out = d_ptr.add((p + j) * WIDTH);
                let mut value = match acc {
                    Accumulate::Overwrite => sums[0][j],
                    Accumulate::Add => _mm512_add_ps(_mm512_loadu_ps(out), sums[0][j]),
                };
                for tap in sums.iter().skip(1) {
                    value = _mm512_add_ps(value, tap[j]);
                }
                _mm512_storeu_ps(out, value);
            }
        }
    }

    /// # Safety
    /// AVX-512F must be available and the operands within the bounds `super::product` checks.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product(
        dst: &mut [f32],
        a: &[f32],
        a_offset: usize,
        a_rs: usize,
        rows: usize,
        depth: usize,
        b: &[f32],
        acc: Accumulate,
    ) {
        let mut p = 0;
        while p + BLOCK <= rows {
            // SAFETY: rows p..p + BLOCK are within `rows`; the caller's bounds cover them.
            unsafe { rows_block::<BLOCK>(dst, a, a_offset, a_rs, p, depth, b, acc) };
            p += BLOCK;
        }
        while p < rows {
            // SAFETY: as above, one row.
            unsafe { rows_block::<1>(dst, a, a_offset, a_rs, p, depth, b, acc) };
            p += 1;
        }
    }

    /// # Safety
    /// AVX-512F must be available and the operands within the bounds `super::gradient` checks.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gradient(
        dst: &mut [f32],
        a: &[f32],
        a_offset: usize,
        a_rs: usize,
        rows: usize,
        depth: usize,
        g: &[f32],
        g_offset: usize,
    ) {
        let mut k = 0;
        while k + GRADIENT_BLOCK <= depth {
            // SAFETY: columns k..k + GRADIENT_BLOCK are within `depth`.
            unsafe {
                gradient_block::<GRADIENT_BLOCK>(dst, a, a_offset, a_rs, rows, k, g, g_offset)
            };
            k += GRADIENT_BLOCK;
        }
        while k < depth {
            // SAFETY: as above, one column.
            unsafe { gradient_block::<1>(dst, a, a_offset, a_rs, rows, k, g, g_offset) };
            k += 1;
        }
    }

    /// K values kept in registers at once by the gradient.
    const GRADIENT_BLOCK: usize = 16;

    /// Columns `k..k + R` of the gradient.
    ///
    /// # Safety
    /// As [`gradient`], with `k + R <= depth`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn gradient_block<const R: usize>(
        dst: &mut [f32],
        a: &[f32],
        a_offset: usize,
        a_rs: usize,
        rows: usize,
        k: usize,
        g: &[f32],
        g_offset: usize,
    ) {
        let (a_ptr, g_ptr) = (a.as_ptr(), g.as_ptr());
        let mut sums = [_mm512_setzero_ps(); R];
        for p in 0..rows {
            // SAFETY: g_offset + (p + 1)·16 <= g.len().
            let gp = unsafe { _mm512_loadu_ps(g_ptr.add(g_offset + p * WIDTH)) };
            for (j, sum) in sums.iter_mut().enumerate() {
                // SAFETY: a_offset + p·a_rs + k + j < a.len() by the caller's bounds.
                let x = unsafe { *a_ptr.add(a_offset + p * a_rs + k + j) };
                *sum = _mm512_fmadd_ps(_mm512_set1_ps(x), gp, *sum);
            }
        }
        let d_ptr = dst.as_mut_ptr();
        for (j, sum) in sums.iter().enumerate() {
            // SAFETY: (k + j + 1)·16 <= depth·16 <= dst.len().
            unsafe {
                let out = d_ptr.add((k + j) * WIDTH);
                _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), *sum));
            }
        }
    }

    /// Rows `p..p + R` of the product.
    ///
    /// # Safety
    /// As [`product`], with `p + R <= rows`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn rows_block<const R: usize>(
        dst: &mut [f32],
        a: &[f32],
        a_offset: usize,
        a_rs: usize,
        p: usize,
        depth: usize,
        b: &[f32],
        acc: Accumulate,
    ) {
        let a_ptr = a.as_ptr();
        let b_ptr = b.as_ptr();
        let mut sums = [_mm512_setzero_ps(); R];
        for k in 0..depth {
            // SAFETY: k < depth and b holds depth·16 values.
            let w = unsafe { _mm512_loadu_ps(b_ptr.add(k * WIDTH)) };
            for (j, sum) in sums.iter_mut().enumerate() {
                // SAFETY: a_offset + (p + j)·a_rs + k < a.len() by the caller's bounds.
                let x = unsafe { *a_ptr.add(a_offset + (p + j) * a_rs + k) };
                *sum = _mm512_fmadd_ps(_mm512_set1_ps(x), w, *sum);
            }
        }
        let d_ptr = dst.as_mut_ptr();
        for (j, sum) in sums.iter().enumerate() {
            // SAFETY: (p + j + 1)·16 <= rows·16 <= dst.len().
            unsafe {
                let out = d_ptr.add((p + j) * WIDTH);
                let value = match acc {
                    Accumulate::Overwrite => *sum,
                    Accumulate::Add => _mm512_add_ps(_mm512_loadu_ps(out), *sum),
                };
                _mm512_storeu_ps(out, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gemm::{MatRef, gemm};
    use crate::cpu::test_values::values;

    /// How many values of `got` differ from `want` in any bit.
    fn bits_differing(want: &[f32], got: &[f32]) -> usize {
        want.iter()
            .zip(got)
            .filter(|(w, g)| w.to_bits() != g.to_bits())
            .count()
    }

    /// The filter gradient gives the bits of the `gemm` call the shifted convolution makes (dy transposed as the
    /// left operand, the overlapping input view as the right one, a column-major K × 16 destination).
    #[test]
    fn gradient_bit_identical_to_gemm() {
        if !available() {
            return;
        }
        // 512 = MAX_DEPTH positions; `gemm` splits longer sums (1,296 here differ), which callers leave to it.
        for (rows, depth, a_rs) in [
            (400, 48, 16),
            (100, 48, 16),
            (512, 48, 16),
            (37, 20, 7),
            (3, 17, 17),
        ] {
            assert!(fits_gradient(rows, depth));
            let a = values(5 + (rows - 1) * a_rs + depth, 4);
            let g = values(2 + rows * WIDTH, 5);
            let start = values(depth * WIDTH, 6);
            let lhs = MatRef {
                data: &g,
                offset: 2,
                rows: WIDTH,
                cols: rows,
                rs: 1,
                cs: WIDTH,
            };
            let rhs = MatRef {
                data: &a,
                offset: 5,
                rows,
                cols: depth,
                rs: a_rs,
                cs: 1,
            };
            let mut want = start.clone();
            crate::cpu::gemm::gemm_strided(&mut want, 1, WIDTH, lhs, rhs, Accumulate::Add, 1);
            let mut got = start.clone();
            gradient(&mut got, &a, 5, a_rs, rows, depth, &g, 2);
            let differ = bits_differing(&want, &got);
            assert_eq!(
                differ, 0,
                "rows {rows} depth {depth}: {differ} values differ"
            );
        }
    }

    /// Taps summed together give the bits of one `product` call per tap (the first overwriting or adding, the
    /// rest adding), for 1 to 5 taps.
    #[test]
    fn taps_bit_identical_to_one_product_per_tap() {
        if !available() {
            return;
        }
        let (rows, depth, a_rs) = (83, 48, 16);
        let a = values(4 * 16 + (rows - 1) * a_rs + depth + 200, 7);
        let weights: Vec<Vec<f32>> = (0..5).map(|t| values(depth * WIDTH, 20 + t)).collect();
        let start = values(rows * WIDTH, 8);
        for taps in 1..=5 {
            let offsets: Vec<usize> = (0..taps).map(|t| 3 + t * 37).collect();
            let ws: Vec<&[f32]> = weights[..taps].iter().map(|w| &w[..]).collect();
            for acc in [Accumulate::Overwrite, Accumulate::Add] {
                let mut want = start.clone();
                for (t, (&off, w)) in offsets.iter().zip(&ws).enumerate() {
                    let acc = if t == 0 { acc } else { Accumulate::Add };
                    product(&mut want, &a, off, a_rs, rows, depth, w, acc);
                }
                let mut got = start.clone();
                product_taps(&mut got, &a, &offsets, a_rs, rows, depth, &ws, acc);
                assert_eq!(bits_differing(&want, &got), 0, "{taps} taps");
            }
        }
    }

    #[test]
    fn tiny_products_stay_with_gemm() {
        assert!(!fits_product(1, 32) && !fits_product(2, 64) && !fits_product(16, 48));
        assert!(!fits_product(80, 2) && !fits_product(80, 513));
        assert!(!fits_gradient(2, 64) && !fits_gradient(400, 16) && !fits_gradient(513, 48));
    }

    /// The kernel gives `gemm`'s bits, overwriting and accumulating, for block-multiple and ragged row counts and
    /// an overlapping left operand (the shifted convolution's view: row stride smaller than K).
    #[test]
    fn bit_identical_to_gemm() {
        if !available() {
            eprintln!("no AVX-512F: the kernel is not used on this CPU");
            return;
        }
        // Shapes of a tiny network — (1, 32), (2, 64): `gemm`'s vector and horizontal paths — gave other bits;
        // `fits_product` leaves them to `gemm` (`tiny_products_stay_with_gemm`).
        for (rows, depth, a_rs) in [
            (80, 48, 16),
            (17, 48, 16),
            (64, 144, 144),
            (23, 5, 3),
            (100, 96, 32),
        ] {
            assert!(fits_product(rows, depth));
            let a = values(3 + (rows - 1) * a_rs + depth, 1);
            let b = values(depth * WIDTH, 2);
            let start = values(rows * WIDTH, 3);
            let lhs = MatRef {
                data: &a,
                offset: 3,
                rows,
                cols: depth,
                rs: a_rs,
                cs: 1,
            };
            let rhs = MatRef::row_major(&b, 0, depth, WIDTH);
            for acc in [Accumulate::Overwrite, Accumulate::Add] {
                let mut want = start.clone();
                gemm(&mut want, WIDTH, lhs, rhs, acc, 1);
                let mut got = start.clone();
                product(&mut got, &a, 3, a_rs, rows, depth, &b, acc);
                let differ = bits_differing(&want, &got);
                assert_eq!(
                    differ, 0,
                    "rows {rows} depth {depth}: {differ} values differ"
                );
            }
        }
    }
}
