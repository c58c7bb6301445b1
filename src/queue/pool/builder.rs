//! How a [`TaskQueue`](super::TaskQueue) is made: `new`, `builder`, and
//! [`TaskQueueBuilder`](super::TaskQueueBuilder)'s settings and `build`,
//! which checks them and starts the workers; the pool itself is in
//! `pool.rs`.

use super::*;

impl TaskQueue<SystemClock> {
    /// A pool of `workers` threads on the system clock. Zero workers is
    /// allowed: tasks then run only in [`run_pending`](Self::run_pending) or
    /// at [`shutdown`](Self::shutdown), on the caller's thread.
    pub fn new(workers: usize) -> Result<Self, Error> {
        Self::builder().workers(workers).build()
    }

    /// A builder (defaults: one worker per available CPU, system clock).
    pub fn builder() -> TaskQueueBuilder<SystemClock> {
        TaskQueueBuilder {
            workers: crate::sync::available_cpus(1),
            clock: SystemClock,
        }
    }
}

impl<C: Clock> TaskQueueBuilder<C> {
    /// Number of worker threads (0 to [`MAX_WORKERS`]).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// The clock that delayed tasks are timed by.
    pub fn clock<D: Clock>(self, clock: D) -> TaskQueueBuilder<D> {
        TaskQueueBuilder {
            workers: self.workers,
            clock,
        }
    }

    /// Starts the pool's workers.
    pub fn build(self) -> Result<TaskQueue<C>, Error> {
        if self.workers > MAX_WORKERS {
            return Err(Error::TooManyWorkers {
                requested: self.workers,
                max: MAX_WORKERS,
            });
        }
        let pool = TaskQueue {
            shared: Arc::new(Shared {
                ready: PriorityQueue::new(),
                delayed: Delayed::new(),
                state: AtomicU8::new(RUNNING),
                gate: CachePadded::new(RwLock::new(())),
                next_id: CachePadded::new(AtomicU64::new(0)),
                clock: self.clock,
                clamp: MonotonicClamp::new(),
                stats: StripedCounters::new(),
                live: AtomicUsize::new(0),
                exited: WaitQueue::new(),
            }),
            workers: Mutex::new(Vec::with_capacity(self.workers)),
        };
        for i in 0..self.workers {
            let shared = pool.shared.clone();
            // Relaxed: the spawn orders it before the worker's decrement.
            pool.shared.live.fetch_add(1, Ordering::Relaxed);
            let spawned = thread::Builder::new()
                .name(format!("latchwork-worker-{i}"))
                .spawn(move || shared.worker());
            match spawned {
                Ok(handle) => pool.workers.lock().push(handle),
                // Dropping `pool` stops and joins the workers started so far.
                Err(e) => {
                    // Relaxed: this worker never started.
                    pool.shared.live.fetch_sub(1, Ordering::Relaxed);
                    return Err(Error::Spawn(e.to_string()));
                }
            }
        }
        Ok(pool)
    }
}
