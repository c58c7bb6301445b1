#![cfg(all(not(loom), feature = "cache", feature = "async"))]
//! The cache's entry API, iteration and predicate invalidation:
//!
//! - no lost update: threads incrementing one key through
//!   `and_compute_with` end at exactly threads x iterations, with loaders,
//!   plain writes of other keys and invalidations running beside them;
//! - a compute and a load of one key never run at once; a plain write
//!   that overtakes a compute makes it start over on the written value;
//! - the listener hears `Replaced` and `Explicit`; a panicking compute
//!   leaves the key usable; a compute re-entering its own key panics;
//!   a dropped async compute releases the key;
//! - a proptest model of computes, inserts, removes and gets against a
//!   `HashMap` (a capacity that never evicts, so the reference is exact);
//! - `iter` and `invalidate_entries_if`; the capacity is cache-wide, not
//!   split by shards (an entry heavier than a shard's share is held).

use latchwork::cache::{Cache, Computed, Op, RemovalCause};
use proptest::prelude::*;
use std::collections::HashMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

fn incr(old: Option<&u64>) -> Op<u64> {
    Op::Put(old.map_or(1, |n| n + 1))
}

#[test]
fn concurrent_computes_lose_no_update() {
    const THREADS: u64 = 4;
    const ITERS: u64 = 2_000;
    let cache: Cache<u64, u64> = Cache::new(1_000).unwrap();
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ITERS {
                    cache.entry(0).and_compute_with(incr);
                }
            });
        }
        // Beside them: loaders of the same key (they wait for computes and
        // must never store over one), plain writes of other keys and
        // invalidations that never match key 0.
        s.spawn(|| {
            let mut i = 1;
            while !stop.load(Ordering::Relaxed) {
                let v = cache.entry(0).or_insert_with(|| 1_000_000);
                assert!(v < 1_000_000, "a loader stored over a computed key");
                cache.insert(i % 50 + 1, i);
                cache.invalidate_entries_if(|k, _| *k != 0 && k % 7 == 0);
                i += 1;
            }
        });
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                cache.entry(99).and_compute_with(|_| Op::Remove);
                thread::yield_now();
            }
        });
        // The scope joins the computing threads; stop the others after.
        s.spawn(|| {
            while cache.get(&0) != Some(THREADS * ITERS) {
                thread::yield_now();
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    assert_eq!(cache.get(&0), Some(THREADS * ITERS));
    cache.check_invariants().unwrap();
}

#[test]
fn compute_results_and_listener_causes() {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let log = heard.clone();
    let cache: Cache<&str, u64> = Cache::builder()
        .max_capacity(100)
        .eviction_listener(move |k: &&str, v: &u64, cause| {
            log.lock().unwrap().push((*k, *v, cause))
        })
        .build()
        .unwrap();
    assert_eq!(
        cache.entry("a").and_compute_with(|_| Op::Nop),
        Computed::StillAbsent
    );
    assert_eq!(
        cache.entry("a").and_compute_with(|_| Op::Remove),
        Computed::StillAbsent
    );
    assert_eq!(
        cache.entry("a").and_compute_with(|_| Op::Put(1)),
        Computed::Inserted(1)
    );
    assert_eq!(
        cache.entry("a").and_compute_with(|_| Op::Nop),
        Computed::Unchanged(1)
    );
    let seen = cache
        .entry("a")
        .and_compute_with(|old| Op::Put(old.copied().unwrap() + 1));
    assert_eq!(seen, Computed::Replaced(2));
    assert_eq!(seen.value(), Some(&2));
    assert_eq!(
        cache.entry("a").and_compute_with(|_| Op::Remove),
        Computed::Removed(2)
    );
    assert_eq!(cache.get("a"), None);
    assert_eq!(
        *heard.lock().unwrap(),
        vec![
            ("a", 1, RemovalCause::Replaced),
            ("a", 2, RemovalCause::Explicit)
        ]
    );
    let stats = cache.stats();
    assert_eq!(stats.inserts, 2);
}

#[test]
fn a_plain_write_overtaking_a_compute_makes_it_start_over() {
    let cache: Arc<Cache<u64, u64>> = Arc::new(Cache::new(100).unwrap());
    cache.insert(1, 10);
    let entered = Arc::new(Barrier::new(2));
    let written = Arc::new(Barrier::new(2));
    let runs = Arc::new(AtomicUsize::new(0));
    let computer = {
        let (cache, entered, written, runs) = (
            cache.clone(),
            entered.clone(),
            written.clone(),
            runs.clone(),
        );
        thread::spawn(move || {
            cache.entry(1).and_compute_with(|old| {
                if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                    entered.wait();
                    written.wait();
                }
                Op::Put(old.copied().unwrap_or(0) * 2)
            })
        })
    };
    entered.wait();
    // The compute holds the key's flight: a plain insert does not wait.
    cache.insert(1, 100);
    written.wait();
    let done = computer.join().unwrap();
    assert_eq!(
        done,
        Computed::Replaced(200),
        "applied on top of the insert"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(cache.get(&1), Some(200));
}

#[test]
fn a_load_waits_for_a_compute_and_a_compute_for_a_load() {
    let cache: Arc<Cache<u64, u64>> = Arc::new(Cache::new(100).unwrap());
    let inside = Arc::new(Barrier::new(2));
    let loader_ran = Arc::new(AtomicBool::new(false));
    let computer = {
        let (cache, inside) = (cache.clone(), inside.clone());
        thread::spawn(move || {
            cache.entry(7).and_compute_with(|old| {
                inside.wait();
                thread::sleep(Duration::from_millis(50));
                Op::Put(old.map_or(5, |v| v + 1))
            })
        })
    };
    inside.wait();
    let ran = loader_ran.clone();
    // Waits for the compute, then finds its value: the loader never runs.
    let v = cache.get_or_insert_with(7, || {
        ran.store(true, Ordering::SeqCst);
        0
    });
    assert_eq!(v, 5);
    assert!(!loader_ran.load(Ordering::SeqCst));
    assert_eq!(computer.join().unwrap(), Computed::Inserted(5));

    // And the other way round: a compute waits for a load in flight and
    // applies on top of the loaded value.
    cache.remove(&7);
    let loading = {
        let (cache, inside) = (cache.clone(), inside.clone());
        thread::spawn(move || {
            cache.get_or_insert_with(7, || {
                inside.wait();
                thread::sleep(Duration::from_millis(50));
                40
            })
        })
    };
    inside.wait();
    let done = cache
        .entry(7)
        .and_compute_with(|old| Op::Put(old.copied().unwrap_or(0) + 2));
    assert_eq!(loading.join().unwrap(), 40);
    assert_eq!(done, Computed::Replaced(42));
}

#[test]
fn a_panicking_compute_leaves_the_key_usable() {
    let cache: Arc<Cache<u64, u64>> = Arc::new(Cache::new(100).unwrap());
    cache.insert(3, 30);
    let r = catch_unwind(AssertUnwindSafe(|| {
        cache
            .entry(3)
            .and_compute_with(|_| -> Op<u64> { panic!("user code") })
    }));
    assert!(r.is_err());
    assert_eq!(cache.get(&3), Some(30), "nothing applied");
    assert_eq!(
        cache.entry(3).and_compute_with(|_| Op::Put(31)),
        Computed::Replaced(31)
    );
    assert_eq!(cache.get_or_insert_with(3, || 0), 31);
}

#[test]
fn a_compute_that_uses_its_own_key_panics_instead_of_hanging() {
    let cache: Cache<u64, u64> = Cache::new(100).unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        cache
            .entry(4)
            .and_compute_with(|_| Op::Put(cache.get_or_insert_with(4, || 1)))
    }));
    assert!(r.is_err());
    assert_eq!(
        cache.entry(4).and_compute_with(|_| Op::Put(2)),
        Computed::Inserted(2)
    );
}

