//! Deterministic test inputs for the CPU kernels' unit tests.

/// `n` values in [-1, 1] from a xorshift generator seeded by `seed` (no dependency, the same on every machine).
pub fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32) * 2.0 - 1.0
        })
        .collect()
}
