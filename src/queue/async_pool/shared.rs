//! The async pool's protocol: room for submissions, taking tasks, the
//! workers' loop and shutdown. The public shells are in `async_pool.rs`.
//!
//! Three counts and two locks, all waiting on the crate's [`WaitQueue`]:
//!
//! - `queued` (the permits): a submission takes one (`reserve`, bounded by
//!   `capacity`) before it queues its task; a worker gives it back when it
//!   takes the task and wakes the submitters waiting on `room`. A waiting
//!   submission reserves inside the wait queue's handshake and queues in
//!   the same poll, so no permit is ever held across a `Pending`: dropping
//!   the wait loses nothing, and the wait queue wakes every waiting task,
//!   so it swallows no wake-up either.
//! - `gate`: submitters hold it shared while they check `state` and push;
//!   a state change takes it exclusively, so after it no task can still be
//!   on its way into the queue (as `TaskQueue`'s gate).
//! - `take`: takers (workers, and a shutdown draining inline) hold it
//!   shared while they check `state` and pop; `shutdown_now` takes it
//!   exclusively to empty the queue, so every task is either taken before
//!   it (it runs) or cancelled by it, and the count it returns is exact.
//!
//! Lock order: `gate` before the ready queue's wait lock (a push notifies
//! under the gate); that wait lock before `take` (a worker's condition
//! runs under it). `take` is never held while taking another lock but a
//! level's overflow lock, so the two cannot deadlock.
use super::job::{Counts, Job};
use crate::queue::error::Closed;
use crate::queue::level::Level;
use crate::queue::pool::{CANCELLED, SUBMITTED};
use crate::queue::priority::{PriorityQueue, DEFAULT_RING_CAPACITY};
use crate::queue::spawn::Worker;
use crate::queue::task::{TaskHandle, TaskId};
use crate::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use crate::sync::wait::WaitQueue;
use crate::sync::waiting::{WaitFor, WaitOn, Waiting};
use crate::sync::{Arc, RwLock};
use crossbeam_utils::CachePadded;
use std::cell::Cell;
use std::future::{poll_fn, Future};

/// Pool states, in the only order they move (`fetch_max`).
const RUNNING: u8 = 0;
/// `shutdown` (or the pool dropped): no new tasks; workers run what is
/// queued, then return.
pub(super) const DRAINING: u8 = 1;
/// `shutdown_now`: no new tasks, the queued ones cancelled; workers return
/// after their current task.
pub(super) const STOPPED: u8 = 2;

/// What a submission may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reserve {
    /// It holds a permit: queue the task (`admit`).
    Room,
    /// `capacity` tasks are queued.
    Full,
    /// The pool is shutting down.
    Closed,
}

/// What a taker finds.
enum Take {
    Job(Job),
    /// Nothing queued yet.
    Empty,
    /// Stopped, or closed and drained: the worker returns.
    End,
}

pub(super) struct Shared {
    ready: PriorityQueue<Job>,
    capacity: usize,
    /// Permits taken: tasks queued plus submissions about to queue. Padded:
    /// every submission and every take writes it.
    queued: CachePadded<AtomicUsize>,
    /// `RUNNING`, `DRAINING` or `STOPPED`; only ever increases.
    state: AtomicU8,
    gate: RwLock<()>,
    take: RwLock<()>,
    /// Submitters waiting for a permit.
    room: WaitQueue,
    /// Workers spawned and not yet returned (or dropped).
    live: AtomicUsize,
    /// Notified by each worker as it ends: what `shutdown` awaits.
    exited: WaitQueue,
    next_id: AtomicU64,
    counts: Arc<Counts>,
}

impl Shared {
    pub(super) fn new(capacity: usize) -> Shared {
        // At most `capacity` tasks are queued, so a ring of that size per
        // level never spills; the default bounds the memory of a large one.
        let ring = capacity.clamp(1, DEFAULT_RING_CAPACITY);
        Shared {
            // The default is not reached: `ring` is at least 1.
            ready: PriorityQueue::with_ring_capacity(ring).unwrap_or_default(),
            capacity,
            queued: CachePadded::new(AtomicUsize::new(0)),
            state: AtomicU8::new(RUNNING),
            gate: RwLock::new(()),
            take: RwLock::new(()),
            room: WaitQueue::new(),
            live: AtomicUsize::new(0),
            exited: WaitQueue::new(),
            next_id: AtomicU64::new(0),
            counts: Arc::new(Counts::new()),
        }
    }

    #[inline]
    fn state(&self) -> u8 {
        // Acquire: pairs with the Release `fetch_max` in `close`.
        self.state.load(Ordering::Acquire)
    }

    /// This pool's identity for [`Inside`]: its address, stable while any
    /// worker or the pool holds it.
    fn addr(&self) -> usize {
        self as *const Shared as usize
    }

    // ---- submitting ---------------------------------------------------

