//! vst's CUDA backend: the engine's [`vst_engine::Backend`] on NVIDIA GPUs through `cudarc`, with every CUDA
//! library opened at run time — building needs no CUDA toolkit, and the same binary trains on the CPU or, where a
//! driver is present, on a GPU.
//!
//! - Convolutions: cuDNN 9 (forward, backward-data, backward-filter) on channels-last 5D descriptors, algorithm
//!   chosen once per (shape, pass, precision) by timing cuDNN's candidates, and cached (`conv`).
//! - Matrix products: cuBLAS strided-batched GEMM (`blas`).
//! - Everything else (elementwise with broadcasting, reductions, softmax, layout, max-pool, batch-norm passes):
//!   kernels of our own compiled by NVRTC when the backend opens (`kernels/source.cu`). Pooling and batch norm
//!   are ours rather than cuDNN's because the engine's contract splits batch norm into the reductions and
//!   elementwise passes SyncBN needs, and max-pool must route gradients to the first maximum (as the CPU backend
//!   and PyTorch do) without atomics.
//! - Memory: a caching allocator (`allocator`), one compute stream, and a copy stream with pinned staging so that
//!   uploads of the next batch overlap compute (`transfer`).
//! - Precision: f32 by default (bit-faithful f32 arithmetic, no TF32); TF32 or bf16 tensor-core math for
//!   convolutions and GEMMs as an option ([`Precision`]).
//!
//! Opening a device probes for the driver first, so a machine without one gets an error, never a panic:
//! ```
//! match vst_cuda::CudaBackend::new(0) {
//!     Ok(gpu) => println!("{}", gpu.info().name),
//!     Err(e) => println!("{e}"), // e.g. "no CUDA driver found (libcuda.so not loadable): ..."
//! }
//! ```

pub mod allocator;
pub mod augment;
mod backend;
mod blas;
pub mod conv;
mod device;
mod error;
pub mod geometry;
pub mod kernels;
pub mod nccl;
pub mod nvdec;
mod options;
pub mod probe;
mod transfer;

use std::sync::Arc;

pub use backend::{CudaBackend, GpuInfo};
pub use device::CudaMemory;
pub use error::{CudaError, CudaResult};
pub use options::{AlgoSearch, CudaOptions, DeviceName, Precision, parse_device};

/// Opens a device by name (`cpu`, `cuda`, `cuda:N`) as an engine [`vst_engine::Device`].
pub fn open_device(name: &str) -> CudaResult<vst_engine::Device> {
    open_device_with(name, CudaOptions::default())
}

/// As [`open_device`], with options for a CUDA device.
pub fn open_device_with(name: &str, options: CudaOptions) -> CudaResult<vst_engine::Device> {
    match parse_device(name)? {
        DeviceName::Cpu => Ok(vst_engine::Device::cpu()),
        DeviceName::Cuda(i) => Ok(vst_engine::Device::from_backend(Arc::new(
            CudaBackend::with_options(i, options)?,
        ))),
    }
}

