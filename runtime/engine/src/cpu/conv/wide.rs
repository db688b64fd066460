//! A register-blocked AVX-512 kernel for the lowered convolutions (`lowered.rs`): sums of products whose one
//! operand is a row of 16·V contiguous values (output channels of a weight, or of a gradient) and whose other
//! operand is one scalar per result row, read through offsets — an im2col matrix addressed in place instead of
//! written out, and with the padding left out.
//!
//! Each result is a chain of fused multiply-adds from zero in the order of the given [`Step`]s, stored or added to
//! the destination with one rounding: `gemm`'s arithmetic. Callers that split the chain where `gemm` splits its
//! sums ([`crate::cpu::gemm::depth_block`]) get `gemm`'s bits. Leaving out products with a zero operand (the taps
//! that read padding) keeps them: adding an exact ±0 to a running sum changes no bit (a sum that starts at +0
//! cannot become −0 short of a product underflowing to −0).

/// Floats in one AVX-512 register.
pub const LANES: usize = 16;

/// A run of a chain: for `i < len`, the product of the scalar at `x + i·x_step` (plus the row's base) and the
/// vectors at `w + i·w_step` (`V` consecutive registers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    pub x: usize,
    pub x_step: usize,
    pub w: usize,
    pub w_step: usize,
    pub len: usize,
}

impl Step {
    /// A run of consecutive scalars (`x_step` 1).
    pub fn run(x: usize, w: usize, w_step: usize, len: usize) -> Step {
        Step {
            x,
            x_step: 1,
            w,
            w_step,
            len,
        }
    }
}

/// Joins steps given in chain order as (chain index, step) into longer runs where one continues the other along
/// the chain and in both operands with the same strides (rows of a gradient one position apart).
pub fn merge_runs(steps: impl IntoIterator<Item = (usize, Step)>) -> Vec<(usize, Step)> {
    let mut out: Vec<(usize, Step)> = Vec::new();
    for (at, s) in steps {
        if let Some((last_at, last)) = out.last_mut() {
            // Only forward strides: a run never steps back.
            if s.len == 1 && *last_at + last.len == at && s.x > last.x && s.w > last.w {
                if last.len == 1 {
                    last.x_step = s.x - last.x;
                    last.w_step = s.w - last.w;
                    last.len = 2;
                    continue;
                }
                if last.x + last.len * last.x_step == s.x && last.w + last.len * last.w_step == s.w
                {
                    last.len += 1;
                    continue;
                }
            }
        }
        out.push((at, s));
    }
    out
}

/// Registers of one result row a call may cover (`V`): the most of 4, 2, 1 that divides `width / 16`.
pub fn vectors_for(width: usize) -> usize {
    let v = width / LANES;
    [4, 2, 1]
        .into_iter()
        .find(|d| v.is_multiple_of(*d))
        .unwrap_or(1)
}

/// Result rows computed together for `vectors` registers each (the largest tile).
pub fn rows_for(vectors: usize) -> usize {
    TILES[vectors.min(4).trailing_zeros() as usize][0]
}

/// Row counts of the tiles per register count (1, 2, 4 registers), largest first: up to 24 accumulators.
const TILES: [&[usize]; 3] = [&[8, 4, 2, 1], &[12, 8, 4, 2, 1], &[6, 4, 2, 1]];

