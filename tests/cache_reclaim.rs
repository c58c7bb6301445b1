#![cfg(all(not(loom), feature = "cache", feature = "clock"))]
//! A million keys that are never read again are reclaimed by ordinary
//! writes to other keys, a bounded amount per call: no read of each key,
//! no full scan, no call that pays for the whole mass expiry.

use latchwork::cache::Cache;
use latchwork::clock::ManualClock;
use std::time::{Duration, Instant};

#[test]
fn million_expired_keys_reclaimed_by_ordinary_traffic_in_bounded_steps() {
    let clock = ManualClock::new();
    let cache = Cache::builder()
        .time_to_live(Duration::from_secs(30))
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
    assert_eq!(cache.len(), 1_000_000);
    let bytes_full = cache.heap_bytes();
    clock.advance(Duration::from_secs(31));
    // Ordinary writes to other keys touch every shard; each reclaims a
    // bounded number of expired entries, so no single call is slow.
    let (mut calls, mut slowest, mut most) = (0u64, Duration::ZERO, 0u64);
    let t0 = Instant::now();
    while cache.len() > 1_000 && calls < 100_000 {
        let before = cache.stats().expirations;
        let t = Instant::now();
        cache.insert(10_000_000 + calls % 1_000, calls);
        slowest = slowest.max(t.elapsed());
        most = most.max(cache.stats().expirations - before);
        calls += 1;
    }
    println!(
        "held 1,000,000 entries ({:.1} MB); after expiry, {calls} ordinary inserts reclaimed them \
         in {:?} (slowest call {slowest:?}, at most {most} expirations in one call); {} held",
        bytes_full as f64 / 1e6,
        t0.elapsed(),
        cache.len()
    );
    assert!(cache.len() <= 1_000, "every expired entry was reclaimed");
    assert_eq!(cache.stats().expirations, 1_000_000);
    assert!(most <= 64, "reclamation is bounded per call: {most} in one");
}
