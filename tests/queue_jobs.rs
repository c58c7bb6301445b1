#![cfg(all(feature = "queue", feature = "async", not(loom)))]
//! `AsyncTaskQueue`: priority order, bounded submission and its cancel
//! safety, panics, shutdown, shutdown_now and drop, exact stats.
//!
//! Most tests run the pool on `Exec`, a hand-written single-threaded
//! executor (no runtime crate): the test decides when the workers run
//! (`run_until_stalled`), so every interleaving below is deterministic and
//! nothing sleeps. Tasks that must wait do so on a `oneshot` gate the test
//! releases. The stress tests run on tokio's multi-threaded runtime.
use futures::channel::oneshot;
use latchwork::queue::{
    AsyncTaskQueue, Closed, Error, Level, Priority, TaskError, TaskHandle, TrySubmitError, Worker,
    MAX_WORKERS,
};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

// ---- a trivial executor ---------------------------------------------------

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Task {
    fut: Mutex<Option<BoxFuture>>,
    scheduled: AtomicBool,
    queue: Arc<Mutex<VecDeque<Arc<Task>>>>,
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        if !self.scheduled.swap(true, Ordering::SeqCst) {
            let q = self.queue.clone();
            q.lock().unwrap().push_back(self);
        }
    }
}

/// Runs spawned futures on the test's thread, only when told to.
#[derive(Default)]
struct Exec {
    queue: Arc<Mutex<VecDeque<Arc<Task>>>>,
    all: Arc<Mutex<Vec<Arc<Task>>>>,
}

impl Exec {
    /// A spawner for the pool's builder.
    fn spawner(&self) -> impl Fn(Worker) + 'static {
        let (queue, all) = (self.queue.clone(), self.all.clone());
        move |w: Worker| {
            let task = Arc::new(Task {
                fut: Mutex::new(Some(Box::pin(w))),
                scheduled: AtomicBool::new(true),
                queue: queue.clone(),
            });
            all.lock().unwrap().push(task.clone());
            queue.lock().unwrap().push_back(task);
        }
    }

    /// Polls woken tasks until none is woken.
    fn run_until_stalled(&self) {
        loop {
            let Some(task) = self.queue.lock().unwrap().pop_front() else {
                return;
            };
            task.scheduled.store(false, Ordering::SeqCst);
            let waker = Waker::from(task.clone());
            let mut slot = task.fut.lock().unwrap();
            if let Some(fut) = slot.as_mut() {
                if fut
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_ready()
                {
                    *slot = None;
                }
            }
        }
    }

    /// Spawned futures that have not completed.
    fn unfinished(&self) -> usize {
        let all = self.all.lock().unwrap();
        all.iter()
            .filter(|t| t.fut.lock().unwrap().is_some())
            .count()
    }
}

/// Like a runtime shutting down: every unfinished future is dropped.
impl Drop for Exec {
    fn drop(&mut self) {
        let all = std::mem::take(&mut *self.all.lock().unwrap());
        for task in all {
            let fut = task.fut.lock().unwrap().take();
            drop(fut);
        }
    }
}

// ---- helpers ----------------------------------------------------------------

fn lv(n: u8) -> Level {
    Level::new(n).unwrap()
}

fn pool_on(exec: &Exec, workers: usize, capacity: usize) -> AsyncTaskQueue {
    AsyncTaskQueue::builder()
        .workers(workers)
        .capacity(capacity)
        .build(exec.spawner())
        .unwrap()
}

/// Records whether it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Flag {
    fn take(&self) -> bool {
        self.0.swap(false, Ordering::SeqCst)
    }
}

fn poll_with<F: Future + ?Sized>(fut: Pin<&mut F>, flag: &Arc<Flag>) -> Poll<F::Output> {
    let waker = Waker::from(flag.clone());
    fut.poll(&mut Context::from_waker(&waker))
}

/// The value of a future that must be ready now.
fn now<F: Future>(fut: F) -> F::Output {
    match pin!(fut).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("expected the future to be ready"),
    }
}

