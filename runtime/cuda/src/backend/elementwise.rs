//! Elementwise ops (one thread per element, `vst_unary`/`vst_binary_*`/`vst_axpby`), and the fill and
//! f32 ⇄ bf16 conversions the other families build on.

use vst_engine::shape::broadcast_strides;
use vst_engine::{BinaryOp, Storage, UnaryOp};

use super::{CudaBackend, unsupported};
use crate::allocator::Pool;
use crate::device::{CudaMemory, allocate};
use crate::error::{CudaError, CudaResult};
use crate::geometry::StridedArgs;
use crate::kernels::{self, elementwise_config};

pub(super) fn unary(gpu: &CudaBackend, op: UnaryOp, x: &Storage) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let xp = gpu.ptr(x)?;
        let (out, y) = gpu.out(x.len())?;
        if x.is_empty() {
            return Ok(out);
        }
        let (code, p) = kernels::unary_code(op);
        let n = x.len() as i64;
        gpu.launch("vst_unary")
            .arg(&y)
            .arg(&xp)
            .arg(&n)
            .arg(&code)
            .arg(&p)
            .run(elementwise_config(x.len()))?;
        Ok(out)
    })
}

pub(super) fn binary(
    gpu: &CudaBackend,
    op: BinaryOp,
    a: &Storage,
    a_shape: &[usize],
    b: &Storage,
    b_shape: &[usize],
    out_shape: &[usize],
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let (ap, bp) = (gpu.ptr(a)?, gpu.ptr(b)?);
        let n: usize = out_shape.iter().product();
        let (out, y) = gpu.out(n)?;
        if n == 0 {
            return Ok(out);
        }
        let code = kernels::binary_code(op);
        let n64 = n as i64;
        if a_shape == out_shape && b_shape == out_shape {
            gpu.launch("vst_binary_same")
                .arg(&y)
                .arg(&ap)
                .arg(&bp)
                .arg(&n64)
                .arg(&code)
                .run(elementwise_config(n))?;
        } else {
            let args = StridedArgs::new(
                out_shape,
                &broadcast_strides(a_shape, out_shape),
                &broadcast_strides(b_shape, out_shape),
            )
            .ok_or_else(|| {
                unsupported(format!(
                    "broadcasting {a_shape:?} with {b_shape:?} (too many axes)"
                ))
            })?;
            gpu.launch("vst_binary_strided")
                .arg(&y)
                .arg(&ap)
                .arg(&bp)
                .arg(&n64)
                .arg(&code)
                .arg(&args)
                .run(elementwise_config(n))?;
        }
        Ok(out)
    })
}

pub(super) fn axpby(
    gpu: &CudaBackend,
    y: &mut Storage,
    a: f32,
    b: f32,
    x: &Storage,
) -> vst_engine::Result<()> {
    gpu.run(|| {
        if y.len() != x.len() {
            return Err(CudaError::Call {
                what: "axpby",
                message: format!("lengths differ: {} vs {}", y.len(), x.len()),
            });
        }
        let (yp, xp) = (gpu.ptr(y)?, gpu.ptr(x)?);
        if x.is_empty() {
            return Ok(());
        }
        let n = x.len() as i64;
        gpu.launch("vst_axpby")
            .arg(&yp)
            .arg(&xp)
            .arg(&n)
            .arg(&a)
            .arg(&b)
            .run(elementwise_config(x.len()))
    })
}

pub(super) fn relu_backward(
    gpu: &CudaBackend,
    y: &Storage,
    dy: &Storage,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let (yp, gp) = (gpu.ptr(y)?, gpu.ptr(dy)?);
        let (out, o) = gpu.out(y.len())?;
        if y.is_empty() {
            return Ok(out);
        }
        let n = y.len() as i64;
        gpu.launch("vst_relu_backward")
            .arg(&o)
            .arg(&yp)
            .arg(&gp)
            .arg(&n)
            .run(elementwise_config(y.len()))?;
        Ok(out)
    })
}

impl CudaBackend {
    pub(super) fn fill_ptr(&self, ptr: u64, n: usize, v: f32) -> CudaResult<()> {
        if n == 0 {
            return Ok(());
        }
        let n64 = n as i64;
        self.launch("vst_fill")
            .arg(&ptr)
            .arg(&n64)
            .arg(&v)
            .run(elementwise_config(n))
    }

    /// bf16 copy of `n` f32 values (for the bf16 precision mode).
    pub(super) fn f32_to_bf16(&self, x: u64, n: usize) -> CudaResult<CudaMemory> {
        let (mem, _) = allocate(&self.shared, Pool::Compute, n * 2)?;
        if n > 0 {
            let (y, n64) = (mem.ptr(), n as i64);
            self.launch("vst_f32_to_bf16")
                .arg(&y)
                .arg(&x)
                .arg(&n64)
                .run(elementwise_config(n))?;
        }
        Ok(mem)
    }

    pub(super) fn bf16_to_f32(&self, x: u64, y: u64, n: usize) -> CudaResult<()> {
        if n == 0 {
            return Ok(());
        }
        let n64 = n as i64;
        self.launch("vst_bf16_to_f32")
            .arg(&y)
            .arg(&x)
            .arg(&n64)
            .run(elementwise_config(n))
    }
}
