//! [`AsyncTaskQueue`]: a bounded pool of futures run by priority on the
//! caller's executor; the protocol is in `async_pool/shared.rs`.
use super::error::Closed;
use super::level::Level;
use super::pool::{TaskStats, CANCELLED, COMPLETED, PANICKED, SUBMITTED};
use super::task::TaskHandle;
use crate::sync::Arc;
use shared::{Reserve, Shared, DRAINING, STOPPED};
use std::fmt;
use std::future::Future;

mod builder;
mod job;
mod shared;

pub use builder::AsyncTaskQueueBuilder;

/// A pool that runs submitted futures by priority, at most `workers` at a
/// time, on an executor the caller supplies: the async counterpart of
/// [`TaskQueue`](super::TaskQueue), with its [`TaskHandle`],
/// [`TaskError`](super::TaskError) and [`TaskStats`].
///
/// - **Order.** Workers take the most urgent queued task first, oldest
///   first within a level: the [`PriorityQueue`](super::PriorityQueue)
///   guarantee (a worker busy with a long task does not stop the others).
/// - **Runtime-agnostic.** `build` hands `workers` [`Worker`](super::Worker)
///   futures to a [`Spawn`](super::Spawn)er (any `Fn(Worker)`, or
///   `TokioSpawner` with feature `tokio`); each takes
///   a task, awaits it, and repeats. No thread, timer or runtime of its own.
/// - **Bounded.** At most `capacity` tasks wait in the queue (tasks taken
///   by a worker no longer count).
///   [`try_submit`](Self::try_submit) hands the future back when full
///   ([`TrySubmitError::Full`]); [`submit_async`](Self::submit_async)
///   waits for room; [`submit`](Self::submit) parks the thread for it.
///   Waiting submitters are woken together when room appears; they are
///   not served in arrival order.
/// - **Panics.** A task's panic is caught where the worker polls it: its
///   handle reports [`TaskError::Panicked`](super::TaskError::Panicked),
///   [`stats`](Self::stats) counts it, the worker carries on.
/// - **Accounting.** Every accepted task runs exactly once or its handle
///   reports [`TaskError::Cancelled`](super::TaskError::Cancelled). Once
///   the pool is quiet, `submitted = completed + panicked + cancelled +`
///   [`queued_len`](Self::queued_len)` + `[`running`](Self::running).
///   Dropping a [`TaskHandle`] does not cancel its task: it runs, and its
///   output is dropped.
///
/// # Shutting down, and dropping
///
/// - [`shutdown`](Self::shutdown)`().await`: refuses new tasks, lets the
///   workers run every queued task, and resolves when they have returned.
/// - [`shutdown_now`](Self::shutdown_now)`()`: refuses new tasks and
///   cancels every queued one at once; running tasks finish. Await
///   `shutdown()` after it to wait for them.
/// - **Dropping the pool drains**: it is `shutdown` without the wait. The
///   workers hold the pool's state, run every queued task to its end and
///   return; nothing queued is lost unless the executor itself goes away
///   (or there are no workers), in which case the dropped tasks' handles
///   report `Cancelled`. To drop queued tasks, call `shutdown_now` first.
///
/// # Name
///
/// `AsyncTaskQueue`, not a new "job" vocabulary: what it runs are the
/// queue module's tasks (one [`TaskHandle`], [`TaskError`](super::TaskError),
/// [`TaskId`](super::TaskId) and [`TaskStats`] for both pools), and it is
/// [`TaskQueue`](super::TaskQueue)'s shape with futures for closures and
/// worker futures for worker threads.
///
/// ```
/// use futures::executor::LocalPool;
/// use futures::task::LocalSpawnExt;
/// use latchwork::queue::{AsyncTaskQueue, Priority, TaskError, Worker};
///
/// let mut exec = LocalPool::new();
/// let spawner = exec.spawner();
/// let pool = AsyncTaskQueue::builder()
///     .workers(2)
///     .capacity(100)
///     .build(move |w: Worker| spawner.spawn_local(w).expect("executor running"))?;
///
/// let report = pool.try_submit(Priority::Low, async { 6 * 7 })?;
/// let alert = pool.try_submit(Priority::Critical, async {
///     if true {
///         panic!("disk full");
///     }
///     0
/// })?;
/// exec.run_until(async {
///     assert_eq!(report.await, Ok(42));
///     assert_eq!(alert.await, Err(TaskError::Panicked("disk full".into())));
///     pool.shutdown().await;
/// });
/// let stats = pool.stats();
/// assert_eq!((stats.completed, stats.panicked), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AsyncTaskQueue {
    shared: Arc<Shared>,
}

