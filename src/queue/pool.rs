//! [`TaskQueue`]: a worker pool over a [`PriorityQueue`] of jobs, with
//! delayed tasks, `run_pending` for the caller's thread, and shutdown that
//! accounts for every task.
use super::delayed::{Delayed, NOTHING_DUE};
use super::error::Closed;
use super::level::Level;
use super::priority::PriorityQueue;
use super::task::{Job, TaskHandle, TaskId, TaskReport};
use super::Error;
use crate::clock::{duration_to_nanos, Clock, MonotonicClamp, SystemClock};
use crate::counter::StripedCounters;
use crate::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use crate::sync::wait::{spin_for, WaitQueue};
use crate::sync::{thread, Arc, Mutex, RwLock};
use crossbeam_utils::CachePadded;
use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

mod builder;

/// The most workers a pool may have: threads of a [`TaskQueue`], futures of
/// an `AsyncTaskQueue` (feature `async`).
pub const MAX_WORKERS: usize = 1024;

/// Pool states, in the only order they move (`fetch_max`).
const RUNNING: u8 = 0;
/// `shutdown`: no new tasks; workers finish the ready queue, then exit.
const DRAINING: u8 = 1;
/// `shutdown_now`: no new tasks; workers exit after their current task.
const STOPPED: u8 = 2;

// The `TaskStats` counters, shared with the async pool.
pub(super) const SUBMITTED: usize = 0;
pub(super) const COMPLETED: usize = 1;
pub(super) const PANICKED: usize = 2;
pub(super) const CANCELLED: usize = 3;

/// Counters of a [`TaskQueue`]. Exact once the pool is quiet; during work a
/// snapshot in which the counters are not read together.
///
/// With the `serde` feature it (de)serializes as a map of its counters; a
/// counter missing on input reads as 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[non_exhaustive]
pub struct TaskStats {
    /// Tasks submitted (including delayed and refused ones).
    pub submitted: u64,
    /// Tasks that ran and returned.
    pub completed: u64,
    /// Tasks that ran and panicked.
    pub panicked: u64,
    /// Tasks that never ran (shutdown, or submitted after it).
    pub cancelled: u64,
}

struct Shared<C> {
    ready: PriorityQueue<Job>,
    delayed: Delayed,
    /// `RUNNING`, `DRAINING` or `STOPPED`; only ever increases.
    state: AtomicU8,
    /// Submitters hold it shared while they check `state` and enqueue;
    /// shutdown takes it exclusively to change `state`, so after that no
    /// submission can still be on its way into a queue.
    ///
    /// Padded, as `next_id`: every submission writes both, and the words
    /// every worker reads on every turn (`state`, the delayed jobs' next
    /// due time) must not share their cache line, or each submission
    /// would steal that line from the workers and back.
    gate: CachePadded<RwLock<()>>,
    next_id: CachePadded<AtomicU64>,
    clock: C,
    /// Clamps clock readings that go backwards (see `now`).
    clamp: MonotonicClamp,
    stats: StripedCounters<4>,
    /// Worker threads started and not yet returned from `worker`.
    live: AtomicUsize,
    /// Notified by each worker as it returns: what `shutdown_async` awaits.
    exited: WaitQueue,
}

/// Counts a worker out of `live` when its loop returns (or, were it ever
/// to, unwinds), and wakes whoever awaits the shutdown.
struct Exit<'a, C>(&'a Shared<C>);

impl<C> Drop for Exit<'_, C> {
    fn drop(&mut self) {
        // Release: the worker's last effects (the tasks it ran, their
        // counters) happen before an Acquire load that sees the count drop.
        self.0.live.fetch_sub(1, Ordering::Release);
        self.0.exited.notify();
    }
}

impl<C: Clock> Shared<C> {
    /// The pool's clock reading; one earlier than the last seen counts as
    /// no time passed (see [`clock`](crate::clock#time-that-goes-backwards)).
    #[inline]
    fn now(&self) -> u64 {
        self.clamp.now(&self.clock)
    }

