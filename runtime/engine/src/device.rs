//! `Device`: a cheap, clonable handle on a backend. Tensors carry the device they live on; operations check that
//! their operands share one.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::backend::Backend;
use crate::cpu::CpuBackend;
use crate::error::{EngineError, Result};

/// A handle on a backend (CPU now; CUDA later through the same trait).
#[derive(Clone)]
pub struct Device {
    backend: Arc<dyn Backend>,
}

impl Device {
    /// The process-wide CPU device (one shared buffer pool; kernels run on rayon's global thread pool).
    pub fn cpu() -> Device {
        static CPU: OnceLock<Device> = OnceLock::new();
        CPU.get_or_init(|| Device::from_backend(Arc::new(CpuBackend::new())))
            .clone()
    }

    /// Wraps any backend.
    pub fn from_backend(backend: Arc<dyn Backend>) -> Device {
        Device { backend }
    }

    /// The kernels of this device.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// The device's name.
    pub fn name(&self) -> String {
        self.backend.name()
    }

    /// True when both handles name the same backend instance.
    pub fn same(&self, other: &Device) -> bool {
        Arc::ptr_eq(&self.backend, &other.backend)
    }

    pub(crate) fn check_same(&self, other: &Device, op: &'static str) -> Result<()> {
        if self.same(other) {
            Ok(())
        } else {
            Err(EngineError::DeviceMismatch {
                op,
                left: self.name(),
                right: other.name(),
            })
        }
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Device({})", self.name())
    }
}
