#![cfg(all(not(loom), feature = "lru"))]
//! Model tests: `LruCache`
//! against a plain ordered reference, comparing every return value.

use latchwork::lru::{Error, LruCache};
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
fn send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<LruCache<String, Vec<u8>>>();
}
