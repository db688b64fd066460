//! `CudaBackend`: the engine's [`Backend`] on one NVIDIA GPU. Convolutions go to cuDNN, matrix products to
//! cuBLAS, everything else to the NVRTC kernels of `kernels/source.cu`; all work is queued on one compute stream
//! (so buffers can be recycled in stream order), uploads use a second stream.
//!
//! One file per op family, as in the engine's `cpu` backend (elementwise, reduce, softmax, matmul, layout, conv,
//! max_pool, batch_norm; `open` for opening the device): this file holds the struct, the helpers every family
//! uses, and the [`Backend`] impl that hands each op to its family.

use std::sync::Arc;

use cudarc::driver::result;
use vst_engine::{
    Backend, BinaryOp, Conv3dGeometry, MatmulGeometry, Pool3dGeometry, ReduceOp, Storage, UnaryOp,
};

use crate::blas::Blas;
use crate::conv::Convolutions;
use crate::device::{CudaMemory, Launch, Shared, alloc_storage};
use crate::error::{CudaError, CudaResult, engine_err};
use crate::options::CudaOptions;
use crate::transfer::{ASYNC_UPLOAD_MIN_BYTES, Staging, download};

mod batch_norm;
mod conv;
mod elementwise;
mod layout;
mod matmul;
mod max_pool;
mod open;
mod reduce;
mod softmax;

pub use open::GpuInfo;

/// Kernels on one NVIDIA GPU.
#[derive(Debug)]
pub struct CudaBackend {
    // Library handles and pinned buffers go before the device state they need (fields drop in order).
    conv: Convolutions,
    blas: Blas,
    staging: Staging,
    options: CudaOptions,
    info: GpuInfo,
    shared: Arc<Shared>,
}

/// Helpers every op family uses: the device bound around each op, operands resolved to device pointers,
/// fresh outputs, kernel launches.
impl CudaBackend {
    fn run<T>(&self, f: impl FnOnce() -> CudaResult<T>) -> vst_engine::Result<T> {
        self.shared
            .bind()
            .and_then(|_| f())
            .map_err(|e| engine_err(&self.shared.name, e))
    }

    fn ptr(&self, s: &Storage) -> CudaResult<u64> {
        match s.downcast_ref::<CudaMemory>() {
            Some(m) if Arc::ptr_eq(&m.shared, &self.shared) => Ok(m.ptr()),
            Some(_) => Err(CudaError::Call {
                what: "reading a tensor",
                message: "the tensor lives on another CUDA device".into(),
            }),
            None => Err(CudaError::Call {
                what: "reading a tensor",
                message: "the tensor does not live on a CUDA device".into(),
            }),
        }
    }

    fn out(&self, len: usize) -> CudaResult<(Storage, u64)> {
        alloc_storage(&self.shared, len)
    }

    fn launch(&self, name: &'static str) -> Launch<'_> {
        Launch::new(&self.shared, name)
    }

    fn optional_ptr(&self, s: Option<&Storage>) -> CudaResult<u64> {
        match s {
            Some(s) => self.ptr(s),
            None => Ok(0),
        }
    }

    fn copy_part(&self, src: u64, offset: usize, len: usize) -> CudaResult<Storage> {
        let (out, ptr) = self.out(len)?;
        if len > 0 {
            // SAFETY: both buffers hold the ranges copied.
            unsafe {
                result::memcpy_dtod_async(
                    ptr,
                    src + (offset * 4) as u64,
                    len * 4,
                    self.shared.compute.cu_stream(),
                )
            }
            .map_err(|e| CudaError::call("copying on the device", e))?;
        }
        Ok(out)
    }
}

fn unsupported(what: String) -> CudaError {
    CudaError::Call {
        what: "not supported yet",
        message: what,
    }
}

/// Each op is in the module of its family; the small transfer ops (fill, upload, download, copy) are here.
impl Backend for CudaBackend {
    fn name(&self) -> String {
        self.shared.name.clone()
    }

    fn fill(&self, len: usize, value: f32) -> vst_engine::Result<Storage> {
        self.run(|| {
            let (out, ptr) = self.out(len)?;
            self.fill_ptr(ptr, len, value)?;
            Ok(out)
        })
    }

    fn upload(&self, data: &[f32]) -> vst_engine::Result<Storage> {
        self.run(|| {
            if std::mem::size_of_val(data) >= ASYNC_UPLOAD_MIN_BYTES {
                let mem = self.staging.upload(&self.shared, data)?;
                return Ok(Storage::new(data.len(), Box::new(mem)));
            }
            let (out, ptr) = self.out(data.len())?;
            if !data.is_empty() {
                // SAFETY: pageable source: the call returns once the driver has staged the data.
                unsafe { result::memcpy_htod_async(ptr, data, self.shared.compute.cu_stream()) }
                    .map_err(|e| CudaError::call("copying to the device", e))?;
            }
            Ok(out)
        })
    }

    fn download(&self, x: &Storage) -> vst_engine::Result<Vec<f32>> {
        self.run(|| download(&self.shared, self.ptr(x)?, x.len()))
    }

    fn copy(&self, x: &Storage) -> vst_engine::Result<Storage> {
        self.run(|| self.copy_part(self.ptr(x)?, 0, x.len()))
    }

    fn unary(&self, op: UnaryOp, x: &Storage) -> vst_engine::Result<Storage> {
        elementwise::unary(self, op, x)
    }

