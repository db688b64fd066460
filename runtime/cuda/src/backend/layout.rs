//! Layout ops as strided copies (`vst_strided_copy`): permute, concat, slice (and its zero-padded gradient);
//! index_select / index_add along an axis.

use cudarc::driver::result;
use vst_engine::Storage;
use vst_engine::shape::{split_at_axis, strides};

use super::{CudaBackend, unsupported};
use crate::allocator::Pool;
use crate::device::{CudaMemory, allocate};
use crate::error::{CudaError, CudaResult};
use crate::geometry::StridedArgs;
use crate::kernels::elementwise_config;

pub(super) fn permute(
    gpu: &CudaBackend,
    x: &Storage,
    shape: &[usize],
    perm: &[usize],
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let xp = gpu.ptr(x)?;
        let xs = strides(shape);
        let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let src: Vec<usize> = perm.iter().map(|&p| xs[p]).collect();
        let (out, y) = gpu.out(x.len())?;
        let args = StridedArgs::new(&out_shape, &strides(&out_shape), &src).ok_or_else(|| {
            unsupported(format!("permuting {shape:?} by {perm:?} (too many axes)"))
        })?;
        gpu.strided_copy(y, 0, xp, 0, &args, x.len())?;
        Ok(out)
    })
}

pub(super) fn concat(
    gpu: &CudaBackend,
    parts: &[(&Storage, &[usize])],
    axis: usize,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let Some((_, first)) = parts.first() else {
            return gpu.out(0).map(|(s, _)| s);
        };
        let mut out_shape = first.to_vec();
        out_shape[axis] = parts.iter().map(|(_, s)| s[axis]).sum();
        let total: usize = out_shape.iter().product();
        let (out, y) = gpu.out(total)?;
        let out_strides = strides(&out_shape);
        let mut offset = 0;
        for (s, shape) in parts {
            let xp = gpu.ptr(s)?;
            let args = StridedArgs::new(shape, &out_strides, &strides(shape))
                .ok_or_else(|| unsupported(format!("concatenating {shape:?} (too many axes)")))?;
            gpu.strided_copy(y, offset * out_strides[axis], xp, 0, &args, s.len())?;
            offset += shape[axis];
        }
        Ok(out)
    })
}

pub(super) fn slice(
    gpu: &CudaBackend,
    x: &Storage,
    shape: &[usize],
    axis: usize,
    start: usize,
    len: usize,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let xp = gpu.ptr(x)?;
        let mut out_shape = shape.to_vec();
        out_shape[axis] = len;
        let n: usize = out_shape.iter().product();
        let (out, y) = gpu.out(n)?;
        let xs = strides(shape);
        let args = StridedArgs::new(&out_shape, &strides(&out_shape), &xs)
            .ok_or_else(|| unsupported(format!("slicing {shape:?} (too many axes)")))?;
        gpu.strided_copy(y, 0, xp, start * xs[axis], &args, n)?;
        Ok(out)
    })
}

pub(super) fn pad_axis(
    gpu: &CudaBackend,
    x: &Storage,
    shape: &[usize],
    axis: usize,
    start: usize,
    full: usize,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let xp = gpu.ptr(x)?;
        let mut out_shape = shape.to_vec();
        out_shape[axis] = full;
        let n: usize = out_shape.iter().product();
        let (out, y) = gpu.out(n)?;
        gpu.fill_ptr(y, n, 0.0)?;
        let os = strides(&out_shape);
        let args = StridedArgs::new(shape, &os, &strides(shape))
            .ok_or_else(|| unsupported(format!("padding {shape:?} (too many axes)")))?;
        gpu.strided_copy(y, start * os[axis], xp, 0, &args, x.len())?;
        Ok(out)
    })
}

pub(super) fn index_select(
    gpu: &CudaBackend,
    x: &Storage,
    shape: &[usize],
    axis: usize,
    indices: &[usize],
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let xp = gpu.ptr(x)?;
        let (outer, axis_len, inner) = split_at_axis(shape, axis);
        let n = outer * indices.len() * inner;
        let (out, y) = gpu.out(n)?;
        if n == 0 {
            return Ok(out);
        }
        let idx = gpu.upload_indices(indices)?;
        let (ip, o, a, i, k) = (
            idx.ptr(),
            outer as i64,
            axis_len as i64,
            inner as i64,
            indices.len() as i64,
        );
        gpu.launch("vst_index_select")
            .arg(&y)
            .arg(&xp)
            .arg(&ip)
            .arg(&o)
            .arg(&a)
            .arg(&i)
            .arg(&k)
            .run(elementwise_config(n))?;
        Ok(out)
    })
}

pub(super) fn index_add(
    gpu: &CudaBackend,
    x: &Storage,
    shape: &[usize],
    axis: usize,
    indices: &[usize],
    full: usize,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let xp = gpu.ptr(x)?;
        let (outer, _, inner) = split_at_axis(shape, axis);
        let n = outer * full * inner;
        let (out, y) = gpu.out(n)?;
        gpu.fill_ptr(y, n, 0.0)?;
        if n == 0 || indices.is_empty() || outer * inner == 0 {
            return Ok(out);
        }
        let idx = gpu.upload_indices(indices)?;
        let (ip, o, f, i, k) = (
            idx.ptr(),
            outer as i64,
            full as i64,
            inner as i64,
            indices.len() as i64,
        );
        gpu.launch("vst_index_add")
            .arg(&y)
            .arg(&xp)
            .arg(&ip)
            .arg(&o)
            .arg(&f)
            .arg(&i)
            .arg(&k)
            .run(elementwise_config(outer * inner))?;
        Ok(out)
    })
}

impl CudaBackend {
    pub(super) fn strided_copy(
        &self,
        y: u64,
        y_base: usize,
        x: u64,
        x_base: usize,
        args: &StridedArgs,
        n: usize,
    ) -> CudaResult<()> {
        if n == 0 {
            return Ok(());
        }
        let (yb, xb, n64) = (y_base as i64, x_base as i64, n as i64);
        self.launch("vst_strided_copy")
            .arg(&y)
            .arg(&yb)
            .arg(&x)
            .arg(&xb)
            .arg(&n64)
            .arg(args)
            .run(elementwise_config(n))
    }

    /// Uploads `values` as u64 (indices for pick / index_select).
    pub(super) fn upload_indices(&self, values: &[usize]) -> CudaResult<CudaMemory> {
        let host: Vec<u64> = values.iter().map(|&v| v as u64).collect();
        let (mem, _) = allocate(&self.shared, Pool::Compute, host.len() * 8)?;
        if !host.is_empty() {
            // SAFETY: pageable source: the call returns once the data is staged by the driver.
            unsafe { result::memcpy_htod_async(mem.ptr(), &host, self.shared.compute.cu_stream()) }
                .map_err(|e| CudaError::call("copying indices to the device", e))?;
        }
        Ok(mem)
    }
}
