#![cfg(all(loom, feature = "cache", feature = "clock"))]
//! loom models of `Cache` through its public API, over the real code (the
//! crate's sync shim swaps in loom's primitives):
//!
//! - a hit recorded in the read buffer under the read lock races an insert
//!   that drains the buffer and evicts: invariants, capacity and counters
//!   hold in every interleaving;
//! - single-flight: two callers of one missing key run one loader, and
//!   neither is left waiting (a lost wake-up is a loom deadlock);
//! - a failing leader hands nothing stale to its waiter, and the key stays
//!   loadable;
//! - a leader that panics after its loader returned (its weigher) abandons
//!   the flight: the other caller loads instead, neither is left waiting;
//! - expiry: an expired entry is never returned, and each expiry is counted
//!   once whoever reclaims it.
//!
//! (The read buffer's own protocol has models beside it in
//! `src/cache/read_buffer.rs`.)

use latchwork::cache::{Cache, Policy};
use latchwork::clock::ManualClock;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;
use std::time::Duration;

/// A fixed hasher: loom replays each interleaving, so key placement must
/// not change between iterations.
type Fixed = BuildHasherDefault<DefaultHasher>;

fn lru(cap: u64) -> Cache<u8, u8, Fixed, ManualClock> {
    Cache::builder()
        .max_capacity(cap)
        .policy(Policy::Lru)
        .shards(1)
        .hasher(Fixed::default())
        .clock(ManualClock::new())
        .build()
        .unwrap()
}

#[test]
fn loom_hit_races_insert_with_eviction() {
    loom::model(|| {
        let cache = Arc::new(lru(2));
        cache.insert(1, 10);
        cache.insert(2, 20);
        let reader = {
            let cache = cache.clone();
            thread::spawn(move || cache.get(&1))
        };
        cache.insert(3, 30);
        let got = reader.join().unwrap();
        // The reader saw 1 before its eviction, or missed after it.
        assert!(got == Some(10) || got.is_none());
        if got.is_none() {
            assert_eq!(cache.peek(&2), Some(20), "only 1 could have gone");
        }
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.peek(&3), Some(30));
        cache.check_invariants().unwrap();
        let st = cache.stats();
        assert_eq!((st.hits + st.misses, st.inserts, st.evictions), (1, 3, 1));
    });
}

#[test]
fn loom_tinylfu_hit_races_insert() {
    loom::model(|| {
        let cache = Arc::new(
            Cache::builder()
                .max_capacity(3)
                .shards(1)
                .hasher(Fixed::default())
                .clock(ManualClock::new())
                .build()
                .unwrap(),
        );
        for k in 1..=3u8 {
            cache.insert(k, k);
        }
        let reader = {
            let cache = cache.clone();
            thread::spawn(move || (cache.get(&1), cache.get(&2)))
        };
        cache.insert(4, 4);
        let (a, b) = reader.join().unwrap();
        assert!(a.is_none() || a == Some(1));
        assert!(b.is_none() || b == Some(2));
        assert!(cache.len() <= 3);
        cache.check_invariants().unwrap();
    });
}

#[test]
fn loom_single_flight_one_loader_no_lost_wakeup() {
    loom::model(|| {
        let calls = Arc::new(AtomicUsize::new(0));
        let cache = Arc::new(lru(4));
        let other = {
            let (cache, calls) = (cache.clone(), calls.clone());
            thread::spawn(move || {
                cache.get_or_insert_with(3, || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    6
                })
            })
        };
        let mine = cache.get_or_insert_with(3, || {
            calls.fetch_add(1, Ordering::SeqCst);
            6
        });
        let theirs = other.join().unwrap();
        assert_eq!((mine, theirs), (6, 6));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "exactly one loader ran");
        assert_eq!(cache.peek(&3), Some(6));
    });
}

#[test]
fn loom_failed_load_reaches_waiter_and_is_not_cached() {
    loom::model(|| {
        let cache = Arc::new(lru(4));
        let other = {
            let cache = cache.clone();
            thread::spawn(move || cache.try_get_or_insert_with(3, || Err::<u8, &str>("down")))
        };
        let mine = cache.try_get_or_insert_with(3, || Err::<u8, &str>("down"));
        let theirs = other.join().unwrap();
        assert_eq!(mine.unwrap_err().as_ref(), &"down");
        assert_eq!(theirs.unwrap_err().as_ref(), &"down");
        assert_eq!(cache.peek(&3), None, "errors are not cached");
        assert_eq!(cache.get_or_insert_with(3, || 9), 9, "loadable again");
    });
}

#[test]
fn loom_expired_never_returned_and_counted_once() {
    loom::model(|| {
        let clock = ManualClock::new();
        let cache = Arc::new(
            Cache::builder()
                .max_capacity(8)
                .time_to_live(Duration::from_secs(1))
                .shards(1)
                .hasher(Fixed::default())
                .clock(clock.clone())
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
        cache.run_pending_tasks();
        let (got, removed) = reader.join().unwrap();
        assert_eq!(
            (got, removed),
            (None, None),
            "expired entries are never live"
        );
        cache.run_pending_tasks();
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.stats().expirations, 2, "each expiry counted once");
    });
}

