//! Matrix products through cuBLAS, with bf16 copies of the operands in bf16 mode.

use vst_engine::{MatmulGeometry, Storage};

use super::CudaBackend;
use crate::options::Precision;

pub(super) fn matmul(
    gpu: &CudaBackend,
    a: &Storage,
    b: &Storage,
    g: &MatmulGeometry,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        let (ap, bp) = (gpu.ptr(a)?, gpu.ptr(b)?);
        let len = g.batch * g.m * g.n;
        let (out, c) = gpu.out(len)?;
        if len == 0 {
            return Ok(out);
        }
        if g.k == 0 {
            gpu.fill_ptr(c, len, 0.0)?;
            return Ok(out);
        }
        let p = gpu.options.precision;
        if p == Precision::Bf16 {
            let (a16, b16) = (gpu.f32_to_bf16(ap, a.len())?, gpu.f32_to_bf16(bp, b.len())?);
            gpu.blas.matmul(g, p, a16.ptr(), b16.ptr(), c)?;
        } else {
            gpu.blas.matmul(g, p, ap, bp, c)?;
        }
        Ok(out)
    })
}
