//! A recipe's `device:` as an engine device. CUDA goes through vst-cuda, which loads the driver at run time and
//! reports a missing one as an error (so `device: cuda` on a machine without a GPU fails before anything runs).

use anyhow::{Context, Result};
use vst_engine::Device;
use vst_spec::DeviceSpec;

pub fn open_device(spec: &DeviceSpec) -> Result<Device> {
    match spec {
        DeviceSpec::Cpu => Ok(Device::cpu()),
        DeviceSpec::Cuda { index } => vst_cuda::open_device_spec(spec, Default::default())
            .with_context(|| format!("cannot open cuda:{index}")),
    }
}

/// Opens the device once, so that a missing GPU stops the run before its first job.
pub fn check_device(spec: &DeviceSpec) -> Result<()> {
    open_device(spec).map(drop)
}
