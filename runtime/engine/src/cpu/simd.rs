//! Element-wise loops compiled for the CPU's widest vectors. The crate is built for the x86-64 baseline (SSE2),
//! so the compiler vectorises its loops 4 floats wide; on a CPU with AVX-512 the same loops run 16 wide when their
//! body is compiled inside a function that enables it. Only the vector width changes: each value gets the same
//! operations in the same order (the compiler neither fuses multiply-adds nor reorders floating-point sums on its
//! own), so results are bit-identical on either path.

/// Whether the CPU runs AVX-512F (the standard library caches the detection): the one check behind every
/// AVX-512 path of the CPU backend.
pub fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs `f` compiled with AVX-512 enabled where the CPU has it. `f` is inlined into the enabling function, so
/// keep it the loop itself (closures it hands on to other threads are compiled for the baseline).
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn enabled<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: the CPU has AVX-512F (checked just above).
        return unsafe { enabled(f) };
    }
    f()
}