/// For each result row (x base, destination offset) in `rows`:
/// `dst[out + l] (=|+=) Σ_steps Σ_i x[base + s.x + i·s.x_step] · w[s.w + i·s.w_step + l]`, l < 16·`vectors`,
/// summed from zero in step order; rows are computed in tiles of [`rows_for`]`(vectors)`, the rest in smaller
/// tiles. Panics (a bug in the calling kernel, never user input) if an offset reaches outside its slice, on an
/// unsupported `vectors`, or without AVX-512F (callers check `simd::avx512`).
pub fn chain_rows(
    dst: &mut [f32],
    x: &[f32],
    w: &[f32],
    rows: &[(usize, usize)],
    steps: &[Step],
    vectors: usize,
    overwrite: bool,
) {
    if rows.is_empty() {
        return;
    }
    assert!(
        crate::cpu::simd::avx512(),
        "wide::chain_rows needs AVX-512F"
    );
    assert!(matches!(vectors, 1 | 2 | 4), "wide: unsupported width");
    let width = vectors * LANES;
    let x_base = rows.iter().map(|r| r.0).max().unwrap_or(0);
    let dst_max = rows.iter().map(|r| r.1).max().unwrap_or(0);
    assert!(dst_max + width <= dst.len(), "wide: destination too small");
    for s in steps.iter().filter(|s| s.len > 0) {
        assert!(
            x_base + s.x + (s.len - 1) * s.x_step < x.len(),
            "wide: scalars out of bounds"
        );
        assert!(
            s.w + (s.len - 1) * s.w_step + width <= w.len(),
            "wide: vectors out of bounds"
        );
    }
    let mut rows = rows;
    let tiles = TILES[vectors.trailing_zeros() as usize];
    while !rows.is_empty() {
        let tile = tiles
            .iter()
            .copied()
            .find(|&t| t <= rows.len())
            .unwrap_or(1);
        let (head, tail) = rows.split_at(tile);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F is present (asserted) and every access is within the bounds asserted above.
        unsafe {
            use avx512::run;
            let contiguous = head.iter().enumerate().all(|(j, r)| r.0 == head[0].0 + j);
            macro_rules! tile {
                ($v:literal, $r:literal) => {
                    if contiguous {
                        run::<$v, $r, true>(dst, x, w, head, steps, overwrite)
                    } else {
                        run::<$v, $r, false>(dst, x, w, head, steps, overwrite)
                    }
                };
            }
            match (vectors, tile) {
                (1, 8) => tile!(1, 8),
                (1, 4) => tile!(1, 4),
                (1, 2) => tile!(1, 2),
                (2, 12) => tile!(2, 12),
                (2, 8) => tile!(2, 8),
                (2, 4) => tile!(2, 4),
                (2, 2) => tile!(2, 2),
                (4, 6) => tile!(4, 6),
                (4, 4) => tile!(4, 4),
                (4, 2) => tile!(4, 2),
                (1, _) => tile!(1, 1),
                (2, _) => tile!(2, 1),
                _ => tile!(4, 1),
            }
        }
        rows = tail;
    }
}

/// [`chain_rows`] over `gemm`'s depth blocks of one chain (from [`split_blocks`]): each block summed from zero,
/// the first stored and every later one added — `gemm`'s arithmetic for a sum it splits.
pub fn chain_blocks(
    dst: &mut [f32],
    x: &[f32],
    w: &[f32],
    rows: &[(usize, usize)],
    blocks: &[Vec<Step>],
    vectors: usize,
) {
    for (b, steps) in blocks.iter().enumerate() {
        chain_rows(dst, x, w, rows, steps, vectors, b == 0);
    }
}

