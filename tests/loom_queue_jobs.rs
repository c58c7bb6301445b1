#![cfg(all(loom, feature = "queue", feature = "async"))]
//! loom models of `AsyncTaskQueue`'s submission protocol: the permits
//! (`queued`) and the `room` wait queue, the take under the `take` lock,
//! and shutdown's gate. The pool's workers run on loom threads
//! (`loom::future::block_on`), so a lost wake-up of a waiting submitter, a
//! worker or a shutdown shows up as a loom deadlock, and a task run twice
//! or lost as a failed count.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test
//! --release --test loom_queue_jobs`.
use latchwork::queue::{AsyncTaskQueue, Priority, TaskError, TaskHandle, TrySubmitError, Worker};
use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    // The queue's 64 levels make many branch points but few interleavings.
    builder.max_branches = 20_000;
    builder.check(f);
}

/// A pool whose workers are handed back to run on loom threads.
fn pool(workers: usize, capacity: usize) -> (Arc<AsyncTaskQueue>, Vec<Worker>) {
    let spawned = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let into = spawned.clone();
    let pool = AsyncTaskQueue::builder()
        .workers(workers)
        .capacity(capacity)
        .build(move |w: Worker| into.lock().unwrap().push(w))
        .unwrap();
    let ws = std::mem::take(&mut *spawned.lock().unwrap());
    (Arc::new(pool), ws)
}

/// The value of a future that must be ready now.
fn now<F: Future>(fut: F) -> F::Output {
    match pin!(fut).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("expected the future to be ready"),
    }
}

fn counts(pool: &AsyncTaskQueue) -> (u64, u64, u64, u64) {
    let s = pool.stats();
    (s.submitted, s.completed, s.panicked, s.cancelled)
}

/// Capacity 1, full: a submitter waits for room while the worker takes the
/// queued task and gives the permit back. The waiter is always woken and
/// both tasks run once.
#[test]
fn loom_waiting_submitter_gets_the_room_a_worker_frees() {
    model(|| {
        let (pool, mut workers) = pool(1, 1);
        let a = pool.try_submit(Priority::High, async { 1 }).unwrap();
        let worker = {
            let w = workers.pop().unwrap();
            thread::spawn(move || block_on(w))
        };
        let submitter = {
            let pool = pool.clone();
            thread::spawn(move || {
                block_on(pool.submit_async(Priority::High, async { 2 }))
                    .ok()
                    .unwrap()
            })
        };
        let b = submitter.join().unwrap();
        block_on(pool.shutdown());
        worker.join().unwrap();
        assert_eq!((now(a), now(b)), (Ok(1), Ok(2)));
        assert_eq!(counts(&pool), (2, 2, 0, 0));
        assert_eq!(pool.queued_len(), 0);
    });
}

/// `shutdown_now` races a submission and the worker: the task is refused
/// (handed back), runs once, or is cancelled, and the count `shutdown_now`
/// returns is exactly the tasks it cancelled.
#[test]
fn loom_shutdown_now_races_submit_and_take() {
    model(|| {
        let (pool, mut workers) = pool(1, 2);
        let worker = {
            let w = workers.pop().unwrap();
            thread::spawn(move || block_on(w))
        };
        let submitter = {
            let pool = pool.clone();
            thread::spawn(move || match pool.try_submit(Priority::High, async { 7 }) {
                Ok(h) => Some(h),
                Err(TrySubmitError::Closed(_)) => None,
                Err(TrySubmitError::Full(_)) => panic!("room for two"),
            })
        };
        let cancelled = pool.shutdown_now();
        let handle: Option<TaskHandle<i32>> = submitter.join().unwrap();
        block_on(pool.shutdown());
        worker.join().unwrap();
        let (submitted, completed, panicked, counted) = counts(&pool);
        assert_eq!(panicked, 0);
        assert_eq!(counted, cancelled as u64);
        match handle.map(now) {
            None => assert_eq!((submitted, completed, cancelled), (0, 0, 0)),
            Some(Ok(7)) => assert_eq!((submitted, completed, cancelled), (1, 1, 0)),
            Some(Err(TaskError::Cancelled)) => {
                assert_eq!((submitted, completed, cancelled), (1, 0, 1))
            }
            Some(other) => panic!("unexpected {other:?}"),
        }
        assert_eq!(pool.queued_len(), 0);
    });
}

/// Two submitters wait for one slot; the first is dropped while the
/// worker frees the room: the second still gets it (no wake-up swallowed),
/// and the dropped one queued nothing.
#[test]
fn loom_dropped_waiter_does_not_strand_the_next() {
    model(|| {
        let (pool, mut workers) = pool(1, 1);
        let a = pool.try_submit(Priority::High, async { 1 }).unwrap();
        let mut first = Box::pin(pool.submit_async(Priority::High, async { 9 }));
        assert!(first
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending());
        let second = {
            let pool = pool.clone();
            thread::spawn(move || {
                block_on(pool.submit_async(Priority::High, async { 2 }))
                    .ok()
                    .unwrap()
            })
        };
        let worker = {
            let w = workers.pop().unwrap();
            thread::spawn(move || block_on(w))
        };
        drop(first);
        let b = second.join().unwrap();
        block_on(pool.shutdown());
        worker.join().unwrap();
        assert_eq!((now(a), now(b)), (Ok(1), Ok(2)));
        assert_eq!(counts(&pool), (2, 2, 0, 0));
    });
}
