#![cfg(all(feature = "queue", feature = "async", not(loom)))]
//! The async forms of the priority queue and the task pool, under tokio's
//! multi-threaded runtime and `futures::executor` (with OS threads for
//! concurrency). Cancellation is tested by dropping `pop_async` futures
//! at random polls (proptest) and with `tokio::select!` against timers;
//! `close` against blocked threads and pending tasks; task handles awaited
//! for a value, a panic and a cancellation; shutdown awaited.

use latchwork::queue::{Closed, Level, PopFuture, Priority, PriorityQueue, TaskError, TaskQueue};
use proptest::prelude::*;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn lv(n: u8) -> Level {
    Level::new(n).unwrap()
}

/// Polls `fut` once with a no-op waker.
fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn futures_and_errors_are_send_sync() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}
    let q: PriorityQueue<u64> = PriorityQueue::new();
    assert_send(&q.pop_async());
    assert_send_sync::<PopFuture<'static, u64>>();
    assert_send_sync::<Closed<u64>>();
    let pool = TaskQueue::new(0).unwrap();
    assert_send(&pool.shutdown_async());
    assert_send(&pool.submit(Priority::Low, || 1u8));
    assert!(format!("{:?}", q.pop_async()).contains("PopFuture"));
    assert_eq!(format!("{:?}", Closed(1u8)), "Closed(..)");
    assert!(Closed(1u8).to_string().contains("closed"));
}

/// One producer thread, consumer tasks on tokio's runtime: every item
/// exactly once, and a consumer sees its levels' items in order.
#[test]
fn pop_async_under_tokio_delivers_everything_once() {
    const N: u64 = 20_000;
    let rt = tokio_rt();
    let q = Arc::new(PriorityQueue::new());
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let q = q.clone();
            rt.spawn(async move {
                let mut got = vec![];
                while let Some((l, v)) = q.pop_async().await {
                    got.push((l, v));
                }
                got
            })
        })
        .collect();
    let producer = {
        let q = q.clone();
        std::thread::spawn(move || {
            for i in 0..N {
                q.push(lv((i % 4) as u8), i).unwrap();
            }
            q.close();
        })
    };
    producer.join().unwrap();
    let mut all = vec![];
    for c in consumers {
        let got = rt.block_on(c).unwrap();
        for l in 0..4u8 {
            let mine: Vec<u64> = got
                .iter()
                .filter(|(g, _)| *g == lv(l))
                .map(|p| p.1)
                .collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "level {l} out of order"
            );
        }
        all.extend(got.into_iter().map(|p| p.1));
    }
    all.sort_unstable();
    assert_eq!(all, (0..N).collect::<Vec<_>>());
}

/// The same under `futures::executor`, consumers on OS threads, and a
/// strict-priority check on a prefilled queue.
#[test]
fn pop_async_under_futures_executor() {
    let q = Arc::new(PriorityQueue::new());
    for i in 0..100u32 {
        q.push(lv((i % 4) as u8), i).unwrap();
    }
    let order: Vec<u32> = futures::executor::block_on(async {
        let mut v = vec![];
        for _ in 0..100 {
            v.push(q.pop_async().await.unwrap().1);
        }
        v
    });
    let mut want: Vec<u32> = (0..100).collect();
    want.sort_by_key(|i| (i % 4, *i));
    assert_eq!(order, want, "strict priority, FIFO per level");

    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let q = q.clone();
            std::thread::spawn(move || {
                futures::executor::block_on(async {
                    let mut n = 0u64;
                    while let Some((_, v)) = q.pop_async().await {
                        n += u64::from(v);
                    }
                    n
                })
            })
        })
        .collect();
    for i in 0..5_000u32 {
        q.push(lv((i % 8) as u8), i).unwrap();
    }
    q.close();
    let sum: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(sum, (0..5_000u64).sum::<u64>());
}

