#![cfg(all(not(loom), feature = "cache", feature = "clock"))]
//! Model tests of `Cache` against plain sequential references, every return
//! value and every removal (key, value, cause) compared:
//!
//! - `Policy::Lru` with one shard against a strict LRU (the deque reference
//!   shared with `LruCache`'s tests): exact from one thread.
//! - weights, time-to-live, time-to-idle, per-entry TTL, `retain` and the
//!   listener against a weighted, timed LRU reference driven by the manual
//!   clock.
//!
//! (The TinyLFU admission policy has its own decision-by-decision model in
//! `src/cache/model_tests.rs`, which needs the crate-internal sketch.)

#[path = "common/lru_reference.rs"]
mod lru_reference;

use latchwork::cache::{Cache, Error, Policy, RemovalCause};
use latchwork::clock::ManualClock;
use lru_reference::Reference;
use proptest::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Events = Arc<Mutex<Vec<(u8, u32, RemovalCause)>>>;

fn take(events: &Events) -> Vec<(u8, u32, RemovalCause)> {
    std::mem::take(&mut *events.lock().unwrap())
}

#[derive(Clone, Debug)]
enum Op {
    Get(u8),
    Peek(u8),
    Contains(u8),
    Insert(u8, u32),
    Load(u8, u32),
    Remove(u8),
    InvalidateAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..24).prop_map(Op::Get),
        1 => (0u8..24).prop_map(Op::Peek),
        1 => (0u8..24).prop_map(Op::Contains),
        6 => (0u8..24, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (0u8..24, any::<u32>()).prop_map(|(k, v)| Op::Load(k, v)),
        1 => (0u8..24).prop_map(Op::Remove),
        1 => Just(Op::InvalidateAll),
    ]
}

