//! Work splitting for the CPU kernels. Reductions split their input into a fixed number of chunks that depends on
//! the problem size only (never on the thread count or on scheduling) and combine the partial results in order, so
//! that results are bit-for-bit reproducible from run to run.

use rayon::prelude::*;

/// Runs `f` on a worker thread of rayon's global pool and returns its result.
///
/// Every kernel parallelises with rayon. Called from a thread outside the pool (a program's main thread), each
/// parallel loop is injected into the pool and the caller sleeps on a latch until it finishes: a wake-up and a
/// hand-off per operation, which on the mini model's step (hundreds of small ops) cost a third of the step on one
/// thread. Called from a worker, a loop forks with `join` on the same thread and only splits off work another
/// worker can steal. Results are unchanged: the kernels' chunking never depends on which thread runs them.
///
/// `f` must not block waiting for other work that needs this pool (with one pool thread it would wait forever);
/// the data loader's threads and the communicators are plain threads, so training and evaluation qualify.
pub fn on_pool_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    rayon::scope(|_| f())
}

/// Runs `f` (on a pool worker) while the pool's other workers stay awake, spinning for work instead of sleeping.
///
/// A training step is hundreds of parallel kernels separated by short serial stretches (graph bookkeeping, the
/// per-channel arithmetic of batch norm): long enough for rayon's idle workers to fall asleep, so that each kernel
/// started by waking one — a futex call and a wake-up latency per kernel, during which the kernel's other half
/// waits. Here every other worker runs a job that keeps taking work (`rayon::yield_now`; between tries it yields
/// its core to any other runnable thread, such as the data loader's) until `f` returns, or until it has found none
/// for [`SPIN_IDLE`] (a long serial stretch, a wait on another process: give the core back). Results are
/// unchanged: the kernels' chunking never depends on which thread runs them.
pub fn with_workers_awake<R>(f: impl FnOnce() -> R) -> R {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let me = rayon::current_thread_index();
    if me.is_none() || rayon::current_num_threads() < 2 {
        return f();
    }
    struct Stop(Arc<AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stop = Stop(Arc::new(AtomicBool::new(false)));
    let flag = stop.0.clone();
    rayon::spawn_broadcast(move |ctx| {
        if Some(ctx.index()) == me {
            return;
        }
        SPINNING.fetch_add(1, Ordering::Relaxed);
        SPIN_JOBS.fetch_add(1, Ordering::Relaxed);
        let _spinning = Spinning;
        let mut last_work = std::time::Instant::now();
        while !flag.load(Ordering::Relaxed) {
            match rayon::yield_now() {
                Some(rayon::Yield::Executed) => last_work = std::time::Instant::now(),
                _ => {
                    if last_work.elapsed() > SPIN_IDLE {
                        return;
                    }
                    // Yield rather than pause: a runnable thread outside the pool (the data loader's) gets
                    // the core; with none, this returns at once.
                    std::thread::yield_now();
                }
            }
        }
    });
    let r = f();
    drop(stop);
    r
}

/// Workers in [`with_workers_awake`]'s spin job now, and spin jobs started so far (for tests).
static SPINNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static SPIN_JOBS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts a spin job out of [`SPINNING`] however it ends.
struct Spinning;

impl Drop for Spinning {
    fn drop(&mut self) {
        SPINNING.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How long [`with_workers_awake`] lets a worker spin without finding work before it goes back to sleep.
const SPIN_IDLE: std::time::Duration = std::time::Duration::from_millis(2);

/// Elementwise work below this many values runs on the calling thread.
pub const PAR_MIN: usize = 1 << 15;

/// Splits `0..n` into at most `max_chunks` contiguous ranges of at least `min_len` items.
pub fn fixed_ranges(n: usize, min_len: usize, max_chunks: usize) -> Vec<std::ops::Range<usize>> {
    let chunks = (n / min_len.max(1)).clamp(1, max_chunks.max(1));
    let per = n.div_ceil(chunks);
    (0..chunks)
        .map(|i| (i * per).min(n)..((i + 1) * per).min(n))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Runs `f(offset, chunk)` over `out` in chunks of `chunk_len` (a multiple of any row length `f` relies on),
/// in parallel when the output is large.
pub fn for_chunks_mut(
    out: &mut [f32],
    chunk_len: usize,
    f: impl Fn(usize, &mut [f32]) + Sync + Send,
) {
    let chunk_len = chunk_len.max(1);
    // Each chunk's loop compiled for the CPU's widest vectors (`simd::wide`: the same bits, faster).
    if out.len() <= PAR_MIN {
        for (i, c) in out.chunks_mut(chunk_len).enumerate() {
            super::simd::wide(
                #[inline(always)]
                || f(i * chunk_len, c),
            );
        }
    } else {
        out.par_chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(i, c)| {
                super::simd::wide(
                    #[inline(always)]
                    || f(i * chunk_len, c),
                )
            });
    }
}

/// A chunk length of whole rows of `row_len` close to `target` values.
pub fn rows_chunk(row_len: usize, target: usize) -> usize {
    let row_len = row_len.max(1);
    (target / row_len).max(1) * row_len
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `with_workers_awake` returns its closure's value, parallel work inside it completes (the other workers,
    /// in their spin jobs, still take it), and the spin jobs end with the closure.
    #[test]
    fn workers_awake_runs_work_and_lets_go() {
        use std::sync::atomic::Ordering;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (sum, spinning) = pool.install(|| {
            with_workers_awake(|| {
                let sum = (0..100_000u64).into_par_iter().map(|v| v * 2).sum::<u64>();
                // The other worker starts its spin job (once it is scheduled: wait for it).
                let t0 = std::time::Instant::now();
                while SPIN_JOBS.load(Ordering::Relaxed) < 1 && t0.elapsed().as_secs() < 10 {
                    std::thread::yield_now();
                }
                (sum, SPIN_JOBS.load(Ordering::Relaxed))
            })
        });
        assert_eq!(sum, 99_999 * 100_000);
        assert_eq!(spinning, 1, "the other worker spins while the closure runs");
        // It leaves once the closure has returned (or after SPIN_IDLE without work).
        let t0 = std::time::Instant::now();
        while SPINNING.load(Ordering::Relaxed) > 0 && t0.elapsed().as_secs() < 10 {
            std::thread::yield_now();
        }
        assert_eq!(
            SPINNING.load(Ordering::Relaxed),
            0,
            "spin jobs end with the closure"
        );
        // Off the pool it simply runs the closure.
        assert_eq!(with_workers_awake(|| 7), 7);
    }
}
