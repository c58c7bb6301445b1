#![cfg(not(loom))]
//! A million keys that are never read again are reclaimed by ordinary
//! operations on other keys: no read of each key, no full scan.

use latchwork::clock::ManualClock;
use latchwork::ttl::TtlCache;
use std::time::{Duration, Instant};

#[test]
fn million_expired_keys_reclaimed_by_ordinary_traffic() {
    let clock = ManualClock::new();
    let cache = TtlCache::builder()
        .default_ttl(Duration::from_secs(30))
        .shards(16)
        .clock(clock.clone())
        .build()
        .unwrap();
    for k in 0..1_000_000u64 {
        cache.insert(k, k);
        if k % 10_000 == 0 {
            clock.advance(Duration::from_millis(1)); // inserts spread over 100 ms
        }
    }
    let held_full = cache.entries_held();
    let bytes_full = cache.heap_bytes();
    assert_eq!(held_full, 1_000_000);

    clock.advance(Duration::from_secs(31));
    // Ordinary traffic on 1,000 other keys touches every shard.
    let t0 = Instant::now();
    for k in 0..1_000u64 {
        cache.insert(10_000_000 + k, k);
    }
    let reclaim = t0.elapsed();
    let held_after = cache.entries_held();
    println!(
        "held {held_full} entries ({:.1} MB); after expiry and 1,000 inserts: {held_after} held, \
         {} expirations, reclaimed in {reclaim:?}",
        bytes_full as f64 / 1e6,
        cache.stats().expirations
    );
    assert_eq!(held_after, 1_000, "every expired entry was reclaimed");
    assert_eq!(cache.stats().expirations, 1_000_000);
    assert_eq!(cache.len(), 1_000);
}
