//! A caching device allocator. `cuMemAlloc`/`cuMemFree` cost tens of microseconds and `cuMemFree` synchronises the
//! device, while a training step allocates and frees the same few hundred sizes every iteration; so freed blocks
//! are kept in per-size-class free lists and handed out again.
//!
//! Safety of reuse follows stream order: every kernel runs on the backend's one compute stream, and a block freed
//! there can be reused by later compute work without a fence. Blocks written by the copy stream (uploads) live in a
//! separate transfer pool; when one of those is freed, a fence (an event recorded on the compute stream) goes with
//! it, and the copy stream waits on that fence before overwriting the block.
//!
//! Size classes: requests up to 1 MiB round up to 512 bytes; larger ones round up to the next of four steps
//! between powers of two (1, 1.25, 1.5, 1.75 × 2^k), so a class wastes at most a quarter and most shapes of a
//! network share a handful of classes. Only blocks of exactly the requested class are reused (no splitting), which
//! suits training steps that repeat the same sizes.

use std::collections::HashMap;

/// Granularity of small requests.
pub const SMALL_ROUND: usize = 512;
/// Requests above this use power-of-two steps.
pub const SMALL_LIMIT: usize = 1 << 20;
/// Steps between consecutive powers of two for large requests.
pub const LARGE_DIVISIONS: usize = 4;

/// The byte size actually allocated for a request of `bytes` (0 stays 0: empty tensors own no memory).
pub fn size_class(bytes: usize) -> usize {
    if bytes == 0 {
        return 0;
    }
    if bytes <= SMALL_LIMIT {
        return bytes.div_ceil(SMALL_ROUND) * SMALL_ROUND;
    }
    let pow = bytes.next_power_of_two();
    if pow == bytes {
        return bytes;
    }
    let lower = pow / 2;
    let step = lower / LARGE_DIVISIONS;
    lower + (bytes - lower).div_ceil(step) * step
}

/// Which free lists a block belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pool {
    /// Written and read only by the compute stream.
    Compute,
    /// Written by the copy stream (uploads); reused only after the fence recorded at its release.
    Transfer,
}

/// The raw allocation calls a caching allocator sits on (the driver on a GPU, a fake in tests).
pub trait RawAllocator: Send {
    /// A marker of "the compute stream has passed this point" (a CUDA event).
    type Fence: Send;
    fn alloc(&mut self, bytes: usize) -> Result<u64, String>;
    fn free(&mut self, ptr: u64);
    /// Records a fence on the compute stream.
    fn fence(&mut self) -> Result<Self::Fence, String>;
    /// Waits until the device has finished all queued work (before cached blocks are returned to the driver).
    fn quiesce(&mut self) {}
}

/// Counters for benchmarks and leak checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Bytes in blocks handed out and not yet released.
    pub in_use: usize,
    /// Highest `in_use` since the last reset.
    pub peak_in_use: usize,
    /// Bytes in cached free blocks.
    pub cached: usize,
    /// Calls to the raw allocator.
    pub raw_allocs: usize,
    /// Requests served from the cache.
    pub reuses: usize,
}

/// A block handed out: its address and class size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub ptr: u64,
    pub bytes: usize,
    pub pool: Pool,
}

/// Free blocks of one (pool, size class): address and the fence to wait on before reuse by another stream.
type FreeList<F> = Vec<(u64, Option<F>)>;

/// Caching allocator over `R`.
pub struct CachingAllocator<R: RawAllocator> {
    raw: R,
    free: HashMap<(Pool, usize), FreeList<R::Fence>>,
    stats: AllocStats,
}

impl<R: RawAllocator> CachingAllocator<R> {
    pub fn new(raw: R) -> Self {
        CachingAllocator {
            raw,
            free: HashMap::new(),
            stats: AllocStats::default(),
        }
    }

    pub fn stats(&self) -> AllocStats {
        self.stats
    }

    pub fn reset_peak(&mut self) {
        self.stats.peak_in_use = self.stats.in_use;
    }

