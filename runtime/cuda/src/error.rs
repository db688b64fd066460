//! The CUDA backend's errors. Every failure to find or use the GPU stack is an error value with what to do about it,
//! never a panic; kernels report through [`vst_engine::EngineError::Backend`].

use thiserror::Error;
use vst_engine::EngineError;

/// What can go wrong opening or driving a CUDA device.
#[derive(Debug, Error)]
pub enum CudaError {
    /// The driver library itself cannot be loaded: no NVIDIA driver on this machine.
    #[error(
        "no CUDA driver found (libcuda.so not loadable): device: cuda needs an NVIDIA GPU and driver; use device: cpu"
    )]
    NoDriver,
    /// The driver loaded but reports no usable GPU, or failed to initialise.
    #[error(
        "CUDA driver present but not usable ({0}): device: cuda needs a working NVIDIA GPU; use device: cpu"
    )]
    DriverInit(String),
    /// The driver is older than the CUDA version the backend's bindings target.
    #[error(
        "the NVIDIA driver supports CUDA {found_major}.{found_minor}, but vst's CUDA backend needs CUDA {need_major}.{need_minor} or newer (driver 580 or later); update the driver or use device: cpu"
    )]
    DriverTooOld {
        found_major: i32,
        found_minor: i32,
        need_major: i32,
        need_minor: i32,
    },
    /// The requested GPU index does not exist.
    #[error("device cuda:{ordinal} does not exist: this machine has {count} CUDA device(s)")]
    NoSuchDevice { ordinal: usize, count: usize },
    /// A CUDA library (cuBLAS, cuDNN, NVRTC) cannot be loaded.
    #[error(
        "{library} not found ({hint}): install it or add its directory to LD_LIBRARY_PATH (see docs/gpu.md), or use device: cpu"
    )]
    MissingLibrary {
        library: &'static str,
        hint: &'static str,
    },
    /// A library is present but too old.
    #[error("{library} {found} is too old: vst needs {needed} or newer")]
    LibraryTooOld {
        library: &'static str,
        found: String,
        needed: &'static str,
    },
    /// A device string could not be read.
    #[error("bad device `{0}`: expected `cpu`, `cuda` or `cuda:N`")]
    BadDeviceName(String),
    /// A call into the driver or a library failed.
    #[error("{what}: {message}")]
    Call { what: &'static str, message: String },
    /// cuDNN offers no algorithm for a convolution in the requested layout and settings.
    #[error("cuDNN has no algorithm for {0}")]
    NoConvAlgorithm(String),
    /// NVRTC refused the backend's own kernels (a bug in vst, or an NVRTC that cannot target this GPU).
    #[error("compiling the CUDA kernels with NVRTC failed: {0}")]
    Compile(String),
    #[error("cannot augment this clip on the GPU: {0}")]
    BadClip(String),
}

impl CudaError {
    pub(crate) fn call(what: &'static str, err: impl std::fmt::Debug) -> CudaError {
        CudaError::Call {
            what,
            message: format!("{err:?}"),
        }
    }
}

/// Converts to the engine's error, naming the device.
pub(crate) fn engine_err(device: &str, err: CudaError) -> EngineError {
    EngineError::Backend {
        backend: device.to_string(),
        message: err.to_string(),
    }
}

pub type CudaResult<T> = std::result::Result<T, CudaError>;
