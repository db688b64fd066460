//! `CudaBackend`: the engine's [`Backend`] on one NVIDIA GPU. Convolutions go to cuDNN, matrix products to
//! cuBLAS, everything else to the NVRTC kernels of `kernels/source.cu`; all work is queued on one compute stream
//! (so buffers can be recycled in stream order), uploads use a second stream.

use std::sync::Arc;

use cudarc::driver::{CudaContext, LaunchConfig, result};
use vst_engine::shape::{broadcast_strides, reduction_runs, split_at_axis, strides};
use vst_engine::{
    Backend, BinaryOp, Conv3dGeometry, MatmulGeometry, Pool3dGeometry, ReduceOp, Storage, UnaryOp,
};

use crate::allocator::{AllocStats, Pool};
use crate::blas::Blas;
use crate::conv::{ConvLayout, ConvPass, Convolutions};
use crate::device::{CudaMemory, Launch, Shared, alloc_storage, allocate};
use crate::error::{CudaError, CudaResult, engine_err};
use crate::geometry::{
    PoolArgs, StridedArgs, TO_CHANNELS_FIRST, channels_first_strides, plan_reduce,
};
use crate::kernels::{self, BN_BACKWARD, BN_SUMSQ, Kernels, elementwise_config};
use crate::options::{CudaOptions, Precision};
use crate::probe::{probe_device, probe_libraries};
use crate::transfer::{ASYNC_UPLOAD_MIN_BYTES, Staging, download};

/// What the device reported when the backend opened it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuInfo {
    pub ordinal: usize,
    pub name: String,
    pub compute_capability: (i32, i32),
    pub total_memory: usize,
    /// CUDA version of the driver (13000 = 13.0).
    pub driver_cuda_version: i32,
    /// cuDNN version number (91300 = 9.13.0).
    pub cudnn_version: usize,
}

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

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

impl CudaBackend {
    /// Opens GPU `ordinal` with default options (f32, benchmarked algorithms).
    pub fn new(ordinal: usize) -> CudaResult<CudaBackend> {
        Self::with_options(ordinal, CudaOptions::default())
    }

    /// Opens GPU `ordinal`. Fails with an explanation, never a panic, when there is no driver, no such device or a
    /// missing library.
    pub fn with_options(ordinal: usize, options: CudaOptions) -> CudaResult<CudaBackend> {
        let driver = probe_device(ordinal)?;
        probe_libraries()?;
        // cudarc's safe layer panics (instead of returning errors) on a few unexpected driver states; the probes
        // above rule out the known ones, and this turns any other into an error too.
        std::panic::catch_unwind(|| Self::open(ordinal, options, driver.cuda_version))
            .unwrap_or_else(|p| {
                Err(CudaError::Call {
                    what: "initialising CUDA",
                    message: panic_message(p),
                })
            })
    }

    fn open(
        ordinal: usize,
        options: CudaOptions,
        driver_cuda_version: i32,
    ) -> CudaResult<CudaBackend> {
        let ctx =
            CudaContext::new(ordinal).map_err(|e| CudaError::call("creating a CUDA context", e))?;
        // Buffers are raw allocations synchronised by stream order and explicit events, not cudarc's per-slice
        // event tracking.
        // SAFETY: this backend never uses cudarc's CudaSlice types.
        unsafe { ctx.disable_event_tracking() };
        let compute = ctx
            .new_stream()
            .map_err(|e| CudaError::call("creating a stream", e))?;
        let copy = ctx
            .new_stream()
            .map_err(|e| CudaError::call("creating a stream", e))?;
        let kernels = Kernels::compile(&ctx)?;
        let name = format!("cuda:{ordinal}");
        let gpu_name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
        let compute_capability = ctx
            .compute_capability()
            .map_err(|e| CudaError::call("reading the compute capability", e))?;
        let total_memory = ctx.total_mem().unwrap_or(0);
        let shared = Arc::new(Shared::new(name, ctx, compute, copy, kernels));
        let conv = Convolutions::new(&shared, options)?;
        let blas = Blas::new(&shared)?;
        // SAFETY: the library was probed loadable.
        let cudnn_version = unsafe { cudarc::cudnn::sys::cudnnGetVersion() };
        Ok(CudaBackend {
            conv,
            blas,
            staging: Staging::default(),
            options,
            info: GpuInfo {
                ordinal,
                name: gpu_name,
                compute_capability,
                total_memory,
                driver_cuda_version,
                cudnn_version,
            },
            shared,
        })
    }

