//! One CUDA device's state shared by the backend and every buffer it hands out: the context, the compute and copy
//! streams, the caching allocator, the compiled kernels and the library handles.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use cudarc::driver::sys::{self, CUevent_flags};
use cudarc::driver::{CudaContext, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg, result};
use vst_engine::{DeviceMemory, Storage};

use crate::allocator::{AllocStats, Block, CachingAllocator, Pool, RawAllocator};
use crate::error::{CudaError, CudaResult};
use crate::kernels::Kernels;

/// A CUDA event that destroys itself.
pub(crate) struct Event(pub(crate) sys::CUevent);

// SAFETY: CUDA events may be recorded, waited on and destroyed from any thread.
unsafe impl Send for Event {}
unsafe impl Sync for Event {}

impl Event {
    pub(crate) fn new() -> CudaResult<Event> {
        result::event::create(CUevent_flags::CU_EVENT_DISABLE_TIMING)
            .map(Event)
            .map_err(|e| CudaError::call("creating an event", e))
    }

    pub(crate) fn record(&self, stream: &CudaStream) -> CudaResult<()> {
        // SAFETY: a live event and stream of the current context.
        unsafe { result::event::record(self.0, stream.cu_stream()) }
            .map_err(|e| CudaError::call("recording an event", e))
    }

    /// Makes `stream` wait (on the device) until the event's last recording has completed.
    pub(crate) fn wait_on(&self, stream: &CudaStream) -> CudaResult<()> {
        // SAFETY: as above.
        unsafe {
            result::stream::wait_event(
                stream.cu_stream(),
                self.0,
                sys::CUevent_wait_flags::CU_EVENT_WAIT_DEFAULT,
            )
        }
        .map_err(|e| CudaError::call("waiting on an event", e))
    }

    pub(crate) fn synchronize(&self) -> CudaResult<()> {
        // SAFETY: a live event.
        unsafe { result::event::synchronize(self.0) }
            .map_err(|e| CudaError::call("synchronising an event", e))
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: destroying an event with pending waits is allowed; the driver frees it once they complete.
        let _ = unsafe { result::event::destroy(self.0) };
    }
}

/// `cuMemAlloc`/`cuMemFree` under the caching allocator; fences are events on the compute stream.
pub(crate) struct DriverAllocator {
    ctx: Arc<CudaContext>,
    compute: Arc<CudaStream>,
}

impl RawAllocator for DriverAllocator {
    type Fence = Event;

    fn alloc(&mut self, bytes: usize) -> Result<u64, String> {
        self.ctx.bind_to_thread().map_err(|e| format!("{e:?}"))?;
        // SAFETY: a plain allocation in the bound context.
        unsafe { result::malloc_sync(bytes) }.map_err(|e| format!("{e:?}"))
    }

    fn free(&mut self, ptr: u64) {
        if self.ctx.bind_to_thread().is_ok() {
            // SAFETY: `ptr` came from `alloc` and the device is done with it (see `quiesce`).
            let _ = unsafe { result::free_sync(ptr) };
        }
    }

    fn fence(&mut self) -> Result<Event, String> {
        // Buffers may be dropped on any thread (data-loader threads included).
        self.ctx.bind_to_thread().map_err(|e| format!("{e:?}"))?;
        let e = Event::new().map_err(|e| e.to_string())?;
        e.record(&self.compute).map_err(|e| e.to_string())?;
        Ok(e)
    }

    fn quiesce(&mut self) {
        let _ = self.ctx.synchronize();
    }
}

/// A raw handle that is only used under a mutex.
pub(crate) struct Handle<T>(pub(crate) T);
// SAFETY: cuBLAS and cuDNN handles may move between threads; the backend serialises their use with a mutex.
unsafe impl<T> Send for Handle<T> {}

/// Everything one device owns.
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) ctx: Arc<CudaContext>,
    pub(crate) compute: Arc<CudaStream>,
    pub(crate) copy: Arc<CudaStream>,
    pub(crate) allocator: Mutex<CachingAllocator<DriverAllocator>>,
    pub(crate) kernels: Kernels,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CudaDevice({})", self.name)
    }
}

