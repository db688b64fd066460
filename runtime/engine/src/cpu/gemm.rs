//! A safe face on the `gemm` crate for row-major f32 matrices given as slices with explicit strides.

use gemm::Parallelism;

/// A read-only matrix view: element (i, j) is `data[offset + i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    pub fn row_major(data: &'a [f32], offset: usize, rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            offset,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
    /// The transpose of this view (no copy).
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }
    fn last_index(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            self.offset
        } else {
            self.offset + (self.rows - 1) * self.rs + (self.cols - 1) * self.cs
        }
    }
}

/// How a product is combined with the destination.
#[derive(Clone, Copy, PartialEq)]
pub enum Accumulate {
    /// dst = a·b
    Overwrite,
    /// dst += a·b
    Add,
}

/// `dst[m×n] (row stride dst_rs, column stride 1) (=|+=) a[m×k] · b[k×n]`.
pub fn gemm(
    dst: &mut [f32],
    dst_rs: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    acc: Accumulate,
    threads: usize,
) {
    gemm_strided(dst, dst_rs, 1, a, b, acc, threads)
}

/// Like [`gemm`] with any destination strides (a column-major destination, `dst_rs = 1`, suits `gemm`'s
/// microkernels best when the result is small and K is long).
/// Panics (a bug in the calling kernel, never user input) if a view reaches outside its slice.
pub fn gemm_strided(
    dst: &mut [f32],
    dst_rs: usize,
    dst_cs: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    acc: Accumulate,
    threads: usize,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "gemm: inner dimensions differ");
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        dst.len() > (m - 1) * dst_rs + (n - 1) * dst_cs,
        "gemm: destination too small"
    );
    if k == 0 {
        if acc == Accumulate::Overwrite {
            for i in 0..m {
                for j in 0..n {
                    dst[i * dst_rs + j * dst_cs] = 0.0;
                }
            }
        }
        return;
    }
    assert!(
        a.last_index() < a.data.len() && b.last_index() < b.data.len(),
        "gemm: operand view out of bounds"
    );
    let par = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // dst = a·b or, the same numbers, dstᵀ = bᵀ·aᵀ: whichever orientation `gemm` handles with less copying.
    let transpose =
        layout_cost(m, n, k, b.cs, a.cs, dst_cs) < layout_cost(m, n, k, a.rs, b.rs, dst_rs);
    let (m, n, dst_rs, dst_cs, a, b) = if transpose {
        (n, m, dst_cs, dst_rs, b.t(), a.t())
    } else {
        (m, n, dst_rs, dst_cs, a, b)
    };
    // SAFETY: all three views were bounds-checked above (transposing a view keeps its elements); dst is
    // exclusively borrowed and does not alias a or b.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            acc == Accumulate::Add,
            a.data.as_ptr().add(a.offset),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr().add(b.offset),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// The length of the blocks `gemm` sums an m × n product's depth `k` in: each block's products are summed from
/// zero with fused multiply-adds in order and then added to the destination (the last block may be shorter).
/// Kernels that must give `gemm`'s bits (`conv/narrow.rs`, `conv/wide.rs`) sum in the same blocks. The rule is
/// `gemm` 0.19's for f32 on AVX-512 (`gemm-common`'s `gemm_basic_generic`); it depends on the CPU's L1 cache
/// above a depth of 512, so it is computed by `gemm-common`'s own function.
pub fn depth_block(m: usize, n: usize, k: usize) -> usize {
    /// `gemm`'s f32 AVX-512 microkernel: 4 vectors of 16 rows by 6 columns.
    const MR: usize = 64;
    const NR: usize = 6;
    if m <= 64 && n <= 64 {
        k.min(512)
    } else {
        gemm_common::cache::kernel_params(m, n, k, MR, NR, std::mem::size_of::<f32>()).kc
    }
}

/// Whether `gemm` runs an m × n product with depth k through its microkernels (whose arithmetic `depth_block`
/// describes) rather than one of its paths for tiny products: a depth of at most 2, a vector (one row or
/// column), or at most 16 × 16 results.
pub fn uses_microkernels(m: usize, n: usize, k: usize) -> bool {
    k > 2 && m > 1 && n > 1 && m * n > 256
}

/// Values `gemm` moves one at a time, outside its microkernels, for `dst[m×n] = a[m×k]·b[k×n]` with these row
/// strides. Its kernels run down columns (16-lane vectors along m): it gathers, element by element, a left operand
/// whose column is not contiguous (`a_rs ≠ 1`) and a right operand whose column is not contiguous once m spans
/// more than two kernel heights; a destination whose column is not contiguous is written element by element.
/// With channels-last activations (row-major, channels contiguous) the orientation matters: gathering an
/// activation matrix costs more than the product itself when the channels are few.
fn layout_cost(m: usize, n: usize, k: usize, a_rs: usize, b_rs: usize, dst_rs: usize) -> usize {
    /// Rows of `gemm`'s f32 AVX-512 microkernel (4 vectors of 16).
    const KERNEL_ROWS: usize = 64;
    let mut cost = 0;
    if a_rs != 1 && m > 1 {
        cost += m * k;
    }
    if b_rs != 1 && k > 1 && m > 2 * KERNEL_ROWS {
        cost += k * n;
    }
    if dst_rs != 1 && m > 1 {
        cost += m * n;
    }
    cost
}

/// Threads to give one large product (the kernels split smaller work across frames themselves).
pub fn threads_for(flops: f64) -> usize {
    if flops > 2e7 {
        rayon::current_num_threads()
    } else {
        1
    }
}