    pub fn info(&self) -> &GpuInfo {
        &self.info
    }

    pub fn options(&self) -> CudaOptions {
        self.options
    }

    /// Allocator counters (bytes in use, peak, cached).
    pub fn memory_stats(&self) -> AllocStats {
        self.shared.stats()
    }

    pub fn reset_peak_memory(&self) {
        self.shared.allocator().reset_peak();
    }

    /// Returns cached free blocks to the driver.
    pub fn empty_cache(&self) {
        self.shared.allocator().release_cached();
    }

    /// Convolution algorithm choices made so far.
    pub fn cached_conv_algorithms(&self) -> usize {
        self.conv.cached_algorithms()
    }

    /// Convolution passes that cuDNN could not run channels-last (they run transposed to channels-first).
    pub fn channels_first_conv_passes(&self) -> usize {
        self.conv.channels_first_passes()
    }

    /// Waits until every queued kernel and copy has finished (for timing).
    pub fn synchronize(&self) -> CudaResult<()> {
        self.shared.bind()?;
        self.shared
            .ctx
            .synchronize()
            .map_err(|e| CudaError::call("synchronising the device", e))
    }

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

    fn fill_ptr(&self, ptr: u64, n: usize, v: f32) -> CudaResult<()> {
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

    fn strided_copy(
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
    fn upload_indices(&self, values: &[usize]) -> CudaResult<CudaMemory> {
        let host: Vec<u64> = values.iter().map(|&v| v as u64).collect();
        let (mem, _) = allocate(&self.shared, Pool::Compute, host.len() * 8)?;
        if !host.is_empty() {
            // SAFETY: pageable source: the call returns once the data is staged by the driver.
            unsafe { result::memcpy_htod_async(mem.ptr(), &host, self.shared.compute.cu_stream()) }
                .map_err(|e| CudaError::call("copying indices to the device", e))?;
        }
        Ok(mem)
    }

    /// One reduction pass over outer × r × inner into a new buffer of outer × inner, split along r (and finished
    /// by a second pass) when that keeps more of the GPU busy.
    fn reduce_pass(
        &self,
        op: ReduceOp,
        x: u64,
        outer: usize,
        r: usize,
        inner: usize,
    ) -> CudaResult<Storage> {
        let (out, out_ptr) = self.out(outer * inner)?;
        if outer * inner == 0 {
            return Ok(out);
        }
        if r == 0 {
            let init = match op {
                ReduceOp::Sum => 0.0,
                ReduceOp::Max => f32::NEG_INFINITY,
            };
            self.fill_ptr(out_ptr, outer * inner, init)?;
            return Ok(out);
        }
        let plan = plan_reduce(outer, r, inner);
        let (partial, partial_ptr) = if plan.chunks == 1 {
            (None, out_ptr)
        } else {
            let (p, ptr) = self.out(outer * plan.chunks * inner)?;
            (Some(p), ptr)
        };
        let code = kernels::reduce_code(op);
        let (o64, r64, i64_, c64) = (outer as i64, r as i64, inner as i64, plan.chunk as i64);
        let grid_x = if inner == 1 {
            outer
        } else {
            outer * inner.div_ceil(32)
        };
        if grid_x > i32::MAX as usize {
            return Err(CudaError::Call {
                what: "reduce",
                message: format!("{outer}×{r}×{inner} needs too many blocks"),
            });
        }
        if inner == 1 {
            self.launch("vst_reduce_rows")
                .arg(&partial_ptr)
                .arg(&x)
                .arg(&o64)
                .arg(&r64)
                .arg(&c64)
                .arg(&code)
                .run(LaunchConfig {
                    grid_dim: (grid_x as u32, plan.chunks as u32, 1),
                    block_dim: (256, 1, 1),
                    shared_mem_bytes: 0,
                })?;
        } else {
            self.launch("vst_reduce_cols")
                .arg(&partial_ptr)
                .arg(&x)
                .arg(&o64)
                .arg(&r64)
                .arg(&i64_)
                .arg(&c64)
                .arg(&code)
                .run(LaunchConfig {
                    grid_dim: (grid_x as u32, plan.chunks as u32, 1),
                    block_dim: (32, 8, 1),
                    shared_mem_bytes: 0,
                })?;
        }
        match partial {
            None => Ok(out),
            Some(p) => {
                drop(out);
                let ptr = self.ptr(&p)?;
                self.reduce_pass(op, ptr, outer, plan.chunks, inner)
            }
        }
    }

    /// bf16 copy of `n` f32 values (for the bf16 precision mode).
    fn f32_to_bf16(&self, x: u64, n: usize) -> CudaResult<CudaMemory> {
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

    fn bf16_to_f32(&self, x: u64, y: u64, n: usize) -> CudaResult<()> {
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

    /// A convolution pass writing `out_len` f32 at a new buffer; `a`, `b` (f32) as in `Convolutions::run`.
    fn conv(
        &self,
        pass: ConvPass,
        g: &Conv3dGeometry,
        a: &Storage,
        b: &Storage,
        out_len: usize,
    ) -> CudaResult<Storage> {
        let (a, b) = ((self.ptr(a)?, a.len()), (self.ptr(b)?, b.len()));
        let (out, out_ptr) = self.out(out_len)?;
        if out_len == 0 {
            return Ok(out);
        }
        if a.1 == 0 || b.1 == 0 {
            self.fill_ptr(out_ptr, out_len, 0.0)?;
            return Ok(out);
        }
        let p = self.options.precision;
        if self.conv.layout(pass, g, p) == ConvLayout::ChannelsLast {
            match self.conv_in_layout(
                pass,
                g,
                ConvLayout::ChannelsLast,
                a.0,
                b.0,
                out_ptr,
                out_len,
            ) {
                Err(CudaError::NoConvAlgorithm(_)) => self.conv.use_channels_first(pass, g, p),
                other => return other.map(|_| out),
            }
        }
        // cuDNN cannot run this pass channels-last: transpose operands to channels-first and the result back.
        let (a_shape, b_shape, out_shape) = match pass {
            ConvPass::Forward => (g.x_shape(), g.w_shape(), g.y_shape()),
            ConvPass::BackwardData => (g.y_shape(), g.w_shape(), g.x_shape()),
            ConvPass::BackwardFilter => (g.x_shape(), g.y_shape(), g.w_shape()),
        };
        let a_cf = self.permute5(a.0, a_shape, TO_CHANNELS_FIRST)?;
        let b_cf = self.permute5(b.0, b_shape, TO_CHANNELS_FIRST)?;
        let (out_cf, _) = allocate(&self.shared, Pool::Compute, out_len * 4)?;
        self.conv_in_layout(
            pass,
            g,
            ConvLayout::ChannelsFirst,
            a_cf.ptr(),
            b_cf.ptr(),
            out_cf.ptr(),
            out_len,
        )?;
        let back = StridedArgs::new(
            &out_shape,
            &strides(&out_shape),
            &channels_first_strides(out_shape),
        )
        .ok_or_else(|| unsupported("transposing a convolution result".into()))?;
        self.strided_copy(out_ptr, 0, out_cf.ptr(), 0, &back, out_len)?;
        Ok(out)
    }

    /// A dense copy of the 5D tensor at `x` (of `shape`) with axes reordered by `perm`.
    fn permute5(&self, x: u64, shape: [usize; 5], perm: [usize; 5]) -> CudaResult<CudaMemory> {
        let n: usize = shape.iter().product();
        let (mem, _) = allocate(&self.shared, Pool::Compute, n * 4)?;
        let xs = strides(&shape);
        let out_shape = perm.map(|p| shape[p]);
        let args = StridedArgs::new(&out_shape, &strides(&out_shape), &perm.map(|p| xs[p]))
            .ok_or_else(|| unsupported("transposing a convolution operand".into()))?;
        self.strided_copy(mem.ptr(), 0, x, 0, &args, n)?;
        Ok(mem)
    }

    /// One cuDNN pass on f32 operands already in `layout`, converting to bf16 around it in bf16 mode.
    #[allow(clippy::too_many_arguments)]
    fn conv_in_layout(
        &self,
        pass: ConvPass,
        g: &Conv3dGeometry,
        layout: ConvLayout,
        a: u64,
        b: u64,
        out: u64,
        out_len: usize,
    ) -> CudaResult<()> {
        let p = self.options.precision;
        if p != Precision::Bf16 {
            return self.conv.run(&self.shared, pass, g, p, layout, a, b, out);
        }
        let (a_len, b_len) = match pass {
            ConvPass::Forward => (g.x_shape(), g.w_shape()),
            ConvPass::BackwardData => (g.y_shape(), g.w_shape()),
            ConvPass::BackwardFilter => (g.x_shape(), g.y_shape()),
        };
        let a16 = self.f32_to_bf16(a, a_len.iter().product())?;
        let b16 = self.f32_to_bf16(b, b_len.iter().product())?;
        let (o16, _) = allocate(&self.shared, Pool::Compute, out_len * 2)?;
        self.conv.run(
            &self.shared,
            pass,
            g,
            p,
            layout,
            a16.ptr(),
            b16.ptr(),
            o16.ptr(),
        )?;
        self.bf16_to_f32(o16.ptr(), out, out_len)
    }

    /// Per-channel sums of a rows × channels tensor in `mode` (see `vst_bn_reduce`): `terms` sums per channel.
    #[allow(clippy::too_many_arguments)]
    fn bn_reduce(
        &self,
        mode: i32,
        x: u64,
        dy: u64,
        mean: u64,
        relu_y: u64,
        rows: usize,
        channels: usize,
        terms: usize,
    ) -> CudaResult<Storage> {
        let plan = plan_reduce(1, rows, channels);
        let (partial, partial_ptr) = self.out(plan.chunks * terms * channels)?;
        if channels == 0 {
            return Ok(partial);
        }
        if rows == 0 {
            self.fill_ptr(partial_ptr, plan.chunks * terms * channels, 0.0)?;
            return Ok(partial);
        }
        let (r64, c64, k64) = (rows as i64, channels as i64, plan.chunk as i64);
        self.launch("vst_bn_reduce")
            .arg(&partial_ptr)
            .arg(&x)
            .arg(&dy)
            .arg(&mean)
            .arg(&relu_y)
            .arg(&r64)
            .arg(&c64)
            .arg(&k64)
            .arg(&mode)
            .run(LaunchConfig {
                grid_dim: (channels.div_ceil(32) as u32, plan.chunks as u32, 1),
                block_dim: (32, 8, 1),
                shared_mem_bytes: 0,
            })?;
        if plan.chunks == 1 {
            Ok(partial)
        } else {
            self.reduce_pass(ReduceOp::Sum, partial_ptr, 1, plan.chunks, terms * channels)
        }
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
        self.run(|| {
            let xp = self.ptr(x)?;
            let (out, y) = self.out(x.len())?;
            if x.is_empty() {
                return Ok(out);
            }
            let (code, p) = kernels::unary_code(op);
            let n = x.len() as i64;
            self.launch("vst_unary")
                .arg(&y)
                .arg(&xp)
                .arg(&n)
                .arg(&code)
                .arg(&p)
                .run(elementwise_config(x.len()))?;
            Ok(out)
        })
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
        self.run(|| {
            let (ap, bp) = (self.ptr(a)?, self.ptr(b)?);
            let n: usize = out_shape.iter().product();
            let (out, y) = self.out(n)?;
            if n == 0 {
                return Ok(out);
            }
            let code = kernels::binary_code(op);
            let n64 = n as i64;
            if a_shape == out_shape && b_shape == out_shape {
                self.launch("vst_binary_same")
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
                self.launch("vst_binary_strided")
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

    fn axpby(&self, y: &mut Storage, a: f32, b: f32, x: &Storage) -> vst_engine::Result<()> {
        self.run(|| {
            if y.len() != x.len() {
                return Err(CudaError::Call {
                    what: "axpby",
                    message: format!("lengths differ: {} vs {}", y.len(), x.len()),
                });
            }
            let (yp, xp) = (self.ptr(y)?, self.ptr(x)?);
            if x.is_empty() {
                return Ok(());
            }
            let n = x.len() as i64;
            self.launch("vst_axpby")
                .arg(&yp)
                .arg(&xp)
                .arg(&n)
                .arg(&a)
                .arg(&b)
                .run(elementwise_config(x.len()))
        })
    }

    fn relu_backward(&self, y: &Storage, dy: &Storage) -> vst_engine::Result<Storage> {
        self.run(|| {
            let (yp, gp) = (self.ptr(y)?, self.ptr(dy)?);
            let (out, o) = self.out(y.len())?;
            if y.is_empty() {
                return Ok(out);
            }
            let n = y.len() as i64;
            self.launch("vst_relu_backward")
                .arg(&o)
                .arg(&yp)
                .arg(&gp)
                .arg(&n)
                .run(elementwise_config(y.len()))?;
            Ok(out)
        })
    }

    fn reduce(
        &self,
        op: ReduceOp,
        x: &Storage,
        shape: &[usize],
        axes: &[usize],
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let runs = reduction_runs(shape, axes);
            if runs.is_empty() {
                return self.copy_part(self.ptr(x)?, 0, x.len());
            }
            let mut current: Option<Storage> = None;
            for (outer, r, inner) in runs {
                let src = match &current {
                    Some(s) => self.ptr(s)?,
                    None => self.ptr(x)?,
                };
                current = Some(self.reduce_pass(op, src, outer, r, inner)?);
            }
            current.ok_or_else(|| unsupported("empty reduction".into()))
        })
    }

    fn broadcast(
        &self,
        x: &Storage,
        shape: &[usize],
        out_shape: &[usize],
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let xp = self.ptr(x)?;
            let n: usize = out_shape.iter().product();
            let (out, y) = self.out(n)?;
            let args = StridedArgs::new(
                out_shape,
                &strides(out_shape),
                &broadcast_strides(shape, out_shape),
            )
            .ok_or_else(|| {
                unsupported(format!(
                    "broadcasting {shape:?} to {out_shape:?} (too many axes)"
                ))
            })?;
            self.strided_copy(y, 0, xp, 0, &args, n)?;
            Ok(out)
        })
    }

    fn softmax(
        &self,
        x: &Storage,
        rows: usize,
        cols: usize,
        log: bool,
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let xp = self.ptr(x)?;
            let (out, y) = self.out(rows * cols)?;
            if rows * cols == 0 {
                return Ok(out);
            }
            let (r, c, l) = (rows as i64, cols as i64, log as i32);
            self.launch("vst_softmax")
                .arg(&y)
                .arg(&xp)
                .arg(&r)
                .arg(&c)
                .arg(&l)
                .run(LaunchConfig {
                    grid_dim: (rows as u32, 1, 1),
                    block_dim: (256, 1, 1),
                    shared_mem_bytes: 0,
                })?;
            Ok(out)
        })
    }

    fn softmax_backward(
        &self,
        y: &Storage,
        dy: &Storage,
        rows: usize,
        cols: usize,
        log: bool,
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let (yp, gp) = (self.ptr(y)?, self.ptr(dy)?);
            let (out, o) = self.out(rows * cols)?;
            if rows * cols == 0 {
                return Ok(out);
            }
            let (r, c, l) = (rows as i64, cols as i64, log as i32);
            self.launch("vst_softmax_backward")
                .arg(&o)
                .arg(&yp)
                .arg(&gp)
                .arg(&r)
                .arg(&c)
                .arg(&l)
                .run(LaunchConfig {
                    grid_dim: (rows as u32, 1, 1),
                    block_dim: (256, 1, 1),
                    shared_mem_bytes: 0,
                })?;
            Ok(out)
        })
    }

