//! R replicas as threads of one process: the communicator of the equivalence tests. Collectives meet at a barrier;
//! every member reads every contribution and sums them itself in rank order, so all members get bit-identical
//! results, as from a deterministic all-reduce.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, MutexGuard};

use super::{CommError, Communicator};

struct Shared {
    size: usize,
    slots: Mutex<Vec<Vec<f32>>>,
    barrier: Barrier,
    /// Sub-groups created by `split`, by (the split's sequence number, colour).
    groups: Mutex<HashMap<(u64, usize), Arc<Shared>>>,
}

impl Shared {
    fn new(size: usize) -> Arc<Shared> {
        Arc::new(Shared {
            size,
            slots: Mutex::new(vec![Vec::new(); size]),
            barrier: Barrier::new(size),
            groups: Mutex::new(HashMap::new()),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One member of an in-process group; [`ThreadGroup::new`] makes all of them, one per thread.
pub struct ThreadGroup {
    rank: usize,
    shared: Arc<Shared>,
    splits: AtomicU64,
}

impl ThreadGroup {
    /// The `size` members of a new group, rank 0 first.
    pub fn new(size: usize) -> Vec<ThreadGroup> {
        let shared = Shared::new(size.max(1));
        (0..size.max(1))
            .map(|rank| ThreadGroup {
                rank,
                shared: shared.clone(),
                splits: AtomicU64::new(0),
            })
            .collect()
    }
}

impl Communicator for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn all_reduce_sum(&self, data: &mut [f32]) -> Result<(), CommError> {
        let all = self.all_gather(data)?;
        let n = data.len();
        data.fill(0.0);
        for member in all
            .chunks(n.max(1))
            .take(if n == 0 { 0 } else { self.size() })
        {
            for (d, v) in data.iter_mut().zip(member) {
                *d += v;
            }
        }
        Ok(())
    }

    fn all_gather(&self, data: &[f32]) -> Result<Vec<f32>, CommError> {
        lock(&self.shared.slots)[self.rank] = data.to_vec();
        self.shared.barrier.wait();
        let result = {
            let slots = lock(&self.shared.slots);
            if slots.iter().any(|s| s.len() != data.len()) {
                let lens: Vec<usize> = slots.iter().map(Vec::len).collect();
                Err(CommError::Mismatch(format!(
                    "a gather got contributions of different lengths {lens:?}"
                )))
            } else {
                Ok(slots.concat())
            }
        };
        // Nobody writes the next contribution before everyone has read this one.
        self.shared.barrier.wait();
        result
    }

    fn split(&self, color: usize) -> Result<Arc<dyn Communicator>, CommError> {
        let sequence = self.splits.fetch_add(1, Ordering::Relaxed);
        let colors = self.all_gather(&[color as f32])?;
        let members: Vec<usize> = (0..self.size())
            .filter(|&r| colors[r] as usize == color)
            .collect();
        let rank = members.iter().position(|&r| r == self.rank).unwrap_or(0);
        let shared = lock(&self.shared.groups)
            .entry((sequence, color))
            .or_insert_with(|| Shared::new(members.len()))
            .clone();
        Ok(Arc::new(ThreadGroup {
            rank,
            shared,
            splits: AtomicU64::new(0),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_threads<T: Send + 'static>(
        size: usize,
        f: impl Fn(ThreadGroup) -> T + Send + Sync + 'static,
    ) -> Vec<T> {
        let f = Arc::new(f);
        let handles: Vec<_> = ThreadGroup::new(size)
            .into_iter()
            .map(|member| {
                let f = f.clone();
                std::thread::spawn(move || f(member))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("member panicked"))
            .collect()
    }

    #[test]
    fn sums_gathers_and_splits() {
        let results = on_threads(4, |member| {
            let r = member.rank() as f32;
            let mut sum = vec![r, 2.0 * r];
            member.all_reduce_sum(&mut sum).unwrap();
            let gathered = member.all_gather(&[r]).unwrap();
            let pair = member.split(member.rank() / 2).unwrap();
            let mut pair_sum = vec![r];
            pair.all_reduce_sum(&mut pair_sum).unwrap();
            (sum, gathered, pair.rank(), pair.size(), pair_sum[0])
        });
        for (rank, (sum, gathered, pair_rank, pair_size, pair_sum)) in
            results.into_iter().enumerate()
        {
            assert_eq!(sum, vec![6.0, 12.0]);
            assert_eq!(gathered, vec![0.0, 1.0, 2.0, 3.0]);
            assert_eq!((pair_rank, pair_size), (rank % 2, 2));
            assert_eq!(pair_sum, if rank < 2 { 1.0 } else { 5.0 });
        }
    }

    #[test]
    fn a_gather_of_unequal_lengths_fails_on_every_member() {
        let results = on_threads(2, |member| {
            member.all_gather(&vec![0.0; 1 + member.rank()]).is_err()
        });
        assert_eq!(results, vec![true, true]);
    }
}
