#![cfg(loom)]
//! loom models of the TTL module: the single-flight handshake (exactly one
//! loader, no lost wake-up) and the sharded expiry bookkeeping (every
//! expired entry is counted exactly once, whoever reclaims it).

use latchwork::clock::ManualClock;
use latchwork::ttl::{Memoized, TtlCache};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;
use std::time::Duration;

#[test]
fn single_flight_one_loader_no_lost_wakeup() {
    loom::model(|| {
        let calls = Arc::new(AtomicUsize::new(0));
        let memo = {
            let calls = calls.clone();
            Arc::new(
                Memoized::builder(move |k: &u8| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, ()>(*k * 2)
                })
                .clock(ManualClock::new())
                .hasher(BuildHasherDefault::<DefaultHasher>::default())
                .build()
                .unwrap(),
            )
        };
        let other = {
            let memo = memo.clone();
            thread::spawn(move || memo.get(&3))
        };
        let mine = memo.get(&3);
        // A lost wake-up would leave `other` blocked forever: loom reports
        // that as a deadlock.
        let theirs = other.join().unwrap();
        assert_eq!((mine.ok(), theirs.ok()), (Some(6), Some(6)));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "exactly one loader ran");
    });
}

#[test]
fn expiry_counted_once_whoever_reclaims() {
    loom::model(|| {
        let clock = ManualClock::new();
        let cache = Arc::new(
            TtlCache::builder()
                .default_ttl(Duration::from_secs(1))
                .shards(2)
                .clock(clock.clone())
                // A fixed hasher: loom needs the same key-to-shard mapping in
                // every iteration.
                .hasher(BuildHasherDefault::<DefaultHasher>::default())
                .build()
                .unwrap(),
        );
        cache.insert(1u8, 1u8);
        cache.insert(2, 2);
        clock.advance(Duration::from_secs(1));
        let reader = {
            let cache = cache.clone();
            thread::spawn(move || (cache.get(&1), cache.remove(&2)))
        };
        let cleaned = cache.cleanup_expired();
        let (got, removed_live) = reader.join().unwrap();
        assert_eq!(
            (got, removed_live),
            (None, false),
            "expired entries are never live"
        );
        assert!(cleaned <= 2);
        assert_eq!(cache.entries_held(), 0);
        assert_eq!(
            cache.stats().expirations,
            2,
            "each expiry counted exactly once"
        );
    });
}