/// A task that waits until the test releases it, then returns `value`.
fn gated<T: Send + 'static>(value: T) -> (oneshot::Sender<()>, impl Future<Output = T> + Send) {
    let (tx, rx) = oneshot::channel::<()>();
    (tx, async move {
        let _ = rx.await;
        value
    })
}

type Log = Arc<Mutex<Vec<String>>>;

fn logged(log: &Log, name: impl Into<String>) -> impl Future<Output = ()> + Send + 'static {
    let (log, name) = (log.clone(), name.into());
    async move { log.lock().unwrap().push(name) }
}

/// A future that records its drop.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn stats_tuple(pool: &AsyncTaskQueue) -> (u64, u64, u64, u64) {
    let s = pool.stats();
    (s.submitted, s.completed, s.panicked, s.cancelled)
}

/// The pool's one worker is busy with a gated task; returns its handle and
/// the gate.
fn occupy(exec: &Exec, pool: &AsyncTaskQueue) -> (oneshot::Sender<()>, TaskHandle<&'static str>) {
    let (gate, fut) = gated("gate");
    let h = pool.try_submit(Priority::Low, fut).unwrap();
    exec.run_until_stalled();
    assert_eq!(pool.running(), 1);
    assert_eq!(pool.queued_len(), 0);
    (gate, h)
}

// ---- API shape ----------------------------------------------------------------

#[test]
fn types_are_send_sync_and_debug() {
    fn assert_send_sync<T: Send + Sync + std::fmt::Debug>() {}
    fn assert_send<T: Send>(_: &T) {}
    assert_send_sync::<AsyncTaskQueue>();
    assert_send_sync::<latchwork::queue::AsyncTaskQueueBuilder>();
    assert_send_sync::<TrySubmitError<u8>>();
    assert_send_sync::<TaskHandle<u8>>();
    fn assert_worker<T: Future<Output = ()> + Send + Unpin + 'static + std::fmt::Debug>() {}
    assert_worker::<Worker>();

    let exec = Exec::default();
    let pool = pool_on(&exec, 1, 4);
    assert_send(&pool.submit_async(Priority::High, async { 1u8 }));
    assert_send(&pool.shutdown());
    let dbg = format!("{pool:?}");
    assert!(
        dbg.contains("AsyncTaskQueue") && dbg.contains("capacity: 4"),
        "{dbg}"
    );
    assert_eq!(
        format!("{:?}", TrySubmitError::Full(1u8)),
        "Full(..)",
        "Debug needs no F: Debug"
    );
    assert!(TrySubmitError::Full(1u8).to_string().contains("full"));
    assert!(TrySubmitError::Closed(1u8)
        .to_string()
        .contains("shut down"));
    assert!(!TrySubmitError::Closed(1u8).is_full());
    assert!(Closed(1u8).to_string().contains("closed"));
}

#[test]
fn builder_rejects_bad_settings() {
    let exec = Exec::default();
    let r = AsyncTaskQueue::builder().capacity(0).build(exec.spawner());
    assert_eq!(r.unwrap_err(), Error::ZeroTaskCapacity);
    let r = AsyncTaskQueue::builder()
        .workers(MAX_WORKERS + 1)
        .build(exec.spawner());
    assert!(matches!(r, Err(Error::TooManyWorkers { .. })));
    assert_eq!(exec.unfinished(), 0, "nothing spawned for a refused pool");
    // A spawner that panics (tokio's `spawn` outside a runtime does).
    let r = AsyncTaskQueue::builder()
        .workers(2)
        .build(|_w: Worker| panic!("no runtime here"));
    match r {
        Err(Error::Spawn(msg)) => assert_eq!(msg, "no runtime here"),
        other => panic!("expected Error::Spawn, got {other:?}"),
    }
    assert!(Error::ZeroTaskCapacity.to_string().contains("capacity"));
}

// ---- order --------------------------------------------------------------------