#[test]
fn async_compute_and_a_dropped_one_releases_the_key() {
    let cache: Cache<u64, u64> = Cache::new(100).unwrap();
    let done = futures::executor::block_on(
        cache
            .entry(1)
            .and_compute_with_async(|old| async move { Op::Put(old.unwrap_or(0) + 5) }),
    );
    assert_eq!(done, Computed::Inserted(5));
    // A compute whose future is polled once (it is mid-compute, holding the
    // key's flight) and then dropped.
    {
        let fut = cache
            .entry(1)
            .and_compute_with_async(|_| std::future::pending::<Op<u64>>());
        let mut fut = pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Pending));
    }
    let v = futures::executor::block_on(cache.entry(1).or_insert_with_async(async { 0 }));
    assert_eq!(v, 5, "the key is usable, the value untouched");
    let again = futures::executor::block_on(
        cache
            .entry(1)
            .and_compute_with_async(|old| async move { Op::Put(old.unwrap() * 2) }),
    );
    assert_eq!(again, Computed::Replaced(10));
    let r: Result<u64, Arc<&str>> = cache.entry(2).or_try_insert_with(|| Err("down"));
    assert_eq!(*r.unwrap_err(), "down");
}

#[test]
fn iter_sees_every_live_entry_once_and_invalidate_entries_if_removes() {
    let cache: Cache<u64, u64> = Cache::builder()
        .max_capacity(10_000)
        .shards(8)
        .build()
        .unwrap();
    for i in 0..1_000 {
        cache.insert(i, i * 3);
    }
    let mut all: Vec<(u64, u64)> = cache.iter().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1_000).map(|i| (i, i * 3)).collect::<Vec<_>>());
    // The loop body may use the cache: no lock is held while it runs.
    for (k, _) in cache.iter() {
        if k % 2 == 1 {
            cache.remove(&k);
        }
    }
    cache.invalidate_entries_if(|k, _| k % 4 == 0);
    let mut left: Vec<u64> = cache.iter().map(|(k, _)| k).collect();
    left.sort_unstable();
    assert_eq!(left, (0..1_000).filter(|k| k % 4 == 2).collect::<Vec<_>>());
    assert_eq!(cache.len(), left.len());
}

