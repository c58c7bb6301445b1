#![cfg(not(loom))]
//! Bytes per key of `KeyedLimiter<u64>`, measured with a counting global
//! allocator (this test binary only). Figures go to `docs/benchmarks.md`.

use latchwork::clock::ManualClock;
use latchwork::ratelimit::KeyedLimiter;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; the counter is a side
// effect only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; see the impl.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; see the impl.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded unchanged; see the impl.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn bytes_per_key_stays_within_48_plus_the_key() {
    for keys in [100_000u64, 1_000_000] {
        let before = LIVE.load(Ordering::Relaxed);
        let keyed: KeyedLimiter<u64, _, _> = KeyedLimiter::builder()
            .rate(1.0)
            .burst(10)
            .max_keys(keys as usize * 2)
            .clock(ManualClock::new())
            .build()
            .unwrap();
        for k in 0..keys {
            keyed.check(&k).unwrap(); // time stands still: every bucket is kept
        }
        assert_eq!(keyed.len() as u64, keys);
        let bytes = (LIVE.load(Ordering::Relaxed) - before) as f64;
        let per_key = bytes / keys as f64;
        println!(
            "KeyedLimiter<u64>: {keys} keys, {bytes} bytes, {per_key:.1} bytes/key (key is 8)"
        );
        assert!(per_key <= 48.0 + 8.0, "{per_key} bytes per key");
        drop(keyed);
    }
}
