//! Deterministic randomness. Every sample draws from its own generator seeded by (seed, epoch, index, stream), so
//! the data a run sees does not depend on how many threads produced it or in which order they finished.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a generator is used for; separate streams keep e.g. the video order independent of the clip draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    /// The order of videos within an epoch.
    Order = 1,
    /// Clip times and augmentation parameters of one sample.
    Sample = 2,
    /// Which video replaces one that failed to decode.
    Replacement = 3,
    /// The synthetic dataset generator.
    Synthetic = 4,
    /// Picking videos for a preview.
    Preview = 5,
}

/// SplitMix64 finaliser: a bijective mixer, so distinct inputs give well-spread distinct seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A generator for `(seed, epoch, index)` in `stream`.
pub fn rng_for(seed: u64, stream: Stream, epoch: u64, index: u64) -> DataRng {
    let key = mix(mix(mix(mix(seed) ^ stream as u64) ^ epoch) ^ index);
    DataRng(ChaCha8Rng::seed_from_u64(key))
}

/// A small wrapper with the few draws the pipeline needs, written out here so that their results are fixed by
/// this file (not by the version of a distribution crate).
#[derive(Debug, Clone)]
pub struct DataRng(ChaCha8Rng);

impl DataRng {
    /// Uniform in [0, 1) with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi) (or exactly `lo` when the range is empty).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        if hi <= lo {
            lo
        } else {
            lo + (hi - lo) * self.unit()
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform integer in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        // Lemire's multiply-shift with rejection: unbiased.
        let threshold = n.wrapping_neg() % n;
        loop {
            let x = self.0.next_u64();
            let m = (x as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Uniform integer in `lo..=hi`.
    pub fn range_inclusive(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            lo + self.below((hi - lo) as u64 + 1) as i64
        }
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// A fresh 64-bit value (to seed a sub-generator).
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_indices_give_different_sequences() {
        let a = rng_for(1, Stream::Sample, 0, 0).next_u64();
        let b = rng_for(1, Stream::Sample, 0, 1).next_u64();
        let c = rng_for(1, Stream::Order, 0, 0).next_u64();
        let d = rng_for(1, Stream::Sample, 1, 0).next_u64();
        assert!(a != b && a != c && a != d && b != d);
        assert_eq!(a, rng_for(1, Stream::Sample, 0, 0).next_u64());
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = rng_for(7, Stream::Sample, 0, 0);
        let mut seen = [false; 5];
        for _ in 0..200 {
            let v = r.below(5) as usize;
            seen[v] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(r.below(0), 0);
        assert_eq!(r.below(1), 0);
    }
}
