//! Finding a driver before touching cudarc's safe API: cudarc's context constructor panics when `libcuda.so` cannot
//! be loaded, so every entry point probes here first and returns an error a user can act on.

use cudarc::driver::sys;

use crate::error::{CudaError, CudaResult};

/// The CUDA version (major, minor) of the driver API bindings this crate is built with (cudarc feature
/// `cuda-13000`); an older driver may lack entry points the bindings call.
pub const REQUIRED_CUDA: (i32, i32) = (13, 0);

/// What the driver reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverInfo {
    /// CUDA version the driver supports, as `major * 1000 + minor * 10` (13000 for CUDA 13.0).
    pub cuda_version: i32,
    /// Number of CUDA devices.
    pub device_count: usize,
}

/// Splits the driver's `major * 1000 + minor * 10` encoding.
pub fn split_version(v: i32) -> (i32, i32) {
    (v / 1000, (v % 1000) / 10)
}

/// Checks a driver's CUDA version against [`REQUIRED_CUDA`].
pub fn check_driver_version(cuda_version: i32) -> CudaResult<()> {
    let (found_major, found_minor) = split_version(cuda_version);
    if (found_major, found_minor) < REQUIRED_CUDA {
        return Err(CudaError::DriverTooOld {
            found_major,
            found_minor,
            need_major: REQUIRED_CUDA.0,
            need_minor: REQUIRED_CUDA.1,
        });
    }
    Ok(())
}

/// Loads the driver library, initialises it and counts devices, without any call that can panic.
pub fn probe_driver() -> CudaResult<DriverInfo> {
    // SAFETY: only tries to dlopen the candidate library names.
    if !unsafe { sys::is_culib_present() } {
        return Err(CudaError::NoDriver);
    }
    // The library is loadable, so the lazily resolved entry points below (present in every driver since CUDA 2)
    // resolve without panicking.
    // SAFETY: plain driver calls with valid out-pointers.
    unsafe {
        let status = sys::cuInit(0);
        if status != sys::CUresult::CUDA_SUCCESS {
            return Err(CudaError::DriverInit(describe(status)));
        }
        let mut version = 0;
        let status = sys::cuDriverGetVersion(&mut version);
        if status != sys::CUresult::CUDA_SUCCESS {
            return Err(CudaError::DriverInit(describe(status)));
        }
        let mut count = 0;
        let status = sys::cuDeviceGetCount(&mut count);
        if status != sys::CUresult::CUDA_SUCCESS {
            return Err(CudaError::DriverInit(describe(status)));
        }
        if count <= 0 {
            return Err(CudaError::DriverInit("no CUDA devices".into()));
        }
        Ok(DriverInfo {
            cuda_version: version,
            device_count: count as usize,
        })
    }
}

/// Probes the driver and checks that `ordinal` exists and the driver is recent enough.
pub fn probe_device(ordinal: usize) -> CudaResult<DriverInfo> {
    let info = probe_driver()?;
    check_driver_version(info.cuda_version)?;
    if ordinal >= info.device_count {
        return Err(CudaError::NoSuchDevice {
            ordinal,
            count: info.device_count,
        });
    }
    Ok(info)
}

/// Checks that the libraries the backend calls can be loaded (cudarc panics on first use otherwise).
pub fn probe_libraries() -> CudaResult<()> {
    // SAFETY: each only tries to dlopen candidate library names.
    unsafe {
        if !cudarc::nvrtc::sys::is_culib_present() {
            return Err(CudaError::MissingLibrary {
                library: "NVRTC (libnvrtc.so.13)",
                hint: "part of the CUDA toolkit, or pip's nvidia-cuda-nvrtc",
            });
        }
        if !cudarc::cublas::sys::is_culib_present() {
            return Err(CudaError::MissingLibrary {
                library: "cuBLAS (libcublas.so.13)",
                hint: "part of the CUDA toolkit, or pip's nvidia-cublas",
            });
        }
        if !cudarc::cudnn::sys::is_culib_present() {
            return Err(CudaError::MissingLibrary {
                library: "cuDNN 9 (libcudnn.so.9)",
                hint: "NVIDIA's cuDNN 9 for CUDA 13, or pip's nvidia-cudnn-cu13",
            });
        }
    }
    Ok(())
}

fn describe(status: sys::CUresult) -> String {
    match status {
        sys::CUresult::CUDA_ERROR_NO_DEVICE => "no CUDA-capable device is detected".into(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_split_and_compare() {
        assert_eq!(split_version(13000), (13, 0));
        assert_eq!(split_version(12090), (12, 9));
        assert_eq!(split_version(13020), (13, 2));
        assert!(check_driver_version(13000).is_ok());
        assert!(check_driver_version(13040).is_ok());
        let err = check_driver_version(12080).unwrap_err().to_string();
        assert!(err.contains("CUDA 12.8"), "{err}");
        assert!(err.contains("needs CUDA 13.0"), "{err}");
    }

    /// On a machine without a driver (CI, this project's build machines) the probe must fail with the documented
    /// message rather than panic; where a driver exists it must succeed and count at least one device.
    #[test]
    fn probe_reports_a_missing_driver_as_an_error() {
        let driver_loadable = unsafe { sys::is_culib_present() };
        match probe_driver() {
            Ok(info) => {
                assert!(driver_loadable);
                assert!(info.device_count >= 1);
            }
            Err(CudaError::NoDriver) => {
                assert!(!driver_loadable);
                assert_eq!(
                    CudaError::NoDriver.to_string(),
                    "no CUDA driver found (libcuda.so not loadable): device: cuda needs an NVIDIA GPU and driver; use device: cpu"
                );
            }
            Err(other) => assert!(driver_loadable, "unexpected error {other}"),
        }
    }
}
