#![cfg(loom)]
//! loom models of `PriorityQueue`'s protocol and of the pool built on it.
//!
//! Under `--cfg loom` each level's FIFO is a shim `Mutex<VecDeque>` (crossbeam
//! is not loom-aware), so these models explore this crate's own protocol:
//! the occupancy word and its clear/re-set handshake, the clear-in-flight
//! detection, and the park/wake handshake. A lost wake-up shows up as a loom
//! deadlock.
use latchwork::queue::{Level, PriorityQueue, TaskQueue};
use loom::sync::Arc;
use loom::thread;

fn lv(n: u8) -> Level {
    Level::new(n).unwrap()
}

/// A popper clears the stale bit of an empty level while a push to that
/// level lands, and a pop that starts after that push returned (a thread the
/// pusher spawns) runs while the clear is in flight: the item is never
/// stranded behind a clear bit, and the late pop never passes over it for a
/// less urgent one. (The late pop is a spawned thread rather than a flag
/// check so that the interesting schedule needs only two preemptions.)
#[test]
fn loom_clear_races_push_and_a_later_pop() {
    loom::model(|| {
        let q = Arc::new(PriorityQueue::new());
        // Level 0's bit is set but the level is empty; level 1 holds 20.
        q.push(lv(0), 10u32);
        assert_eq!(q.try_pop().map(|(_, v)| v), Some(10));
        q.push(lv(1), 20);
        let clearer = {
            let q = q.clone();
            thread::spawn(move || q.try_pop().map(|(_, v)| v))
        };
        let pusher = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(lv(0), 30);
                // Spawned after the push returned: a pop "pushed before".
                let q2 = q.clone();
                thread::spawn(move || q2.try_pop().map(|(_, v)| v))
                    .join()
                    .unwrap()
            })
        };
        let early = clearer.join().unwrap();
        let late = pusher.join().unwrap();
        q.check_invariants().unwrap();
        let late = late.expect("an item was queued when the late pop began");
        if late == 20 {
            assert_eq!(early, Some(30), "the late pop passed over level 0");
        }
        let mut all: Vec<u32> = early.into_iter().chain([late]).collect();
        while let Some((_, v)) = q.try_pop() {
            all.push(v);
        }
        all.sort_unstable();
        assert_eq!(all, [20, 30]);
    });
}

/// Two pushes to one level race two pops: each item exactly once, and a pop
/// that starts after both pushes returned finds the first one first.
#[test]
fn loom_fifo_within_a_level_under_races() {
    loom::model(|| {
        let q = Arc::new(PriorityQueue::new());
        let pusher = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(lv(2), 1u32);
                q.push(lv(2), 2);
            })
        };
        let popper = {
            let q = q.clone();
            thread::spawn(move || q.try_pop().map(|(_, v)| v))
        };
        let a = popper.join().unwrap();
        pusher.join().unwrap();
        let b = q.try_pop().map(|(_, v)| v);
        let c = q.try_pop().map(|(_, v)| v);
        match a {
            Some(1) => assert_eq!((b, c), (Some(2), None)),
            None => assert_eq!((b, c), (Some(1), Some(2))),
            other => panic!("popped {other:?} before 1"),
        }
        q.check_invariants().unwrap();
    });
}

/// A thread blocked in `pop` is always woken by a push (no lost wake-up:
/// loom reports a deadlock otherwise).
#[test]
fn loom_push_wakes_a_parked_pop() {
    loom::model(|| {
        let q = Arc::new(PriorityQueue::new());
        let popper = {
            let q = q.clone();
            thread::spawn(move || q.pop())
        };
        q.push(lv(5), 7u8);
        assert_eq!(popper.join().unwrap(), (lv(5), 7));
    });
}

/// Two parked poppers, two pushes from one thread: both poppers are woken
/// and each gets one item.
#[test]
fn loom_two_pushes_wake_two_parked_pops() {
    loom::model(|| {
        let q = Arc::new(PriorityQueue::new());
        let poppers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || q.pop().1)
            })
            .collect();
        q.push(lv(0), 1u8);
        q.push(lv(1), 2);
        let mut got: Vec<u8> = poppers.into_iter().map(|p| p.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// A one-worker pool: a submitted task runs exactly once and its handle
/// resolves; a graceful shutdown racing the worker loses nothing.
#[test]
fn loom_pool_submit_join_shutdown() {
    loom::model(|| {
        let pool = TaskQueue::new(1).unwrap();
        let h = pool.submit(lv(0), || 3u8);
        pool.shutdown();
        assert_eq!(h.join(), Ok(3));
        let st = pool.stats();
        assert_eq!((st.completed, st.cancelled), (1, 0));
    });
}
