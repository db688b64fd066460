//! Host↔device copies. Large uploads go through pinned staging buffers on a separate copy stream, and the compute
//! stream waits for them with an event: the host returns as soon as the data is in pinned memory, and the DMA of
//! the next batch runs while the GPU is still computing the current step. Small uploads (parameters, indices) are
//! queued on the compute stream directly.

use std::sync::{Arc, Mutex};

use cudarc::driver::result;

use crate::allocator::Pool;
use crate::device::{CudaMemory, Event, Shared, allocate};
use crate::error::{CudaError, CudaResult};

/// Uploads at least this large use the copy stream.
pub const ASYNC_UPLOAD_MIN_BYTES: usize = 256 << 10;
/// Pinned staging buffers kept at most.
pub const MAX_STAGING_BUFFERS: usize = 4;

/// Capacity given to a new staging buffer for a request of `bytes`: a power of two, so that batches of varying
/// size reuse buffers.
pub fn staging_capacity(bytes: usize) -> usize {
    bytes.next_power_of_two().max(ASYNC_UPLOAD_MIN_BYTES)
}

struct PinnedBuffer {
    ptr: *mut u8,
    bytes: usize,
    /// Recorded on the copy stream after the last copy out of this buffer.
    done: Event,
}

// SAFETY: pinned host memory may be written by any thread; use is serialised by the staging mutex.
unsafe impl Send for PinnedBuffer {}

impl Drop for PinnedBuffer {
    fn drop(&mut self) {
        let _ = self.done.synchronize();
        // SAFETY: allocated by cuMemHostAlloc in `Staging::acquire`; no copy reads it any more.
        let _ = unsafe { result::free_host(self.ptr as _) };
    }
}

#[derive(Default)]
pub(crate) struct Staging {
    buffers: Mutex<Vec<PinnedBuffer>>,
}

impl std::fmt::Debug for Staging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Staging")
    }
}

impl Staging {
    /// Copies `data` to a new device buffer of the transfer pool, asynchronously with respect to the compute
    /// stream, which is made to wait for the copy.
    pub(crate) fn upload(&self, shared: &Arc<Shared>, data: &[f32]) -> CudaResult<CudaMemory> {
        let bytes = std::mem::size_of_val(data);
        let (mem, fence) = allocate(shared, Pool::Transfer, bytes)?;
        let mut buffers = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
        // The smallest buffer that fits; otherwise a new one (replacing the smallest when the ring is full).
        let slot = buffers
            .iter()
            .enumerate()
            .filter(|(_, b)| b.bytes >= bytes)
            .min_by_key(|(_, b)| b.bytes)
            .map(|(i, _)| i);
        let slot = match slot {
            Some(i) => i,
            None => {
                if buffers.len() >= MAX_STAGING_BUFFERS
                    && let Some((i, _)) = buffers.iter().enumerate().min_by_key(|(_, b)| b.bytes)
                {
                    buffers.swap_remove(i);
                }
                let capacity = staging_capacity(bytes);
                // SAFETY: a plain pinned allocation.
                let ptr = unsafe { result::malloc_host(capacity, 0) }
                    .map_err(|e| CudaError::call("allocating pinned host memory", e))?;
                buffers.push(PinnedBuffer {
                    ptr: ptr as *mut u8,
                    bytes: capacity,
                    done: Event::new()?,
                });
                buffers.len() - 1
            }
        };
        let buf = &buffers[slot];
        // The previous copy out of this buffer must have finished before it is overwritten.
        buf.done.synchronize()?;
        // SAFETY: the buffer holds at least `bytes`, and no copy reads it (synchronised above).
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr() as *const u8, buf.ptr, bytes) };
        if let Some(fence) = fence {
            // Compute work queued before this block was last freed may still read it.
            fence.wait_on(&shared.copy)?;
        }
        // SAFETY: source is pinned memory of `bytes` bytes that stays untouched until `done` completes; the
        // destination block holds at least `bytes`.
        unsafe {
            cudarc::driver::sys::cuMemcpyHtoDAsync_v2(
                mem.ptr(),
                buf.ptr as _,
                bytes,
                shared.copy.cu_stream(),
            )
            .result()
            .map_err(|e| CudaError::call("copying to the device", e))?;
        }
        buf.done.record(&shared.copy)?;
        buf.done.wait_on(&shared.compute)?;
        Ok(mem)
    }
}

/// Copies device memory to a new host vector (waits for the compute stream).
pub(crate) fn download(shared: &Shared, ptr: u64, len: usize) -> CudaResult<Vec<f32>> {
    let mut out = vec![0.0f32; len];
    if len == 0 {
        return Ok(out);
    }
    // SAFETY: `ptr` holds at least `len` f32; the synchronisation below completes the copy before return.
    unsafe {
        result::memcpy_dtoh_async(&mut out, ptr, shared.compute.cu_stream())
            .map_err(|e| CudaError::call("copying from the device", e))?;
    }
    shared
        .compute
        .synchronize()
        .map_err(|e| CudaError::call("waiting for the GPU", e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_buffers_are_powers_of_two_above_the_async_threshold() {
        assert_eq!(staging_capacity(1), ASYNC_UPLOAD_MIN_BYTES);
        assert_eq!(
            staging_capacity(ASYNC_UPLOAD_MIN_BYTES + 1),
            2 * ASYNC_UPLOAD_MIN_BYTES
        );
        // One Slow R-50 training batch per GPU (8 clips of 8×224×224×3 f32) fits one 64 MiB buffer.
        let batch = 8 * 8 * 224 * 224 * 3 * 4;
        assert_eq!(staging_capacity(batch), 64 << 20);
    }
}
