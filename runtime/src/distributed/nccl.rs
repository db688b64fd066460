//! Replicas as processes on the GPUs of one machine, through NCCL (`vst run --gpus N`): the launcher gives each
//! process its rank, the group size and a rendezvous folder; rank 0 creates the group's NCCL unique id and
//! publishes it there as a file, the others wait for it. SyncBN groups (`split`) are new NCCL groups made the same
//! way, their ids published by each group's first member. Never run on a GPU yet: see docs/gpu.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vst_cuda::nccl::{NcclComm, UNIQUE_ID_BYTES, new_unique_id};

use super::{CommError, Communicator};

/// Environment the launcher sets in every process it starts.
pub const RANK_VARIABLE: &str = "VST_NCCL_RANK";
pub const SIZE_VARIABLE: &str = "VST_NCCL_SIZE";
pub const RENDEZVOUS_VARIABLE: &str = "VST_NCCL_DIR";

/// How long a member waits for an id before giving up (a member that died before publishing must not hang the
/// others forever).
const RENDEZVOUS_TIMEOUT: Duration = Duration::from_secs(120);

/// A folder through which the processes of one run exchange small files.
#[derive(Debug, Clone)]
pub struct Rendezvous {
    dir: PathBuf,
    timeout: Duration,
}

impl Rendezvous {
    pub fn new(dir: impl Into<PathBuf>) -> Rendezvous {
        Rendezvous {
            dir: dir.into(),
            timeout: RENDEZVOUS_TIMEOUT,
        }
    }

    pub fn with_timeout(self, timeout: Duration) -> Rendezvous {
        Rendezvous { timeout, ..self }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.bin"))
    }

    /// Publishes `bytes` under `name`, atomically: a reader sees the whole file or none.
    pub fn publish(&self, name: &str, bytes: &[u8]) -> Result<(), CommError> {
        let io = |e: std::io::Error| {
            CommError::Transport(format!("rendezvous folder {}: {e}", self.dir.display()))
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, self.path(name)).map_err(io)
    }