    /// Takes a permit if there is room and the pool is running.
    pub(super) fn reserve(&self) -> Reserve {
        if self.state() != RUNNING {
            return Reserve::Closed;
        }
        // Relaxed: the count carries no data (the task is published by the
        // ready queue). A waiter reads it after the wait queue's SeqCst
        // fence, and a worker gives a permit back before its notify's
        // fence, so the handshake orders the two.
        let took = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.capacity).then_some(n + 1)
            });
        if took.is_ok() {
            Reserve::Room
        } else {
            Reserve::Full
        }
    }

    /// Gives a permit back and wakes a waiting submitter.
    fn release(&self, permits: usize) {
        // Relaxed: see `reserve`; the notify below fences.
        self.queued.fetch_sub(permits, Ordering::Relaxed);
        self.room.notify_one();
    }

    /// A waiter's condition: stores and reports anything but `Full`.
    fn try_reserve(&self, got: &Cell<Reserve>) -> bool {
        let r = self.reserve();
        got.set(r);
        r != Reserve::Full
    }

    /// Waits (async) for a permit or the shutdown. The permit is taken in
    /// the poll that returns it, so dropping the future holds none.
    pub(super) fn reserve_async(&self) -> impl Future<Output = Reserve> + Send + '_ {
        Waiting::new(Reserving {
            shared: self,
            got: Cell::new(Reserve::Full),
        })
    }

    /// Parks the thread until a permit or the shutdown.
    pub(super) fn reserve_blocking(&self) -> Reserve {
        let got = Cell::new(Reserve::Full);
        self.room.wait_until(|| self.try_reserve(&got), None);
        got.get()
    }

    /// Queues `fut` with the permit the caller reserved; after a shutdown
    /// began, gives the permit back and hands `fut` back.
    pub(super) fn admit<F>(&self, level: Level, fut: F) -> Result<TaskHandle<F::Output>, Closed<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let gate = self.gate.read();
        if self.state() != RUNNING {
            drop(gate);
            self.release(1);
            return Err(Closed(fut));
        }
        // Relaxed: ids need only be unique; the queue publishes the task.
        let id = TaskId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (job, handle) = Job::new(id, fut, self.counts.clone());
        // Counted before a worker can finish it: `submitted` never trails.
        self.counts.stats.incr(SUBMITTED);
        // The ready queue is closed only after the state changed under the
        // gate, so this push is never refused; were it to be, the task is
        // cancelled, not lost.
        if let Err(Closed(job)) = self.ready.push(level, job) {
            drop(gate);
            self.counts.stats.incr(CANCELLED);
            drop(job);
            self.release(1);
            return Ok(handle);
        }
        drop(gate);
        Ok(handle)
    }

    // ---- taking and running -------------------------------------------

    /// Pops the most urgent task unless the pool stopped; see the module
    /// doc for why under `take`.
    fn take(&self) -> Take {
        let _take = self.take.read();
        if self.state() == STOPPED {
            return Take::End;
        }
        match self.ready.try_pop() {
            Some((_, job)) => {
                // Relaxed: see `reserve`; the taker notifies `room` next.
                self.queued.fetch_sub(1, Ordering::Relaxed);
                Take::Job(job)
            }
            None if self.ready.is_closed() => Take::End,
            None => Take::Empty,
        }
    }

    /// Runs one task to its end, marked as this pool's for its polls.
    async fn run(&self, mut job: Job) {
        let addr = self.addr();
        poll_fn(|cx| {
            let _inside = Inside::enter(addr);
            job.poll(cx)
        })
        .await;
    }

    // ---- shutting down ------------------------------------------------

    /// Moves the state to `target`, cancels what is queued if that is
    /// `STOPPED`, wakes the workers and the waiting submitters. Returns how
    /// many tasks this call cancelled.
    pub(super) fn close(&self, target: u8) -> usize {
        {
            let _gate = self.gate.write();
            // Release: pairs with the Acquire in `state`.
            self.state.fetch_max(target, Ordering::Release);
        }
        let mut cancelled = 0;
        if self.state() == STOPPED {
            let jobs: Vec<Job> = {
                let _take = self.take.write();
                std::iter::from_fn(|| self.ready.try_pop().map(|(_, job)| job)).collect()
            };
            cancelled = jobs.len();
            if cancelled != 0 {
                // Counted first: a handle that reports `Cancelled` finds
                // the count already there.
                self.counts.stats.add(CANCELLED, cancelled as u64);
                // Dropped outside the lock: each resolves its handle (waking
                // its awaiter) and drops a caller's future.
                drop(jobs);
                self.release(cancelled);
            }
        }
        self.ready.close();
        self.room.notify();
        cancelled
    }

    /// After `close`: waits until every worker (but the caller's own, when
    /// a task of this pool awaits it) has returned, then runs here what
    /// none of them will (with no workers, or workers their executor
    /// dropped), or, stopped, nothing.
    pub(super) async fn finish(&self) {
        Waiting::new(WorkersDone {
            shared: self,
            addr: self.addr(),
        })
        .await;
        while let Take::Job(job) = self.take() {
            self.room.notify_one();
            self.run(job).await;
        }
    }

    // ---- figures ------------------------------------------------------

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(super) fn queued(&self) -> usize {
        // Relaxed: a snapshot.
        self.queued.load(Ordering::Relaxed)
    }

    pub(super) fn live(&self) -> usize {
        // Relaxed: a snapshot.
        self.live.load(Ordering::Relaxed)
    }

    pub(super) fn counts(&self) -> &Counts {
        &self.counts
    }
}

