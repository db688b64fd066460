//! The CPU backend: kernels on host memory, threads from rayon's global pool, matrix products from `gemm`
//! (AVX-512 kernels enabled), buffers recycled through a [`BufferPool`].

mod batch_norm;
mod buffer_pool;
mod conv;
mod elementwise;
pub(crate) mod gemm;
mod layout;
mod matmul;
mod max_pool;
mod parallel;
mod reduce;
mod simd;
mod softmax;
mod strided;
#[cfg(test)]
mod test_values;

use std::sync::Arc;

pub use buffer_pool::{BufferPool, HostMemory};
pub use parallel::{on_pool_worker, with_workers_awake};

use crate::backend::{
    Backend, BinaryOp, Conv3dGeometry, MatmulGeometry, Pool3dGeometry, ReduceOp, UnaryOp,
};
use crate::error::{EngineError, Result};
use crate::shape::numel;
use crate::storage::Storage;

/// Host buffers kept for reuse by default (the pool never holds more than this many bytes of free buffers).
const DEFAULT_POOL_LIMIT: usize = 4 << 30;

/// Kernels on the host CPU.
#[derive(Debug)]
pub struct CpuBackend {
    pool: Arc<BufferPool>,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    pub fn new() -> Self {
        Self::with_pool_limit(DEFAULT_POOL_LIMIT)
    }

    /// A backend whose pool keeps at most `bytes` of free buffers.
    pub fn with_pool_limit(bytes: usize) -> Self {
        CpuBackend {
            pool: Arc::new(BufferPool::new(bytes)),
        }
    }

    /// Bytes of free buffers held for reuse.
    pub fn pool_retained_bytes(&self) -> usize {
        self.pool.retained_bytes()
    }

    fn alloc(&self, len: usize) -> Vec<f32> {
        self.pool.take_uninit(len)
    }

