//! A recipe's `device:` as an engine device. CUDA goes through vst-cuda, which loads the driver at run time and
//! reports a missing one as an error (so `device: cuda` on a machine without a GPU fails before anything runs).

use anyhow::{Context, Result, bail};
use vst_engine::Device;
use vst_spec::{DeviceSpec, Precision};

/// Environment variables in which launchers give a process its rank among those on its node (Open MPI, SLURM,
/// MPICH, and `vst run --gpus N`, whose processes are all on one node).
const LOCAL_RANK_VARIABLES: [&str; 4] = [
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "SLURM_LOCALID",
    "MPI_LOCALRANKID",
    crate::distributed::RANK_VARIABLE,
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

/// The device, computing in `precision` (a CUDA device; the CPU computes in f32 only, and asking it for less is
/// an error — a recipe cannot ask for it, but `vst run --device cpu` on a bf16 recipe can).
pub fn open_device(spec: &DeviceSpec, precision: Precision) -> Result<Device> {
    match spec {
        DeviceSpec::Cpu if !precision.is_f32() => bail!(
            "precision {} needs a CUDA device: the CPU computes in f32 only (run with `--precision f32`)",
            precision.name()
        ),
        DeviceSpec::Cpu => Ok(Device::cpu()),
        DeviceSpec::Cuda { index } => {
            let options = vst_cuda::CudaOptions {
                precision,
                ..Default::default()
            };
            vst_cuda::open_device_spec(spec, options)
                .with_context(|| format!("cannot open cuda:{index}"))
        }
    }
}

/// Opens the device once, so that a missing GPU stops the run before its first job.
pub fn check_device(spec: &DeviceSpec, precision: Precision) -> Result<()> {
    open_device(spec, precision).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_refuses_reduced_precision() {
        for p in [Precision::Tf32, Precision::Bf16] {
            let e = open_device(&DeviceSpec::Cpu, p).unwrap_err().to_string();
            assert!(e.contains(p.name()) && e.contains("CUDA"), "{e}");
        }
        assert!(open_device(&DeviceSpec::Cpu, Precision::F32).is_ok());
    }
}