    /// Waits for `name` and returns its bytes.
    pub fn fetch(&self, name: &str) -> Result<Vec<u8>, CommError> {
        let path = self.path(name);
        let start = Instant::now();
        loop {
            match std::fs::read(&path) {
                Ok(bytes) => return Ok(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(CommError::Transport(format!(
                        "reading {}: {e}",
                        path.display()
                    )));
                }
            }
            if start.elapsed() > self.timeout {
                return Err(CommError::Transport(format!(
                    "no {} after {} s: did the member that publishes it fail?",
                    path.display(),
                    self.timeout.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The group's unique id: created and published by `creator`, fetched by everyone else.
fn exchange_id(
    rendezvous: &Rendezvous,
    name: &str,
    creator: bool,
) -> Result<[u8; UNIQUE_ID_BYTES], CommError> {
    if creator {
        let id = new_unique_id().map_err(nccl)?;
        rendezvous.publish(name, &id)?;
        Ok(id)
    } else {
        let bytes = rendezvous.fetch(name)?;
        bytes.try_into().map_err(|b: Vec<u8>| {
            CommError::Transport(format!(
                "{name}: an NCCL id has {UNIQUE_ID_BYTES} bytes, the file {}",
                b.len()
            ))
        })
    }
}

fn nccl(e: vst_cuda::CudaError) -> CommError {
    CommError::Transport(e.to_string())
}

/// One member of an NCCL group; see the module documentation.
pub struct Nccl {
    comm: NcclComm,
    ordinal: usize,
    rendezvous: Rendezvous,
    /// This group's name in the rendezvous folder (sub-groups extend it).
    name: String,
    /// Splits made so far: each names its sub-groups' ids uniquely (every member splits in the same order).
    splits: AtomicUsize,
}

impl Nccl {
    /// Joins the group `name` as `rank` of `size` on GPU `ordinal`.
    pub fn join(
        ordinal: usize,
        rank: usize,
        size: usize,
        rendezvous: Rendezvous,
        name: &str,
    ) -> Result<Nccl, CommError> {
        let id = exchange_id(&rendezvous, name, rank == 0)?;
        let comm = NcclComm::join(ordinal, rank, size, &id).map_err(nccl)?;
        Ok(Nccl {
            comm,
            ordinal,
            rendezvous,
            name: name.to_string(),
            splits: AtomicUsize::new(0),
        })
    }

    /// The world of a process started by `vst run --gpus N`: rank, size and rendezvous folder from the launcher's
    /// environment, GPU = rank (one machine). `None` when no such launcher started this process.
    pub fn from_env() -> Option<Result<Nccl, CommError>> {
        let rank = std::env::var(RANK_VARIABLE).ok()?;
        Some((|| {
            let number = |var: &str, text: &str| {
                text.parse::<usize>().map_err(|_| {
                    CommError::Transport(format!("{var}={text} is not a whole number"))
                })
            };
            let rank = number(RANK_VARIABLE, &rank)?;
            let size_text = std::env::var(SIZE_VARIABLE)
                .map_err(|_| CommError::Transport(format!("{SIZE_VARIABLE} is not set")))?;
            let size = number(SIZE_VARIABLE, &size_text)?;
            let dir = std::env::var_os(RENDEZVOUS_VARIABLE)
                .ok_or_else(|| CommError::Transport(format!("{RENDEZVOUS_VARIABLE} is not set")))?;
            if rank >= size {
                return Err(CommError::Transport(format!(
                    "rank {rank} of a group of {size}"
                )));
            }
            Nccl::join(rank, rank, size, Rendezvous::new(dir), "world")
        })())
    }
}

/// Members with `color` among every member's colours (in rank order): the sub-group's size and this member's
/// rank in it.
fn sub_group(colors: &[f32], rank: usize) -> (usize, usize) {
    let mine = colors[rank];
    let members: Vec<usize> = (0..colors.len()).filter(|&r| colors[r] == mine).collect();
    let sub_rank = members.iter().position(|&r| r == rank).unwrap_or(0);
    (members.len(), sub_rank)
}

impl Communicator for Nccl {
    fn rank(&self) -> usize {
        self.comm.rank()
    }

    fn size(&self) -> usize {
        self.comm.size()
    }

    fn all_reduce_sum(&self, data: &mut [f32]) -> Result<(), CommError> {
        self.comm.all_reduce_sum(data).map_err(nccl)
    }

    fn all_gather(&self, data: &[f32]) -> Result<Vec<f32>, CommError> {
        self.comm.all_gather(data).map_err(nccl)
    }

    fn split(&self, color: usize) -> Result<Arc<dyn Communicator>, CommError> {
        let split = self.splits.fetch_add(1, Ordering::SeqCst);
        // Colours are small integers (SyncBN group indices): exact in f32.
        let colors = self.all_gather(&[color as f32])?;
        let (size, sub_rank) = sub_group(&colors, self.rank());
        let name = format!("{}-split{split}-color{color}", self.name);
        Ok(Arc::new(Nccl::join(
            self.ordinal,
            sub_rank,
            size,
            self.rendezvous.clone(),
            &name,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(what: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("vst-rendezvous-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_published_file_is_fetched_whole_by_a_waiting_member() {
        let dir = temp_dir("publish");
        let r = Rendezvous::new(&dir);
        let waiting = {
            let r = r.clone();
            std::thread::spawn(move || r.fetch("world"))
        };
        std::thread::sleep(Duration::from_millis(50));
        r.publish("world", &[7u8; UNIQUE_ID_BYTES]).unwrap();
        assert_eq!(waiting.join().unwrap().unwrap(), vec![7u8; UNIQUE_ID_BYTES]);
        // Nothing half-written is left behind.
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["world.bin"]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_missing_publisher_is_an_error_after_the_timeout_not_a_hang() {
        let r = Rendezvous::new(temp_dir("timeout")).with_timeout(Duration::from_millis(100));
        let e = r.fetch("world").unwrap_err().to_string();
        assert!(e.contains("world.bin") && e.contains("fail"), "{e}");
    }

    #[test]
    fn a_truncated_id_is_refused() {
        let dir = temp_dir("short");
        let r = Rendezvous::new(&dir);
        r.publish("world", &[1, 2, 3]).unwrap();
        let e = exchange_id(&r, "world", false).unwrap_err().to_string();
        assert!(e.contains("128 bytes"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn sub_groups_rank_their_members_in_world_order() {
        // Four replicas in SyncBN groups of two: colours 0, 0, 1, 1.
        let colors = [0.0, 0.0, 1.0, 1.0];
        assert_eq!(sub_group(&colors, 0), (2, 0));
        assert_eq!(sub_group(&colors, 1), (2, 1));
        assert_eq!(sub_group(&colors, 2), (2, 0));
        assert_eq!(sub_group(&colors, 3), (2, 1));
        // Interleaved colours keep world order too.
        assert_eq!(sub_group(&[3.0, 5.0, 3.0], 2), (2, 1));
    }

    #[test]
    fn without_a_gpu_joining_says_why() {
        if vst_cuda::probe::probe_driver().is_ok() {
            return;
        }
        let dir = temp_dir("join");
        let e = Nccl::join(0, 0, 1, Rendezvous::new(&dir), "world")
            .err()
            .expect("no driver")
            .to_string();
        assert!(e.contains("driver"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
