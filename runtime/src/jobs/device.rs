//! A recipe's `device:` as an engine device. CUDA goes through vst-cuda, which loads the driver at run time and
//! reports a missing one as an error (so `device: cuda` on a machine without a GPU fails before anything runs).

use anyhow::{Context, Result};
use vst_engine::Device;
use vst_spec::DeviceSpec;

/// Environment variables in which launchers give a process its rank among those on its node (Open MPI, SLURM,
/// MPICH).
const LOCAL_RANK_VARIABLES: [&str; 3] = [
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "SLURM_LOCALID",
    "MPI_LOCALRANKID",
];

/// This process's rank on its node when a launcher started several, else 0.
pub fn local_rank() -> u32 {
    LOCAL_RANK_VARIABLES
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
        .unwrap_or(0)
}

/// The device of one replica of a multi-process run: `cuda:i` becomes `cuda:(i + local rank)`, one GPU per process
/// on each node (as `torch.cuda.set_device(local_rank)` in PySlowFast). With one replica, the recipe's device.
pub fn replica_device(spec: &DeviceSpec, replicas: usize) -> DeviceSpec {
    match spec {
        DeviceSpec::Cuda { index } if replicas > 1 => DeviceSpec::Cuda {
            index: index + local_rank(),
        },
        other => *other,
    }
}

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
