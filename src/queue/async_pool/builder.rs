//! How an [`AsyncTaskQueue`] is made: [`AsyncTaskQueueBuilder`]'s settings
//! and `build`, which checks them and spawns the workers.
use super::shared::{worker, Shared, DRAINING};
use super::AsyncTaskQueue;
use crate::queue::pool::MAX_WORKERS;
use crate::queue::spawn::Spawn;
use crate::queue::Error;
use crate::sync::panic_message;
use crate::sync::Arc;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Tasks queued at most, unless [`AsyncTaskQueueBuilder::capacity`] says.
const DEFAULT_CAPACITY: usize = 1024;

/// Builds an [`AsyncTaskQueue`]: its worker count and capacity, then
/// [`build`](Self::build) with a spawner.
#[derive(Clone, Debug)]
pub struct AsyncTaskQueueBuilder {
    workers: usize,
    capacity: usize,
}

impl AsyncTaskQueue {
    /// A builder. Defaults: one worker per available CPU, room for 1024
    /// queued tasks.
    pub fn builder() -> AsyncTaskQueueBuilder {
        AsyncTaskQueueBuilder {
            workers: crate::sync::available_cpus(1),
            capacity: DEFAULT_CAPACITY,
        }
    }
}

impl AsyncTaskQueueBuilder {
    /// How many tasks run at once: the number of worker futures spawned (0
    /// to [`MAX_WORKERS`]). Every idle worker is woken by each submission
    /// (the crate's wait queue wakes every waiting task), so keep it near
    /// the concurrency the tasks need. Zero is allowed: tasks then run only
    /// inside [`shutdown`](AsyncTaskQueue::shutdown).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// How many tasks may wait in the queue (at least 1); tasks a worker
    /// has taken do not count.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Spawns the workers with `spawner` and returns the pool.
    ///
    /// [`Error::TooManyWorkers`] beyond [`MAX_WORKERS`],
    /// [`Error::ZeroTaskCapacity`] for a capacity of 0, and
    /// [`Error::Spawn`] with its message if `spawner` panics (tokio's
    /// `spawn` outside a runtime); the workers spawned by then return
    /// without running anything.
    pub fn build<S: Spawn>(self, spawner: S) -> Result<AsyncTaskQueue, Error> {
        if self.workers > MAX_WORKERS {
            return Err(Error::TooManyWorkers {
                requested: self.workers,
                max: MAX_WORKERS,
            });
        }
        if self.capacity == 0 {
            return Err(Error::ZeroTaskCapacity);
        }
        let shared = Arc::new(Shared::new(self.capacity));
        for _ in 0..self.workers {
            let w = worker(shared.clone());
            // AssertUnwindSafe: a panicking spawner leaves the pool unused;
            // it is closed below and its workers, if ever polled, return.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| spawner.spawn(w))) {
                shared.close(DRAINING);
                return Err(Error::Spawn(panic_message(payload.as_ref())));
            }
        }
        Ok(AsyncTaskQueue { shared })
    }
}
