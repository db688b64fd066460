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
    // SAFETY: all three views were bounds-checked above; dst is exclusively borrowed and does not alias a or b.
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

/// Threads to give one large product (the kernels split smaller work across frames themselves).
pub fn threads_for(flops: f64) -> usize {
    if flops > 2e7 {
        rayon::current_num_threads()
    } else {
        1
    }
}
