//! Tasks: a type-erased job that resolves its [`TaskHandle`] exactly once,
//! whether it runs, panics or is dropped unrun.
//!
//! A `Job` owns its closure until it runs. Running takes the closure out
//! (`FnOnce`, so no task can run twice); dropping a job that still holds its
//! closure resolves the handle as [`TaskError::Cancelled`]. Every path that
//! discards a job (shutdown, the pool being dropped) therefore accounts for
//! it without having to remember to.
use super::level::Level;
use crate::sync::once::{OneShot, Take};
use crate::sync::panic_message;
use crate::sync::waiting::Waiting;
use crate::sync::Arc;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Why a task produced no value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; the panic message (or a placeholder if the payload
    /// was not a string). The worker that ran it carries on.
    Panicked(String),
    /// The task never ran: it was still queued (or waiting for its time)
    /// when the pool shut down with `shutdown_now`, or its time had not come
    /// at `shutdown`, or it was submitted after shutdown began. For an
    /// `AsyncTaskQueue` (feature `async`) also: its future was
    /// dropped before it finished (the executor dropped the worker running
    /// it, or the pool went away with no worker left to run it).
    Cancelled,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(msg) => write!(f, "task panicked: {msg}"),
            TaskError::Cancelled => f.write_str("task was cancelled before it ran"),
        }
    }
}

impl std::error::Error for TaskError {}

/// A task's number, in submission order (unique per pool).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub(crate) u64);

impl TaskId {
    /// The number itself.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task #{}", self.0)
    }
}

/// What [`TaskQueue::run_pending`](super::TaskQueue::run_pending) reports for
/// each task it ran: which task, at which level, and whether it panicked.
/// The task's value itself goes to its [`TaskHandle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskReport {
    /// The task.
    pub id: TaskId,
    /// The level it ran at.
    pub level: Level,
    /// `Ok` if it returned, `Err(TaskError::Panicked(_))` if it panicked.
    pub result: Result<(), TaskError>,
}

/// Where a task's outcome meets its handle: the kernel's one-shot cell
/// (as the cache's single-flight `Flight` is), taken once by the handle. A
/// blocking `join` parks and an awaiting handle registers its waker on the
/// cell's wait queue. Resolving costs a fence and a load when nobody waits,
/// so no "awaited" state is needed to skip a system call.
type Slot<R> = OneShot<Result<R, TaskError>>;

/// A handle's wait for its slot: the kernel's one future, taking the
/// outcome once.
type SlotWait<R> = Waiting<Take<Arc<Slot<R>>, Result<R, TaskError>>>;

/// The receiving end of a submitted task: [`join`](Self::join) waits for its
/// outcome, and with the `async` feature the handle is itself a
/// `Future` of it (`handle.await`).
///
/// Dropping the handle (or the future, which is the handle) does not cancel
/// the task; it runs and its value is dropped.
pub struct TaskHandle<R> {
    id: TaskId,
    /// The slot, waited for by the kernel's one future (which holds the
    /// handle's registration while awaited).
    slot: SlotWait<R>,
}

impl<R> TaskHandle<R> {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Whether the task has an outcome yet (ran, panicked or was cancelled).
    pub fn is_finished(&self) -> bool {
        self.slot.get().cell().is_resolved()
    }

    /// Blocks until the task has run (or been cancelled) and returns its
    /// value, `Err(TaskError::Panicked(message))` if it panicked, or
    /// `Err(TaskError::Cancelled)` if it was dropped unrun.
    ///
    /// With a pool of zero workers, something must run the task (
    /// [`run_pending`](super::TaskQueue::run_pending) or `shutdown`) or this
    /// waits forever.
    pub fn join(mut self) -> Result<R, TaskError> {
        self.slot.block().unwrap_or(Err(TaskError::Cancelled))
    }
}

/// Awaiting the handle: the task's value, `Err(TaskError::Panicked(_))`,
/// or `Err(TaskError::Cancelled)`, as [`join`](TaskHandle::join) returns
/// them, without blocking the executor's thread. Polled again after it
/// returned `Ready`, it reports `Err(TaskError::Cancelled)` (the outcome
/// was handed out once).
///
/// ```
/// use latchwork::queue::{Priority, TaskQueue};
///
/// let pool = TaskQueue::new(1)?;
/// let h = pool.submit(Priority::High, || 6 * 7);
/// assert_eq!(futures::executor::block_on(h), Ok(42));
/// futures::executor::block_on(pool.shutdown_async());
/// # Ok::<(), latchwork::queue::Error>(())
/// ```
///
/// # Cancel safety
/// Cancel safe: dropping the future at any await point is dropping the
/// handle. The task still runs (or is cancelled by a shutdown) and is
/// counted in the pool's stats; only its value is dropped. The handle's
/// waker is removed.
#[cfg(feature = "async")]
impl<R> std::future::Future for TaskHandle<R> {
    type Output = Result<R, TaskError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        // Taken before (polled again after `Ready`): `Cancelled`.
        std::pin::Pin::new(&mut self.slot)
            .poll(cx)
            .map(|taken| taken.unwrap_or(Err(TaskError::Cancelled)))
    }
}

