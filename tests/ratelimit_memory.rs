#![cfg(all(not(loom), feature = "clock", feature = "ratelimit"))]
//! Bytes per key of `KeyedLimiter<u64>`, measured with a counting global
//! allocator (this test binary only). Figures go to `docs/benchmarks.md`.

use latchwork::clock::ManualClock;
use latchwork::ratelimit::KeyedLimiter;
#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[test]
fn bytes_per_key_stays_within_48_plus_the_key() {
    for keys in [100_000u64, 1_000_000] {
        let before = counting_alloc::live();
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
        let bytes = (counting_alloc::live() - before) as f64;
        let per_key = bytes / keys as f64;
        println!(
            "KeyedLimiter<u64>: {keys} keys, {bytes} bytes, {per_key:.1} bytes/key (key is 8)"
        );
        assert!(per_key <= 48.0 + 8.0, "{per_key} bytes per key");
        drop(keyed);
    }
}
