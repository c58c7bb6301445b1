//! The worker runner: N jobs at a time from one [`RedisQueue`] on tokio,
//! with graceful shutdown and isolated, counted handler panics.
use super::core::Nacked;
use super::error::RedisError;
use super::job::Job;
use super::queue::RedisQueue;
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::sync::panic_message;
use crate::sync::Mutex;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Most concurrent jobs of one worker runner.
pub const MAX_CONCURRENCY: usize = 4096;

/// Configures and starts a [`RedisWorker`]; see [`RedisQueue::worker`].
pub struct RedisWorkerBuilder {
    queue: RedisQueue,
    concurrency: usize,
    lease: Duration,
    grace: Duration,
    idle_wait: Duration,
}

impl RedisQueue {
    /// A worker runner on this queue (feature `tokio`): `concurrency`
    /// jobs at a time, each a tokio task, so one handler's panic fails only
    /// its job.
    ///
    /// ```no_run
    /// use latchwork::queue::RedisQueue;
    /// use std::time::Duration;
    ///
    /// # async fn run(queue: RedisQueue) -> Result<(), latchwork::queue::RedisError> {
    /// let worker = queue
    ///     .worker()
    ///     .concurrency(16)
    ///     .lease(Duration::from_secs(30))
    ///     .start(|job| async move {
    ///         if job.payload().is_empty() {
    ///             return Err("empty payload"); // retried with backoff, then dead
    ///         }
    ///         Ok(())
    ///     })?;
    /// // ... on SIGTERM:
    /// let stats = worker.shutdown().await;
    /// println!("{stats:?}");
    /// # Ok(()) }
    /// ```
    pub fn worker(&self) -> RedisWorkerBuilder {
        RedisWorkerBuilder {
            queue: self.clone(),
            concurrency: 1,
            lease: Duration::from_secs(30),
            grace: Duration::from_secs(10),
            idle_wait: Duration::from_millis(200),
        }
    }
}

impl RedisWorkerBuilder {
    /// Jobs run at once (default 1; 1 to [`MAX_CONCURRENCY`]).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Each job's lease (default 30 s). A handler that may run longer
    /// should [`extend`](RedisQueue::extend) it, or the job is delivered
    /// again while it still runs.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long [`RedisWorker::shutdown`] lets running handlers finish (default
    /// 10 s); the ones still running then are aborted and their jobs
    /// released (ready again at once, the attempt not counted).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Starts the slots on the current tokio runtime.
    ///
    /// # Errors
    /// [`RedisError::DurationOutOfRange`] for a lease outside 1 ms to
    /// [`MAX_LEASE`](super::MAX_LEASE); [`RedisError::InvalidName`] with
    /// parameter `concurrency` outside 1 to [`MAX_CONCURRENCY`].
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn start<F, Fut, E>(self, handler: F) -> Result<RedisWorker, RedisError>
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display,
    {
        if self.concurrency == 0 || self.concurrency > MAX_CONCURRENCY {
            return Err(RedisError::InvalidName {
                parameter: "concurrency",
                reason: "must be from 1 to 4096",
            });
        }
        super::core::check_duration(
            "lease",
            self.lease,
            Duration::from_millis(1),
            super::MAX_LEASE,
        )?;
        let shared = Arc::new(Shared::default());
        let handler = Arc::new(handler);
        let slots = (0..self.concurrency)
            .map(|_| {
                let slot = Lane {
                    queue: self.queue.clone(),
                    shared: shared.clone(),
                    lease: self.lease,
                    idle_wait: self.idle_wait,
                };
                let handler = handler.clone();
                tokio::spawn(async move { slot.run(&*handler).await })
            })
            .collect();
        Ok(RedisWorker {
            shared,
            slots,
            grace: self.grace,
        })
    }
}

impl fmt::Debug for RedisWorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisWorkerBuilder")
            .field("concurrency", &self.concurrency)
            .field("lease", &self.lease)
            .field("shutdown_grace", &self.grace)
            .finish_non_exhaustive()
    }
}

/// What a worker did, counted since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RedisWorkerStats {
    /// Jobs whose handler returned `Ok` and whose `ack` was accepted.
    pub completed: u64,
    /// Handler errors and panics that were nacked (retried or buried).
    pub failed: u64,
    /// Of `failed`: handler panics (caught; the slot went on).
    pub panicked: u64,
    /// Of `failed`: jobs buried in the dead set by their last failure.
    pub dead: u64,
    /// Jobs handed back unfinished at shutdown.
    pub released: u64,
    /// Acks and nacks refused because the lease had passed to another
    /// delivery (the handler outran its lease).
    pub lease_lost: u64,
    /// Redis failures (reserve, ack, nack); the slot backs off and goes on.
    pub redis_errors: u64,
}

struct Shared {
    stop: AtomicBool,
    grace_end: Mutex<Option<Instant>>,
    // Relaxed: plain event counters, read only for reports; nothing else
    // is published through them.
    completed: AtomicU64,
    failed: AtomicU64,
    panicked: AtomicU64,
    dead: AtomicU64,
    released: AtomicU64,
    lease_lost: AtomicU64,
    redis_errors: AtomicU64,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            stop: AtomicBool::new(false),
            grace_end: Mutex::new(None),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            dead: AtomicU64::new(0),
            released: AtomicU64::new(0),
            lease_lost: AtomicU64::new(0),
            redis_errors: AtomicU64::new(0),
        }
    }
}

