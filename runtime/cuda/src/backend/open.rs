//! Opening a GPU (probing the driver and libraries first, so a machine without one gets an error, never a
//! panic) and what the opened device reports: its description, allocator counters, algorithm caches.

use std::sync::Arc;

use cudarc::driver::CudaContext;

use super::CudaBackend;
use crate::allocator::AllocStats;
use crate::blas::Blas;
use crate::conv::Convolutions;
use crate::device::Shared;
use crate::error::{CudaError, CudaResult};
use crate::kernels::Kernels;
use crate::options::CudaOptions;
use crate::probe::{probe_device, probe_libraries};
use crate::transfer::Staging;

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
}
