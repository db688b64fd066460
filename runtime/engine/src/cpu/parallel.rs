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
    if out.len() <= PAR_MIN {
        for (i, c) in out.chunks_mut(chunk_len).enumerate() {
            f(i * chunk_len, c);
        }
    } else {
        out.par_chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(i, c)| f(i * chunk_len, c));
    }
}

/// A chunk length of whole rows of `row_len` close to `target` values.
pub fn rows_chunk(row_len: usize, target: usize) -> usize {
    let row_len = row_len.max(1);
    (target / row_len).max(1) * row_len
}