/// A worker of `shared`: counted in `live` now, counted out when it returns
/// or is dropped, polled or not.
pub(super) fn worker(shared: Arc<Shared>) -> Worker {
    // Relaxed: the spawn orders it before the worker's decrement.
    shared.live.fetch_add(1, Ordering::Relaxed);
    let exit = Exit(shared);
    Worker::new(async move {
        let s = &*exit.0;
        // One registration for the worker's life: each await is the next
        // task (the kernel's future may be awaited again after `Ready`).
        let mut next = Waiting::new(NextJob {
            shared: s,
            got: Cell::new(None),
        });
        while let Some(job) = (&mut next).await {
            s.run(job).await;
        }
        drop(next);
        drop(exit);
    })
}

/// Counts a worker out of `live` however it ends, and wakes `shutdown`.
struct Exit(Arc<Shared>);

impl Drop for Exit {
    fn drop(&mut self) {
        // Release: the worker's last effects (the tasks it ran, their
        // counters) happen before an Acquire load that sees the count drop.
        self.0.live.fetch_sub(1, Ordering::Release);
        self.0.exited.notify();
    }
}

/// What a waiting submission waits for: a permit (reserved inside the
/// handshake, in `ready`, and handed out in the same poll) or the close.
struct Reserving<'a> {
    shared: &'a Shared,
    got: Cell<Reserve>,
}

impl WaitOn for Reserving<'_> {
    fn queue(&self) -> &WaitQueue {
        &self.shared.room
    }
}

impl WaitFor for Reserving<'_> {
    type Output = Reserve;
    fn take(&mut self) -> Option<Reserve> {
        match self.got.replace(Reserve::Full) {
            Reserve::Full => {
                let r = self.shared.reserve();
                (r != Reserve::Full).then_some(r)
            }
            r => Some(r),
        }
    }
    fn ready(&self) -> bool {
        self.shared.try_reserve(&self.got)
    }
}

/// What an idle worker waits for: a task (taken inside the handshake and
/// returned in the same poll), or `None` when it is to return.
struct NextJob<'a> {
    shared: &'a Shared,
    got: Cell<Option<Job>>,
}

impl WaitOn for NextJob<'_> {
    fn queue(&self) -> &WaitQueue {
        self.shared.ready.wait_queue()
    }
}

impl WaitFor for NextJob<'_> {
    type Output = Option<Job>;
    fn take(&mut self) -> Option<Option<Job>> {
        let job = match self.got.take() {
            Some(job) => job,
            None => match self.shared.take() {
                Take::Job(job) => job,
                // Final: the pool stopped, or closed and drained.
                Take::End => return Some(None),
                Take::Empty => return None,
            },
        };
        // Its permit was given back with the pop: wake a submitter.
        self.shared.room.notify_one();
        Some(Some(job))
    }
    fn ready(&self) -> bool {
        match self.shared.take() {
            Take::Job(job) => {
                self.got.set(Some(job));
                true
            }
            Take::End => true,
            Take::Empty => false,
        }
    }
}

/// What a shutdown waits for: every worker but the caller's own (when a
/// task of this pool awaits it) has returned.
struct WorkersDone<'a> {
    shared: &'a Shared,
    addr: usize,
}

impl WaitOn for WorkersDone<'_> {
    fn queue(&self) -> &WaitQueue {
        &self.shared.exited
    }
}

impl WaitFor for WorkersDone<'_> {
    type Output = ();
    fn take(&mut self) -> Option<()> {
        self.ready().then_some(())
    }
    fn ready(&self) -> bool {
        let remaining = usize::from(Inside::is(self.addr));
        // Acquire: pairs with the Release decrement in `Exit::drop`.
        self.shared.live.load(Ordering::Acquire) <= remaining
    }
}

#[cfg(not(loom))]
std::thread_local! {
    static INSIDE: Cell<usize> = const { Cell::new(0) };
}

#[cfg(loom)]
loom::thread_local! {
    static INSIDE: Cell<usize> = Cell::new(0);
}

/// Marks the thread as polling a task of the pool at `addr`, so that a
/// `shutdown` awaited by that task does not wait for its own worker (which
/// would wait for the task: a deadlock). Restores the previous mark.
struct Inside(usize);

impl Inside {
    fn enter(addr: usize) -> Inside {
        Inside(INSIDE.try_with(|c| c.replace(addr)).unwrap_or(0))
    }

    /// Whether the thread is polling a task of the pool at `addr`.
    fn is(addr: usize) -> bool {
        INSIDE.try_with(|c| c.get() == addr).unwrap_or(false)
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        let _ = INSIDE.try_with(|c| c.set(self.0));
    }
}