    /// A block of at least `bytes` from `pool`, with the fence the caller must wait on before writing it from
    /// another stream. On an out-of-memory failure the cache is emptied and the allocation tried once more.
    pub fn alloc(&mut self, pool: Pool, bytes: usize) -> Result<(Block, Option<R::Fence>), String> {
        let class = size_class(bytes);
        if class == 0 {
            return Ok((
                Block {
                    ptr: 0,
                    bytes: 0,
                    pool,
                },
                None,
            ));
        }
        let cached = self.free.get_mut(&(pool, class)).and_then(Vec::pop);
        let (ptr, fence) = match cached {
            Some(entry) => {
                self.stats.cached -= class;
                self.stats.reuses += 1;
                entry
            }
            None => {
                let ptr = match self.raw.alloc(class) {
                    Ok(p) => p,
                    Err(_) => {
                        self.release_cached();
                        self.raw.alloc(class)?
                    }
                };
                self.stats.raw_allocs += 1;
                (ptr, None)
            }
        };
        self.stats.in_use += class;
        self.stats.peak_in_use = self.stats.peak_in_use.max(self.stats.in_use);
        Ok((
            Block {
                ptr,
                bytes: class,
                pool,
            },
            fence,
        ))
    }

    /// Returns a block to its pool; transfer blocks take a fence so that the copy stream cannot overwrite them
    /// while compute work queued before this release still reads them.
    pub fn release(&mut self, block: Block) {
        if block.bytes == 0 {
            return;
        }
        let fence = match block.pool {
            Pool::Compute => None,
            Pool::Transfer => match self.raw.fence() {
                Ok(f) => Some(f),
                Err(_) => {
                    // Without a fence the block cannot be reused safely: give it back to the driver instead.
                    self.stats.in_use -= block.bytes;
                    self.raw.free(block.ptr);
                    return;
                }
            },
        };
        self.stats.in_use -= block.bytes;
        self.stats.cached += block.bytes;
        self.free
            .entry((block.pool, block.bytes))
            .or_default()
            .push((block.ptr, fence));
    }

    /// Frees every cached block, after waiting for the device to finish the work that may still use them.
    pub fn release_cached(&mut self) {
        if !self.free.is_empty() {
            self.raw.quiesce();
        }
        for (_, list) in self.free.drain() {
            for (ptr, _fence) in list {
                self.raw.free(ptr);
            }
        }
        self.stats.cached = 0;
    }

    pub fn raw_mut(&mut self) -> &mut R {
        &mut self.raw
    }
}