    #[inline]
    fn state(&self) -> u8 {
        // Acquire: pairs with the Release `fetch_max` in `close`.
        self.state.load(Ordering::Acquire)
    }

    /// Runs one job on this thread, counting its outcome.
    fn run(&self, job: Job) -> TaskReport {
        let (id, level) = (job.id, job.level);
        let result = job.run();
        self.stats
            .incr(if result.is_ok() { COMPLETED } else { PANICKED });
        TaskReport { id, level, result }
    }

    fn cancel(&self, job: Job) {
        job.cancel();
        self.stats.incr(CANCELLED);
    }

    /// Moves due delayed jobs to the ready queue; returns how many.
    fn promote_due(&self) -> usize {
        if self.delayed.next_due() == NOTHING_DUE {
            return 0;
        }
        let due = self.delayed.take_due(self.now());
        let n = due.len();
        for job in due {
            self.push_ready(job);
        }
        n
    }

    fn next_task_id(&self) -> TaskId {
        // Relaxed: ids need only be unique; the queues publish the job.
        TaskId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Queues a submitted job: ready now (`due` is `None`) or delayed;
    /// cancelled instead once shutdown has begun.
    fn admit(&self, due: Option<u64>, job: Job) {
        self.stats.incr(SUBMITTED);
        let gate = self.gate.read();
        if self.state() != RUNNING {
            drop(gate);
            self.cancel(job);
            return;
        }
        match due {
            None => self.push_ready(job),
            Some(at) => {
                if self.delayed.insert(at, job) {
                    // A new earliest time: parked workers recompute their
                    // timeouts.
                    self.ready.wait_queue().notify();
                }
            }
        }
        drop(gate);
    }

    /// The ready queue is never closed (the pool has its own state), so a
    /// refusal cannot happen; were it to, the job is cancelled, not lost.
    fn push_ready(&self, job: Job) {
        if let Err(Closed(job)) = self.ready.push(job.level, job) {
            self.cancel(job);
        }
    }

    fn worker(&self) {
        let _exit = Exit(self);
        loop {
            self.promote_due();
            let state = self.state();
            if state == STOPPED {
                return;
            }
            if let Some((_, job)) = self.ready.try_pop() {
                self.run(job);
                continue;
            }
            if state == DRAINING {
                return;
            }
            if let Some((_, job)) = spin_for(|| self.ready.try_pop()) {
                self.run(job);
                continue;
            }
            let due = self.delayed.next_due();
            let timeout =
                (due != NOTHING_DUE).then(|| Duration::from_nanos(due.saturating_sub(self.now())));
            let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
            // The ready queue's wait queue: a push wakes one worker (which
            // takes the job inside the handshake), a new earliest due time
            // or a state change wakes all; a timeout looks again. One round
            // only: a worker woken for a job another worker took goes back
            // to the top, and so spins before it parks again (parking at
            // once made a pool of short tasks sleep and wake on every job).
            let woke = Cell::new(None);
            self.ready.wait_queue().wait_once(
                || {
                    if self.state() != RUNNING || self.delayed.next_due() != due {
                        return true;
                    }
                    match self.ready.try_pop() {
                        Some((_, job)) => {
                            woke.set(Some(job));
                            true
                        }
                        None => false,
                    }
                },
                deadline,
            );
            if let Some(job) = woke.into_inner() {
                self.run(job);
            }
        }
    }
}

/// The future that [`TaskQueue::shutdown_async`] awaits: every worker
/// (but one calling it from inside a task) has returned.
#[cfg(feature = "async")]
struct WorkersExited<'a, C> {
    shared: &'a Shared<C>,
    /// Workers allowed to remain: the caller's own, if it is one.
    remaining: usize,
}

#[cfg(feature = "async")]
impl<C> crate::sync::waiting::WaitOn for WorkersExited<'_, C> {
    fn queue(&self) -> &WaitQueue {
        &self.shared.exited
    }
}

