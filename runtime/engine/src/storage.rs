//! Device memory behind a tensor. A `Storage` is a typed handle that only its backend can look into: the CPU backend
//! keeps host vectors (recycled through its buffer pool), a CUDA backend keeps device allocations. Kernels downcast
//! with [`Storage::downcast_ref`] to their own memory type.

use std::any::Any;
use std::fmt;

/// Memory owned by one backend. Implemented by each backend for its allocation type.
pub trait DeviceMemory: Any + Send + Sync + fmt::Debug {
    /// As `Any`, so the owning backend can downcast.
    fn as_any(&self) -> &dyn Any;
    /// As mutable `Any`, for in-place kernels.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// A buffer of `len` f32 values on some device.
#[derive(Debug)]
pub struct Storage {
    len: usize,
    memory: Box<dyn DeviceMemory>,
}

impl Storage {
    /// Wraps backend memory holding `len` f32 values.
    pub fn new(len: usize, memory: Box<dyn DeviceMemory>) -> Self {
        Storage { len, memory }
    }

    /// Number of f32 values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the buffer holds no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The backend's own memory type, if this storage is one.
    pub fn downcast_ref<M: DeviceMemory>(&self) -> Option<&M> {
        self.memory.as_any().downcast_ref::<M>()
    }

    /// Mutable access to the backend's own memory type, if this storage is one.
    pub fn downcast_mut<M: DeviceMemory>(&mut self) -> Option<&mut M> {
        self.memory.as_any_mut().downcast_mut::<M>()
    }
}