impl Shared {
    pub(crate) fn new(
        name: String,
        ctx: Arc<CudaContext>,
        compute: Arc<CudaStream>,
        copy: Arc<CudaStream>,
        kernels: Kernels,
    ) -> Shared {
        let raw = DriverAllocator {
            ctx: ctx.clone(),
            compute: compute.clone(),
        };
        Shared {
            name,
            ctx,
            compute,
            copy,
            allocator: Mutex::new(CachingAllocator::new(raw)),
            kernels,
        }
    }

    pub(crate) fn allocator(&self) -> MutexGuard<'_, CachingAllocator<DriverAllocator>> {
        // A panic while holding the lock leaves the free lists consistent (every operation is a few pushes and
        // pops), so a poisoned lock is still usable.
        self.allocator.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn bind(&self) -> CudaResult<()> {
        self.ctx
            .bind_to_thread()
            .map_err(|e| CudaError::call("binding the CUDA context", e))
    }

    pub(crate) fn stats(&self) -> AllocStats {
        self.allocator().stats()
    }
}

/// Device memory of `len` f32 (or, for scratch, raw bytes) owned by the caching allocator.
pub struct CudaMemory {
    pub(crate) block: Block,
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for CudaMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CudaMemory({} bytes at {:#x} on {})",
            self.block.bytes, self.block.ptr, self.shared.name
        )
    }
}

impl CudaMemory {
    pub fn ptr(&self) -> u64 {
        self.block.ptr
    }
}

impl DeviceMemory for CudaMemory {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

impl Drop for CudaMemory {
    fn drop(&mut self) {
        self.shared.allocator().release(self.block);
    }
}

/// Allocates from `pool`; returns the memory and the fence to wait on before another stream writes it.
pub(crate) fn allocate(
    shared: &Arc<Shared>,
    pool: Pool,
    bytes: usize,
) -> CudaResult<(CudaMemory, Option<Event>)> {
    let (block, fence) = shared
        .allocator()
        .alloc(pool, bytes)
        .map_err(|e| CudaError::Call {
            what: "allocating device memory",
            message: format!("{bytes} bytes: {e}"),
        })?;
    Ok((
        CudaMemory {
            block,
            shared: shared.clone(),
        },
        fence,
    ))
}

/// A fresh compute-stream buffer of `len` f32, wrapped as engine storage.
pub(crate) fn alloc_storage(shared: &Arc<Shared>, len: usize) -> CudaResult<(Storage, u64)> {
    let (mem, _) = allocate(shared, Pool::Compute, len * 4)?;
    let ptr = mem.ptr();
    Ok((Storage::new(len, Box::new(mem)), ptr))
}

/// One kernel launch on the compute stream: `args` are pushed in order.
pub(crate) struct Launch<'a> {
    shared: &'a Shared,
    name: &'static str,
    args: cudarc::driver::LaunchArgs<'a>,
}

impl<'a> Launch<'a> {
    pub(crate) fn new(shared: &'a Shared, name: &'static str) -> Launch<'a> {
        Launch {
            shared,
            name,
            args: shared.compute.launch_builder(shared.kernels.get(name)),
        }
    }

    pub(crate) fn arg<T: DeviceRepr>(mut self, v: &'a T) -> Self {
        self.args.arg(v);
        self
    }

    pub(crate) fn run(mut self, cfg: LaunchConfig) -> CudaResult<()> {
        let _ = self.shared;
        // SAFETY: every caller passes the argument list its kernel declares (pointers to live buffers of the
        // sizes the kernel indexes), as reviewed kernel by kernel in the `backend` op families.
        unsafe { self.args.launch(cfg) }
            .map(|_| ())
            .map_err(|e| CudaError::Call {
                what: "launching a kernel",
                message: format!("{}: {e:?}", self.name),
            })
    }
}
