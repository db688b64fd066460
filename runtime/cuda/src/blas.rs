//! Matrix products through cuBLAS (`cublasGemmStridedBatchedEx`): one call for a whole batch, shared operands as
//! batch stride 0, row-major mapped onto column-major by swapping the operands (see `geometry::column_major_gemm`).

use std::sync::Mutex;

use cudarc::cublas::sys::{self, cublasComputeType_t, cublasOperation_t, cudaDataType};
use vst_engine::MatmulGeometry;

use crate::device::{Handle, Shared};
use crate::error::{CudaError, CudaResult};
use crate::geometry::column_major_gemm;
use crate::options::Precision;

/// Operand type and compute type of a precision. f32 uses the pedantic f32 compute type so cuBLAS never
/// substitutes TF32 (or any reduced-precision) tensor-core math.
pub fn gemm_types(p: Precision) -> (cudaDataType, cublasComputeType_t) {
    match p {
        Precision::F32 => (
            cudaDataType::CUDA_R_32F,
            cublasComputeType_t::CUBLAS_COMPUTE_32F_PEDANTIC,
        ),
        Precision::Tf32 => (
            cudaDataType::CUDA_R_32F,
            cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_TF32,
        ),
        Precision::Bf16 => (
            cudaDataType::CUDA_R_16BF,
            cublasComputeType_t::CUBLAS_COMPUTE_32F,
        ),
    }
}

pub(crate) struct Blas {
    handle: Mutex<Handle<sys::cublasHandle_t>>,
}

impl std::fmt::Debug for Blas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blas")
    }
}

impl Drop for Blas {
    fn drop(&mut self) {
        if let Ok(h) = self.handle.lock() {
            // SAFETY: created in `new`, destroyed once.
            let _ = unsafe { sys::cublasDestroy_v2(h.0) };
        }
    }
}

fn check(what: &'static str, s: sys::cublasStatus_t) -> CudaResult<()> {
    if s == sys::cublasStatus_t::CUBLAS_STATUS_SUCCESS {
        Ok(())
    } else {
        Err(CudaError::call(what, s))
    }
}

impl Blas {
    pub(crate) fn new(shared: &Shared) -> CudaResult<Blas> {
        shared.bind()?;
        // SAFETY: plain library calls with valid out-pointers.
        unsafe {
            let mut h = std::ptr::null_mut();
            check("cublasCreate", sys::cublasCreate_v2(&mut h))?;
            let blas = Blas {
                handle: Mutex::new(Handle(h)),
            };
            check(
                "cublasSetStream",
                sys::cublasSetStream_v2(h, shared.compute.cu_stream() as _),
            )?;
            Ok(blas)
        }
    }

    /// `c = op(a) · op(b)` for row-major operands whose storage type is `precision`'s operand type; `c` is f32.
    pub(crate) fn matmul(
        &self,
        g: &MatmulGeometry,
        precision: Precision,
        a: u64,
        b: u64,
        c: u64,
    ) -> CudaResult<()> {
        let cm = column_major_gemm(g).ok_or_else(|| CudaError::Call {
            what: "cuBLAS GEMM",
            message: format!("{g:?} exceeds cuBLAS's 32-bit sizes"),
        })?;
        let (operand, compute) = gemm_types(precision);
        let op = |t: bool| {
            if t {
                cublasOperation_t::CUBLAS_OP_T
            } else {
                cublasOperation_t::CUBLAS_OP_N
            }
        };
        let (one, zero) = (1.0f32, 0.0f32);
        let h = self.handle.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: the engine validated the operand sizes against `g`; pointers are live device buffers.
        unsafe {
            check(
                "cublasGemmStridedBatchedEx",
                sys::cublasGemmStridedBatchedEx(
                    h.0,
                    op(cm.trans_first),
                    op(cm.trans_second),
                    cm.m,
                    cm.n,
                    cm.k,
                    &one as *const f32 as _,
                    b as _,
                    operand,
                    cm.ld_first,
                    cm.stride_first,
                    a as _,
                    operand,
                    cm.ld_second,
                    cm.stride_second,
                    &zero as *const f32 as _,
                    c as _,
                    cudaDataType::CUDA_R_32F,
                    cm.ldc,
                    cm.stride_c,
                    cm.batch,
                    compute,
                    sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_explicit_options_allow_reduced_precision() {
        assert_eq!(
            gemm_types(Precision::F32).1,
            cublasComputeType_t::CUBLAS_COMPUTE_32F_PEDANTIC
        );
        assert_eq!(
            gemm_types(Precision::Tf32).1,
            cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_TF32
        );
        assert_eq!(gemm_types(Precision::Bf16).0, cudaDataType::CUDA_R_16BF);
    }
}
