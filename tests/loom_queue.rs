#![cfg(all(loom, feature = "queue"))]
//! loom models of `PriorityQueue`'s protocol and of the pool built on it.
//!
//! Each level's FIFO is this crate's own ring (`src/queue/ring.rs`) with a
//! locked overflow, all on the loom shim, so these models explore the ring's
//! stamps, the overflow switch, the occupancy word with its lazy, batched
//! clear and re-set handshake, the clear-in-flight detection, and the
//! park/wake handshake. A lost wake-up shows up as a loom deadlock.
use latchwork::queue::{Level, PriorityQueue, TaskQueue};
use loom::sync::Arc;
use loom::thread;

fn lv(n: u8) -> Level {
    Level::new(n).unwrap()
}

/// `loom::model` with room for the queue's 64 levels: the final drain and
/// `check_invariants` look at every level, which is many branch points but
/// no interleavings (they run after the joins).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 20_000;
    builder.check(f);
}

/// A popper that finds the queue empty clears the `STALE_LIMIT` (4) stale
/// bits it passed over while a push to one of those levels lands, and a pop
/// that starts after that push returned (a thread the pusher spawns) runs
/// while the clear is in flight: the item is never stranded behind a clear
/// bit. (The late pop is a spawned thread rather than a flag check so that
/// the interesting schedule needs only two preemptions.)
#[test]
fn loom_empty_pop_clear_races_push_and_a_later_pop() {
    model(|| {
        let q = Arc::new(PriorityQueue::new());
        // Levels 0..4 have their bits set (cleared lazily) but are empty.
        for l in 0..4 {
            q.push(lv(l), 10u32).unwrap();
            assert_eq!(q.try_pop().map(|(_, v)| v), Some(10));
        }
        let clearer = {
            let q = q.clone();
            thread::spawn(move || q.try_pop().map(|(_, v)| v))
        };
        let pusher = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(lv(0), 30).unwrap();
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
        match (early, late) {
            (Some(30), None) | (None, Some(30)) => {}
            other => panic!("30 popped as {other:?}"),
        }
        assert_eq!(q.try_pop(), None);
    });
}

/// The batched clear on the item path: a pop passes over `STALE_LIMIT` (4)
/// stale bits on its way to level 4, and clears them, while a push to level
/// 0 lands and a pop that starts after that push returned runs: that pop
/// never passes over level 0 for the less urgent item.
#[test]
fn loom_batched_clear_races_push_and_a_later_pop() {
    model(|| {
        let q = Arc::new(PriorityQueue::new());
        // Levels 0..4 have their bits set but are empty; level 4 holds 20.
        for l in 0..4 {
            q.push(lv(l), 10u32).unwrap();
            assert_eq!(q.try_pop().map(|(_, v)| v), Some(10));
        }
        q.push(lv(4), 20).unwrap();
        let clearer = {
            let q = q.clone();
            thread::spawn(move || q.try_pop().map(|(_, v)| v))
        };
        let pusher = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(lv(0), 30).unwrap();
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

/// Rings of one slot: a producer's three pushes to one level go through the
/// ring and the overflow while a consumer pops twice. Every item exactly
/// once, and each thread sees the level in push order (the overflow stays
/// behind the ring, and the ring's stamps wrap a lap).
#[test]
fn loom_overflow_keeps_fifo_against_a_racing_pop() {
    model(|| {
        let q = Arc::new(PriorityQueue::with_ring_capacity(1).unwrap());
        let pusher = {
            let q = q.clone();
            thread::spawn(move || {
                for v in 1..=3u32 {
                    q.push(lv(1), v).unwrap();
                }
            })
        };
        let popper = {
            let q = q.clone();
            thread::spawn(move || {
                let a = q.try_pop().map(|(_, v)| v);
                let b = q.try_pop().map(|(_, v)| v);
                [a, b]
            })
        };
        let got: Vec<u32> = popper.join().unwrap().into_iter().flatten().collect();
        pusher.join().unwrap();
        assert!(got.windows(2).all(|w| w[0] < w[1]), "popper saw {got:?}");
        let rest: Vec<u32> = std::iter::from_fn(|| q.try_pop().map(|(_, v)| v)).collect();
        assert!(
            got.last().is_none_or(|&g| rest.iter().all(|&r| r > g)),
            "{got:?} then {rest:?}"
        );
        assert_eq!(got.len() + rest.len(), 3);
        q.check_invariants().unwrap();
    });
}

/// The pop that empties a level's overflow clears the overflow flag while a
/// push to that level races it: the pushed item is never stranded in an
/// overflow nobody looks at, and a pop that starts after the push returned
/// finds it (or the item was taken by the racing pop).
#[test]
fn loom_overflow_drain_races_push() {
    model(|| {
        let q = Arc::new(PriorityQueue::with_ring_capacity(1).unwrap());
        q.push(lv(0), 1u32).unwrap(); // the ring
        q.push(lv(0), 2).unwrap(); // the overflow
        assert_eq!(q.try_pop().map(|(_, v)| v), Some(1));
        let drainer = {
            let q = q.clone();
            thread::spawn(move || q.try_pop().map(|(_, v)| v))
        };
        let pusher = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(lv(0), 3).unwrap();
                let q2 = q.clone();
                thread::spawn(move || q2.try_pop().map(|(_, v)| v))
                    .join()
                    .unwrap()
            })
        };
        let first = drainer.join().unwrap();
        let late = pusher.join().unwrap();
        let late = late.expect("an item was queued when the late pop began");
        let mut all: Vec<u32> = first.into_iter().chain([late]).collect();
        while let Some((_, v)) = q.try_pop() {
            all.push(v);
        }
        q.check_invariants().unwrap();
        // 2 was queued before both pops began, and pushed before 3: the
        // late pop takes 3 only if the drainer took 2, and the drainer finds
        // nothing only if the late pop took 2 first.
        if late == 3 {
            assert_eq!(first, Some(2), "3 overtook 2 in the late pop");
        }
        if first.is_none() {
            assert_eq!(late, 2, "the drainer missed 2");
        }
        all.sort_unstable();
        assert_eq!(all, [2, 3]);
    });
}

