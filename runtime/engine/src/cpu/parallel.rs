//! Work splitting for the CPU kernels. Reductions split their input into a fixed number of chunks that depends on
//! the problem size only (never on the thread count or on scheduling) and combine the partial results in order, so
//! that results are bit-for-bit reproducible from run to run.

use rayon::prelude::*;

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
