//! Data-parallel training: the communicator every replica talks through, and its implementations.
//!
//! A pre-training job runs on R replicas (processes, one per device, or threads in tests). Each replica takes its
//! share of every step's global batch, and the replicas agree through three collectives only: a sum
//! (gradients, SyncBN statistics, batch-norm running statistics), a gather (embeddings for the loss, MoCo's
//! shuffled key batch) and a split into groups (SyncBN groups). They are implemented on existing engines, never on
//! a protocol of our own:
//!
//! - [`Solo`]: one replica; every collective is the identity.
//! - [`ThreadGroup`]: R replicas as threads of one process (equivalence tests, no system library needed).
//! - `Mpi` (cargo feature `mpi`): processes started by `mpirun`/`srun` or by `vst run --replicas N`, through the
//!   `mpi` crate on the system's Open MPI.
//!
//! - [`Nccl`]: one process per GPU of one machine (`vst run --gpus N`), through NCCL loaded at run time; ids
//!   exchanged through a [`Rendezvous`] folder. Compiled and unit-tested here; never run on a GPU yet.
//!
//! Every replica calls the same collectives in the same order
//! with the same sizes (the learner's step is one deterministic program), so no call needs a tag.

#[cfg(feature = "mpi")]
mod mpi;
mod nccl;
mod solo;
mod threads;

use std::sync::Arc;

use vst_engine::{ReplicaSum, Tensor};

#[cfg(feature = "mpi")]
pub use mpi::{Mpi, MpiSession, mpi_world};
pub use nccl::{Nccl, RANK_VARIABLE, RENDEZVOUS_VARIABLE, Rendezvous, SIZE_VARIABLE};
pub use solo::Solo;
pub use threads::ThreadGroup;

/// The replicas of a run, as the jobs see them: [`Solo`] unless the run was started as several processes.
#[derive(Clone)]
pub struct Replicas(pub Arc<dyn Communicator>);

impl Replicas {
    pub fn rank(&self) -> usize {
        self.0.rank()
    }

    pub fn size(&self) -> usize {
        self.0.size()
    }

    /// Rank 0 writes every file of the run (metrics, checkpoints, results); the others only compute.
    pub fn is_leader(&self) -> bool {
        self.0.rank() == 0
    }
}

impl Default for Replicas {
    fn default() -> Self {
        Replicas(Arc::new(Solo))
    }
}

impl std::fmt::Debug for Replicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Replicas(rank {} of {})", self.rank(), self.size())
    }
}

/// What can go wrong between replicas.
#[derive(Debug, thiserror::Error)]
pub enum CommError {
    #[error("replicas disagree: {0}")]
    Mismatch(String),
    #[error("the communicator failed: {0}")]
    Transport(String),
}

/// A group of replicas that can sum, gather and split. Ranks are 0..size; every member calls every collective.
pub trait Communicator: Send + Sync {
    /// This replica's index in the group.
    fn rank(&self) -> usize;
    /// Replicas in the group.
    fn size(&self) -> usize;
    /// Replaces `data` by its elementwise sum over the group (summed in rank order where the transport allows, so
    /// a run is reproducible).
    fn all_reduce_sum(&self, data: &mut [f32]) -> Result<(), CommError>;
    /// Every member's `data` (all of the same length), concatenated in rank order.
    fn all_gather(&self, data: &[f32]) -> Result<Vec<f32>, CommError>;
    /// The sub-group of the members that pass the same `color`, ranked as here. Collective: every member calls it.
    fn split(&self, color: usize) -> Result<Arc<dyn Communicator>, CommError>;
}

/// Sums tensors through a communicator (copying through the host): the bridge from the engine's SyncBN hook to a
/// group of replicas.
pub struct GroupSum(pub Arc<dyn Communicator>);

impl ReplicaSum for GroupSum {
    fn all_reduce_sum(&self, tensors: &mut [Tensor]) -> vst_engine::Result<()> {
        all_reduce_tensors(self.0.as_ref(), tensors).map_err(|e| vst_engine::EngineError::Backend {
            backend: "replicas".into(),
            message: e.to_string(),
        })
    }
}

/// Tensors summed over the group in one call (one flat buffer, so one collective however many tensors).
pub fn all_reduce_tensors(
    comm: &dyn Communicator,
    tensors: &mut [Tensor],
) -> Result<(), CommError> {
    if comm.size() == 1 {
        return Ok(());
    }
    let transport = |e: vst_engine::EngineError| CommError::Transport(e.to_string());
    let mut flat = Vec::new();
    for t in tensors.iter() {
        flat.extend(t.to_vec().map_err(transport)?);
    }
    comm.all_reduce_sum(&mut flat)?;
    let mut at = 0;
    for t in tensors.iter_mut() {
        let n = t.numel();
        *t = Tensor::from_slice(&flat[at..at + n], t.shape(), t.device()).map_err(transport)?;
        at += n;
    }
    Ok(())
}

/// Every member's tensor (same shape everywhere) concatenated along the first axis in rank order.
pub fn all_gather_rows(comm: &dyn Communicator, tensor: &Tensor) -> Result<Tensor, CommError> {
    if comm.size() == 1 {
        return Ok(tensor.clone());
    }
    let transport = |e: vst_engine::EngineError| CommError::Transport(e.to_string());
    let all = comm.all_gather(&tensor.to_vec().map_err(transport)?)?;
    let mut shape = tensor.shape().to_vec();
    shape[0] *= comm.size();
    Tensor::from_vec(all, &shape, tensor.device()).map_err(transport)
}

/// Every member's `data`, of any length, concatenated in rank order (lengths first, then one padded gather).
pub fn all_gather_varying(comm: &dyn Communicator, data: &[f32]) -> Result<Vec<f32>, CommError> {
    if comm.size() == 1 {
        return Ok(data.to_vec());
    }
    let lengths: Vec<usize> = comm
        .all_gather(&[data.len() as f32])?
        .iter()
        .map(|&l| l as usize)
        .collect();
    let longest = lengths.iter().copied().max().unwrap_or(0);
    let mut padded = data.to_vec();
    padded.resize(longest, 0.0);
    let all = comm.all_gather(&padded)?;
    Ok(lengths
        .iter()
        .enumerate()
        .flat_map(|(rank, &len)| all[rank * longest..rank * longest + len].iter().copied())
        .collect())
}

/// Fails unless every member passed the same `value` (a cheap consistency check, e.g. of a parameter hash).
pub fn check_agree(comm: &dyn Communicator, what: &str, value: u64) -> Result<(), CommError> {
    if comm.size() == 1 {
        return Ok(());
    }
    // Four 16-bit pieces: exact in f32.
    let pieces: Vec<f32> = (0..4)
        .map(|i| ((value >> (16 * i)) & 0xffff) as f32)
        .collect();
    let all = comm.all_gather(&pieces)?;
    let values: Vec<u64> = all
        .chunks(4)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u64, |acc, (i, p)| acc | ((*p as u64) << (16 * i)))
        })
        .collect();
    if values.iter().any(|v| *v != values[0]) {
        let listed: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(r, v)| format!("rank {r}: {v:016x}"))
            .collect();
        return Err(CommError::Mismatch(format!(
            "{what} differs ({})",
            listed.join(", ")
        )));
    }
    Ok(())
}
