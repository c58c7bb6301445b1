#![cfg(all(not(loom), feature = "clock", feature = "ttl"))]
//! Single-flight memoization: one load per missing key under concurrency,
//! errors shared and not cached, panics contained to the loading thread.

use latchwork::clock::ManualClock;
use latchwork::ttl::{MemoError, Memoized};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// Waits (yielding, not sleeping) until `cond` holds.
fn wait_until(cond: impl Fn() -> bool) {
    while !cond() {
        std::thread::yield_now();
    }
}

#[test]
fn eight_callers_one_load() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let memo = {
        let calls = Arc::clone(&calls);
        Arc::new(
            Memoized::builder(move |k: &u32| {
                calls.fetch_add(1, Ordering::SeqCst);
                gate.lock().unwrap().recv().unwrap(); // hold the load open
                Ok::<_, String>(k * 10)
            })
            .clock(ManualClock::new())
            .build()
            .unwrap(),
        )
    };
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let memo = Arc::clone(&memo);
            std::thread::spawn(move || memo.get(&7))
        })
        .collect();
    // Every caller has missed and joined (or started) the one flight.
    wait_until(|| memo.stats().misses == 8);
    // Another key is not blocked by the load in flight.
    let other = {
        let memo = Arc::clone(&memo);
        std::thread::spawn(move || memo.get(&8))
    };
    wait_until(|| calls.load(Ordering::SeqCst) == 2);
    release.send(()).unwrap();
    release.send(()).unwrap();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), 70);
    }
    assert_eq!(other.join().unwrap().unwrap(), 80);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one load per key");
    let st = memo.stats();
    assert_eq!((st.loads, st.load_failures), (2, 0));
    assert_eq!(memo.get(&7).unwrap(), 70);
    assert_eq!(memo.stats().hits, 1);
}

#[test]
fn errors_reach_every_waiter_and_are_not_cached() {
    let calls = Arc::new(AtomicUsize::new(0));
    let memo = {
        let calls = Arc::clone(&calls);
        Memoized::builder(move |k: &u32| {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(format!("backend down for {k}"))
            } else {
                Ok(*k)
            }
        })
        .build()
        .unwrap()
    };
    match memo.get(&1) {
        Err(MemoError::Load(e)) => assert_eq!(*e, "backend down for 1"),
        other => panic!("expected a load error, got {other:?}"),
    }
    assert_eq!(memo.get(&1).unwrap(), 1, "the error was not cached");
    assert_eq!(memo.stats().load_failures, 1);
    assert_eq!(memo.stats().loads, 2);
}

#[test]
fn panicking_loader_leaves_no_poisoned_entry() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let memo = {
        let calls = Arc::clone(&calls);
        Arc::new(
            Memoized::builder(move |k: &u32| {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    gate.lock().unwrap().recv().unwrap();
                    panic!("loader bug");
                }
                Ok::<_, String>(*k + 1)
            })
            .build()
            .unwrap(),
        )
    };
    let leader = {
        let memo = Arc::clone(&memo);
        std::thread::spawn(move || memo.get(&5))
    };
    wait_until(|| calls.load(Ordering::SeqCst) == 1);
    let waiter = {
        let memo = Arc::clone(&memo);
        std::thread::spawn(move || memo.get(&5))
    };
    wait_until(|| memo.stats().misses == 2);
    release.send(()).unwrap();
    assert!(
        leader.join().is_err(),
        "the panic propagates on the loading thread"
    );
    // The waiter takes the load over (or missed the flight and loaded).
    assert_eq!(waiter.join().unwrap().unwrap(), 6);
    assert_eq!(memo.get(&5).unwrap(), 6, "loadable again");
}

#[test]
fn invalidate_during_a_load_discards_its_result() {
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let calls = Arc::new(AtomicUsize::new(0));
    let memo = {
        let calls = Arc::clone(&calls);
        Arc::new(
            Memoized::builder(move |k: &u32| {
                let n = calls.fetch_add(1, Ordering::SeqCst) as u32;
                if n == 0 {
                    gate.lock().unwrap().recv().unwrap();
                }
                Ok::<_, String>(k * 100 + n)
            })
            .build()
            .unwrap(),
        )
    };
    let leader = {
        let memo = Arc::clone(&memo);
        std::thread::spawn(move || memo.get(&7))
    };
    wait_until(|| calls.load(Ordering::SeqCst) == 1);
    memo.invalidate(&7); // the source changed while the load ran
    release.send(()).unwrap();
    assert_eq!(leader.join().unwrap().unwrap(), 700, "its caller gets it");
    assert_eq!(
        memo.cache().peek(&7),
        None,
        "but the stale result is not cached"
    );
    assert_eq!(memo.get(&7).unwrap(), 701, "the next get loads fresh");
}

#[test]
fn ttl_invalidate_and_expiry_reload() {
    let clock = ManualClock::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let memo = {
        let calls = Arc::clone(&calls);
        Memoized::builder(move |k: &u32| {
            Ok::<_, String>(k + calls.fetch_add(1, Ordering::SeqCst) as u32)
        })
        .ttl(Duration::from_secs(10))
        .clock(clock.clone())
        .build()
        .unwrap()
    };
    assert_eq!(memo.get(&100).unwrap(), 100);
    clock.advance(Duration::from_secs(9));
    assert_eq!(memo.get(&100).unwrap(), 100, "still fresh");
    clock.advance(Duration::from_secs(1));
    assert_eq!(memo.get(&100).unwrap(), 101, "expired at 10 s, reloaded");
    memo.invalidate(&100);
    assert_eq!(memo.get(&100).unwrap(), 102);
    memo.invalidate_all();
    assert_eq!(memo.get(&100).unwrap(), 103);
    assert_eq!(memo.stats().loads, 4);
}