proptest! {
    /// One shard, one thread: `Policy::Lru` is a strict LRU.
    #[test]
    fn lru_policy_one_shard_is_a_strict_lru(
        cap in 1usize..16,
        ops in prop::collection::vec(op(), 1..300),
    ) {
        let events: Events = Arc::default();
        let cache = {
            let events = events.clone();
            Cache::builder()
                .max_capacity(cap as u64)
                .policy(Policy::Lru)
                .shards(1)
                .eviction_listener(move |k: &u8, v: &u32, c| events.lock().unwrap().push((*k, *v, c)))
                .build()
                .unwrap()
        };
        let mut reference = Reference::new(cap);
        let (mut hits, mut misses) = (0u64, 0u64);
        for op in ops {
            let mut want_events = vec![];
            match op.clone() {
                Op::Get(k) => {
                    let want = reference.get(k);
                    if want.is_some() { hits += 1 } else { misses += 1 }
                    prop_assert_eq!(cache.get(&k), want);
                }
                Op::Peek(k) => prop_assert_eq!(cache.peek(&k), reference.peek(k)),
                Op::Contains(k) => prop_assert_eq!(cache.contains(&k), reference.peek(k).is_some()),
                Op::Insert(k, v) => {
                    if let Some((ok, ov)) = reference.put(k, v) {
                        want_events.push((ok, ov, if ok == k { RemovalCause::Replaced } else { RemovalCause::Size }));
                    }
                    prop_assert!(cache.insert(k, v));
                }
                Op::Load(k, v) => {
                    let want = match reference.get(k) {
                        Some(old) => { hits += 1; old }
                        None => {
                            misses += 1;
                            if let Some((ok, ov)) = reference.put(k, v) {
                                want_events.push((ok, ov, RemovalCause::Size));
                            }
                            v
                        }
                    };
                    prop_assert_eq!(cache.get_or_insert_with(k, || v), want);
                }
                Op::Remove(k) => {
                    let want = reference.remove(k);
                    if let Some(v) = want { want_events.push((k, v, RemovalCause::Explicit)) }
                    prop_assert_eq!(cache.remove(&k), want);
                }
                Op::InvalidateAll => {
                    cache.invalidate_all();
                    want_events.extend(reference.order.drain(..).map(|(k, v)| (k, v, RemovalCause::Explicit)));
                }
            }
            let mut got = take(&events);
            if matches!(op, Op::InvalidateAll) {
                got.sort_unstable_by_key(|e| e.0);
                want_events.sort_unstable_by_key(|e| e.0);
            }
            prop_assert_eq!(got, want_events, "removals after {:?}", op);
            prop_assert_eq!(cache.len(), reference.order.len());
            prop_assert_eq!(cache.weighted_size(), reference.order.len() as u64);
        }
        let stats = cache.stats();
        prop_assert_eq!((stats.hits, stats.misses), (hits, misses));
        if let Err(e) = cache.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// A weighted, timed LRU: the reference for weights, expiry and the
/// listener. Times are clock nanoseconds.
struct Timed {
    cap: u64,
    ttl: Option<u64>,
    tti: Option<u64>,
    now: u64,
    /// LRU first: (key, value, weight, deadline, hard cap).
    order: Vec<(u8, u32, u64, u64, u64)>,
    events: Vec<(u8, u32, RemovalCause)>,
}

fn weigh(v: u32) -> u64 {
    u64::from(v % 7 + 1)
}

impl Timed {
    fn pos(&self, k: u8) -> Option<usize> {
        self.order.iter().position(|e| e.0 == k)
    }
    fn total(&self) -> u64 {
        self.order.iter().map(|e| e.2).sum()
    }
    fn live(&self, i: usize) -> bool {
        self.now < self.order[i].3
    }
    fn get(&mut self, k: u8) -> Option<u32> {
        let i = self.pos(k).filter(|&i| self.live(i))?;
        let mut e = self.order.remove(i);
        if let Some(tti) = self.tti {
            e.3 = (self.now + tti).min(e.4);
        }
        self.order.push(e);
        Some(e.1)
    }
    fn peek(&self, k: u8) -> Option<u32> {
        self.pos(k)
            .filter(|&i| self.live(i))
            .map(|i| self.order[i].1)
    }
    fn insert(&mut self, k: u8, v: u32, ttl: Option<u64>) -> bool {
        let w = weigh(v);
        if w > self.cap {
            // Too heavy: the old value must not be served any more.
            if let Some(i) = self.pos(k) {
                let old = self.order.remove(i);
                self.events.push((k, old.1, RemovalCause::Replaced));
            }
            self.events.push((k, v, RemovalCause::Size));
            return false;
        }
        let ttl = ttl.or(self.ttl);
        let hard = ttl.map_or(u64::MAX, |t| self.now + t);
        let deadline = hard.min(self.tti.map_or(u64::MAX, |t| self.now + t));
        if let Some(i) = self.pos(k) {
            let old = self.order.remove(i);
            self.events.push((k, old.1, RemovalCause::Replaced));
        }
        self.order.push((k, v, w, deadline, hard));
        while self.total() > self.cap {
            let e = self.order.remove(0);
            self.events.push((e.0, e.1, RemovalCause::Size));
        }
        true
    }
    fn remove(&mut self, k: u8) -> Option<u32> {
        let i = self.pos(k)?;
        let e = self.order.remove(i);
        if self.now < e.3 {
            self.events.push((k, e.1, RemovalCause::Explicit));
            Some(e.1)
        } else {
            self.events.push((k, e.1, RemovalCause::Expired));
            None
        }
    }
    fn expire(&mut self) {
        let now = self.now;
        let (gone, kept): (Vec<_>, Vec<_>) = self.order.drain(..).partition(|e| e.3 <= now);
        self.order = kept;
        self.events
            .extend(gone.into_iter().map(|e| (e.0, e.1, RemovalCause::Expired)));
    }
    fn retain_not_multiple_of_3(&mut self) {
        let (gone, kept): (Vec<_>, Vec<_>) = self.order.drain(..).partition(|e| e.1 % 3 == 0);
        self.order = kept;
        self.events
            .extend(gone.into_iter().map(|e| (e.0, e.1, RemovalCause::Explicit)));
    }
}

#[derive(Clone, Debug)]
enum TimedOp {
    Get(u8),
    Peek(u8),
    Insert(u8, u32),
    InsertTtl(u8, u32, u64),
    Remove(u8),
    Advance(u64),
    Retain,
}

fn timed_op() -> impl Strategy<Value = TimedOp> {
    prop_oneof![
        6 => (0u8..16).prop_map(TimedOp::Get),
        1 => (0u8..16).prop_map(TimedOp::Peek),
        5 => (0u8..16, any::<u32>()).prop_map(|(k, v)| TimedOp::Insert(k, v)),
        2 => (0u8..16, any::<u32>(), 1u64..50).prop_map(|(k, v, t)| TimedOp::InsertTtl(k, v, t)),
        1 => (0u8..16).prop_map(TimedOp::Remove),
        3 => (0u64..20).prop_map(TimedOp::Advance),
        1 => Just(TimedOp::Retain),
    ]
}

proptest! {
    #[test]
    fn weights_expiry_and_listener_match_reference(
        cap in 1u64..30,
        ttl in prop::option::of(5u64..60),
        tti in prop::option::of(3u64..40),
        ops in prop::collection::vec(timed_op(), 1..250),
    ) {
        let ms = |n: u64| n * 1_000_000;
        let clock = ManualClock::new();
        let events: Events = Arc::default();
        let mut b = Cache::builder()
            .max_capacity(cap)
            .policy(Policy::Lru)
            .shards(1)
            .weigher(|_k: &u8, v: &u32| v % 7 + 1)
            .clock(clock.clone());
        if let Some(t) = ttl { b = b.time_to_live(Duration::from_millis(t)); }
        if let Some(t) = tti { b = b.time_to_idle(Duration::from_millis(t)); }
        let cache = {
            let events = events.clone();
            b.eviction_listener(move |k: &u8, v: &u32, c| events.lock().unwrap().push((*k, *v, c)))
                .build()
                .unwrap()
        };
        let mut r = Timed { cap, ttl: ttl.map(ms), tti: tti.map(ms), now: 0, order: vec![], events: vec![] };
        for op in ops {
            match op.clone() {
                TimedOp::Get(k) => prop_assert_eq!(cache.get(&k), r.get(k), "{:?}", op),
                TimedOp::Peek(k) => prop_assert_eq!(cache.peek(&k), r.peek(k)),
                TimedOp::Insert(k, v) => prop_assert_eq!(cache.insert(k, v), r.insert(k, v, None)),
                TimedOp::InsertTtl(k, v, t) => prop_assert_eq!(
                    cache.insert_with_ttl(k, v, Duration::from_millis(t)),
                    r.insert(k, v, Some(ms(t)))
                ),
                TimedOp::Remove(k) => prop_assert_eq!(cache.remove(&k), r.remove(k)),
                TimedOp::Advance(t) => {
                    clock.advance(Duration::from_millis(t));
                    r.now += ms(t);
                    cache.run_pending_tasks();
                    r.expire();
                }
                TimedOp::Retain => {
                    cache.retain(|_, v| v % 3 != 0);
                    r.retain_not_multiple_of_3();
                }
            }
            let mut got = take(&events);
            let mut want = std::mem::take(&mut r.events);
            if matches!(op, TimedOp::Advance(_) | TimedOp::Retain) {
                got.sort_unstable_by_key(|e| e.0);
                want.sort_unstable_by_key(|e| e.0);
            }
            prop_assert_eq!(got, want, "removals after {:?}", op);
            prop_assert_eq!(cache.weighted_size(), r.total());
            prop_assert_eq!(cache.len(), r.order.len());
            prop_assert!(cache.weighted_size() <= cap);
        }
        let s = cache.stats();
        prop_assert!(s.evictions + s.expirations + s.invalidations + s.replacements > 0 || s.inserts == 0 || s.inserts <= cap);
        if let Err(e) = cache.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
    }
}

#[test]
fn listener_calls_match_stats_and_survive_a_panicking_listener() {
    let calls = Arc::new(Mutex::new([0u64; 4]));
    let cache = {
        let calls = calls.clone();
        Cache::builder()
            .max_capacity(50)
            .eviction_listener(move |k: &u64, _v: &u64, cause| {
                let i = match cause {
                    RemovalCause::Size => 0,
                    RemovalCause::Expired => 1,
                    RemovalCause::Explicit => 2,
                    _ => 3,
                };
                calls.lock().unwrap()[i] += 1;
                if k % 10 == 0 {
                    panic!("listener bug on {k}");
                }
            })
            .build()
            .unwrap()
    };
    for k in 0..1_000u64 {
        cache.insert(k % 300, k);
        if k % 7 == 0 {
            cache.remove(&(k % 300));
        }
    }
    cache.invalidate_all();
    let s = cache.stats();
    let c = *calls.lock().unwrap();
    assert_eq!(
        c,
        [s.evictions, s.expirations, s.invalidations, s.replacements]
    );
    assert!(s.listener_panics > 0, "some calls panicked and were caught");
    assert!(cache.is_empty());
    // Still usable after the panics.
    cache.insert(1, 1);
    assert_eq!(cache.get(&1), Some(1));
}

#[test]
fn entry_heavier_than_capacity_is_reported_not_cached() {
    let seen = Arc::new(Mutex::new(vec![]));
    let cache = {
        let seen = seen.clone();
        Cache::builder()
            .max_capacity(100)
            .weigher(|_k: &u32, v: &Vec<u8>| v.len() as u32)
            .eviction_listener(move |k: &u32, _v: &Vec<u8>, c| seen.lock().unwrap().push((*k, c)))
            .build()
            .unwrap()
    };
    assert!(!cache.insert(1, vec![0; 101]));
    assert!(!cache.contains(&1));
    assert_eq!(*seen.lock().unwrap(), [(1, RemovalCause::Size)]);
    assert!(cache.insert(2, vec![0; 100]), "exactly the capacity fits");
    assert_eq!(cache.weighted_size(), 100);
}

#[test]
fn entry_heavier_than_a_shard_share_is_cached_within_the_global_bound() {
    // 4 shards of 256: an entry of 600 is over its shard's share but within
    // the capacity; the cache evicts elsewhere to keep the total bound.
    for policy in [Policy::Lru, Policy::TinyLfu] {
        let rejected = Arc::new(Mutex::new(vec![]));
        let cache = {
            let rejected = rejected.clone();
            Cache::builder()
                .max_capacity(1024)
                .shards(4)
                .policy(policy)
                .weigher(|_k: &u32, v: &u32| *v)
                .eviction_listener(move |k: &u32, _v: &u32, c| {
                    if *k == 10_000 {
                        rejected.lock().unwrap().push(c);
                    }
                })
                .build()
                .unwrap()
        };
        assert_eq!(cache.shard_count(), 4);
        for k in 0..200u32 {
            cache.insert(k, 5);
        }
        assert!(cache.weighted_size() <= 1024);
        let stored = cache.insert(10_000, 600);
        if policy == Policy::Lru {
            assert!(stored, "LRU admits everything");
        }
        if stored {
            assert_eq!(cache.get(&10_000), Some(600), "cached");
        } else {
            // TinyLFU may turn a heavy newcomer away, never silently.
            assert_eq!(*rejected.lock().unwrap(), [RemovalCause::Size]);
        }
        assert!(cache.weighted_size() <= 1024, "{}", cache.weighted_size());
        cache.check_invariants().unwrap();
    }
}

#[test]
fn bad_settings_are_typed_errors() {
    let b = || Cache::<u8, u8>::builder();
    assert_eq!(
        b().max_capacity(0).build().unwrap_err(),
        Error::ZeroCapacity
    );
    assert_eq!(b().shards(0).build().unwrap_err(), Error::ZeroShards);
    assert!(matches!(
        b().shards(usize::MAX).build(),
        Err(Error::TooManyShards {
            requested: usize::MAX,
            ..
        })
    ));
    assert!(matches!(
        b().time_to_live(Duration::ZERO).build(),
        Err(Error::ZeroDuration {
            parameter: "time_to_live"
        })
    ));
    assert!(matches!(
        b().time_to_idle(Duration::ZERO).build(),
        Err(Error::ZeroDuration {
            parameter: "time_to_idle"
        })
    ));
    assert!(matches!(
        b().max_capacity(u64::MAX).shards(1).build(),
        Err(Error::CapacityTooLarge { .. })
    ));
    // Extreme but valid: these build and work.
    let c = b()
        .max_capacity(u64::MAX)
        .weigher(|_, _| u32::MAX)
        .time_to_live(Duration::MAX)
        .time_to_idle(Duration::MAX)
        .build()
        .unwrap();
    c.insert(1, 1);
    assert_eq!(c.get(&1), Some(1));
    let c = b().max_capacity(1).shards(1 << 16).build().unwrap();
    assert_eq!(c.shard_count(), 1, "clamped: no shard below 32 entries");
    c.insert(1, 1);
    c.insert(2, 2);
    assert_eq!(c.len(), 1);
    assert!(Error::ZeroCapacity.to_string().contains("at least 1"));
}

#[test]
fn shard_count_depends_on_capacity_only() {
    for (cap, want) in [(64u64, 1), (1_000, 1), (10_000, 16), (1_000_000, 64)] {
        let c = Cache::<u64, u64>::new(cap).unwrap();
        assert_eq!(c.shard_count(), want, "capacity {cap}");
    }
    for (cap, shards) in [(64u64, 64usize), (100, 8), (10_000, 1_000)] {
        let c = Cache::<u64, u64>::builder()
            .max_capacity(cap)
            .shards(shards)
            .build()
            .unwrap();
        assert!(c.shard_count().is_power_of_two());
        assert!(cap / c.shard_count() as u64 >= 32 || c.shard_count() == 1);
        for k in 0..cap * 3 {
            c.insert(k, k);
        }
        assert!(c.len() as u64 <= cap);
    }
}

#[test]
fn per_entry_ttl_and_zero_or_max() {
    let clock = ManualClock::new();
    let c = Cache::builder()
        .max_capacity(100)
        .clock(clock.clone())
        .build()
        .unwrap();
    c.insert_with_ttl(1, 1, Duration::from_secs(1));
    c.insert_with_ttl(2, 2, Duration::ZERO);
    c.insert_with_ttl(3, 3, Duration::MAX);
    c.insert(4, 4);
    assert_eq!(c.get(&2), None, "zero TTL: already expired");
    assert_eq!(c.get(&1), Some(1));
    clock.advance(Duration::from_secs(1));
    assert_eq!(c.get(&1), None, "expired at its deadline");
    clock.advance(Duration::from_secs(86_400 * 365 * 100));
    assert_eq!((c.get(&3), c.get(&4)), (Some(3), Some(4)), "no expiry");
    c.run_pending_tasks();
    assert_eq!(c.len(), 2);
    assert_eq!(c.stats().expirations, 2);
}

#[test]
fn send_sync_debug() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Cache<String, Vec<u8>>>();
    assert_send_sync::<latchwork::cache::CacheBuilder<String, Vec<u8>>>();
    let c = Cache::<u8, u8>::new(10).unwrap();
    assert!(format!("{c:?}").contains("TinyLfu"));
    assert!(format!("{:?}", Cache::<u8, u8>::builder()).contains("CacheBuilder"));
}