impl AsyncTaskQueue {
    /// Queues `fut` at `priority` if there is room, and returns its handle.
    /// Never waits. When `capacity` tasks are queued, returns
    /// [`TrySubmitError::Full`]; once a shutdown has begun (or the pool is
    /// being dropped), [`TrySubmitError::Closed`]; either holds `fut`,
    /// which was not queued and is not counted.
    pub fn try_submit<F>(
        &self,
        priority: impl Into<Level>,
        fut: F,
    ) -> Result<TaskHandle<F::Output>, TrySubmitError<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.shared.reserve() {
            Reserve::Room => self
                .shared
                .admit(priority.into(), fut)
                .map_err(|Closed(fut)| TrySubmitError::Closed(fut)),
            Reserve::Full => Err(TrySubmitError::Full(fut)),
            Reserve::Closed => Err(TrySubmitError::Closed(fut)),
        }
    }

    /// Queues `fut` at `priority`, waiting for room while `capacity` tasks
    /// are queued, and returns its handle; once a shutdown has begun,
    /// returns [`Closed`] with `fut`, not queued. The wait registers the
    /// task's waker; a worker taking a task wakes it.
    ///
    /// # Cancel safety
    /// Cancel safe: room is taken only in the poll that queues the task,
    /// so dropping the future while it waits queues nothing, drops `fut`,
    /// counts nothing, and holds no room another submitter could have
    /// used. It removes its waker, and a wake-up it received is not lost
    /// to the others: every waiting submitter is woken when room appears.
    pub fn submit_async<F>(
        &self,
        priority: impl Into<Level>,
        fut: F,
    ) -> impl Future<Output = Result<TaskHandle<F::Output>, Closed<F>>> + Send + '_
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let level = priority.into();
        async move {
            match self.shared.reserve_async().await {
                Reserve::Room => self.shared.admit(level, fut),
                Reserve::Full | Reserve::Closed => Err(Closed(fut)),
            }
        }
    }

    /// The blocking form of [`submit_async`](Self::submit_async): parks the
    /// thread while the queue is full. For threads outside the executor;
    /// called from a task, it blocks the executor's thread, and may wait
    /// for a worker that thread was to run.
    pub fn submit<F>(
        &self,
        priority: impl Into<Level>,
        fut: F,
    ) -> Result<TaskHandle<F::Output>, Closed<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.shared.reserve_blocking() {
            Reserve::Room => self.shared.admit(priority.into(), fut),
            Reserve::Full | Reserve::Closed => Err(Closed(fut)),
        }
    }

    /// Refuses new tasks at once, then resolves when the workers have run
    /// every queued task and returned. Tasks no worker will run (with zero
    /// workers, or workers their executor dropped) run inside this future.
    /// When it resolves, every task accepted has run exactly once or been
    /// cancelled by [`shutdown_now`](Self::shutdown_now). Idempotent.
    ///
    /// Awaited by one of this pool's own tasks, it does not wait for the
    /// worker running that task (which would wait forever).
    ///
    /// # Cancel safety
    /// Cancel safe: the shutdown has begun at the first poll, and the
    /// workers carry on draining if the future is dropped; awaiting
    /// `shutdown` again waits for them. One exception: a task left over
    /// for this future to run (see above) that it is running when dropped
    /// is dropped with it, and its handle reports `Cancelled`.
    pub async fn shutdown(&self) {
        self.shared.close(DRAINING);
        self.shared.finish().await;
    }

    /// Refuses new tasks and cancels every queued one at once: their
    /// handles report [`TaskError::Cancelled`](super::TaskError::Cancelled)
    /// and [`stats`](Self::stats) counts them. Returns how many this call
    /// cancelled: exactly the tasks queued when it took the queue, none of
    /// which a worker can take any more. The tasks the workers had taken
    /// run to their end; the workers then return, and
    /// [`shutdown`](Self::shutdown)`().await` waits for that. Never waits
    /// itself.
    pub fn shutdown_now(&self) -> usize {
        self.shared.close(STOPPED)
    }

    /// Tasks waiting for a worker: accepted (or being accepted) and not
    /// yet taken. A snapshot; at most `capacity`.
    pub fn queued_len(&self) -> usize {
        self.shared.queued()
    }

    /// Tasks a worker has started and not finished (a snapshot).
    pub fn running(&self) -> usize {
        self.shared.counts().running()
    }

    /// How many tasks may wait in the queue.
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// The pool's counters, as [`TaskQueue::stats`](super::TaskQueue::stats)
    /// reports them: exact once the pool is quiet (and, for a task whose
    /// handle has resolved, that task is counted); during work a snapshot
    /// whose counters are not read together. `submitted` counts accepted
    /// tasks only: a future handed back by a refusal is not a task.
    pub fn stats(&self) -> TaskStats {
        let st = &self.shared.counts().stats;
        TaskStats {
            submitted: st.sum(SUBMITTED),
            completed: st.sum(COMPLETED),
            panicked: st.sum(PANICKED),
            cancelled: st.sum(CANCELLED),
        }
    }
}

/// Drains: see [Shutting down, and dropping](AsyncTaskQueue#shutting-down-and-dropping).
impl Drop for AsyncTaskQueue {
    fn drop(&mut self) {
        self.shared.close(DRAINING);
    }
}

impl fmt::Debug for AsyncTaskQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncTaskQueue")
            .field("workers", &self.shared.live())
            .field("capacity", &self.capacity())
            .field("queued", &self.queued_len())
            .field("running", &self.running())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Why [`AsyncTaskQueue::try_submit`] did not queue a future; it holds the
/// future, which was not queued.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySubmitError<F> {
    /// `capacity` tasks are queued: retry later, or wait for room with
    /// [`submit_async`](AsyncTaskQueue::submit_async).
    Full(F),
    /// The pool is shutting down (or being dropped) and takes no more tasks.
    Closed(F),
}

impl<F> TrySubmitError<F> {
    /// The future that was not queued.
    pub fn into_inner(self) -> F {
        match self {
            TrySubmitError::Full(f) | TrySubmitError::Closed(f) => f,
        }
    }

    /// Whether the queue was full (rather than closed).
    pub fn is_full(&self) -> bool {
        matches!(self, TrySubmitError::Full(_))
    }
}

// Not derived: a refusal should print without `F: Debug` (futures rarely are).
impl<F> fmt::Debug for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySubmitError::Full(_) => "Full(..)",
            TrySubmitError::Closed(_) => "Closed(..)",
        })
    }
}

impl<F> fmt::Display for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySubmitError::Full(_) => {
                "the task queue is full; the future was handed back, not queued"
            }
            TrySubmitError::Closed(_) => {
                "the task queue is shut down; the future was handed back, not queued"
            }
        })
    }
}

impl<F> std::error::Error for TrySubmitError<F> {}
