//! How an [`AsyncTaskQueue`](super::AsyncTaskQueue) starts its workers
//! without naming a runtime: the [`Spawn`] trait, the [`Worker`] future it
//! is handed, and tokio's spawner (feature `tokio`).
//!
//! | spawner | runtime |
//! |---|---|
//! | `TokioSpawner` (feature `tokio`) | tokio, the runtime of the calling thread |
//! | a `tokio::runtime::Handle` (feature `tokio`) | tokio, that runtime (build from outside it) |
//! | any `Fn(Worker)` | any: `\|w\| { smol::spawn(w).detach(); }`, a `LocalPool`'s spawner, a hand-written executor |
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs an async pool's [`Worker`]s on some executor.
///
/// The pool calls [`spawn`](Self::spawn) once per worker, from
/// `build`, and never again. Implemented for every `Fn(Worker)`, so a
/// closure over the executor's own spawn function is a spawner.
///
/// ```
/// use futures::executor::LocalPool;
/// use futures::task::LocalSpawnExt;
/// use latchwork::queue::{AsyncTaskQueue, Worker};
///
/// let exec = LocalPool::new();
/// let spawner = exec.spawner();
/// let pool = AsyncTaskQueue::builder()
///     .workers(2)
///     .build(move |w: Worker| spawner.spawn_local(w).expect("executor running"))?;
/// # Ok::<(), latchwork::queue::Error>(())
/// ```
pub trait Spawn {
    /// Starts `worker` on the executor: poll it until it completes. A
    /// spawner that cannot (its executor is gone) may drop it; the pool
    /// then counts that worker as exited. A panic here is caught and
    /// reported by `build` as [`Error::Spawn`](super::Error::Spawn).
    fn spawn(&self, worker: Worker);
}

impl<F: Fn(Worker)> Spawn for F {
    fn spawn(&self, worker: Worker) {
        self(worker)
    }
}

/// One of an async pool's workers, as a future to spawn: it takes the most
/// urgent queued task, awaits it, and repeats until the pool shuts down.
/// `Send`, `'static` and `Unpin`, so any executor can run it.
///
/// Dropping it before it completes (an executor shutting down) ends the
/// worker: the task it was running is cancelled (its handle reports
/// [`TaskError::Cancelled`](super::TaskError::Cancelled)) and the pool
/// counts the worker as exited.
#[must_use = "a worker runs no task unless it is spawned"]
pub struct Worker(Pin<Box<dyn Future<Output = ()> + Send + 'static>>);

impl Worker {
    pub(crate) fn new(run: impl Future<Output = ()> + Send + 'static) -> Worker {
        Worker(Box::pin(run))
    }
}

impl Future for Worker {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker").finish_non_exhaustive()
    }
}

/// Spawns workers with `tokio::spawn`, on the runtime of the thread that
/// builds the pool; building outside a runtime fails with
/// [`Error::Spawn`](super::Error::Spawn). To build from outside, pass a
/// `tokio::runtime::Handle` instead, which is a [`Spawn`] too. Feature
/// `tokio`.
///
/// ```
/// use latchwork::queue::{AsyncTaskQueue, Priority, TokioSpawner};
///
/// let rt = tokio::runtime::Builder::new_multi_thread().build()?;
/// rt.block_on(async {
///     let pool = AsyncTaskQueue::builder().workers(4).build(TokioSpawner)?;
///     let h = pool.submit_async(Priority::High, async { 6 * 7 }).await?;
///     assert_eq!(h.await, Ok(42));
///     pool.shutdown().await;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "tokio")]
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSpawner;

#[cfg(feature = "tokio")]
impl Spawn for TokioSpawner {
    fn spawn(&self, worker: Worker) {
        // The worker's end is observed through the pool; the join handle
        // is not needed.
        drop(tokio::spawn(worker));
    }
}

/// Spawns on that runtime, from any thread. Feature `tokio`.
#[cfg(feature = "tokio")]
impl Spawn for tokio::runtime::Handle {
    fn spawn(&self, worker: Worker) {
        drop(tokio::runtime::Handle::spawn(self, worker));
    }
}
