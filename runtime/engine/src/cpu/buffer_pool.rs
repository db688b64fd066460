//! The CPU side of the memory plan: a pool of host buffers keyed by exact length.
//!
//! A training step allocates the same set of buffer sizes every iteration, so after the first step every allocation
//! is served from buffers freed earlier in the same or the previous step (the autodiff releases each saved tensor
//! and gradient right after its last use, which returns its buffer here). Without it, every large activation would
//! be a fresh `mmap` whose pages the kernel zeroes on first touch — a measurable cost at these sizes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::storage::DeviceMemory;

/// Buffers shorter than this go straight to the system allocator (cheap, and not worth a lock).
const MIN_POOLED_LEN: usize = 16 * 1024;

/// Free host buffers awaiting reuse, bounded by `limit_bytes`.
#[derive(Debug)]
pub struct BufferPool {
    state: Mutex<PoolState>,
    limit_bytes: usize,
}

#[derive(Debug, Default)]
struct PoolState {
    free: HashMap<usize, Vec<Vec<f32>>>,
    retained_bytes: usize,
}

impl BufferPool {
    pub fn new(limit_bytes: usize) -> Self {
        BufferPool {
            state: Mutex::new(PoolState::default()),
            limit_bytes,
        }
    }

    /// A buffer of exactly `len` values with unspecified contents (stale data or zeros).
    pub fn take_uninit(&self, len: usize) -> Vec<f32> {
        if len >= MIN_POOLED_LEN
            && let Ok(mut st) = self.state.lock()
            && let Some(list) = st.free.get_mut(&len)
            && let Some(v) = list.pop()
        {
            st.retained_bytes -= len * 4;
            return v;
        }
        // calloc: fresh pages arrive zeroed from the OS without a pass over them.
        vec![0.0; len]
    }

    fn give_back(&self, v: Vec<f32>) {
        let len = v.len();
        if len < MIN_POOLED_LEN {
            return;
        }
        if let Ok(mut st) = self.state.lock()
            && st.retained_bytes + len * 4 <= self.limit_bytes
        {
            st.retained_bytes += len * 4;
            st.free.entry(len).or_default().push(v);
        }
    }

    /// A scratch buffer of `len` values with unspecified contents, returned to the pool when dropped.
    pub fn scratch(&self, len: usize) -> ScratchBuf<'_> {
        ScratchBuf {
            data: self.take_uninit(len),
            pool: self,
        }
    }

    /// Bytes currently held for reuse.
    pub fn retained_bytes(&self) -> usize {
        self.state.lock().map(|s| s.retained_bytes).unwrap_or(0)
    }

    /// Releases every pooled buffer to the system.
    pub fn clear(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.free.clear();
            st.retained_bytes = 0;
        }
    }
}

/// A kernel's temporary buffer (padded copies, gradient grids); goes back to its pool when dropped.
pub struct ScratchBuf<'a> {
    data: Vec<f32>,
    pool: &'a BufferPool,
}

impl std::ops::Deref for ScratchBuf<'_> {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.data
    }
}

impl std::ops::DerefMut for ScratchBuf<'_> {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }
}

impl Drop for ScratchBuf<'_> {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.data));
    }
}

/// Host memory of the CPU backend; returns itself to its pool when dropped.
#[derive(Debug)]
pub struct HostMemory {
    pub(crate) data: Vec<f32>,
    pool: Option<Arc<BufferPool>>,
}

impl HostMemory {
    pub fn new(data: Vec<f32>, pool: Option<Arc<BufferPool>>) -> Self {
        HostMemory { data, pool }
    }
}

impl Drop for HostMemory {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            pool.give_back(std::mem::take(&mut self.data));
        }
    }
}

impl DeviceMemory for HostMemory {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