#[test]
fn one_worker_runs_strictly_by_priority() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 1, 64);
    let log: Log = Arc::default();
    let (gate, g) = occupy(&exec, &pool);
    let order = [
        (lv(48), "low 1"),
        (lv(0), "critical 1"),
        (lv(20), "level 20"),
        (lv(16), "high 1"),
        (lv(0), "critical 2"),
        (lv(48), "low 2"),
        (lv(32), "medium"),
        (lv(16), "high 2"),
    ];
    let handles: Vec<_> = order
        .iter()
        .map(|(l, name)| pool.try_submit(*l, logged(&log, *name)).unwrap())
        .collect();
    assert_eq!(pool.queued_len(), 8);
    exec.run_until_stalled();
    assert!(log.lock().unwrap().is_empty(), "the worker is still busy");
    gate.send(()).unwrap();
    exec.run_until_stalled();
    assert_eq!(now(g), Ok("gate"));
    assert_eq!(
        *log.lock().unwrap(),
        [
            "critical 1",
            "critical 2",
            "high 1",
            "high 2",
            "level 20",
            "medium",
            "low 1",
            "low 2"
        ]
    );
    for h in handles {
        assert_eq!(now(h), Ok(()));
    }
    assert_eq!((pool.queued_len(), pool.running()), (0, 0));
    assert_eq!(stats_tuple(&pool), (9, 9, 0, 0));
}

/// Levels from a fixed pseudo-random sequence: the order run is the stable
/// sort by level of the order submitted (FIFO within a level), as the
/// in-process `PriorityQueue` pops them.
#[test]
fn fifo_within_a_level_matches_the_priority_queue() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 1, 1000);
    let log: Log = Arc::default();
    let (gate, _g) = occupy(&exec, &pool);
    let reference = latchwork::queue::PriorityQueue::new();
    let mut x = 0x2545_f491u32;
    for i in 0..500 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let level = lv((x % 6) as u8 * 7);
        pool.try_submit(level, logged(&log, i.to_string())).unwrap();
        reference.push(level, i.to_string()).unwrap();
    }
    gate.send(()).unwrap();
    exec.run_until_stalled();
    let want: Vec<String> = std::iter::from_fn(|| reference.try_pop().map(|(_, s)| s)).collect();
    assert_eq!(*log.lock().unwrap(), want);
}

// ---- bounded submission ---------------------------------------------------------

#[test]
fn try_submit_when_full_hands_the_future_back() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 1, 2);
    let (gate, _g) = occupy(&exec, &pool);
    let a = pool.try_submit(Priority::High, async { "a" }).unwrap();
    let b = pool.try_submit(Priority::High, async { "b" }).unwrap();
    assert_eq!((pool.queued_len(), pool.capacity()), (2, 2));
    let c = match pool.try_submit(Priority::Critical, async { "c" }) {
        Err(e @ TrySubmitError::Full(_)) => {
            assert!(e.is_full());
            e.into_inner()
        }
        other => panic!("expected Full, got {other:?}"),
    };
    assert_eq!(stats_tuple(&pool).0, 3, "a refused future is not counted");
    gate.send(()).unwrap();
    exec.run_until_stalled();
    // The future handed back is the one submitted: submit it again.
    let c = pool.try_submit(Priority::Critical, c).unwrap();
    exec.run_until_stalled();
    assert_eq!((now(a), now(b), now(c)), (Ok("a"), Ok("b"), Ok("c")));
    assert_eq!(stats_tuple(&pool), (4, 4, 0, 0));
}

