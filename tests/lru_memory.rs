#![cfg(not(loom))]
//! Bytes per entry, measured with a counting allocator, for `u64 -> u64`
//! against the `lru` crate. Prints the figures (`--nocapture`) and asserts
//! the 0.7x goal of the design.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn measure(fill: impl FnOnce() -> Box<dyn std::any::Any>) -> (isize, Box<dyn std::any::Any>) {
    let before = LIVE.load(Ordering::Relaxed);
    let held = fill();
    (LIVE.load(Ordering::Relaxed) - before, held)
}

#[test]
fn bytes_per_entry_vs_lru_crate() {
    for cap in [10_000usize, 100_000] {
        // Steady state under churn: 20 x capacity puts of keys drawn from a
        // space 4 x the capacity, so the caches are full, have evicted many
        // times, and their hash tables carry the tombstones that churn
        // leaves (which make hashbrown grow its table).
        let keys: Vec<u64> = {
            let mut x = 0x2545_F491_4F6C_DD1Du64;
            (0..cap * 20)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x % (cap as u64 * 4)
                })
                .collect()
        };
        let (ours, _a) = measure(|| {
            let mut c = latchwork::lru::LruCache::new(cap).unwrap();
            for &k in &keys {
                c.put(k, k);
            }
            assert_eq!(c.len(), cap);
            Box::new(c)
        });
        let (theirs, _b) = measure(|| {
            let mut c = lru::LruCache::new(std::num::NonZeroUsize::new(cap).unwrap());
            for &k in &keys {
                c.put(k, k);
            }
            Box::new(c)
        });
        let (conc, _c) = measure(|| {
            let c = latchwork::lru::ConcurrentLru::new(cap).unwrap();
            for &k in &keys {
                c.insert(k, k);
            }
            Box::new(c)
        });
        let per = |b: isize| b as f64 / cap as f64;
        println!(
            "capacity {cap}: LruCache {:.1} B/entry, ConcurrentLru {:.1} B/entry, lru crate {:.1} B/entry, ratio {:.2}",
            per(ours),
            per(conc),
            per(theirs),
            ours as f64 / theirs as f64
        );
        assert!(
            (ours as f64) <= 0.7 * theirs as f64,
            "LruCache uses {ours} bytes vs lru's {theirs}"
        );
    }
}