    fn binary(
        &self,
        op: BinaryOp,
        a: &Storage,
        a_shape: &[usize],
        b: &Storage,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> vst_engine::Result<Storage> {
        elementwise::binary(self, op, a, a_shape, b, b_shape, out_shape)
    }

    fn axpby(&self, y: &mut Storage, a: f32, b: f32, x: &Storage) -> vst_engine::Result<()> {
        elementwise::axpby(self, y, a, b, x)
    }

    fn relu_backward(&self, y: &Storage, dy: &Storage) -> vst_engine::Result<Storage> {
        elementwise::relu_backward(self, y, dy)
    }

    fn reduce(
        &self,
        op: ReduceOp,
        x: &Storage,
        shape: &[usize],
        axes: &[usize],
    ) -> vst_engine::Result<Storage> {
        reduce::reduce(self, op, x, shape, axes)
    }

    fn broadcast(
        &self,
        x: &Storage,
        shape: &[usize],
        out_shape: &[usize],
    ) -> vst_engine::Result<Storage> {
        reduce::broadcast(self, x, shape, out_shape)
    }

    fn softmax(
        &self,
        x: &Storage,
        rows: usize,
        cols: usize,
        log: bool,
    ) -> vst_engine::Result<Storage> {
        softmax::softmax(self, x, rows, cols, log)
    }

    fn softmax_backward(
        &self,
        y: &Storage,
        dy: &Storage,
        rows: usize,
        cols: usize,
        log: bool,
    ) -> vst_engine::Result<Storage> {
        softmax::softmax_backward(self, y, dy, rows, cols, log)
    }

    fn pick(
        &self,
        x: &Storage,
        rows: usize,
        cols: usize,
        targets: &[usize],
    ) -> vst_engine::Result<Storage> {
        softmax::pick(self, x, rows, cols, targets)
    }

    fn pick_backward(
        &self,
        dy: &Storage,
        rows: usize,
        cols: usize,
        targets: &[usize],
    ) -> vst_engine::Result<Storage> {
        softmax::pick_backward(self, dy, rows, cols, targets)
    }

    fn matmul(&self, a: &Storage, b: &Storage, g: &MatmulGeometry) -> vst_engine::Result<Storage> {
        matmul::matmul(self, a, b, g)
    }

    fn permute(&self, x: &Storage, shape: &[usize], perm: &[usize]) -> vst_engine::Result<Storage> {
        layout::permute(self, x, shape, perm)
    }

    fn concat(&self, parts: &[(&Storage, &[usize])], axis: usize) -> vst_engine::Result<Storage> {
        layout::concat(self, parts, axis)
    }

    fn slice(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        start: usize,
        len: usize,
    ) -> vst_engine::Result<Storage> {
        layout::slice(self, x, shape, axis, start, len)
    }

    fn pad_axis(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        start: usize,
        full: usize,
    ) -> vst_engine::Result<Storage> {
        layout::pad_axis(self, x, shape, axis, start, full)
    }

    fn index_select(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        indices: &[usize],
    ) -> vst_engine::Result<Storage> {
        layout::index_select(self, x, shape, axis, indices)
    }

    fn index_add(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        indices: &[usize],
        full: usize,
    ) -> vst_engine::Result<Storage> {
        layout::index_add(self, x, shape, axis, indices, full)
    }

    fn conv3d_forward(
        &self,
        x: &Storage,
        w: &Storage,
        g: &Conv3dGeometry,
    ) -> vst_engine::Result<Storage> {
        conv::forward(self, x, w, g)
    }

    fn conv3d_backward_data(
        &self,
        dy: &Storage,
        w: &Storage,
        g: &Conv3dGeometry,
    ) -> vst_engine::Result<Storage> {
        conv::backward_data(self, dy, w, g)
    }

    fn conv3d_backward_filter(
        &self,
        x: &Storage,
        dy: &Storage,
        g: &Conv3dGeometry,
    ) -> vst_engine::Result<Storage> {
        conv::backward_filter(self, x, dy, g)
    }

    fn max_pool3d_forward(&self, x: &Storage, g: &Pool3dGeometry) -> vst_engine::Result<Storage> {
        max_pool::forward(self, x, g)
    }

    fn max_pool3d_backward(
        &self,
        x: &Storage,
        _y: &Storage,
        dy: &Storage,
        g: &Pool3dGeometry,
    ) -> vst_engine::Result<Storage> {
        max_pool::backward(self, x, dy, g)
    }

    fn channel_centered_sumsq(
        &self,
        x: &Storage,
        mean: &Storage,
        channels: usize,
    ) -> vst_engine::Result<Storage> {
        batch_norm::centered_sumsq(self, x, mean, channels)
    }

    fn channel_affine(
        &self,
        x: &Storage,
        scale: &Storage,
        shift: &Storage,
        channels: usize,
        relu: bool,
    ) -> vst_engine::Result<Storage> {
        batch_norm::affine(self, x, scale, shift, channels, relu)
    }

    fn batch_norm_backward_reduce(
        &self,
        dy: &Storage,
        x: &Storage,
        mean: &Storage,
        relu_y: Option<&Storage>,
        channels: usize,
    ) -> vst_engine::Result<(Storage, Storage)> {
        batch_norm::backward_reduce(self, dy, x, mean, relu_y, channels)
    }

    fn batch_norm_backward_data(
        &self,
        dy: &Storage,
        x: &Storage,
        mean: &Storage,
        relu_y: Option<&Storage>,
        a: &Storage,
        b: &Storage,
        d: &Storage,
        channels: usize,
    ) -> vst_engine::Result<Storage> {
        batch_norm::backward_data(self, dy, x, mean, relu_y, a, b, d, channels)
    }
}