#[test]
fn iter_skips_expired_entries() {
    use latchwork::clock::ManualClock;
    let clock = ManualClock::new();
    let cache: Cache<u64, u64, _, ManualClock> = Cache::builder()
        .max_capacity(100)
        .time_to_live(Duration::from_secs(10))
        .clock(clock.clone())
        .build()
        .unwrap();
    cache.insert(1, 1);
    clock.advance(Duration::from_secs(6));
    cache.insert(2, 2);
    clock.advance(Duration::from_secs(6));
    assert_eq!(cache.iter().collect::<Vec<_>>(), vec![(2, 2)]);
}

/// Quick_cache #55 / lance #7953: a capacity split evenly by shards refuses
/// an entry heavier than one shard's share. This cache bounds the total.
#[test]
fn capacity_is_cache_wide_not_split_by_shards() {
    let cache: Cache<u64, Vec<u8>> = Cache::builder()
        .max_capacity(1_000)
        .shards(16)
        .weigher(|_k: &u64, v: &Vec<u8>| v.len() as u32)
        .build()
        .unwrap();
    // 16 shards: a shard's share is 62.5; this entry weighs 900.
    assert!(
        cache.insert(1, vec![0; 900]),
        "an entry of 0.9 x capacity is held"
    );
    assert_eq!(cache.get(&1).map(|v| v.len()), Some(900));
    for i in 2..200 {
        cache.insert(i, vec![0; 37]);
        assert!(cache.weighted_size() <= 1_000, "over the bound at {i}");
    }
    cache.run_pending_tasks();
    assert!(cache.weighted_size() <= 1_000);
    cache.check_invariants().unwrap();
}

#[derive(Clone, Debug)]
enum ModelOp {
    Insert(u8, u64),
    Remove(u8),
    Get(u8),
    AddOrInsert(u8),
    RemoveIfEven(u8),
    Nop(u8),
}

fn model_op() -> impl Strategy<Value = ModelOp> {
    prop_oneof![
        (0u8..8, 0u64..100).prop_map(|(k, v)| ModelOp::Insert(k, v)),
        (0u8..8).prop_map(ModelOp::Remove),
        (0u8..8).prop_map(ModelOp::Get),
        (0u8..8).prop_map(ModelOp::AddOrInsert),
        (0u8..8).prop_map(ModelOp::RemoveIfEven),
        (0u8..8).prop_map(ModelOp::Nop),
    ]
}

proptest! {
    /// The entry API against a sequential reference (a `HashMap`), at a
    /// capacity that never evicts: each compute's result and the state
    /// after it match.
    #[test]
    fn entry_api_matches_a_hashmap(ops in prop::collection::vec(model_op(), 1..200)) {
        let cache: Cache<u8, u64> = Cache::new(1_000).unwrap();
        let mut model: HashMap<u8, u64> = HashMap::new();
        for op in ops {
            match op {
                ModelOp::Insert(k, v) => {
                    cache.insert(k, v);
                    model.insert(k, v);
                }
                ModelOp::Remove(k) => prop_assert_eq!(cache.remove(&k), model.remove(&k)),
                ModelOp::Get(k) => prop_assert_eq!(cache.get(&k), model.get(&k).copied()),
                ModelOp::AddOrInsert(k) => {
                    let got = cache.entry(k).and_compute_with(|old| Op::Put(old.map_or(1, |n| n + 1)));
                    let want = match model.get(&k).copied() {
                        Some(n) => Computed::Replaced(n + 1),
                        None => Computed::Inserted(1),
                    };
                    *model.entry(k).or_insert(0) += 1;
                    prop_assert_eq!(got, want);
                }
                ModelOp::RemoveIfEven(k) => {
                    let got = cache.entry(k).and_compute_with(|old| match old {
                        Some(n) if n % 2 == 0 => Op::Remove,
                        _ => Op::Nop,
                    });
                    let want = match model.get(&k).copied() {
                        Some(n) if n % 2 == 0 => {
                            model.remove(&k);
                            Computed::Removed(n)
                        }
                        Some(n) => Computed::Unchanged(n),
                        None => Computed::StillAbsent,
                    };
                    prop_assert_eq!(got, want);
                }
                ModelOp::Nop(k) => {
                    let got = cache.entry(k).and_compute_with(|_| Op::Nop);
                    let want = model.get(&k).copied().map_or(Computed::StillAbsent, Computed::Unchanged);
                    prop_assert_eq!(got, want);
                }
            }
        }
        let mut held: Vec<(u8, u64)> = cache.iter().collect();
        held.sort_unstable();
        let mut want: Vec<(u8, u64)> = model.into_iter().collect();
        want.sort_unstable();
        prop_assert_eq!(held, want);
    }
}