/// `select!` against a random short timer cancels pops at random points
/// while a producer task pushes: every item is popped exactly once.
#[test]
fn select_cancelled_pop_async_loses_nothing() {
    tokio_rt().block_on(async {
        let q = Arc::new(PriorityQueue::new());
        let producer = {
            let q = q.clone();
            tokio::spawn(async move {
                for i in 0..3_000u64 {
                    q.push(lv((i % 4) as u8), i).unwrap();
                    if i % 32 == 0 {
                        tokio::time::sleep(Duration::from_micros(20)).await;
                    }
                }
                q.close();
            })
        };
        let mut got = vec![];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        loop {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let wait = Duration::from_micros(seed % 50);
            tokio::select! {
                r = q.pop_async() => match r {
                    Some((_, v)) => got.push(v),
                    None => break,
                },
                _ = tokio::time::sleep(wait) => {}
            }
        }
        producer.await.unwrap();
        got.sort_unstable();
        assert_eq!(got, (0..3_000).collect::<Vec<_>>());
    });
}

proptest! {
    /// Pop futures dropped after a random number of polls, interleaved with
    /// pushes, against a plain count: every pushed item is popped exactly
    /// once, and a dropped pending future leaves no waker behind (the last
    /// drain sees everything).
    #[test]
    fn cancelled_pops_lose_and_duplicate_nothing(
        ops in proptest::collection::vec((0u8..3, 0usize..3, any::<bool>()), 1..80)
    ) {
        let q = PriorityQueue::new();
        let mut next = 0u32;
        let mut got = vec![];
        // A future kept across pushes, then dropped or finished.
        let mut held: Option<Pin<Box<PopFuture<'_, u32>>>> = None;
        for (op, polls, keep) in ops {
            match op {
                0 => {
                    q.push(lv((next % 4) as u8), next).unwrap();
                    next += 1;
                }
                1 => {
                    let mut f = Box::pin(q.pop_async());
                    for _ in 0..=polls {
                        if let Poll::Ready(r) = poll_once(f.as_mut()) {
                            got.push(r.unwrap().1);
                            break;
                        }
                    }
                    if keep && held.is_none() {
                        held = Some(f);
                    }
                }
                _ => {
                    if let Some(mut f) = held.take() {
                        if let Poll::Ready(r) = poll_once(f.as_mut()) {
                            got.push(r.unwrap().1);
                        }
                    }
                }
            }
        }
        drop(held);
        q.close();
        while let Some((_, v)) = futures::executor::block_on(q.pop_async()) {
            got.push(v);
        }
        got.sort_unstable();
        prop_assert_eq!(got, (0..next).collect::<Vec<_>>());
        q.check_invariants().unwrap();
    }
}

/// `close` wakes a thread blocked in `pop`, one in `pop_timeout` and
/// pending tasks; queued items are drained first; later pushes are
/// refused with their item.
#[test]
fn close_wakes_blocking_and_async_waiters() {
    let q = Arc::new(PriorityQueue::<u32>::new());
    let started = Arc::new(Barrier::new(3));
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let (q, started) = (q.clone(), started.clone());
            std::thread::spawn(move || {
                started.wait();
                if i == 0 {
                    q.pop()
                } else {
                    q.pop_timeout(Duration::from_secs(3600))
                }
            })
        })
        .collect();
    let rt = tokio_rt();
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let q = q.clone();
            rt.spawn(async move { q.pop_async().await })
        })
        .collect();
    started.wait();
    // The waiters are blocked or pending: polled once, no item, no close.
    let mut probe = pin!(q.pop_async());
    assert!(poll_once(probe.as_mut()).is_pending());
    q.close();
    assert!(q.is_closed());
    assert_eq!(poll_once(probe.as_mut()), Poll::Ready(None));
    for t in threads {
        assert_eq!(t.join().unwrap(), None);
    }
    for t in tasks {
        assert_eq!(rt.block_on(t).unwrap(), None);
    }
    assert_eq!(q.push(Priority::High, 7), Err(Closed(7)));
    assert_eq!(q.push(Priority::High, 8).unwrap_err().into_inner(), 8);
    assert!(q.is_empty());
}

#[test]
fn pops_drain_after_close_then_report_the_end() {
    let q = PriorityQueue::new();
    q.push(Priority::Low, 'l').unwrap();
    q.push(Priority::Critical, 'c').unwrap();
    q.close();
    assert!(q.push(Priority::Critical, 'x').is_err());
    assert_eq!(q.pop().map(|p| p.1), Some('c'));
    assert_eq!(
        futures::executor::block_on(q.pop_async()).map(|p| p.1),
        Some('l')
    );
    assert_eq!(q.pop(), None);
    assert_eq!(q.pop_timeout(Duration::from_secs(3600)), None);
    assert_eq!(futures::executor::block_on(q.pop_async()), None);
}