/// Opens the device a resolved recipe asks for (`device: cpu` / `device: cuda:N`), for the runtime's executor.
pub fn open_device_spec(
    spec: &vst_spec::DeviceSpec,
    options: CudaOptions,
) -> CudaResult<vst_engine::Device> {
    match spec {
        vst_spec::DeviceSpec::Cpu => Ok(vst_engine::Device::cpu()),
        vst_spec::DeviceSpec::Cuda { index } => Ok(vst_engine::Device::from_backend(Arc::new(
            CudaBackend::with_options(*index as usize, options)?,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a driver (CI), opening a CUDA device is an error with the documented text; with one, it works or
    /// fails for a reason other than a missing driver (no GPU, an old driver, a missing library).
    #[test]
    fn opening_cuda_without_a_driver_is_a_clear_error() {
        let driver = unsafe { cudarc::driver::sys::is_culib_present() };
        match CudaBackend::new(0) {
            Ok(b) => assert!(driver && b.info().total_memory > 0),
            Err(e) if !driver => assert_eq!(
                e.to_string(),
                "no CUDA driver found (libcuda.so not loadable): device: cuda needs an NVIDIA GPU and driver; use device: cpu"
            ),
            Err(e) => assert!(!matches!(e, CudaError::NoDriver), "{e}"),
        }
        match open_device("cuda:0") {
            Ok(d) => assert_eq!(d.name(), "cuda:0"),
            Err(e) if !driver => assert!(matches!(e, CudaError::NoDriver), "{e}"),
            Err(e) => assert!(!matches!(e, CudaError::NoDriver), "{e}"),
        }
        assert_eq!(open_device("cpu").unwrap().name(), "cpu");
        let cpu = open_device_spec(&vst_spec::DeviceSpec::Cpu, CudaOptions::default()).unwrap();
        assert_eq!(cpu.name(), "cpu");
        let second = open_device_spec(
            &vst_spec::DeviceSpec::Cuda { index: 1 },
            CudaOptions::default(),
        );
        assert_eq!(
            matches!(second, Err(CudaError::NoDriver)),
            !driver,
            "cuda:1 with a driver present: {:?}",
            second.as_ref().err()
        );
        assert!(matches!(
            open_device("tpu"),
            Err(CudaError::BadDeviceName(_))
        ));
    }

    /// cudarc resolves each entry point when first called and panics if it is missing, so check up front that the
    /// libraries export every function the backend calls. Needs the libraries on the library path, no GPU
    /// (the driver's symbols are checked only where libcuda is present).
    #[test]
    #[ignore = "needs libnvrtc.so.13, libcublas.so.13 and libcudnn.so.9 on the library path (no GPU needed)"]
    fn the_libraries_export_every_function_the_backend_calls() {
        probe::probe_libraries().unwrap();
        let check =
            |lib: &'static str, present: bool, names: &[&str], get: &dyn Fn(&str) -> bool| {
                if !present {
                    return;
                }
                for name in names {
                    assert!(get(name), "{lib} does not export {name}");
                }
            };
        unsafe {
            check(
                "NVRTC",
                true,
                &[
                    "nvrtcCreateProgram",
                    "nvrtcCompileProgram",
                    "nvrtcGetProgramLogSize",
                    "nvrtcGetProgramLog",
                    "nvrtcGetCUBINSize",
                    "nvrtcGetCUBIN",
                    "nvrtcDestroyProgram",
                ],
                &|n| {
                    cudarc::nvrtc::sys::culib()
                        .get::<unsafe extern "C" fn()>(n.as_bytes())
                        .is_ok()
                },
            );
            check(
                "cuBLAS",
                true,
                &[
                    "cublasCreate_v2",
                    "cublasDestroy_v2",
                    "cublasSetStream_v2",
                    "cublasGemmStridedBatchedEx",
                ],
                &|n| {
                    cudarc::cublas::sys::culib()
                        .get::<unsafe extern "C" fn()>(n.as_bytes())
                        .is_ok()
                },
            );
            check(
                "cuDNN",
                true,
                &[
                    "cudnnGetVersion",
                    "cudnnCreate",
                    "cudnnDestroy",
                    "cudnnSetStream",
                    "cudnnCreateTensorDescriptor",
                    "cudnnDestroyTensorDescriptor",
                    "cudnnSetTensorNdDescriptor",
                    "cudnnCreateFilterDescriptor",
                    "cudnnDestroyFilterDescriptor",
                    "cudnnSetFilterNdDescriptor",
                    "cudnnCreateConvolutionDescriptor",
                    "cudnnDestroyConvolutionDescriptor",
                    "cudnnSetConvolutionNdDescriptor",
                    "cudnnSetConvolutionGroupCount",
                    "cudnnSetConvolutionMathType",
                    "cudnnConvolutionForward",
                    "cudnnConvolutionBackwardData",
                    "cudnnConvolutionBackwardFilter",
                    "cudnnFindConvolutionForwardAlgorithmEx",
                    "cudnnFindConvolutionBackwardDataAlgorithmEx",
                    "cudnnFindConvolutionBackwardFilterAlgorithmEx",
                    "cudnnGetConvolutionForwardAlgorithm_v7",
                    "cudnnGetConvolutionBackwardDataAlgorithm_v7",
                    "cudnnGetConvolutionBackwardFilterAlgorithm_v7",
                ],
                &|n| {
                    cudarc::cudnn::sys::culib()
                        .get::<unsafe extern "C" fn()>(n.as_bytes())
                        .is_ok()
                },
            );
            check(
                "the driver",
                cudarc::driver::sys::is_culib_present(),
                &[
                    "cuInit",
                    "cuDriverGetVersion",
                    "cuDeviceGetCount",
                    "cuMemAlloc_v2",
                    "cuMemFree_v2",
                    "cuMemcpyHtoDAsync_v2",
                    "cuMemcpyDtoHAsync_v2",
                    "cuMemcpyDtoDAsync_v2",
                    "cuMemHostAlloc",
                    "cuMemFreeHost",
                    "cuEventCreate",
                    "cuEventRecord",
                    "cuEventSynchronize",
                    "cuEventDestroy_v2",
                    "cuStreamWaitEvent",
                    "cuLaunchKernel",
                    "cuModuleLoadData",
                    "cuModuleGetFunction",
                ],
                &|n| {
                    cudarc::driver::sys::culib()
                        .get::<unsafe extern "C" fn()>(n.as_bytes())
                        .is_ok()
                },
            );
        }
    }
}
