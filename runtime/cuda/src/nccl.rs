//! NCCL collectives for data-parallel replicas, one process per GPU: sums and gathers of host f32 data, staged
//! through this process's GPU (the communicator interface of `vst_runtime::distributed` works on host slices; a
//! later version can hand device buffers straight to NCCL). `libnccl.so.2` is loaded at run time like the other
//! CUDA libraries; without it, or without a driver, every entry point returns an error that says so.

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaStream};
use cudarc::nccl::{Comm, Id, ReduceOp};

use crate::error::{CudaError, CudaResult};
use crate::probe::probe_device;

/// Bytes of an NCCL unique id: what rank 0 creates and every member needs before joining.
pub const UNIQUE_ID_BYTES: usize = 128;

fn nccl_loadable() -> CudaResult<()> {
    // SAFETY: only tries to dlopen the candidate library names.
    if unsafe { cudarc::nccl::sys::is_culib_present() } {
        Ok(())
    } else {
        Err(CudaError::MissingLibrary {
            library: "NCCL (libnccl.so.2)",
            hint: "NVIDIA's NCCL 2 for CUDA 13, or pip's nvidia-nccl-cu13",
        })
    }
}

/// A new unique id for a group, as bytes to pass to the other members (the creator joins with it too).
pub fn new_unique_id() -> CudaResult<[u8; UNIQUE_ID_BYTES]> {
    crate::probe::probe_driver()?;
    nccl_loadable()?;
    let id = Id::new().map_err(|e| CudaError::call("ncclGetUniqueId", e))?;
    Ok(id.internal().map(|c| c as u8))
}

/// One member of an NCCL group on GPU `ordinal`.
pub struct NcclComm {
    comm: Comm,
    stream: Arc<CudaStream>,
}

// SAFETY: the communicator and its stream are only used through `&self` methods that enqueue work and wait for
// it; NCCL allows a communicator to be used from any thread as long as calls are not concurrent, which the
// learner's one-collective-at-a-time program guarantees.
unsafe impl Send for NcclComm {}
unsafe impl Sync for NcclComm {}

impl NcclComm {
    /// Joins the group `id` as member `rank` of `size`, on GPU `ordinal`. Blocks until every member joined.
    pub fn join(
        ordinal: usize,
        rank: usize,
        size: usize,
        id: &[u8; UNIQUE_ID_BYTES],
    ) -> CudaResult<NcclComm> {
        probe_device(ordinal)?;
        nccl_loadable()?;
        let id = Id::uninit(id.map(|b| b as std::ffi::c_char));
        // cudarc's safe layer panics on a few unexpected driver states: make them errors too.
        std::panic::catch_unwind(|| {
            let ctx = CudaContext::new(ordinal)
                .map_err(|e| CudaError::call("creating a CUDA context for NCCL", e))?;
            let stream = ctx
                .new_stream()
                .map_err(|e| CudaError::call("creating a stream for NCCL", e))?;
            let comm = Comm::from_rank(stream.clone(), rank, size, id)
                .map_err(|e| CudaError::call("ncclCommInitRank", e))?;
            Ok(NcclComm { comm, stream })
        })
        .unwrap_or_else(|_| {
            Err(CudaError::Call {
                what: "joining an NCCL group",
                message: "the CUDA driver layer panicked".into(),
            })
        })
    }

    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    pub fn size(&self) -> usize {
        self.comm.world_size()
    }

    /// Replaces `data` by its elementwise sum over the group.
    pub fn all_reduce_sum(&self, data: &mut [f32]) -> CudaResult<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut buf = self
            .stream
            .clone_htod(data)
            .map_err(|e| CudaError::call("copying to the GPU for NCCL", e))?;
        self.comm
            .all_reduce_in_place(&mut buf, &ReduceOp::Sum)
            .map_err(|e| CudaError::call("ncclAllReduce", e))?;
        self.stream
            .memcpy_dtoh(&buf, data)
            .map_err(|e| CudaError::call("copying NCCL's sum back", e))?;
        self.stream
            .synchronize()
            .map_err(|e| CudaError::call("waiting for NCCL", e))
    }

    /// Every member's `data` (all of the same length), concatenated in rank order.
    pub fn all_gather(&self, data: &[f32]) -> CudaResult<Vec<f32>> {
        let mut out = vec![0.0f32; data.len() * self.size()];
        if data.is_empty() {
            return Ok(out);
        }
        let send = self
            .stream
            .clone_htod(data)
            .map_err(|e| CudaError::call("copying to the GPU for NCCL", e))?;
        let mut recv = self
            .stream
            .alloc_zeros::<f32>(out.len())
            .map_err(|e| CudaError::call("allocating NCCL's gather buffer", e))?;
        self.comm
            .all_gather(&send, &mut recv)
            .map_err(|e| CudaError::call("ncclAllGather", e))?;
        self.stream
            .memcpy_dtoh(&recv, &mut out)
            .map_err(|e| CudaError::call("copying NCCL's gather back", e))?;
        self.stream
            .synchronize()
            .map_err(|e| CudaError::call("waiting for NCCL", e))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a driver (CI, this project's build machine) both entry points fail with an explanation, never a
    /// panic.
    #[test]
    fn without_a_driver_nccl_is_an_error() {
        if crate::probe::probe_driver().is_ok() {
            return;
        }
        let e = new_unique_id().unwrap_err().to_string();
        assert!(e.contains("driver"), "{e}");
        let e = NcclComm::join(0, 0, 1, &[0; UNIQUE_ID_BYTES])
            .err()
            .expect("no driver")
            .to_string();
        assert!(e.contains("driver"), "{e}");
    }
}