#[test]
fn submit_async_waits_for_room_then_queues() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 1, 1);
    let (gate, _g) = occupy(&exec, &pool);
    let a = pool.try_submit(Priority::High, async { 1 }).unwrap();
    let flag = Arc::new(Flag::default());
    let mut waiting = pin!(pool.submit_async(Priority::High, async { 2 }));
    assert!(poll_with(waiting.as_mut(), &flag).is_pending());
    assert!(poll_with(waiting.as_mut(), &flag).is_pending());
    assert!(!flag.take());
    assert_eq!(pool.queued_len(), 1);
    // The worker finishes the gate and takes `a`: room for one.
    gate.send(()).unwrap();
    exec.run_until_stalled();
    assert!(flag.take(), "taking a task wakes the waiting submitter");
    let b = match poll_with(waiting.as_mut(), &flag) {
        Poll::Ready(Ok(h)) => h,
        other => panic!(
            "expected the submission to go through, got {:?}",
            other.is_ready()
        ),
    };
    exec.run_until_stalled();
    assert_eq!((now(a), now(b)), (Ok(1), Ok(2)));
    assert_eq!(stats_tuple(&pool), (3, 3, 0, 0));
}

/// Two submitters wait for one slot. The first is woken with the second,
/// then dropped before it runs again: it queued nothing, dropped its
/// future, and the second takes the room.
#[test]
fn a_dropped_submit_async_queues_nothing_and_swallows_no_wakeup() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 1, 1);
    let (gate, _g) = occupy(&exec, &pool);
    let a = pool.try_submit(Priority::High, async { 1 }).unwrap();

    let dropped = Arc::new(AtomicBool::new(false));
    let ran = Arc::new(AtomicBool::new(false));
    let first = {
        let (guard, ran) = (DropFlag(dropped.clone()), ran.clone());
        pool.submit_async(Priority::Critical, async move {
            let _guard = guard;
            ran.store(true, Ordering::SeqCst);
            0
        })
    };
    let mut first = Box::pin(first);
    let (f1, f2) = (Arc::new(Flag::default()), Arc::new(Flag::default()));
    assert!(poll_with(first.as_mut(), &f1).is_pending());
    let mut second = pin!(pool.submit_async(Priority::High, async { 2 }));
    assert!(poll_with(second.as_mut(), &f2).is_pending());

    gate.send(()).unwrap();
    exec.run_until_stalled();
    assert!(f1.take() && f2.take(), "room wakes every waiting submitter");
    drop(first);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the dropped wait dropped its future"
    );
    let b = match poll_with(second.as_mut(), &f2) {
        Poll::Ready(Ok(h)) => h,
        _ => panic!("the second submitter must get the room"),
    };
    exec.run_until_stalled();
    assert_eq!((now(a), now(b)), (Ok(1), Ok(2)));
    assert!(
        !ran.load(Ordering::SeqCst),
        "the dropped submission never ran"
    );
    assert_eq!(stats_tuple(&pool), (3, 3, 0, 0));
    assert_eq!(pool.queued_len(), 0);

    // Dropped while pending (never woken): nothing queued either, and the
    // room it waited for goes to a later submitter.
    let (gate, _g) = occupy(&exec, &pool);
    let c = pool.try_submit(Priority::High, async { 3 }).unwrap();
    let mut third = Box::pin(pool.submit_async(Priority::High, async { 4 }));
    assert!(poll_with(third.as_mut(), &f1).is_pending());
    drop(third);
    gate.send(()).unwrap();
    exec.run_until_stalled();
    assert_eq!(now(c), Ok(3));
    assert_eq!(pool.queued_len(), 0);
    let d = now(pool.submit_async(Priority::High, async { 5 })).unwrap();
    exec.run_until_stalled();
    assert_eq!(now(d), Ok(5));
    assert_eq!(stats_tuple(&pool), (6, 6, 0, 0));
}

/// The blocking form, from a thread, while the test's thread runs the
/// workers.
#[test]
fn submit_parks_a_thread_until_room() {
    let exec = Exec::default();
    let pool = Arc::new(pool_on(&exec, 1, 1));
    let (gate, _g) = occupy(&exec, &pool);
    let a = pool.try_submit(Priority::High, async { 1 }).unwrap();
    let submitter = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.submit(Priority::High, async { 2 }).ok().unwrap())
    };
    gate.send(()).unwrap();
    exec.run_until_stalled();
    // The thread queues once the worker took `a`; then `b` runs.
    let b = submitter.join().unwrap();
    exec.run_until_stalled();
    assert_eq!((now(a), now(b)), (Ok(1), Ok(2)));
}