impl<R> fmt::Debug for TaskHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// A closure and the slot it resolves, erased to a common type.
trait Body: Send {
    /// Runs the closure, resolves the slot, reports a panic's message.
    fn run(self: Box<Self>) -> Result<(), TaskError>;
    /// Resolves the slot as cancelled without running.
    fn cancel(self: Box<Self>);
}

struct Typed<F, R> {
    f: F,
    slot: Arc<Slot<R>>,
}

impl<F, R> Body for Typed<F, R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    fn run(self: Box<Self>) -> Result<(), TaskError> {
        let Typed { f, slot } = *self;
        let outcome = run_caught(f);
        let report = outcome.as_ref().map(|_| ()).map_err(TaskError::clone);
        let _ = slot.resolve(outcome);
        report
    }

    fn cancel(self: Box<Self>) {
        let _ = self.slot.resolve(Err(TaskError::Cancelled));
    }
}

/// A closure nobody awaits ([`TaskQueue::execute`](super::TaskQueue::execute)):
/// no slot, no handle, one allocation.
struct Detached<F>(F);

impl<F: FnOnce() + Send> Body for Detached<F> {
    fn run(self: Box<Self>) -> Result<(), TaskError> {
        run_caught(self.0)
    }

    fn cancel(self: Box<Self>) {}
}

/// Runs a task's closure, a panic caught and reported as
/// [`TaskError::Panicked`] with its message.
fn run_caught<R>(f: impl FnOnce() -> R) -> Result<R, TaskError> {
    // AssertUnwindSafe: the closure's captures are dropped with it on
    // unwind and nothing of the pool is borrowed across the call, so a
    // panic cannot leave pool state half-updated.
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|payload| TaskError::Panicked(panic_message(payload.as_ref())))
}

/// A fresh slot and the handle that reads it.
fn slot_and_handle<R>(id: TaskId) -> (Arc<Slot<R>>, TaskHandle<R>) {
    let slot = Arc::new(Slot::new(()));
    let handle = TaskHandle {
        id,
        slot: Waiting::new(Take::new(slot.clone())),
    };
    (slot, handle)
}

/// The writing end of a [`TaskHandle`] for tasks that are not closures (the
/// async pool's futures): resolves the handle once, and as
/// [`TaskError::Cancelled`] if dropped unresolved, so a task dropped unrun
/// or half-run is accounted for as a `Job` is.
#[cfg(feature = "async")]
pub(crate) struct Resolver<R>(Option<Arc<Slot<R>>>);

#[cfg(feature = "async")]
impl<R> Resolver<R> {
    /// A resolver and the handle it resolves.
    pub(crate) fn new(id: TaskId) -> (Resolver<R>, TaskHandle<R>) {
        let (slot, handle) = slot_and_handle(id);
        (Resolver(Some(slot)), handle)
    }

    pub(crate) fn resolve(mut self, outcome: Result<R, TaskError>) {
        if let Some(slot) = self.0.take() {
            slot.resolve(outcome);
        }
    }
}

#[cfg(feature = "async")]
impl<R> Drop for Resolver<R> {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.resolve(Err(TaskError::Cancelled));
        }
    }
}

/// A queued task. Dropping it unrun cancels it.
pub(crate) struct Job {
    pub(crate) id: TaskId,
    pub(crate) level: Level,
    body: Option<Box<dyn Body>>,
}

impl Job {
    /// A job and the handle it will resolve.
    pub(crate) fn new<F, R>(id: TaskId, level: Level, f: F) -> (Job, TaskHandle<R>)
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (slot, handle) = slot_and_handle(id);
        let job = Job {
            id,
            level,
            body: Some(Box::new(Typed { f, slot })),
        };
        (job, handle)
    }

    /// A job without a handle: its outcome only reaches the pool's
    /// counters (and [`TaskQueue::run_pending`](super::TaskQueue::run_pending)'s
    /// reports).
    pub(crate) fn detached<F>(id: TaskId, level: Level, f: F) -> Job
    where
        F: FnOnce() + Send + 'static,
    {
        Job {
            id,
            level,
            body: Some(Box::new(Detached(f))),
        }
    }

    /// Runs the task (at most once: the body is taken).
    pub(crate) fn run(mut self) -> Result<(), TaskError> {
        match self.body.take() {
            Some(body) => body.run(),
            None => Err(TaskError::Cancelled),
        }
    }

    /// Cancels the task explicitly (the same as dropping it).
    pub(crate) fn cancel(mut self) {
        if let Some(body) = self.body.take() {
            body.cancel();
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(body) = self.body.take() {
            body.cancel();
        }
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}