#[test]
fn task_handles_awaited() {
    let pool = TaskQueue::new(2).unwrap();
    let ok = pool.submit(Priority::High, || 6 * 7);
    let boom = pool.submit(Priority::Low, || -> u8 { panic!("disk full") });
    let rt = tokio_rt();
    assert_eq!(rt.block_on(ok), Ok(42));
    assert_eq!(
        futures::executor::block_on(boom),
        Err(TaskError::Panicked("disk full".into()))
    );
    // Awaited from many tasks at once, on both executors.
    let handles: Vec<_> = (0..64u32)
        .map(|i| pool.submit(lv((i % 4) as u8), move || i * 2))
        .collect();
    let (a, b): (Vec<_>, Vec<_>) = handles.into_iter().partition(|h| h.id().get() % 2 == 0);
    let joined: Vec<_> = a.into_iter().map(|h| rt.spawn(h)).collect();
    let mut sum: u32 = b
        .into_iter()
        .map(|h| futures::executor::block_on(h).unwrap())
        .sum();
    for j in joined {
        sum += rt.block_on(j).unwrap().unwrap();
    }
    assert_eq!(sum, (0..64).map(|i| i * 2).sum::<u32>());
    rt.block_on(pool.shutdown_async());
    let st = pool.stats();
    assert_eq!((st.completed, st.panicked, st.cancelled), (65, 1, 0));
}

/// A handle polled while its task waits, then dropped: the task still runs
/// (dropping the future is dropping the handle), and a handle of a task
/// cancelled at shutdown resolves `Cancelled`.
#[test]
fn dropped_and_cancelled_handles() {
    let pool = TaskQueue::new(0).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let mut h = Box::pin(pool.submit(Priority::High, move || r.fetch_add(1, Ordering::SeqCst)));
    assert!(poll_once(h.as_mut()).is_pending());
    drop(h);
    let later = pool.submit_after(Duration::from_secs(3600), Priority::High, || 1u8);
    let mut pending = Box::pin(pool.submit(Priority::Low, || 2u8));
    assert!(poll_once(pending.as_mut()).is_pending());
    futures::executor::block_on(pool.shutdown_async());
    assert_eq!(
        ran.load(Ordering::SeqCst),
        1,
        "the dropped handle's task ran"
    );
    assert_eq!(futures::executor::block_on(pending), Ok(2));
    assert_eq!(
        futures::executor::block_on(later),
        Err(TaskError::Cancelled)
    );
    // Submitted after shutdown: cancelled at once.
    let late = pool.submit(Priority::High, || 3u8);
    assert_eq!(tokio_rt().block_on(late), Err(TaskError::Cancelled));
    let st = pool.stats();
    assert_eq!((st.submitted, st.completed, st.cancelled), (4, 2, 2));
}

/// `shutdown_async` waits for a running task without blocking the
/// executor: a task on the same runtime makes progress meanwhile; and
/// `shutdown_now_async` reports what it cancelled.
#[test]
fn shutdown_awaited() {
    let rt = tokio_rt();
    let pool = Arc::new(TaskQueue::new(1).unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let slow = pool.submit(Priority::High, move || rx.recv().is_ok());
    let queued: Vec<_> = (0..10u8)
        .map(|i| pool.submit(Priority::Low, move || i))
        .collect();
    let p = pool.clone();
    let shut = rt.spawn(async move { p.shutdown_async().await });
    // The shutdown is pending on the running task; another task runs.
    rt.block_on(async {
        tokio::time::sleep(Duration::from_millis(5)).await;
    });
    assert!(!shut.is_finished());
    tx.send(()).unwrap();
    rt.block_on(shut).unwrap();
    assert_eq!(rt.block_on(slow), Ok(true));
    let values: Vec<u8> = queued
        .into_iter()
        .map(|h| rt.block_on(h).unwrap())
        .collect();
    assert_eq!(values, (0..10).collect::<Vec<_>>(), "drained in order");

    let pool = TaskQueue::new(0).unwrap();
    let hs: Vec<_> = (0..5)
        .map(|i| pool.submit(Priority::Low, move || i))
        .collect();
    assert_eq!(rt.block_on(pool.shutdown_now_async()), 5);
    for h in hs {
        assert_eq!(futures::executor::block_on(h), Err(TaskError::Cancelled));
    }
}