// ---- panics -------------------------------------------------------------------

#[test]
fn a_panicking_task_is_counted_and_the_worker_goes_on() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 1, 16);
    let (tx, rx) = oneshot::channel::<()>();
    let boom = pool
        .try_submit(Priority::Critical, async {
            if true {
                panic!("boom");
            }
            0u32
        })
        .unwrap();
    // Panics in a later poll, after a `Pending`.
    let late = pool
        .try_submit(Priority::High, async move {
            let _ = rx.await;
            std::panic::panic_any(7u8);
        })
        .unwrap();
    let fine = pool.try_submit(Priority::Low, async { 5u32 }).unwrap();
    exec.run_until_stalled();
    assert_eq!(now(boom), Err(TaskError::Panicked("boom".into())));
    assert_eq!(pool.running(), 1, "the late panicker is waiting");
    tx.send(()).unwrap();
    exec.run_until_stalled();
    assert_eq!(
        now(late),
        Err(TaskError::Panicked("<non-string panic payload>".into()))
    );
    assert_eq!(now(fine), Ok(5));
    assert_eq!(stats_tuple(&pool), (3, 1, 2, 0));
    assert_eq!(exec.unfinished(), 1, "the worker is alive");
}

// ---- shutdown -------------------------------------------------------------------

#[test]
fn shutdown_runs_everything_queued_then_waits_for_the_workers() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 1, 16);
    let log: Log = Arc::default();
    let (gate, g) = occupy(&exec, &pool);
    let handles: Vec<_> = (0..5u8)
        .map(|i| pool.try_submit(lv(i), logged(&log, i.to_string())).unwrap())
        .collect();
    let flag = Arc::new(Flag::default());
    let mut shutdown = pin!(pool.shutdown());
    assert!(poll_with(shutdown.as_mut(), &flag).is_pending());
    // Refused from now on, the future handed back.
    match pool.try_submit(Priority::Critical, async { 9 }) {
        Err(TrySubmitError::Closed(f)) => assert_eq!(now(f), 9),
        other => panic!("expected Closed, got {other:?}"),
    }
    let refused = now(pool.submit_async(Priority::Critical, async { 8 }));
    assert_eq!(now(refused.unwrap_err().into_inner()), 8);
    assert!(pool.submit(Priority::Critical, async {}).is_err());

    gate.send(()).unwrap();
    exec.run_until_stalled();
    assert!(flag.take(), "the last worker's exit wakes the shutdown");
    assert!(poll_with(shutdown.as_mut(), &flag).is_ready());
    assert_eq!(now(g), Ok("gate"));
    for h in handles {
        assert_eq!(now(h), Ok(()));
    }
    assert_eq!(*log.lock().unwrap(), ["0", "1", "2", "3", "4"]);
    assert_eq!(exec.unfinished(), 0, "the worker returned");
    assert_eq!(stats_tuple(&pool), (6, 6, 0, 0));
    now(pool.shutdown()); // idempotent
}

#[test]
fn shutdown_now_cancels_the_queued_tasks_and_counts_them() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 1, 16);
    let (gate, g) = occupy(&exec, &pool);
    let dropped = Arc::new(AtomicBool::new(false));
    let queued: Vec<_> = (0..5)
        .map(|i| {
            let guard = DropFlag(dropped.clone());
            pool.try_submit(Priority::High, async move {
                let _guard = guard;
                i
            })
            .unwrap()
        })
        .collect();
    assert_eq!(pool.shutdown_now(), 5);
    assert!(
        dropped.load(Ordering::SeqCst),
        "cancelled futures are dropped"
    );
    // Resolved at once, before the running task finishes.
    for h in queued {
        assert_eq!(now(h), Err(TaskError::Cancelled));
    }
    assert_eq!(stats_tuple(&pool), (6, 0, 0, 5));
    assert_eq!((pool.queued_len(), pool.running()), (0, 1));
    assert!(matches!(
        pool.try_submit(Priority::High, async {}),
        Err(TrySubmitError::Closed(_))
    ));
    assert_eq!(pool.shutdown_now(), 0);
    // The running task finishes; `shutdown` waits for it.
    let flag = Arc::new(Flag::default());
    let mut shutdown = pin!(pool.shutdown());
    assert!(poll_with(shutdown.as_mut(), &flag).is_pending());
    gate.send(()).unwrap();
    exec.run_until_stalled();
    assert!(poll_with(shutdown.as_mut(), &flag).is_ready());
    assert_eq!(now(g), Ok("gate"));
    assert_eq!(stats_tuple(&pool), (6, 1, 0, 5));
    assert_eq!(exec.unfinished(), 0);
}