    fn wrap(&self, data: Vec<f32>) -> Storage {
        let len = data.len();
        Storage::new(
            len,
            Box::new(HostMemory::new(data, Some(self.pool.clone()))),
        )
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T> {
        Err(EngineError::Backend {
            backend: "cpu".into(),
            message: message.into(),
        })
    }

    fn host<'a>(&self, s: &'a Storage) -> Result<&'a [f32]> {
        match s.downcast_ref::<HostMemory>() {
            Some(m) => Ok(&m.data),
            None => self.err("storage does not belong to the CPU backend"),
        }
    }

    /// Runs `f` on a fresh output of `len` values.
    fn produce(&self, len: usize, f: impl FnOnce(&mut [f32])) -> Result<Storage> {
        let mut out = self.alloc(len);
        f(&mut out);
        Ok(self.wrap(out))
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        "cpu".into()
    }

    fn fill(&self, len: usize, value: f32) -> Result<Storage> {
        self.produce(len, |o| o.fill(value))
    }

    fn upload(&self, data: &[f32]) -> Result<Storage> {
        self.produce(data.len(), |o| o.copy_from_slice(data))
    }

    fn download(&self, x: &Storage) -> Result<Vec<f32>> {
        Ok(self.host(x)?.to_vec())
    }

    fn copy(&self, x: &Storage) -> Result<Storage> {
        let x = self.host(x)?;
        self.produce(x.len(), |o| o.copy_from_slice(x))
    }

    fn unary(&self, op: UnaryOp, x: &Storage) -> Result<Storage> {
        let x = self.host(x)?;
        self.produce(x.len(), |o| elementwise::unary(op, x, o))
    }

    fn binary(
        &self,
        op: BinaryOp,
        a: &Storage,
        a_shape: &[usize],
        b: &Storage,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> Result<Storage> {
        let (a, b) = (self.host(a)?, self.host(b)?);
        self.produce(numel(out_shape), |o| {
            elementwise::binary(op, a, a_shape, b, b_shape, out_shape, o)
        })
    }

    fn axpby(&self, y: &mut Storage, a: f32, b: f32, x: &Storage) -> Result<()> {
        let x = self.host(x)?;
        if y.len() != x.len() {
            return self.err("axpby: lengths differ");
        }
        match y.downcast_mut::<HostMemory>() {
            Some(m) => {
                elementwise::axpby(&mut m.data, a, b, x);
                Ok(())
            }
            None => self.err("storage does not belong to the CPU backend"),
        }
    }

    fn sgd_momentum(
        &self,
        w: &mut Storage,
        g: &mut Storage,
        buf: &mut Storage,
        decay: Option<f32>,
        momentum: f32,
        nesterov: bool,
        lr: f32,
    ) -> Result<()> {
        let g = self.host(g)?;
        let Some(buf) = buf.downcast_mut::<HostMemory>() else {
            return self.err("storage does not belong to the CPU backend");
        };
        let Some(w) = w.downcast_mut::<HostMemory>() else {
            return self.err("storage does not belong to the CPU backend");
        };
        if w.data.len() != g.len() || buf.data.len() != g.len() {
            return self.err("sgd_momentum: lengths differ");
        }
        elementwise::sgd_momentum(&mut w.data, g, &mut buf.data, decay, momentum, nesterov, lr);
        Ok(())
    }

    fn relu_backward(&self, y: &Storage, dy: &Storage) -> Result<Storage> {
        let (y, dy) = (self.host(y)?, self.host(dy)?);
        self.produce(y.len(), |o| elementwise::relu_backward(y, dy, o))
    }

    fn reduce(
        &self,
        op: ReduceOp,
        x: &Storage,
        shape: &[usize],
        axes: &[usize],
    ) -> Result<Storage> {
        let x = self.host(x)?;
        let out = reduce::reduce(op, x, shape, axes);
        self.produce(out.len(), |o| o.copy_from_slice(&out))
    }

    fn broadcast(&self, x: &Storage, shape: &[usize], out_shape: &[usize]) -> Result<Storage> {
        let x = self.host(x)?;
        self.produce(numel(out_shape), |o| {
            reduce::broadcast(x, shape, out_shape, o)
        })
    }

    fn softmax(&self, x: &Storage, rows: usize, cols: usize, log: bool) -> Result<Storage> {
        let x = self.host(x)?;
        self.produce(rows * cols, |o| softmax::softmax(x, cols, log, o))
    }

    fn softmax_backward(
        &self,
        y: &Storage,
        dy: &Storage,
        rows: usize,
        cols: usize,
        log: bool,
    ) -> Result<Storage> {
        let (y, dy) = (self.host(y)?, self.host(dy)?);
        self.produce(rows * cols, |o| {
            softmax::softmax_backward(y, dy, cols, log, o)
        })
    }

    fn pick(&self, x: &Storage, rows: usize, cols: usize, targets: &[usize]) -> Result<Storage> {
        let x = self.host(x)?;
        self.produce(rows, |o| softmax::pick(x, cols, targets, o))
    }

    fn pick_backward(
        &self,
        dy: &Storage,
        rows: usize,
        cols: usize,
        targets: &[usize],
    ) -> Result<Storage> {
        let dy = self.host(dy)?;
        self.produce(rows * cols, |o| {
            softmax::pick_backward(dy, cols, targets, o)
        })
    }

    fn matmul(&self, a: &Storage, b: &Storage, g: &MatmulGeometry) -> Result<Storage> {
        let (a, b) = (self.host(a)?, self.host(b)?);
        self.produce(g.batch * g.m * g.n, |o| matmul::matmul(a, b, g, o))
    }

    fn permute(&self, x: &Storage, shape: &[usize], perm: &[usize]) -> Result<Storage> {
        let x = self.host(x)?;
        self.produce(x.len(), |o| layout::permute(x, shape, perm, o))
    }

    fn concat(&self, parts: &[(&Storage, &[usize])], axis: usize) -> Result<Storage> {
        let mut host_parts = Vec::with_capacity(parts.len());
        for (s, shape) in parts {
            host_parts.push((self.host(s)?, *shape));
        }
        let len = host_parts.iter().map(|(s, _)| s.len()).sum();
        self.produce(len, |o| layout::concat(&host_parts, axis, o))
    }

    fn slice(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        start: usize,
        len: usize,
    ) -> Result<Storage> {
        let x = self.host(x)?;
        let out_len = numel(shape) / shape[axis].max(1) * len;
        self.produce(out_len, |o| layout::slice(x, shape, axis, start, len, o))
    }

    fn pad_axis(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        start: usize,
        full: usize,
    ) -> Result<Storage> {
        let x = self.host(x)?;
        let out_len = numel(&shape[..axis]) * full * numel(&shape[axis + 1..]);
        self.produce(out_len, |o| {
            layout::pad_axis(x, shape, axis, start, full, o)
        })
    }

    fn index_select(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        indices: &[usize],
    ) -> Result<Storage> {
        let x = self.host(x)?;
        let out_len = numel(&shape[..axis]) * indices.len() * numel(&shape[axis + 1..]);
        self.produce(out_len, |o| {
            layout::index_select(x, shape, axis, indices, o)
        })
    }

    fn index_add(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        indices: &[usize],
        full: usize,
    ) -> Result<Storage> {
        let x = self.host(x)?;
        let out_len = numel(&shape[..axis]) * full * numel(&shape[axis + 1..]);
        self.produce(out_len, |o| {
            layout::index_add(x, shape, axis, indices, full, o)
        })
    }

    fn conv3d_forward(&self, x: &Storage, w: &Storage, g: &Conv3dGeometry) -> Result<Storage> {
        let (x, w) = (self.host(x)?, self.host(w)?);
        self.produce(numel(&g.y_shape()), |y| {
            conv::forward(x, w, g, y, &self.pool)
        })
    }

    fn conv3d_backward_data(
        &self,
        dy: &Storage,
        w: &Storage,
        g: &Conv3dGeometry,
    ) -> Result<Storage> {
        let (dy, w) = (self.host(dy)?, self.host(w)?);
        self.produce(numel(&g.x_shape()), |dx| {
            conv::backward_data(dy, w, g, dx, &self.pool)
        })
    }

    fn conv3d_backward_filter(
        &self,
        x: &Storage,
        dy: &Storage,
        g: &Conv3dGeometry,
    ) -> Result<Storage> {
        let (x, dy) = (self.host(x)?, self.host(dy)?);
        self.produce(numel(&g.w_shape()), |dw| {
            conv::backward_filter(x, dy, g, dw, &self.pool)
        })
    }

    fn max_pool3d_forward(&self, x: &Storage, g: &Pool3dGeometry) -> Result<Storage> {
        let x = self.host(x)?;
        self.produce(numel(&g.y_shape()), |y| max_pool::forward(x, g, y))
    }

    fn max_pool3d_backward(
        &self,
        x: &Storage,
        y: &Storage,
        dy: &Storage,
        g: &Pool3dGeometry,
    ) -> Result<Storage> {
        let (x, y, dy) = (self.host(x)?, self.host(y)?, self.host(dy)?);
        self.produce(x.len(), |dx| max_pool::backward(x, y, dy, g, dx))
    }

    fn channel_centered_sumsq(
        &self,
        x: &Storage,
        mean: &Storage,
        channels: usize,
    ) -> Result<Storage> {
        let (x, mean) = (self.host(x)?, self.host(mean)?);
        self.produce(channels, |o| {
            batch_norm::centered_sumsq(x, mean, channels, o)
        })
    }

    fn channel_affine(
        &self,
        x: &Storage,
        scale: &Storage,
        shift: &Storage,
        channels: usize,
        relu: bool,
    ) -> Result<Storage> {
        let (x, scale, shift) = (self.host(x)?, self.host(scale)?, self.host(shift)?);
        self.produce(x.len(), |y| {
            batch_norm::affine(x, scale, shift, channels, relu, y)
        })
    }

    fn batch_norm_backward_reduce(
        &self,
        dy: &Storage,
        x: &Storage,
        mean: &Storage,
        relu_y: Option<&Storage>,
        channels: usize,
    ) -> Result<(Storage, Storage)> {
        let (dy, x, mean) = (self.host(dy)?, self.host(x)?, self.host(mean)?);
        let relu_y = match relu_y {
            Some(y) => Some(self.host(y)?),
            None => None,
        };
        let mut sum_g = self.alloc(channels);
        let mut sum_gx = self.alloc(channels);
        batch_norm::backward_reduce(dy, x, mean, relu_y, channels, &mut sum_g, &mut sum_gx);
        Ok((self.wrap(sum_g), self.wrap(sum_gx)))
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
    ) -> Result<Storage> {
        let (dy, x, mean) = (self.host(dy)?, self.host(x)?, self.host(mean)?);
        let (a, b, d) = (self.host(a)?, self.host(b)?, self.host(d)?);
        let relu_y = match relu_y {
            Some(y) => Some(self.host(y)?),
            None => None,
        };
        self.produce(x.len(), |dx| {
            batch_norm::backward_data(dy, x, mean, relu_y, a, b, d, channels, dx)
        })
    }
}