    fn pick(
        &self,
        x: &Storage,
        rows: usize,
        cols: usize,
        targets: &[usize],
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let xp = self.ptr(x)?;
            let (out, y) = self.out(rows)?;
            if rows == 0 {
                return Ok(out);
            }
            let t = self.upload_indices(targets)?;
            let (tp, r, c) = (t.ptr(), rows as i64, cols as i64);
            self.launch("vst_pick")
                .arg(&y)
                .arg(&xp)
                .arg(&tp)
                .arg(&r)
                .arg(&c)
                .run(elementwise_config(rows))?;
            Ok(out)
        })
    }

    fn pick_backward(
        &self,
        dy: &Storage,
        rows: usize,
        cols: usize,
        targets: &[usize],
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let gp = self.ptr(dy)?;
            let (out, o) = self.out(rows * cols)?;
            if rows * cols == 0 {
                return Ok(out);
            }
            let t = self.upload_indices(targets)?;
            let (tp, r, c) = (t.ptr(), rows as i64, cols as i64);
            self.launch("vst_pick_backward")
                .arg(&o)
                .arg(&gp)
                .arg(&tp)
                .arg(&r)
                .arg(&c)
                .run(elementwise_config(rows * cols))?;
            Ok(out)
        })
    }

    fn matmul(&self, a: &Storage, b: &Storage, g: &MatmulGeometry) -> vst_engine::Result<Storage> {
        self.run(|| {
            let (ap, bp) = (self.ptr(a)?, self.ptr(b)?);
            let len = g.batch * g.m * g.n;
            let (out, c) = self.out(len)?;
            if len == 0 {
                return Ok(out);
            }
            if g.k == 0 {
                self.fill_ptr(c, len, 0.0)?;
                return Ok(out);
            }
            let p = self.options.precision;
            if p == Precision::Bf16 {
                let (a16, b16) = (
                    self.f32_to_bf16(ap, a.len())?,
                    self.f32_to_bf16(bp, b.len())?,
                );
                self.blas.matmul(g, p, a16.ptr(), b16.ptr(), c)?;
            } else {
                self.blas.matmul(g, p, ap, bp, c)?;
            }
            Ok(out)
        })
    }

    fn permute(&self, x: &Storage, shape: &[usize], perm: &[usize]) -> vst_engine::Result<Storage> {
        self.run(|| {
            let xp = self.ptr(x)?;
            let xs = strides(shape);
            let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
            let src: Vec<usize> = perm.iter().map(|&p| xs[p]).collect();
            let (out, y) = self.out(x.len())?;
            let args =
                StridedArgs::new(&out_shape, &strides(&out_shape), &src).ok_or_else(|| {
                    unsupported(format!("permuting {shape:?} by {perm:?} (too many axes)"))
                })?;
            self.strided_copy(y, 0, xp, 0, &args, x.len())?;
            Ok(out)
        })
    }

    fn concat(&self, parts: &[(&Storage, &[usize])], axis: usize) -> vst_engine::Result<Storage> {
        self.run(|| {
            let Some((_, first)) = parts.first() else {
                return self.out(0).map(|(s, _)| s);
            };
            let mut out_shape = first.to_vec();
            out_shape[axis] = parts.iter().map(|(_, s)| s[axis]).sum();
            let total: usize = out_shape.iter().product();
            let (out, y) = self.out(total)?;
            let out_strides = strides(&out_shape);
            let mut offset = 0;
            for (s, shape) in parts {
                let xp = self.ptr(s)?;
                let args =
                    StridedArgs::new(shape, &out_strides, &strides(shape)).ok_or_else(|| {
                        unsupported(format!("concatenating {shape:?} (too many axes)"))
                    })?;
                self.strided_copy(y, offset * out_strides[axis], xp, 0, &args, s.len())?;
                offset += shape[axis];
            }
            Ok(out)
        })
    }

    fn slice(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        start: usize,
        len: usize,
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let xp = self.ptr(x)?;
            let mut out_shape = shape.to_vec();
            out_shape[axis] = len;
            let n: usize = out_shape.iter().product();
            let (out, y) = self.out(n)?;
            let xs = strides(shape);
            let args = StridedArgs::new(&out_shape, &strides(&out_shape), &xs)
                .ok_or_else(|| unsupported(format!("slicing {shape:?} (too many axes)")))?;
            self.strided_copy(y, 0, xp, start * xs[axis], &args, n)?;
            Ok(out)
        })
    }

    fn pad_axis(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        start: usize,
        full: usize,
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let xp = self.ptr(x)?;
            let mut out_shape = shape.to_vec();
            out_shape[axis] = full;
            let n: usize = out_shape.iter().product();
            let (out, y) = self.out(n)?;
            self.fill_ptr(y, n, 0.0)?;
            let os = strides(&out_shape);
            let args = StridedArgs::new(shape, &os, &strides(shape))
                .ok_or_else(|| unsupported(format!("padding {shape:?} (too many axes)")))?;
            self.strided_copy(y, start * os[axis], xp, 0, &args, x.len())?;
            Ok(out)
        })
    }

    fn index_select(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        indices: &[usize],
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let xp = self.ptr(x)?;
            let (outer, axis_len, inner) = split_at_axis(shape, axis);
            let n = outer * indices.len() * inner;
            let (out, y) = self.out(n)?;
            if n == 0 {
                return Ok(out);
            }
            let idx = self.upload_indices(indices)?;
            let (ip, o, a, i, k) = (
                idx.ptr(),
                outer as i64,
                axis_len as i64,
                inner as i64,
                indices.len() as i64,
            );
            self.launch("vst_index_select")
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

    fn index_add(
        &self,
        x: &Storage,
        shape: &[usize],
        axis: usize,
        indices: &[usize],
        full: usize,
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let xp = self.ptr(x)?;
            let (outer, _, inner) = split_at_axis(shape, axis);
            let n = outer * full * inner;
            let (out, y) = self.out(n)?;
            self.fill_ptr(y, n, 0.0)?;
            if n == 0 || indices.is_empty() || outer * inner == 0 {
                return Ok(out);
            }
            let idx = self.upload_indices(indices)?;
            let (ip, o, f, i, k) = (
                idx.ptr(),
                outer as i64,
                full as i64,
                inner as i64,
                indices.len() as i64,
            );
            self.launch("vst_index_add")
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

    fn conv3d_forward(
        &self,
        x: &Storage,
        w: &Storage,
        g: &Conv3dGeometry,
    ) -> vst_engine::Result<Storage> {
        self.run(|| self.conv(ConvPass::Forward, g, x, w, g.y_shape().iter().product()))
    }

    fn conv3d_backward_data(
        &self,
        dy: &Storage,
        w: &Storage,
        g: &Conv3dGeometry,
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            self.conv(
                ConvPass::BackwardData,
                g,
                dy,
                w,
                g.x_shape().iter().product(),
            )
        })
    }

    fn conv3d_backward_filter(
        &self,
        x: &Storage,
        dy: &Storage,
        g: &Conv3dGeometry,
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            self.conv(
                ConvPass::BackwardFilter,
                g,
                x,
                dy,
                g.w_shape().iter().product(),
            )
        })
    }

    fn max_pool3d_forward(&self, x: &Storage, g: &Pool3dGeometry) -> vst_engine::Result<Storage> {
        self.run(|| {
            let xp = self.ptr(x)?;
            let n: usize = g.y_shape().iter().product();
            let (out, y) = self.out(n)?;
            if n == 0 {
                return Ok(out);
            }
            let args = PoolArgs::new(g);
            self.launch("vst_max_pool_forward")
                .arg(&y)
                .arg(&xp)
                .arg(&args)
                .run(elementwise_config(n))?;
            Ok(out)
        })
    }

    fn max_pool3d_backward(
        &self,
        x: &Storage,
        _y: &Storage,
        dy: &Storage,
        g: &Pool3dGeometry,
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let (xp, gp) = (self.ptr(x)?, self.ptr(dy)?);
            let (out, dx) = self.out(x.len())?;
            if x.is_empty() {
                return Ok(out);
            }
            let args = PoolArgs::new(g);
            self.launch("vst_max_pool_backward")
                .arg(&dx)
                .arg(&xp)
                .arg(&gp)
                .arg(&args)
                .run(elementwise_config(x.len()))?;
            Ok(out)
        })
    }

    fn channel_centered_sumsq(
        &self,
        x: &Storage,
        mean: &Storage,
        channels: usize,
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let (xp, mp) = (self.ptr(x)?, self.ptr(mean)?);
            let rows = x.len().checked_div(channels).unwrap_or(0);
            self.bn_reduce(BN_SUMSQ, xp, 0, mp, 0, rows, channels, 1)
        })
    }

    fn channel_affine(
        &self,
        x: &Storage,
        scale: &Storage,
        shift: &Storage,
        channels: usize,
        relu: bool,
    ) -> vst_engine::Result<Storage> {
        self.run(|| {
            let (xp, sp, tp) = (self.ptr(x)?, self.ptr(scale)?, self.ptr(shift)?);
            let (out, y) = self.out(x.len())?;
            if x.is_empty() || channels == 0 {
                return Ok(out);
            }
            let (n, c, r) = (x.len() as i64, channels as i64, relu as i32);
            self.launch("vst_channel_affine")
                .arg(&y)
                .arg(&xp)
                .arg(&sp)
                .arg(&tp)
                .arg(&n)
                .arg(&c)
                .arg(&r)
                .run(elementwise_config(x.len()))?;
            Ok(out)
        })
    }

    fn batch_norm_backward_reduce(
        &self,
        dy: &Storage,
        x: &Storage,
        mean: &Storage,
        relu_y: Option<&Storage>,
        channels: usize,
    ) -> vst_engine::Result<(Storage, Storage)> {
        self.run(|| {
            let (gp, xp, mp, yp) = (
                self.ptr(dy)?,
                self.ptr(x)?,
                self.ptr(mean)?,
                self.optional_ptr(relu_y)?,
            );
            let rows = x.len().checked_div(channels).unwrap_or(0);
            let both = self.bn_reduce(BN_BACKWARD, xp, gp, mp, yp, rows, channels, 2)?;
            let bp = self.ptr(&both)?;
            Ok((
                self.copy_part(bp, 0, channels)?,
                self.copy_part(bp, channels, channels)?,
            ))
        })
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
        self.run(|| {
            let (gp, xp, mp, yp) = (
                self.ptr(dy)?,
                self.ptr(x)?,
                self.ptr(mean)?,
                self.optional_ptr(relu_y)?,
            );
            let (ap, bp, dp) = (self.ptr(a)?, self.ptr(b)?, self.ptr(d)?);
            let (out, o) = self.out(x.len())?;
            if x.is_empty() || channels == 0 {
                return Ok(out);
            }
            let (n, c) = (x.len() as i64, channels as i64);
            self.launch("vst_bn_backward_data")
                .arg(&o)
                .arg(&gp)
                .arg(&xp)
                .arg(&mp)
                .arg(&yp)
                .arg(&ap)
                .arg(&bp)
                .arg(&dp)
                .arg(&n)
                .arg(&c)
                .run(elementwise_config(x.len()))?;
            Ok(out)
        })
    }
}