/// A task of the pool awaits the pool's shutdown: it does not wait for its
/// own worker, and the tasks queued behind it run (here, inside it).
#[test]
fn shutdown_awaited_by_one_of_its_tasks_does_not_deadlock() {
    let exec = Exec::default();
    let pool = Arc::new(pool_on(&exec, 1, 16));
    let log: Log = Arc::default();
    let closer = {
        let (p, log) = (pool.clone(), log.clone());
        pool.try_submit(Priority::High, async move {
            p.shutdown().await;
            log.lock().unwrap().push("closer".into());
        })
        .unwrap()
    };
    let rest: Vec<_> = (0..3)
        .map(|i| {
            pool.try_submit(Priority::High, logged(&log, i.to_string()))
                .unwrap()
        })
        .collect();
    exec.run_until_stalled();
    assert_eq!(now(closer), Ok(()));
    for h in rest {
        assert_eq!(now(h), Ok(()));
    }
    assert_eq!(*log.lock().unwrap(), ["0", "1", "2", "closer"]);
    assert_eq!(exec.unfinished(), 0);
    assert_eq!(stats_tuple(&pool), (4, 4, 0, 0));
}

#[test]
fn with_zero_workers_tasks_run_inside_shutdown() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 0, 16);
    let log: Log = Arc::default();
    let hs: Vec<_> = [(Priority::Low, "low"), (Priority::Critical, "critical")]
        .into_iter()
        .map(|(p, n)| pool.try_submit(p, logged(&log, n)).unwrap())
        .collect();
    exec.run_until_stalled();
    assert!(log.lock().unwrap().is_empty());
    futures::executor::block_on(pool.shutdown());
    assert_eq!(*log.lock().unwrap(), ["critical", "low"]);
    for h in hs {
        assert_eq!(now(h), Ok(()));
    }
    assert_eq!(stats_tuple(&pool), (2, 2, 0, 0));
}

// ---- drop semantics ---------------------------------------------------------------

/// Dropping the pool drains: the workers run every queued task, then
/// return.
#[test]
fn dropping_the_pool_runs_the_queued_tasks() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 1, 16);
    let (gate, g) = occupy(&exec, &pool);
    let hs: Vec<_> = (0..3)
        .map(|i| pool.try_submit(Priority::Medium, async move { i }).unwrap())
        .collect();
    drop(pool);
    gate.send(()).unwrap();
    exec.run_until_stalled();
    assert_eq!(now(g), Ok("gate"));
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(now(h), Ok(i));
    }
    assert_eq!(exec.unfinished(), 0, "the worker returned");
}

/// With nothing left to run them (no workers, or the executor gone),
/// queued tasks are not lost silently: their handles report `Cancelled`.
#[test]
fn tasks_nobody_can_run_report_cancelled() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 0, 16);
    let h = pool.try_submit(Priority::High, async { 1 }).unwrap();
    drop(pool);
    assert_eq!(now(h), Err(TaskError::Cancelled));

    // The executor drops the worker while it runs a task: that task is
    // cancelled and counted; `shutdown` then runs what is still queued.
    let exec = Exec::default();
    let pool = pool_on(&exec, 1, 16);
    let (_gate, g) = occupy(&exec, &pool);
    let queued = pool.try_submit(Priority::High, async { 2 }).unwrap();
    drop(exec);
    assert_eq!(now(g), Err(TaskError::Cancelled));
    assert_eq!(pool.running(), 0);
    now(pool.shutdown());
    assert_eq!(now(queued), Ok(2));
    assert_eq!(stats_tuple(&pool), (2, 1, 0, 1));
}

