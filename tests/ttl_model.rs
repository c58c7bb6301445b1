#![cfg(not(loom))]
//! Model tests of `TtlCache` with a manual clock against a sequential
//! reference: every return value, `len`, and (one shard) the counts that
//! `cleanup_expired` and the expiry statistics report.

use latchwork::clock::{Clock, ManualClock};
use latchwork::ttl::{Error, TtlCache};
use proptest::prelude::*;
use std::time::Duration;

#[path = "common/ttl_reference.rs"]
mod ttl_reference;
use ttl_reference::{Reference, RES_MS};

#[derive(Clone, Debug)]
enum Op {
    Insert(u8, u32),
    InsertTtl(u8, u32, u64),
    Get(u8),
    Remove(u8),
    Contains(u8),
    Advance(u64),
    Len,
    Cleanup,
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..12;
    prop_oneof![
        4 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        4 => (k.clone(), any::<u32>(), 1u64..40).prop_map(|(k, v, t)| Op::InsertTtl(k, v, t)),
        6 => k.clone().prop_map(Op::Get),
        2 => k.clone().prop_map(Op::Remove),
        1 => k.prop_map(Op::Contains),
        5 => (0u64..15).prop_map(Op::Advance),
        1 => Just(Op::Len),
        2 => Just(Op::Cleanup),
        1 => Just(Op::Clear),
    ]
}

fn run(shards: usize, cap: Option<usize>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    const DEFAULT_TTL: u64 = 20;
    let clock = ManualClock::new();
    let mut b = TtlCache::builder()
        .default_ttl(Duration::from_millis(DEFAULT_TTL))
        .resolution(Duration::from_millis(RES_MS))
        .shards(shards)
        .clock(clock.clone());
    if let Some(c) = cap {
        b = b.capacity(c);
    }
    let cache = b.build().unwrap();
    let exact_counts = cache.capacity().is_none() || shards == 1;
    let mut r = Reference {
        entries: vec![],
        cap,
        expirations: 0,
    };
    for op in ops {
        let now = clock.now().as_millis() as u64;
        match op {
            Op::Insert(k, v) => {
                cache.insert(k, v);
                r.insert(k, v, now + DEFAULT_TTL, now);
            }
            Op::InsertTtl(k, v, t) => {
                cache
                    .insert_with_ttl(k, v, Duration::from_millis(t))
                    .unwrap();
                r.insert(k, v, now + t, now);
            }
            Op::Get(k) => prop_assert_eq!(cache.get(&k), r.get(k, now), "get {} at {}", k, now),
            Op::Remove(k) => prop_assert_eq!(cache.remove(&k), r.remove(k, now)),
            Op::Contains(k) => prop_assert_eq!(
                cache.contains(&k),
                r.pos(k).is_some_and(|i| r.entries[i].2 > now)
            ),
            Op::Advance(ms) => clock.advance(Duration::from_millis(ms)),
            Op::Len => {
                let live = r.entries.iter().filter(|e| e.2 > now).count();
                prop_assert_eq!(cache.len(), live);
                r.expire_exact(now);
            }
            Op::Cleanup => {
                let got = cache.cleanup_expired();
                let want = r.expire_exact(now);
                if shards == 1 {
                    prop_assert_eq!(got, want);
                }
            }
            Op::Clear => {
                cache.clear();
                r.entries.clear();
            }
        }
        if let Err(e) = cache.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
    }
    let now = clock.now().as_millis() as u64;
    prop_assert_eq!(cache.len(), r.entries.iter().filter(|e| e.2 > now).count());
    if shards == 1 && exact_counts {
        r.expire_exact(now);
        prop_assert_eq!(cache.stats().expirations, r.expirations);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn one_shard_unbounded(ops in prop::collection::vec(op(), 1..200)) {
        run(1, None, ops)?;
    }

    #[test]
    fn one_shard_bounded(cap in 1usize..8, ops in prop::collection::vec(op(), 1..200)) {
        run(1, Some(cap), ops)?;
    }

    #[test]
    fn sharded_unbounded(ops in prop::collection::vec(op(), 1..200)) {
        run(4, None, ops)?;
    }
}

#[test]
fn bad_ttls_and_sizes_are_typed_errors() {
    assert_eq!(
        TtlCache::<u8, u8>::new(Duration::ZERO).unwrap_err(),
        Error::ZeroTtl
    );
    let c = TtlCache::<u8, u8>::new(Duration::from_secs(1)).unwrap();
    assert_eq!(c.insert_with_ttl(1, 1, Duration::ZERO), Err(Error::ZeroTtl));
    assert!(!c.contains(&1), "a refused insert leaves nothing behind");
    assert_eq!(
        TtlCache::<u8, u8>::builder()
            .capacity(0)
            .build()
            .unwrap_err(),
        Error::ZeroCapacity
    );
    assert_eq!(
        TtlCache::<u8, u8>::builder().shards(0).build().unwrap_err(),
        Error::ZeroShards
    );
    assert_eq!(
        TtlCache::<u8, u8>::builder()
            .resolution(Duration::ZERO)
            .build()
            .unwrap_err(),
        Error::ZeroResolution
    );
    for bad in [f64::NAN, f64::INFINITY, -1.0] {
        assert!(matches!(
            latchwork::ttl::ttl_from_secs_f64(bad),
            Err(Error::InvalidTtl { .. })
        ));
    }
    assert!(Error::ZeroTtl.to_string().contains("greater than zero"));
}

#[test]
fn never_expiring_ttl_saturates() {
    let clock = ManualClock::new();
    let c = TtlCache::builder().clock(clock.clone()).build().unwrap();
    c.insert_with_ttl(1u8, 1u8, Duration::MAX).unwrap();
    clock.advance(Duration::from_secs(86_400 * 365 * 100));
    assert_eq!(c.get(&1), Some(1));
}

#[test]
fn send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TtlCache<String, Vec<u8>>>();
    assert_send_sync::<TtlCache<String, Vec<u8>, ManualClock>>();
}