impl Shared {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn stats(&self) -> RedisWorkerStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RedisWorkerStats {
            completed: r(&self.completed),
            failed: r(&self.failed),
            panicked: r(&self.panicked),
            dead: r(&self.dead),
            released: r(&self.released),
            lease_lost: r(&self.lease_lost),
            redis_errors: r(&self.redis_errors),
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn past_grace(&self) -> bool {
        self.grace_end
            .lock()
            .is_some_and(|end| Instant::now() >= end)
    }
}

struct Lane {
    queue: RedisQueue,
    shared: Arc<Shared>,
    lease: Duration,
    idle_wait: Duration,
}

/// How often a slot whose handler runs checks for the end of the grace
/// period.
const GRACE_CHECK: Duration = Duration::from_millis(20);

impl Lane {
    async fn run<F, Fut, E>(self, handler: &F)
    where
        F: Fn(Job) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display,
    {
        let mut failures = 0u32;
        while !self.shared.stopping() {
            match self.queue.reserve(self.lease, self.idle_wait).await {
                Ok(None) => failures = 0,
                Ok(Some(job)) => {
                    failures = 0;
                    // A success acks and reserves the next job in one trip.
                    let mut next = Some(job);
                    while let Some(job) = next {
                        if self.shared.stopping() {
                            if self.queue.release(&job).await.is_ok() {
                                Shared::bump(&self.shared.released);
                            }
                            break;
                        }
                        next = self.one(job, handler).await;
                    }
                }
                Err(_) => {
                    Shared::bump(&self.shared.redis_errors);
                    failures = failures.saturating_add(1);
                    let pause = self.queue_backoff(failures);
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    fn queue_backoff(&self, failures: u32) -> Duration {
        // The same schedule as nack's retries, capped low: a worker should
        // notice Redis coming back within a second.
        let d = Duration::from_millis(10).saturating_mul(1 << failures.min(7));
        d.min(Duration::from_secs(1))
    }

    /// Runs one job; after a success, the job `ack_and_reserve` took.
    async fn one<F, Fut, E>(&self, job: Job, handler: &F) -> Option<Job>
    where
        F: Fn(Job) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display,
    {
        // The handler's future is mapped to a `String` error so the spawned
        // task needs no `E: Send`.
        let fut = handler(job.clone());
        let mut task: JoinHandle<Result<(), String>> =
            tokio::spawn(async move { fut.await.map_err(|e| e.to_string()) });
        let outcome = loop {
            if self.shared.stopping() {
                match tokio::time::timeout(GRACE_CHECK, &mut task).await {
                    Ok(done) => break done,
                    Err(_) if self.shared.past_grace() => {
                        task.abort();
                        if self.queue.release(&job).await.is_ok() {
                            Shared::bump(&self.shared.released);
                        }
                        return None;
                    }
                    Err(_) => continue,
                }
            }
            match tokio::time::timeout(GRACE_CHECK * 5, &mut task).await {
                Ok(done) => break done,
                Err(_) => continue,
            }
        };
        let failure = match outcome {
            Ok(Ok(())) => {
                if self.shared.stopping() {
                    self.settle(self.queue.ack(&job).await.map(|()| None));
                    return None;
                }
                return match self.queue.ack_and_reserve(&job, self.lease).await {
                    Ok((acked, next)) => {
                        self.settle(acked.map(|()| None));
                        next
                    }
                    Err(e) => {
                        self.settle(Err(e));
                        None
                    }
                };
            }
            Ok(Err(reason)) => reason,
            Err(join) if join.is_panic() => {
                Shared::bump(&self.shared.panicked);
                format!("panicked: {}", panic_message(&*join.into_panic()))
            }
            Err(_) => {
                if self.queue.release(&job).await.is_ok() {
                    Shared::bump(&self.shared.released);
                }
                return None;
            }
        };
        self.settle(self.queue.nack(&job, &failure).await.map(Some));
        None
    }

    fn settle(&self, result: Result<Option<Nacked>, RedisError>) {
        let s = &self.shared;
        match result {
            Ok(None) => Shared::bump(&s.completed),
            Ok(Some(nacked)) => {
                Shared::bump(&s.failed);
                if nacked == Nacked::Dead {
                    Shared::bump(&s.dead);
                }
            }
            Err(
                RedisError::LeaseLost { .. }
                | RedisError::Dead { .. }
                | RedisError::UnknownJob { .. },
            ) => Shared::bump(&s.lease_lost),
            Err(_) => Shared::bump(&s.redis_errors),
        }
    }
}

/// A running worker runner; see [`RedisQueue::worker`]. Dropping it asks
/// the slots to stop after their current job (without waiting);
/// [`shutdown`](Self::shutdown) waits.
pub struct RedisWorker {
    shared: Arc<Shared>,
    slots: Vec<JoinHandle<()>>,
    grace: Duration,
}

impl RedisWorker {
    /// What the worker did so far.
    pub fn stats(&self) -> RedisWorkerStats {
        self.shared.stats()
    }

    /// Stops taking jobs, lets running handlers finish within the grace
    /// period, releases the jobs of those still running after it, and
    /// returns the final counts.
    pub async fn shutdown(mut self) -> RedisWorkerStats {
        *self.shared.grace_end.lock() = Instant::now().checked_add(self.grace);
        self.shared.stop.store(true, Ordering::SeqCst);
        for slot in std::mem::take(&mut self.slots) {
            // A slot only ends by returning; a panic inside it (not in a
            // handler, which runs in its own task) would be a bug here.
            let _ = slot.await;
        }
        self.shared.stats()
    }
}

impl Drop for RedisWorker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

impl fmt::Debug for RedisWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisWorker")
            .field("slots", &self.slots.len())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