/// A thread and a task load one missing key: one loader runs, the waiter
/// (parked thread or registered waker, on the flight's one wait queue) is
/// woken with its value.
#[test]
fn loom_async_and_blocking_share_one_flight() {
    loom::model(|| {
        let cache = Arc::new(lru(4));
        let loads = Arc::new(AtomicUsize::new(0));
        let t = {
            let (cache, loads) = (cache.clone(), loads.clone());
            thread::spawn(move || {
                cache.get_or_insert_with(1, || {
                    loads.fetch_add(1, Ordering::SeqCst);
                    10
                })
            })
        };
        let v = loom::future::block_on(cache.get_or_insert_async(1, async {
            loads.fetch_add(1, Ordering::SeqCst);
            10
        }));
        assert_eq!((v, t.join().unwrap()), (10, 10));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    });
}

/// A leading future dropped mid-load hands the load to the waiting thread:
/// it takes over, nothing is left stuck.
#[test]
fn loom_dropped_async_leader_hands_over() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    loom::model(|| {
        let cache = Arc::new(lru(4));
        let mut lead = Box::pin(cache.get_or_insert_async(1, std::future::pending::<u8>()));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(lead.as_mut().poll(&mut cx), Poll::Pending));
        let t = {
            let cache = cache.clone();
            thread::spawn(move || cache.get_or_insert_with(1, || 20))
        };
        drop(lead);
        assert_eq!(t.join().unwrap(), 20);
        assert_eq!(cache.peek(&1), Some(20));
    });
}

/// Keeps the models' deliberate panics off the output (loom replays them
/// once per interleaving).
fn quiet_on_purpose_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
            if !msg.contains("(on purpose)") {
                default(info);
            }
        }));
    });
}

/// A leader whose weigher panics while it stores the loaded value abandons
/// its flight (the guard runs from registration to publication): the other
/// caller, parked on the flight or arriving after, runs its own loader;
/// nobody waits forever and the panicked load is not stored.
#[test]
fn loom_panicking_leader_abandons_to_the_waiter() {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    quiet_on_purpose_panics();
    loom::model(|| {
        let cache = Arc::new(
            Cache::builder()
                .max_capacity(4)
                .policy(Policy::Lru)
                .shards(1)
                .hasher(Fixed::default())
                .clock(ManualClock::new())
                .weigher(|_: &u8, v: &u8| {
                    if *v == 0 {
                        panic!("weigher panicked (on purpose)");
                    }
                    1
                })
                .build()
                .unwrap(),
        );
        let other = {
            let cache = cache.clone();
            thread::spawn(move || {
                catch_unwind(AssertUnwindSafe(|| cache.get_or_insert_with(1, || 0))).ok()
            })
        };
        let mine = cache.get_or_insert_with(1, || 10);
        let theirs = other.join().unwrap();
        assert_eq!(mine, 10);
        assert!(theirs.is_none() || theirs == Some(10), "{theirs:?}");
        assert_eq!(cache.peek(&1), Some(10));
    });
}

/// A compute (read-modify-write through the key's flight) races a second
/// compute of the same key: both increments land, whatever the
/// interleaving, and neither caller is left waiting.
#[test]
fn loom_compute_races_compute_no_lost_update() {
    use latchwork::cache::Op;
    loom::model(|| {
        let cache = Arc::new(lru(4));
        let add = |old: Option<&u8>| Op::Put(old.map_or(1, |n| n + 1));
        let other = {
            let cache = cache.clone();
            thread::spawn(move || {
                cache.entry(5).and_compute_with(add);
            })
        };
        cache.entry(5).and_compute_with(add);
        other.join().unwrap();
        assert_eq!(cache.peek(&5), Some(2), "no update lost");
    });
}

/// A compute races a single-flight load of the same key: the load either
/// ran first (the compute then adds to its value) or found the compute's
/// value; never both stored over each other.
#[test]
fn loom_compute_races_load() {
    use latchwork::cache::Op;
    loom::model(|| {
        let cache = Arc::new(lru(4));
        let other = {
            let cache = cache.clone();
            thread::spawn(move || cache.get_or_insert_with(5, || 10))
        };
        cache
            .entry(5)
            .and_compute_with(|old| Op::Put(old.map_or(1, |n| n + 1)));
        let loaded = other.join().unwrap();
        match cache.peek(&5) {
            // The load stored 10 first, then the compute added one.
            Some(11) => assert_eq!(loaded, 10),
            // The compute stored 1 first; the load found (or waited for) it.
            Some(1) => assert_eq!(loaded, 1),
            v => panic!("lost or doubled update: {v:?}, load saw {loaded}"),
        }
    });
}

/// A compute races a plain insert and an invalidation of its key: a plain
/// write never waits for the compute, and the compute is applied on top of
/// whatever the write left (it starts over), never underneath it.
#[test]
fn loom_compute_races_insert_and_invalidate() {
    use latchwork::cache::Op;
    loom::model(|| {
        let cache = Arc::new(lru(4));
        let other = {
            let cache = cache.clone();
            thread::spawn(move || {
                cache.insert(5, 10);
                cache.invalidate_all();
            })
        };
        cache
            .entry(5)
            .and_compute_with(|old| Op::Put(old.map_or(1, |n| n + 1)));
        other.join().unwrap();
        // Either the compute landed after the invalidation (1), or before
        // it (nothing left).
        let v = cache.peek(&5);
        assert!(matches!(v, None | Some(1)), "compute under a write: {v:?}");
        cache.check_invariants().unwrap();
    });
}