impl<R: RawAllocator> Drop for CachingAllocator<R> {
    fn drop(&mut self) {
        self.release_cached();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct FakeDevice {
        next: u64,
        live: HashMap<u64, usize>,
        capacity: usize,
        fences: u32,
    }

    impl RawAllocator for FakeDevice {
        type Fence = u32;
        fn alloc(&mut self, bytes: usize) -> Result<u64, String> {
            let used: usize = self.live.values().sum();
            if self.capacity > 0 && used + bytes > self.capacity {
                return Err("out of memory".into());
            }
            self.next += 1 << 32;
            self.live.insert(self.next, bytes);
            Ok(self.next)
        }
        fn free(&mut self, ptr: u64) {
            assert!(self.live.remove(&ptr).is_some(), "double free");
        }
        fn fence(&mut self) -> Result<u32, String> {
            self.fences += 1;
            Ok(self.fences)
        }
    }

    #[test]
    fn size_classes_round_small_requests_to_512_bytes() {
        assert_eq!(size_class(0), 0);
        assert_eq!(size_class(1), 512);
        assert_eq!(size_class(512), 512);
        assert_eq!(size_class(513), 1024);
        assert_eq!(size_class(SMALL_LIMIT), SMALL_LIMIT);
    }

    #[test]
    fn size_classes_step_by_quarters_between_powers_of_two() {
        let mib = 1 << 20;
        assert_eq!(size_class(mib + 1), mib + mib / 4);
        assert_eq!(size_class(5 * mib), 5 * mib);
        assert_eq!(size_class(5 * mib + 1), 6 * mib);
        assert_eq!(size_class(8 * mib), 8 * mib);
        assert_eq!(size_class(9 * mib), 10 * mib);
        // Never smaller than asked, never more than 25% (+1 step) larger, and monotone.
        let mut last = 0;
        for bytes in (1..200).map(|i| i * 777_777) {
            let c = size_class(bytes);
            assert!(
                c >= bytes && c as f64 <= bytes as f64 * 1.25 + 512.0,
                "{bytes} -> {c}"
            );
            assert!(c >= last);
            last = c;
        }
    }

    #[test]
    fn freed_blocks_are_reused_by_the_same_class_only() {
        let mut a = CachingAllocator::new(FakeDevice::default());
        let (b1, _) = a.alloc(Pool::Compute, 1000).unwrap();
        assert_eq!(b1.bytes, 1024);
        a.release(b1);
        assert_eq!(a.stats().cached, 1024);
        // 1000 and 400 round to different classes; 1020 to the same one.
        let (b2, _) = a.alloc(Pool::Compute, 400).unwrap();
        assert_ne!(b2.ptr, b1.ptr);
        let (b3, fence) = a.alloc(Pool::Compute, 1020).unwrap();
        assert_eq!(b3.ptr, b1.ptr);
        assert!(fence.is_none());
        let s = a.stats();
        assert_eq!((s.raw_allocs, s.reuses, s.cached), (2, 1, 0));
        assert_eq!(s.in_use, 1024 + 512);
        assert_eq!(s.peak_in_use, 1024 + 512);
    }

    #[test]
    fn transfer_blocks_carry_a_fence_and_stay_in_their_pool() {
        let mut a = CachingAllocator::new(FakeDevice::default());
        let (t, fence) = a.alloc(Pool::Transfer, 4096).unwrap();
        assert!(fence.is_none(), "a fresh block needs no fence");
        a.release(t);
        // The compute pool does not see the transfer block.
        let (c, _) = a.alloc(Pool::Compute, 4096).unwrap();
        assert_ne!(c.ptr, t.ptr);
        let (t2, fence) = a.alloc(Pool::Transfer, 4096).unwrap();
        assert_eq!(t2.ptr, t.ptr);
        assert_eq!(fence, Some(1));
    }

    #[test]
    fn out_of_memory_empties_the_cache_and_retries() {
        let mut a = CachingAllocator::new(FakeDevice {
            capacity: 3 * 1024,
            ..Default::default()
        });
        let (b1, _) = a.alloc(Pool::Compute, 1024).unwrap();
        let (b2, _) = a.alloc(Pool::Compute, 1024).unwrap();
        a.release(b1);
        a.release(b2);
        // 2 KiB is cached in 1 KiB blocks; a 2 KiB block only fits after the cache is released.
        let (big, _) = a.alloc(Pool::Compute, 2048).unwrap();
        assert_eq!(big.bytes, 2048);
        assert_eq!(a.stats().cached, 0);
        assert_eq!(a.raw_mut().live.len(), 1);
        // Beyond capacity even with an empty cache: an error, not a panic.
        assert!(a.alloc(Pool::Compute, 4096).is_err());
    }

    #[test]
    fn dropping_the_allocator_frees_cached_blocks_and_empty_requests_cost_nothing() {
        let mut a = CachingAllocator::new(FakeDevice::default());
        let (z, _) = a.alloc(Pool::Compute, 0).unwrap();
        assert_eq!((z.ptr, z.bytes), (0, 0));
        a.release(z);
        let (b, _) = a.alloc(Pool::Compute, 10).unwrap();
        a.release(b);
        assert_eq!(a.stats().raw_allocs, 1);
        a.release_cached();
        assert!(a.raw_mut().live.is_empty());
    }
}
