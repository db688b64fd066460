//! Replicas as MPI processes (cargo feature `mpi`, on the system's Open MPI: Debian's `openmpi-bin` and
//! `libopenmpi-dev`, plus `libclang-dev` for the bindings). Ranks come from the launcher (`mpirun`, `srun`, or
//! `vst run --replicas N`, which starts `mpirun` itself). Only the training thread calls MPI; a lock serialises the
//! calls anyway, so the library is initialised in its `Serialized` threading mode.

use std::sync::{Arc, Mutex};

use mpi::Threading;
use mpi::collective::SystemOperation;
use mpi::topology::{Color, SimpleCommunicator};
use mpi::traits::{Communicator as _, CommunicatorCollectives};

use super::{CommError, Communicator};

/// MPI's state for the life of the process: initialised by [`mpi_world`], finalised when dropped (keep it until
/// the run ends; `mpirun` reports a process that exits without finalising as failed).
pub struct MpiSession {
    _universe: mpi::environment::Universe,
}

/// A group of MPI processes.
pub struct Mpi {
    comm: Mutex<SimpleCommunicator>,
    rank: usize,
    size: usize,
}

// SAFETY: the communicator handle is only used under the lock, and MPI is initialised in `Serialized` mode (any
// thread may call it, one at a time).
unsafe impl Send for Mpi {}
unsafe impl Sync for Mpi {}

/// Initialises MPI and returns the world of every process the launcher started.
pub fn mpi_world() -> Result<(MpiSession, Arc<Mpi>), CommError> {
    let (universe, threading) = mpi::initialize_with_threading(Threading::Serialized)
        .ok_or_else(|| CommError::Transport("MPI is already initialised in this process".into()))?;
    if threading < Threading::Serialized {
        return Err(CommError::Transport(format!(
            "the MPI library offers thread support {threading:?}, vst needs Serialized"
        )));
    }
    let world = universe.world();
    let mpi = Mpi::new(world);
    Ok((
        MpiSession {
            _universe: universe,
        },
        Arc::new(mpi),
    ))
}

impl Mpi {
    fn new(comm: SimpleCommunicator) -> Mpi {
        let (rank, size) = (comm.rank() as usize, comm.size() as usize);
        Mpi {
            comm: Mutex::new(comm),
            rank,
            size,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&SimpleCommunicator) -> T) -> T {
        let comm = self.comm.lock().unwrap_or_else(|p| p.into_inner());
        f(&comm)
    }
}

impl Communicator for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_reduce_sum(&self, data: &mut [f32]) -> Result<(), CommError> {
        let send = data.to_vec();
        self.with(|c| c.all_reduce_into(&send[..], data, SystemOperation::sum()));
        Ok(())
    }

    fn all_gather(&self, data: &[f32]) -> Result<Vec<f32>, CommError> {
        // Lengths first, so that a mismatch is an error on every rank rather than a crash in MPI.
        let mut lengths = vec![0u64; self.size];
        self.with(|c| c.all_gather_into(&(data.len() as u64), &mut lengths[..]));
        if lengths.iter().any(|&l| l != data.len() as u64) {
            return Err(CommError::Mismatch(format!(
                "a gather got contributions of different lengths {lengths:?}"
            )));
        }
        let mut out = vec![0f32; data.len() * self.size];
        self.with(|c| c.all_gather_into(data, &mut out[..]));
        Ok(out)
    }

    fn split(&self, color: usize) -> Result<Arc<dyn Communicator>, CommError> {
        let sub = self
            .with(|c| c.split_by_color(Color::with_value(color as i32)))
            .ok_or_else(|| {
                CommError::Transport("MPI_Comm_split returned no communicator".into())
            })?;
        Ok(Arc::new(Mpi::new(sub)))
    }
}