#[cfg(feature = "async")]
impl<C> crate::sync::waiting::WaitFor for WorkersExited<'_, C> {
    type Output = ();

    fn take(&mut self) -> Option<()> {
        self.ready().then_some(())
    }

    fn ready(&self) -> bool {
        // Acquire: pairs with the Release decrement in `Exit::drop`.
        self.shared.live.load(Ordering::Acquire) <= self.remaining
    }
}

/// A pool of worker threads that run submitted closures by priority.
///
/// - Workers take the most urgent ready task first, oldest first within a
///   level (the [`PriorityQueue`] guarantee).
/// - A panicking task never kills its worker: the panic is caught, its
///   message goes to the task's [`TaskHandle`] as
///   [`TaskError::Panicked`](super::TaskError::Panicked), and [`stats`](Self::stats) counts it.
/// - Delayed tasks ([`submit_at`](Self::submit_at),
///   [`submit_after`](Self::submit_after)) wait in a time-ordered map on the
///   pool's [`Clock`] and become ready when a worker, [`run_pending`](Self::run_pending)
///   or [`poll_delayed`](Self::poll_delayed) sees their time has come. Idle
///   workers park until the earliest due time; a `ManualClock` wakes nobody
///   when advanced, so call `poll_delayed` after advancing it. A clock
///   reading earlier than the last one the pool saw counts as no time
///   passed (see [`clock`](crate::clock#time-that-goes-backwards)): no
///   delayed task is lost or run early because of it.
/// - [`shutdown`](Self::shutdown) runs every ready task, then stops;
///   [`shutdown_now`](Self::shutdown_now) stops after the running tasks.
///   Either way every task either runs exactly once or its handle reports
///   [`TaskError::Cancelled`](super::TaskError::Cancelled): a task is owned by exactly one queue entry and
///   cancels itself when dropped unrun. Dropping the pool is `shutdown_now`.
///
/// ```
/// use latchwork::queue::{Priority, TaskError, TaskQueue};
///
/// let pool = TaskQueue::new(2)?;
/// let report = pool.submit(Priority::Low, || 6 * 7);
/// let alert = pool.submit(Priority::Critical, || -> u32 { panic!("disk full") });
/// assert_eq!(report.join(), Ok(42));
/// assert_eq!(alert.join(), Err(TaskError::Panicked("disk full".into())));
/// pool.shutdown();
/// assert_eq!(pool.stats().panicked, 1);
/// # Ok::<(), latchwork::queue::Error>(())
/// ```
pub struct TaskQueue<C: Clock = SystemClock> {
    shared: Arc<Shared<C>>,
    workers: Mutex<Vec<thread::JoinHandle<()>>>,
}

/// Builds a [`TaskQueue`]: worker count and clock.
#[derive(Debug)]
pub struct TaskQueueBuilder<C: Clock = SystemClock> {
    workers: usize,
    clock: C,
}

