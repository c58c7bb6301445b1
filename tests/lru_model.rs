#![cfg(not(loom))]
//! Model tests: `LruCache` and `ConcurrentLru` (one shard, one thread)
//! against a plain ordered reference, comparing every return value.

use latchwork::lru::{ConcurrentLru, Error, LruCache};
use proptest::prelude::*;
#[path = "common/lru_reference.rs"]
mod lru_reference;
use lru_reference::Reference;

#[derive(Clone, Debug)]
enum Op {
    Get(u8),
    GetMut(u8, u32),
    Peek(u8),
    Contains(u8),
    Put(u8, u32),
    Remove(u8),
    PopLru,
    PeekLru,
    Resize(usize),
    GetOrInsert(u8, u32),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    // Keys from a small range so hits, updates and evictions all happen.
    let k = 0u8..24;
    prop_oneof![
        6 => k.clone().prop_map(Op::Get),
        2 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
        2 => k.clone().prop_map(Op::Peek),
        1 => k.clone().prop_map(Op::Contains),
        8 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => k.clone().prop_map(Op::Remove),
        1 => Just(Op::PopLru),
        1 => Just(Op::PeekLru),
        1 => (0usize..20).prop_map(Op::Resize),
        2 => (k, any::<u32>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lru_cache_matches_reference(cap in 1usize..16, ops in prop::collection::vec(op(), 1..300)) {
        let mut lru = LruCache::new(cap).unwrap();
        let mut reference = Reference::new(cap);
        for op in ops {
            match op {
                Op::Get(k) => prop_assert_eq!(lru.get(&k).copied(), reference.get(k)),
                Op::GetMut(k, v) => {
                    let got = lru.get_mut(&k).map(|x| { let old = *x; *x = v; old });
                    let want = reference.get(k);
                    if want.is_some() {
                        reference.put(k, v);
                    }
                    prop_assert_eq!(got, want);
                }
                Op::Peek(k) => prop_assert_eq!(lru.peek(&k).copied(), reference.peek(k)),
                Op::Contains(k) => prop_assert_eq!(lru.contains(&k), reference.peek(k).is_some()),
                Op::Put(k, v) => prop_assert_eq!(lru.put(k, v), reference.put(k, v)),
                Op::Remove(k) => prop_assert_eq!(lru.remove(&k), reference.remove(k)),
                Op::PopLru => prop_assert_eq!(lru.pop_lru(), reference.order.pop_front()),
                Op::PeekLru => prop_assert_eq!(
                    lru.peek_lru().map(|(k, v)| (*k, *v)),
                    reference.order.front().copied()
                ),
                Op::Resize(c) => {
                    if c == 0 {
                        prop_assert_eq!(lru.resize(0), Err(Error::ZeroCapacity));
                    } else {
                        prop_assert_eq!(lru.resize(c), Ok(reference.resize(c)));
                    }
                }
                Op::GetOrInsert(k, v) => {
                    let want = match reference.get(k) {
                        Some(old) => old,
                        None => { reference.put(k, v); v }
                    };
                    prop_assert_eq!(*lru.get_or_insert_with(k, || v), want);
                }
                Op::Clear => { lru.clear(); reference.order.clear(); }
            }
            prop_assert_eq!(lru.len(), reference.order.len());
            prop_assert_eq!(lru.capacity(), reference.cap);
            prop_assert_eq!(
                lru.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
                reference.mru_first()
            );
            if let Err(e) = lru.check_invariants() {
                return Err(TestCaseError::fail(e));
            }
        }
    }

    /// With one shard, one thread and `strict(true)` the concurrent cache is
    /// a strict LRU: every read hint is replayed before the next write.
    #[test]
    fn concurrent_lru_one_shard_matches_reference(
        cap in 1usize..16,
        ops in prop::collection::vec(op(), 1..300),
    ) {
        let cache = ConcurrentLru::builder(cap).shards(1).strict(true).build().unwrap();
        let mut reference = Reference::new(cap);
        let (mut hits, mut misses, mut evictions) = (0, 0, 0);
        for op in ops {
            match op {
                Op::Get(k) | Op::GetMut(k, _) => {
                    let want = reference.get(k);
                    if want.is_some() { hits += 1 } else { misses += 1 }
                    prop_assert_eq!(cache.get(&k), want);
                }
                Op::Peek(k) => prop_assert_eq!(cache.peek(&k), reference.peek(k)),
                Op::Contains(k) => prop_assert_eq!(cache.contains(&k), reference.peek(k).is_some()),
                Op::Put(k, v) | Op::GetOrInsert(k, v) => {
                    let want = reference.put(k, v).filter(|(old, _)| *old != k);
                    if want.is_some() { evictions += 1 }
                    prop_assert_eq!(cache.insert(k, v), want);
                }
                Op::Remove(k) => prop_assert_eq!(cache.remove(&k), reference.remove(k)),
                Op::Clear => { cache.clear(); reference.order.clear(); }
                Op::PopLru | Op::PeekLru | Op::Resize(_) => {}
            }
            prop_assert_eq!(cache.len(), reference.order.len());
        }
        let stats = cache.stats();
        prop_assert_eq!((stats.hits, stats.misses, stats.evictions), (hits, misses, evictions));
        if let Err(e) = cache.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
    }
}

proptest! {
    /// The default (non-strict) cache may evict in a slightly different
    /// order, but what it returns is always what was last stored for the
    /// key, and it never holds more than its capacity.
    #[test]
    fn concurrent_lru_default_returns_only_stored_values(
        cap in 1usize..64,
        shards in 1usize..4,
        ops in prop::collection::vec(op(), 1..400),
    ) {
        let cache = ConcurrentLru::builder(cap).shards(shards).build().unwrap();
        let mut last = std::collections::HashMap::new();
        for op in ops {
            match op {
                Op::Get(k) | Op::Peek(k) | Op::GetMut(k, _) => {
                    if let Some(v) = cache.get(&k) {
                        prop_assert_eq!(Some(&v), last.get(&k));
                    }
                }
                Op::Put(k, v) | Op::GetOrInsert(k, v) => {
                    if let Some((ek, ev)) = cache.insert(k, v) {
                        prop_assert_ne!(ek, k);
                        prop_assert_eq!(Some(&ev), last.get(&ek));
                    }
                    last.insert(k, v);
                    prop_assert_eq!(cache.peek(&k), Some(v), "just inserted");
                }
                Op::Remove(k) => {
                    if let Some(v) = cache.remove(&k) {
                        prop_assert_eq!(Some(&v), last.get(&k));
                    }
                    prop_assert!(!cache.contains(&k));
                }
                Op::Clear => cache.clear(),
                _ => {}
            }
            prop_assert!(cache.len() <= cap);
        }
        if let Err(e) = cache.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
    }
}

#[test]
fn bad_capacities_are_typed_errors() {
    assert_eq!(LruCache::<u8, u8>::new(0).unwrap_err(), Error::ZeroCapacity);
    assert!(matches!(
        LruCache::<u8, u8>::new(u32::MAX as usize),
        Err(Error::CapacityTooLarge { .. })
    ));
    assert!(
        LruCache::<u8, u8>::new(u32::MAX as usize - 1).is_ok(),
        "max is u32::MAX - 1"
    );
    assert_eq!(
        ConcurrentLru::<u8, u8>::new(0).unwrap_err(),
        Error::ZeroCapacity
    );
    assert_eq!(
        ConcurrentLru::<u8, u8>::builder(10)
            .shards(0)
            .build()
            .unwrap_err(),
        Error::ZeroShards
    );
    assert!(Error::ZeroCapacity.to_string().contains("at least 1"));
    let mut c = LruCache::<u8, u8>::new(3).unwrap();
    assert_eq!(c.resize(0), Err(Error::ZeroCapacity));
    assert_eq!(c.capacity(), 3, "failed resize leaves the cache unchanged");
}

#[test]
fn borrowed_lookups_and_hasher_choice() {
    let mut c = LruCache::with_hasher(2, std::collections::hash_map::RandomState::new()).unwrap();
    c.put("alpha".to_string(), 1);
    assert_eq!(c.get("alpha"), Some(&1));
    assert!(c.contains("alpha"));
    assert_eq!(c.remove("alpha"), Some(1));
    assert!(c.is_empty());
}

#[test]
fn shards_are_powers_of_two_and_capacity_is_exact() {
    for (cap, shards) in [(1, 8), (10, 3), (1000, 16), (10_000, 5)] {
        let c = ConcurrentLru::<u32, u32>::builder(cap)
            .shards(shards)
            .build()
            .unwrap();
        assert!(c.shard_count().is_power_of_two());
        assert!(c.shard_count() <= cap);
        for k in 0..(cap as u32 * 3) {
            c.insert(k, k);
        }
        assert!(c.len() <= cap);
        assert_eq!(c.capacity(), cap);
    }
}

#[test]
fn send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ConcurrentLru<String, Vec<u8>>>();
    assert_send_sync::<LruCache<String, Vec<u8>>>();
}