#[test]
fn dropping_a_handle_does_not_cancel_its_task() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 1, 16);
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    drop(
        pool.try_submit(
            Priority::High,
            async move { r.store(true, Ordering::SeqCst) },
        )
        .unwrap(),
    );
    exec.run_until_stalled();
    assert!(ran.load(Ordering::SeqCst));
    assert_eq!(stats_tuple(&pool), (1, 1, 0, 0));
}

/// After a mix of outcomes, once quiet: every counter exact and
/// `submitted = completed + panicked + cancelled + queued + running`.
#[test]
fn stats_are_exact_once_quiet() {
    let exec = Exec::default();
    let pool = pool_on(&exec, 2, 64);
    for i in 0..10u32 {
        pool.try_submit(Priority::High, async move {
            assert!(i % 3 != 0, "task {i}");
        })
        .unwrap();
    }
    exec.run_until_stalled();
    let mut gates = vec![];
    for _ in 0..2 {
        let (gate, fut) = gated(());
        pool.try_submit(Priority::Critical, fut).unwrap();
        gates.push(gate);
    }
    exec.run_until_stalled();
    assert_eq!((pool.running(), pool.queued_len()), (2, 0));
    let s = pool.stats();
    assert_eq!((s.submitted, s.completed, s.panicked), (12, 6, 4));
    for _ in 0..7 {
        pool.try_submit(Priority::Low, async {}).unwrap();
    }
    assert_eq!(pool.shutdown_now(), 7);
    for g in gates {
        g.send(()).unwrap();
    }
    exec.run_until_stalled();
    now(pool.shutdown());
    let s = pool.stats();
    assert_eq!(
        (s.submitted, s.completed, s.panicked, s.cancelled),
        (19, 8, 4, 7)
    );
    assert_eq!((pool.running(), pool.queued_len()), (0, 0));
}

// ---- on tokio's multi-threaded runtime -------------------------------------------

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap()
}

/// 8 submitting tasks x 10k tasks, 4 workers, a small queue: every task
/// runs exactly once, every handle has its value, the stats add up.
#[test]
fn tokio_many_submitters_every_task_runs_once() {
    const SUBMITTERS: usize = 8;
    const EACH: usize = 10_000;
    for capacity in [64, 1] {
        let rt = tokio_rt();
        let hits: Arc<Vec<AtomicU8>> =
            Arc::new((0..SUBMITTERS * EACH).map(|_| AtomicU8::new(0)).collect());
        let pool = Arc::new(rt.block_on(async {
            AsyncTaskQueue::builder()
                .workers(4)
                .capacity(capacity)
                .build(|w: Worker| drop(tokio::spawn(w)))
                .unwrap()
        }));
        let each = if capacity == 1 { EACH / 5 } else { EACH };
        let submitters: Vec<_> = (0..SUBMITTERS)
            .map(|s| {
                let (pool, hits) = (pool.clone(), hits.clone());
                rt.spawn(async move {
                    let mut handles = Vec::with_capacity(each);
                    for i in 0..each {
                        let id = s * EACH + i;
                        let hits = hits.clone();
                        let h = pool
                            .submit_async(lv((id % 5) as u8), async move {
                                hits[id].fetch_add(1, Ordering::Relaxed);
                                id
                            })
                            .await
                            .ok()
                            .unwrap();
                        handles.push(h);
                    }
                    for (i, h) in handles.into_iter().enumerate() {
                        assert_eq!(h.await, Ok(s * EACH + i));
                    }
                })
            })
            .collect();
        rt.block_on(async {
            for s in submitters {
                s.await.unwrap();
            }
            pool.shutdown().await;
        });
        let total = SUBMITTERS * each;
        let ran = hits
            .iter()
            .filter(|h| h.load(Ordering::Relaxed) == 1)
            .count();
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) <= 1));
        assert_eq!(ran, total, "capacity {capacity}");
        assert_eq!(
            stats_tuple(&pool),
            (total as u64, total as u64, 0, 0),
            "capacity {capacity}"
        );
    }
}