/// Two pushes to one level race two pops: each item exactly once, and a pop
/// that starts after both pushes returned finds the first one first.
#[test]
fn loom_fifo_within_a_level_under_races() {
    model(|| {
        let q = Arc::new(PriorityQueue::new());
        let pusher = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(lv(2), 1u32).unwrap();
                q.push(lv(2), 2).unwrap();
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
    model(|| {
        let q = Arc::new(PriorityQueue::new());
        let popper = {
            let q = q.clone();
            thread::spawn(move || q.pop().unwrap())
        };
        q.push(lv(5), 7u8).unwrap();
        assert_eq!(popper.join().unwrap(), (lv(5), 7));
    });
}

/// Two parked poppers, two pushes from one thread: both poppers are woken
/// and each gets one item.
#[test]
fn loom_two_pushes_wake_two_parked_pops() {
    model(|| {
        let q = Arc::new(PriorityQueue::new());
        let poppers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || q.pop().unwrap().1)
            })
            .collect();
        q.push(lv(0), 1u8).unwrap();
        q.push(lv(1), 2).unwrap();
        let mut got: Vec<u8> = poppers.into_iter().map(|p| p.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// A pop parks on a level whose stale bit is set and whose ring is not
/// armed (pushed and popped once); a push there must still wake it.
#[test]
fn loom_push_to_a_stale_level_wakes_a_parked_pop() {
    model(|| {
        let q = Arc::new(PriorityQueue::new());
        q.push(lv(1), 0u8).unwrap();
        assert_eq!(q.try_pop(), Some((lv(1), 0)));
        let popper = {
            let q = q.clone();
            thread::spawn(move || q.pop().unwrap())
        };
        q.push(lv(1), 7u8).unwrap();
        assert_eq!(popper.join().unwrap(), (lv(1), 7));
    });
}

/// A one-worker pool: a submitted task runs exactly once and its handle
/// resolves; a graceful shutdown racing the worker loses nothing.
#[test]
fn loom_pool_submit_join_shutdown() {
    model(|| {
        let pool = TaskQueue::new(1).unwrap();
        let h = pool.submit(lv(0), || 3u8);
        pool.shutdown();
        assert_eq!(h.join(), Ok(3));
        let st = pool.stats();
        assert_eq!((st.completed, st.cancelled), (1, 0));
    });
}

/// A task awaiting `pop_async` registers its waker while a push lands on
/// another thread: the registration and the push's notification never
/// miss each other (a lost wake-up leaves `block_on` stuck, which loom
/// reports), the task gets the item, and no waker is left behind.
#[test]
fn loom_push_wakes_an_awaiting_pop_async() {
    model(|| {
        let q = Arc::new(PriorityQueue::new());
        let pusher = {
            let q = q.clone();
            thread::spawn(move || q.push(lv(3), 9u8).unwrap())
        };
        assert_eq!(loom::future::block_on(q.pop_async()), Some((lv(3), 9)));
        pusher.join().unwrap();
        assert_eq!(q.try_pop(), None);
    });
}

/// `close` races a blocked `pop` and an awaiting `pop_async`: both are
/// woken and report the end, and a push after the close is refused with
/// its item.
#[test]
fn loom_close_wakes_blocking_and_async_pops() {
    model(|| {
        let q = Arc::new(PriorityQueue::<u8>::new());
        let popper = {
            let q = q.clone();
            thread::spawn(move || q.pop())
        };
        let closer = {
            let q = q.clone();
            thread::spawn(move || q.close())
        };
        assert_eq!(loom::future::block_on(q.pop_async()), None);
        assert_eq!(popper.join().unwrap(), None);
        closer.join().unwrap();
        assert_eq!(q.push(lv(0), 1).map_err(|c| c.into_inner()), Err(1));
    });
}
