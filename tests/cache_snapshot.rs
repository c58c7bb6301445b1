#![cfg(all(not(loom), feature = "cache", feature = "serde"))]
//! Warm restart: `Cache::snapshot` and `Cache::restore`.
//!
//! - a round trip through JSON keeps every live entry and its value;
//! - time to live: the remaining time is kept, the downtime is taken off,
//!   an entry whose TTL ran out while the process was down does not come
//!   back (manual clocks and a given downtime: no sleeping);
//! - frequency: restored into a smaller cache, the hot entries are the
//!   ones held;
//! - bad input: garbage, truncated JSON, a foreign format, another
//!   version, a claimed length that does not match (10 GiB claimed) are
//!   typed errors and store nothing.
use latchwork::cache::{Cache, Snapshot, SnapshotError, SNAPSHOT_FORMAT, SNAPSHOT_VERSION};
use latchwork::clock::ManualClock;
use std::time::Duration;

#[test]
fn json_round_trip_keeps_every_live_entry() {
    let old: Cache<String, Vec<u32>> = Cache::new(1_000).unwrap();
    for i in 0..500u32 {
        old.insert(format!("k{i}"), vec![i; 3]);
    }
    let bytes = old.snapshot().to_json();
    let snap = Snapshot::<String, Vec<u32>>::from_json(&bytes).unwrap();
    assert_eq!(snap.len, 500);
    let new: Cache<String, Vec<u32>> = Cache::new(1_000).unwrap();
    let done = new.restore(snap).unwrap();
    assert_eq!(done.restored, 500);
    assert_eq!(done.expired, 0);
    for i in 0..500u32 {
        assert_eq!(new.get(&format!("k{i}")), Some(vec![i; 3]));
    }
}

#[test]
fn ttl_left_is_kept_and_downtime_taken_off() {
    let clock = ManualClock::new();
    let old: Cache<u64, u64, _, ManualClock> = Cache::builder()
        .max_capacity(100)
        .time_to_live(Duration::from_secs(100))
        .clock(clock.clone())
        .build()
        .unwrap();
    old.insert(1, 1); // expires at t = 100
    clock.advance(Duration::from_secs(50));
    old.insert(2, 2); // expires at t = 150
    old.insert_with_ttl(3, 3, Duration::MAX); // never
    clock.advance(Duration::from_secs(20)); // t = 70: 30 s and 80 s left
    let snap = old.snapshot();

    let clock2 = ManualClock::new();
    let new: Cache<u64, u64, _, ManualClock> = Cache::builder()
        .max_capacity(100)
        .time_to_live(Duration::from_secs(100))
        .clock(clock2.clone())
        .build()
        .unwrap();
    // Down for 40 s: key 1 (30 s left) ran out meanwhile.
    let done = new.restore_after(snap, Duration::from_secs(40)).unwrap();
    assert_eq!((done.restored, done.expired), (2, 1));
    assert_eq!(new.get(&1), None);
    assert_eq!(new.get(&2), Some(2));
    clock2.advance(Duration::from_secs(39));
    assert_eq!(new.get(&2), Some(2), "40 s were left after the downtime");
    clock2.advance(Duration::from_secs(2));
    assert_eq!(new.get(&2), None);
    assert_eq!(new.get(&3), Some(3), "no expiry stays no expiry");
}

#[test]
fn hot_entries_win_in_a_smaller_cache() {
    // The snapshot carries each entry's frequency estimate: a key read
    // again after insertion estimates above one never read again.
    let old: Cache<u64, u64> = Cache::builder()
        .max_capacity(1_000)
        .shards(1)
        .build()
        .unwrap();
    for k in 0..1_000 {
        old.insert(k, k);
    }
    for k in 0..50 {
        old.get(&k);
    }
    old.run_pending_tasks();
    let snap = old.snapshot();
    let freq = |k: u64| snap.entries.iter().find(|e| e.key == k).unwrap().frequency;
    assert!(
        (0..50).all(|k| freq(k) > freq(500)),
        "read keys estimate higher"
    );
    // Restored into a cache a tenth the size, coldest first with the
    // frequencies replayed, the hot tenth is what is held.
    let mut hand = snap.clone();
    for e in &mut hand.entries {
        e.frequency = if e.key < 50 { 12 } else { 1 };
    }
    hand.entries.sort_by_key(|e| e.frequency);
    let small: Cache<u64, u64> = Cache::builder()
        .max_capacity(100)
        .shards(1)
        .build()
        .unwrap();
    small.restore(hand).unwrap();
    let hot_held = (0..50).filter(|k| small.peek(k).is_some()).count();
    assert!(hot_held >= 45, "only {hot_held} of 50 hot keys held");
    assert!(small.len() <= 100);
}

fn bad(bytes: &[u8]) -> SnapshotError {
    Snapshot::<u64, u64>::from_json(bytes).unwrap_err()
}

#[test]
fn garbage_truncated_foreign_versions_and_false_lengths_are_refused() {
    let old: Cache<u64, u64> = Cache::new(100).unwrap();
    for k in 0..10 {
        old.insert(k, k);
    }
    let good = old.snapshot().to_json();
    assert!(matches!(
        bad(b"\x00\x01garbage"),
        SnapshotError::Malformed(_)
    ));
    assert!(matches!(bad(b""), SnapshotError::Malformed(_)));
    assert!(matches!(
        bad(&good[..good.len() / 2]),
        SnapshotError::Malformed(_)
    ));
    let mut snap = Snapshot::<u64, u64>::from_json(&good).unwrap();

    let mut foreign = snap.clone();
    foreign.format = "moka.snapshot".into();
    assert_eq!(
        bad(&foreign.to_json()),
        SnapshotError::Foreign {
            format: "moka.snapshot".into()
        }
    );
    let mut newer = snap.clone();
    newer.version = SNAPSHOT_VERSION + 1;
    assert_eq!(
        bad(&newer.to_json()),
        SnapshotError::Version {
            found: SNAPSHOT_VERSION + 1,
            supported: SNAPSHOT_VERSION
        }
    );
    // 10 GiB of entries claimed: refused from the count, nothing allocated
    // for it.
    snap.len = 10 << 30;
    let err = bad(&snap.to_json());
    assert_eq!(
        err,
        SnapshotError::Length {
            claimed: 10 << 30,
            found: 10
        }
    );
    assert!(err.to_string().contains("claims"));
    // A value deserialized by the caller's own format is checked on restore
    // too, and nothing is stored.
    let fresh: Cache<u64, u64> = Cache::new(100).unwrap();
    assert!(fresh.restore(snap).is_err());
    assert_eq!(fresh.len(), 0);
    assert_eq!(SNAPSHOT_FORMAT, "latchwork.cache.snapshot");
}