/// Submitters race `shutdown_now`: every accepted task either ran once or
/// reports `Cancelled`, and the counters agree with the handles.
#[test]
fn tokio_shutdown_now_under_load_accounts_for_every_task() {
    let rt = tokio_rt();
    let pool = Arc::new(rt.block_on(async {
        AsyncTaskQueue::builder()
            .workers(3)
            .capacity(32)
            .build(|w: Worker| drop(tokio::spawn(w)))
            .unwrap()
    }));
    let ran = Arc::new(AtomicUsize::new(0));
    let submitters: Vec<_> = (0..6)
        .map(|s| {
            let (pool, ran) = (pool.clone(), ran.clone());
            rt.spawn(async move {
                let mut handles = vec![];
                for i in 0usize.. {
                    let ran = ran.clone();
                    let fut = async move {
                        tokio::task::yield_now().await;
                        ran.fetch_add(1, Ordering::Relaxed);
                        i
                    };
                    match pool.submit_async(lv((s + i) as u8 % 3), fut).await {
                        Ok(h) => handles.push((i, h)),
                        Err(Closed(_)) => break,
                    }
                }
                let (mut ok, mut cancelled) = (0u64, 0u64);
                for (i, h) in handles {
                    match h.await {
                        Ok(v) => {
                            assert_eq!(v, i);
                            ok += 1;
                        }
                        Err(TaskError::Cancelled) => cancelled += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
                (ok, cancelled)
            })
        })
        .collect();
    let (ok, cancelled) = rt.block_on(async {
        // Let the submitters get going: wait until a few thousand ran.
        while ran.load(Ordering::Relaxed) < 2_000 {
            tokio::task::yield_now().await;
        }
        let n = pool.shutdown_now();
        pool.shutdown().await;
        let (mut ok, mut cancelled) = (0, 0);
        for s in submitters {
            let (o, c) = s.await.unwrap();
            ok += o;
            cancelled += c;
        }
        // Only `shutdown_now` cancels, and it counts exactly what it did.
        assert_eq!(n as u64, cancelled);
        (ok, cancelled)
    });
    let st = pool.stats();
    assert_eq!(
        (st.submitted, st.completed, st.panicked, st.cancelled),
        (ok + cancelled, ok, 0, cancelled)
    );
    assert_eq!(ran.load(Ordering::Relaxed) as u64, ok);
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_spawner_and_handle() {
    use latchwork::queue::TokioSpawner;
    // Outside a runtime `tokio::spawn` panics: a typed error instead.
    match AsyncTaskQueue::builder().workers(1).build(TokioSpawner) {
        Err(Error::Spawn(msg)) => assert!(msg.contains("runtime"), "{msg}"),
        other => panic!("expected Error::Spawn, got {other:?}"),
    }
    let rt = tokio_rt();
    // A runtime handle spawns from any thread.
    let pool = AsyncTaskQueue::builder()
        .workers(2)
        .build(rt.handle().clone())
        .unwrap();
    let h = pool.try_submit(Priority::High, async { 41 + 1 }).unwrap();
    assert_eq!(rt.block_on(h), Ok(42));
    rt.block_on(pool.shutdown());
    rt.block_on(async {
        let pool = AsyncTaskQueue::builder()
            .workers(2)
            .build(TokioSpawner)
            .unwrap();
        let h = pool
            .submit_async(Priority::Low, async { "ok" })
            .await
            .unwrap();
        assert_eq!(h.await, Ok("ok"));
        pool.shutdown().await;
        assert_eq!(pool.stats().completed, 1);
    });
}