impl<C: Clock> TaskQueue<C> {
    /// Queues `f` at `priority` and returns its handle. After shutdown has
    /// begun the task is not run and its handle reports
    /// [`TaskError::Cancelled`](super::TaskError::Cancelled).
    pub fn submit<F, R>(&self, priority: impl Into<Level>, f: F) -> TaskHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.enqueue(None, priority.into(), f)
    }

    /// Queues `f` at `priority` without a handle: fire and forget, the
    /// thread-pool `execute` of other crates. It saves `submit`'s result
    /// slot (an allocation, a lock and a wake-up check per task), which is
    /// most of the cost of a short task. A panic in `f` is caught and
    /// counted in [`stats`](Self::stats) as for any task; after shutdown has
    /// begun `f` is dropped unrun and counted as cancelled.
    ///
    /// ```
    /// use latchwork::queue::{Level, TaskQueue};
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let pool = TaskQueue::new(2)?;
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for i in 0..100u8 {
    ///     let done = done.clone();
    ///     pool.execute(Level::new(i % 4)?, move || {
    ///         done.fetch_add(1, Ordering::Relaxed);
    ///     });
    /// }
    /// pool.shutdown(); // runs what is queued, then joins
    /// assert_eq!(done.load(Ordering::Relaxed), 100);
    /// assert_eq!(pool.stats().completed, 100);
    /// # Ok::<(), latchwork::queue::Error>(())
    /// ```
    pub fn execute<F>(&self, priority: impl Into<Level>, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        let s = &*self.shared;
        let level = priority.into();
        let job = Job::detached(s.next_task_id(), level, f);
        s.admit(None, job);
    }

    /// Queues `f` to become ready at `at` on the pool's clock (time since
    /// the clock's origin, as [`Clock::now`] reports it). A time already
    /// past makes it ready at the next look. Times beyond `u64::MAX - 1`
    /// nanoseconds (`Duration::MAX` included) are due at `u64::MAX - 1`: a
    /// task due at the end of time is kept, and runs if the clock gets
    /// there.
    pub fn submit_at<F, R>(&self, at: Duration, priority: impl Into<Level>, f: F) -> TaskHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.enqueue(Some(duration_to_nanos(at)), priority.into(), f)
    }

    /// Queues `f` to become ready `delay` from now on the pool's clock.
    pub fn submit_after<F, R>(
        &self,
        delay: Duration,
        priority: impl Into<Level>,
        f: F,
    ) -> TaskHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let at = self.shared.now().saturating_add(duration_to_nanos(delay));
        self.enqueue(Some(at), priority.into(), f)
    }

    fn enqueue<F, R>(&self, due: Option<u64>, level: Level, f: F) -> TaskHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let s = &*self.shared;
        let (job, handle) = Job::new(s.next_task_id(), level, f);
        s.admit(due, job);
        handle
    }

    /// Moves delayed tasks whose time has come (on the pool's clock) to the
    /// ready queue, waking workers; returns how many moved.
    pub fn poll_delayed(&self) -> usize {
        self.shared.promote_due()
    }

    /// Runs every ready task on the caller's thread, most urgent first,
    /// until the ready queue is empty (promoting due delayed tasks first),
    /// and reports each in execution order, panics included. Workers, if
    /// any, keep taking tasks meanwhile; tasks they run are not reported
    /// here. Tasks that submit more ready tasks extend the run.
    pub fn run_pending(&self) -> Vec<TaskReport> {
        let s = &*self.shared;
        s.promote_due();
        let mut reports = Vec::new();
        while let Some((_, job)) = s.ready.try_pop() {
            reports.push(s.run(job));
        }
        reports
    }

    /// Stops taking tasks, lets the workers finish every ready task (and the
    /// caller's thread runs what is left if there are no workers), cancels
    /// delayed tasks whose time has not come, and joins the workers.
    /// Idempotent. Called from inside a task, it does not wait for the
    /// calling worker.
    pub fn shutdown(&self) {
        self.close(DRAINING);
    }

    /// Stops taking tasks, cancels every queued and delayed task (their
    /// handles resolve at once), then joins the workers once their current
    /// tasks return. Returns how many tasks this call cancelled.
    pub fn shutdown_now(&self) -> usize {
        self.close(STOPPED)
    }

    /// The async form of [`shutdown`](Self::shutdown): stops taking tasks
    /// at once, then resolves when the workers have finished every ready
    /// task and returned, without blocking the executor's thread; what is
    /// left then (everything, with zero workers) runs in the future's last
    /// poll, and delayed tasks whose time has not come are cancelled. When
    /// it resolves, every task submitted has run exactly once or its handle
    /// reports [`TaskError::Cancelled`](super::TaskError::Cancelled).
    /// Awaited from inside a task, it does not wait for the calling worker.
    ///
    /// # Cancel safety
    /// Cancel safe: the shutdown has begun when the future is first polled
    /// (no new tasks are accepted) and the workers carry on draining if
    /// the future is dropped at its await point; a later `shutdown`,
    /// `shutdown_async` or the pool's drop finishes it (joins the workers,
    /// accounts for the rest). Dropping it removes its waker.
    #[cfg(feature = "async")]
    pub async fn shutdown_async(&self) {
        self.close_async(DRAINING).await;
    }

    /// The async form of [`shutdown_now`](Self::shutdown_now): cancels
    /// every queued and delayed task at once, then resolves with how many
    /// this call cancelled when the workers' current tasks have returned.
    ///
    /// # Cancel safety
    /// As for [`shutdown_async`](Self::shutdown_async): dropped at its
    /// await point, the queued tasks are already cancelled and the running
    /// ones finish; a later shutdown or the pool's drop joins the workers.
    #[cfg(feature = "async")]
    pub async fn shutdown_now_async(&self) -> usize {
        self.close_async(STOPPED).await
    }

    #[cfg(feature = "async")]
    async fn close_async(&self, target: u8) -> usize {
        let cancelled = self.begin_close(target);
        let me = thread::current().id();
        let remaining = self
            .workers
            .lock()
            .iter()
            .filter(|w| w.thread().id() == me)
            .count();
        crate::sync::waiting::Waiting::new(WorkersExited {
            shared: &self.shared,
            remaining,
        })
        .await;
        // The workers have returned: the joins below do not block.
        cancelled + self.finish_close()
    }

    fn close(&self, target: u8) -> usize {
        let cancelled = self.begin_close(target);
        cancelled + self.finish_close()
    }

    /// Moves the state to `target` (no submission is on its way in after
    /// this), cancels or promotes, and wakes every worker.
    fn begin_close(&self, target: u8) -> usize {
        let s = &*self.shared;
        {
            let _gate = s.gate.write();
            // Release: pairs with the Acquire in `Shared::state`.
            s.state.fetch_max(target, Ordering::Release);
        }
        let mut cancelled = 0;
        if s.state() == STOPPED {
            // Cancel before waiting for the running tasks, so that their
            // handles resolve at once.
            cancelled += self.cancel_queued();
        } else {
            s.promote_due();
        }
        s.ready.wait_queue().notify();
        cancelled
    }

    /// Joins the workers, runs (draining) what they left, cancels the rest.
    fn finish_close(&self) -> usize {
        let s = &*self.shared;
        let me = thread::current().id();
        let workers = std::mem::take(&mut *self.workers.lock());
        for w in workers {
            if w.thread().id() != me {
                // A worker never panics (tasks' panics are caught), and if
                // one did its tasks are still accounted for below.
                let _ = w.join();
            }
        }
        if s.state() == DRAINING {
            // Whatever the workers left (all of it, with no workers).
            while let Some((_, job)) = s.ready.try_pop() {
                s.run(job);
            }
        }
        self.cancel_queued()
    }

    /// Cancels every delayed and ready task; returns how many.
    fn cancel_queued(&self) -> usize {
        let s = &*self.shared;
        let mut cancelled = 0;
        for job in s.delayed.take_all() {
            s.cancel(job);
            cancelled += 1;
        }
        while let Some((_, job)) = s.ready.try_pop() {
            s.cancel(job);
            cancelled += 1;
        }
        cancelled
    }

    /// Ready tasks waiting for a worker (a snapshot).
    pub fn ready_len(&self) -> usize {
        self.shared.ready.len()
    }

    /// Delayed tasks whose time has not been observed yet.
    pub fn delayed_len(&self) -> usize {
        self.shared.delayed.len()
    }

    /// The pool's counters.
    pub fn stats(&self) -> TaskStats {
        let st = &self.shared.stats;
        TaskStats {
            submitted: st.sum(SUBMITTED),
            completed: st.sum(COMPLETED),
            panicked: st.sum(PANICKED),
            cancelled: st.sum(CANCELLED),
        }
    }

    /// The pool's clock.
    pub fn clock(&self) -> &C {
        &self.shared.clock
    }
}

impl<C: Clock> Drop for TaskQueue<C> {
    fn drop(&mut self) {
        self.close(STOPPED);
    }
}

impl<C: Clock> fmt::Debug for TaskQueue<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskQueue")
            .field("workers", &self.workers.lock().len())
            .field("ready", &self.ready_len())
            .field("delayed", &self.delayed_len())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