/// Splits steps, given in chain order as (chain index of the step's first product, step), at every multiple of
/// `block` along a chain of `depth` products (`gemm`'s depth blocks). Returns one list per block.
pub fn split_blocks(steps: &[(usize, Step)], depth: usize, block: usize) -> Vec<Vec<Step>> {
    let block = block.max(1);
    let mut out = vec![Vec::new(); depth.div_ceil(block).max(1)];
    for &(at, step) in steps {
        let (mut at, mut step) = (at, step);
        while step.len > 0 {
            let b = at / block;
            let take = step.len.min((b + 1) * block - at);
            out[b].push(Step { len: take, ..step });
            step.x += take * step.x_step;
            step.w += take * step.w_step;
            step.len -= take;
            at += take;
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{LANES, Step};
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX-512F must be available, `rows.len() == R`, and every access within the bounds `super::chain_rows` checks.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run<const V: usize, const R: usize, const CONTIGUOUS: bool>(
        dst: &mut [f32],
        x: &[f32],
        w: &[f32],
        rows: &[(usize, usize)],
        steps: &[Step],
        overwrite: bool,
    ) {
        let (x_ptr, w_ptr) = (x.as_ptr(), w.as_ptr());
        // Rows whose scalars are adjacent (`CONTIGUOUS`: base j = base 0 + j) are addressed from one register.
        let mut bases = [0usize; R];
        for (j, base) in bases.iter_mut().enumerate() {
            *base = if CONTIGUOUS { j } else { rows[j].0 };
        }
        let offset = if CONTIGUOUS { rows[0].0 } else { 0 };
        let mut sums = [[_mm512_setzero_ps(); V]; R];
        for s in steps {
            for i in 0..s.len {
                let mut wv = [_mm512_setzero_ps(); V];
                for (v, wv) in wv.iter_mut().enumerate() {
                    // SAFETY: s.w + i·s.w_step + V·16 <= w.len() (checked by the caller).
                    *wv = unsafe { _mm512_loadu_ps(w_ptr.add(s.w + i * s.w_step + v * LANES)) };
                }
                let xi = offset + s.x + i * s.x_step;
                for (row, &base) in sums.iter_mut().zip(&bases) {
                    // SAFETY: base + s.x + i·s.x_step < x.len() (checked by the caller).
                    let xv = _mm512_set1_ps(unsafe { *x_ptr.add(xi + base) });
                    for (sum, &wv) in row.iter_mut().zip(&wv) {
                        *sum = _mm512_fmadd_ps(xv, wv, *sum);
                    }
                }
            }
        }
        let d_ptr = dst.as_mut_ptr();
        for (row, &(_, out)) in sums.iter().zip(rows) {
            for (v, sum) in row.iter().enumerate() {
                // SAFETY: out + V·16 <= dst.len() (checked by the caller).
                unsafe {
                    let p = d_ptr.add(out + v * LANES);
                    let value = if overwrite {
                        *sum
                    } else {
                        _mm512_add_ps(_mm512_loadu_ps(p), *sum)
                    };
                    _mm512_storeu_ps(p, value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_runs_joins_evenly_spaced_single_products() {
        let one = |x, w| Step {
            x,
            x_step: 1,
            w,
            w_step: 0,
            len: 1,
        };
        let merged = merge_runs([
            (0, one(10, 100)),
            (1, one(13, 108)),
            (2, one(16, 116)),
            (3, one(17, 124)), // another x stride: a new run
            (5, one(20, 140)), // not next along the chain: a new run
            (6, one(19, 148)), // steps back in x: a new run
        ]);
        let got: Vec<_> = merged
            .iter()
            .map(|(at, s)| (*at, s.x, s.x_step, s.w, s.w_step, s.len))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 10, 3, 100, 8, 3),
                (3, 17, 1, 124, 0, 1),
                (5, 20, 1, 140, 0, 1),
                (6, 19, 1, 148, 0, 1),
            ]
        );
    }

    #[test]
    fn split_blocks_cuts_runs_at_block_edges() {
        // The first run at chain positions 0..5, the second at 7..13 (left-out products at 5..7).
        let steps = [(0, Step::run(0, 0, 2, 5)), (7, Step::run(100, 50, 2, 6))];
        let blocks = split_blocks(&steps, 13, 4);
        let lens: Vec<Vec<(usize, usize)>> = blocks
            .iter()
            .map(|b| b.iter().map(|s| (s.x, s.len)).collect())
            .collect();
        assert_eq!(
            lens,
            vec![
                vec![(0, 4)],
                vec![(4, 1), (100, 1)],
                vec![(101, 4)],
                vec![(105, 1)]
            ]
        );
        assert_eq!(blocks[1][0].w, 8);
        assert_eq!(blocks[1][0].x, 4);
        assert_eq!(blocks[2][0].w, 52);
    }
}
