//! [`RedisQueue`]: the async queue, a thin shell over the core's calls.
use super::super::Level;
use super::builder::RedisQueueBuilder;
use super::core::{self, Core, Nacked, Reserved};
use super::error::RedisError;
use super::job::{DeadJob, EnqueueOptions, Enqueued, Job, JobId, QueueStats};
use crate::redis_link::{AsyncLink, Script, ScriptCall};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A durable priority job queue in Redis, shared by any number of worker
/// processes (async, on tokio; [`BlockingRedisQueue`](crate::queue::BlockingRedisQueue)
/// for threads), on a single node or a Redis Cluster.
///
///
/// **Semantics: `TaskQueue`'s, across processes.** The same 64 [`Level`](crate::queue::Level)s
/// (and [`Priority`](crate::queue::Priority) names), strict priority across
/// levels and FIFO within one, as the in-process
/// [`PriorityQueue`](crate::queue::PriorityQueue). A job is payload bytes
/// (JSON helpers with feature `serde`), optionally delayed or scheduled,
/// with an optional idempotency key and a maximum attempt count.
///
/// **Delivery: at least once, completion at most once.** `reserve` hands a
/// job to one worker under a lease (a visibility timeout). If the worker
/// dies, hangs or is cut off, the lease runs out and the job is delivered
/// again with its attempt count raised (reliable fetch: a reserved job is
/// always in the leased set, never only in a worker's memory). Each
/// delivery carries a token; `ack`, `nack`, `extend` and `release` are
/// refused with [`RedisError::LeaseLost`](crate::queue::RedisError::LeaseLost) once the job has passed to a
/// later delivery, so the bookkeeping records one completion per job.
/// Handlers must still be idempotent: a handler that outruns its lease
/// may have done its work twice even though only one ack counts.
///
/// **Failures.** `nack` retries after the crate's [`retry`](crate::retry)
/// [`Backoff`](crate::retry::Backoff) with jitter; after the last attempt
/// (also a lease that runs out on it) the job moves to the dead set, which
/// [`dead`](Self::dead) lists and [`requeue_dead`](Self::requeue_dead)
/// puts back.
///
/// **How.** Every operation is one Lua script (`*.lua` beside this file,
/// each `common.lua` + its body), called by `EVALSHA` with the crate's one
/// `NOSCRIPT` recovery, so each is atomic and one round trip: enqueue 1,
/// reserve 1, ack 1 per job. The clock is Redis `TIME` (milliseconds), so
/// workers' clocks never matter. Keys are `prefix{name}:...`: the hash
/// tag keeps a queue in one cluster slot.
///
/// ```text
///   enqueue ─► ready (zset: level·2^47 + seq) ─reserve─► leased (zset: deadline)
///      │            ▲        ▲                             │  │  │
///      └► delayed ──┘due     └──── lease ran out ──────────┘  │  └─ack─► (deleted)
///         (run at)  ◄──────────── nack (backoff) ─────────────┘
///                   dead ◄── last attempt failed / ran out; requeue_dead ─► ready
/// ```
///
/// **Durability.** An enqueue that returned `Ok` is in Redis's memory. It
/// survives a Redis restart only with persistence: `appendonly yes` with
/// `appendfsync always` loses no acknowledged enqueue even on a power
/// loss; `appendfsync everysec` (Redis's default) can lose the last
/// second's on a machine crash but none on a clean restart or a killed
/// `redis-server` process (the kernel still writes its buffers). With
/// persistence off a restart loses every job. Replication is
/// asynchronous: a failover can lose the last writes (`WAIT` is not used).
///
/// **Limits.** Payloads up to [`MAX_PAYLOAD_LEN`](crate::queue::MAX_PAYLOAD_LEN) (16 MiB), idempotency
/// keys 1 to [`MAX_IDEMPOTENCY_KEY_LEN`](crate::queue::MAX_IDEMPOTENCY_KEY_LEN) bytes, leases 1 ms to
/// [`MAX_LEASE`](crate::queue::MAX_LEASE), delays 0 to [`MAX_DELAY`](crate::queue::MAX_DELAY) (whole milliseconds, rounded
/// up), attempts 1 to `u32::MAX` (`u32::MAX`: retry forever); anything else
/// is a typed [`RedisError`](crate::queue::RedisError) before anything is sent. Job ids are exact up
/// to 10^14 jobs per queue.
///
/// Cloning is cheap: clones share one connection (multiplexed).
///
/// ```no_run
/// use latchwork::queue::{EnqueueOptions, Priority, RedisQueue};
/// use std::time::Duration;
///
/// # async fn run() -> Result<(), latchwork::queue::RedisError> {
/// let queue = RedisQueue::builder("emails").url("redis://127.0.0.1:6379").build().await?;
/// queue.enqueue(b"welcome:42", Priority::High, EnqueueOptions::new()).await?;
///
/// if let Some(job) = queue.reserve(Duration::from_secs(30), Duration::from_secs(5)).await? {
///     // ... send the email ...
///     queue.ack(&job).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisQueue {
    inner: Arc<Inner>,
}

struct Inner {
    core: Core,
    link: AsyncLink,
}

impl RedisQueue {
    /// A builder for the queue named `name` (1 to 128 bytes, no braces).
    pub fn builder(name: &str) -> RedisQueueBuilder {
        RedisQueueBuilder::new(name)
    }

    pub(crate) fn start(core: Core, link: AsyncLink) -> Self {
        RedisQueue {
            inner: Arc::new(Inner { core, link }),
        }
    }

    fn core(&self) -> &Core {
        &self.inner.core
    }

    async fn run(&self, script: &Script, call: &ScriptCall) -> Result<::redis::Value, RedisError> {
        script
            .invoke_async(&self.inner.link, call)
            .await
            .map_err(|e| RedisError::from_client(&e))
    }

    /// Adds a job: one round trip. Once this returns `Ok` the job is in
    /// Redis (durable as far as Redis's persistence is; see the module
    /// docs).
    ///
    /// # Errors
    /// [`RedisError::PayloadTooLarge`], [`RedisError::ZeroAttempts`],
    /// [`RedisError::DurationOutOfRange`] (delay or run-at past
    /// [`MAX_DELAY`](super::MAX_DELAY)), [`RedisError::InvalidName`] (the
    /// idempotency key) before anything is sent; [`RedisError::Unavailable`]
    /// and [`RedisError::Backend`] from Redis. After `Unavailable` the job
    /// may or may not have been added: retry with an idempotency key to
    /// add it exactly once.
    ///
    /// # Cancel safety
    /// Dropping the future may leave the job enqueued or not.
    pub async fn enqueue(
        &self,
        payload: impl AsRef<[u8]>,
        level: impl Into<Level>,
        options: EnqueueOptions,
    ) -> Result<Enqueued, RedisError> {
        let call = self
            .core()
            .enqueue(payload.as_ref(), level.into(), &options)?;
        core::parse_enqueue(self.run(&self.core().scripts.enqueue, &call).await?)
    }

    /// [`enqueue`](Self::enqueue) of `value` as JSON (feature `serde`).
    ///
    /// # Errors
    /// [`RedisError::Codec`] if `value` cannot be serialised; else as
    /// `enqueue`.
    #[cfg(feature = "serde")]
    pub async fn enqueue_json<T: serde::Serialize + ?Sized>(
        &self,
        value: &T,
        level: impl Into<Level>,
        options: EnqueueOptions,
    ) -> Result<Enqueued, RedisError> {
        let bytes = serde_json::to_vec(value).map_err(|e| RedisError::Codec {
            message: e.to_string(),
        })?;
        self.enqueue(bytes, level, options).await
    }

    /// Takes the most urgent ready job (the oldest within its level) if
    /// there is one now, leased for `lease` (1 ms to
    /// [`MAX_LEASE`](super::MAX_LEASE)): one round trip.
    ///
    /// # Errors
    /// [`RedisError::DurationOutOfRange`] for the lease;
    /// [`RedisError::Unavailable`], [`RedisError::Backend`].
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped after Redis ran the script, the job is
    /// leased to nobody and is delivered again when the lease runs out.
    pub async fn try_reserve(&self, lease: Duration) -> Result<Option<Job>, RedisError> {
        Ok(match self.reserve_once(lease).await? {
            Reserved::Job(job) => Some(job),
            Reserved::Empty(_) => None,
        })
    }

    async fn reserve_once(&self, lease: Duration) -> Result<Reserved, RedisError> {
        let call = self.core().reserve(lease)?;
        core::parse_reserve(self.run(&self.core().scripts.reserve, &call).await?)
    }

    /// [`try_reserve`](Self::try_reserve), waiting up to `timeout` for a
    /// job (`Duration::MAX`: no limit). It retries every
    /// [`poll_interval`](super::RedisQueueBuilder::poll_interval) at most,
    /// sooner when a delayed job falls due or a lease runs out. `Ok(None)`
    /// once the timeout passes.
    ///
    /// # Errors
    /// As `try_reserve`; a Redis failure is returned at once (the caller
    /// decides whether to back off).
    ///
    /// # Cancel safety
    /// As `try_reserve`.
    pub async fn reserve(
        &self,
        lease: Duration,
        timeout: Duration,
    ) -> Result<Option<Job>, RedisError> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            let wake = match self.reserve_once(lease).await? {
                Reserved::Job(job) => return Ok(Some(job)),
                Reserved::Empty(wake) => wake,
            };
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) {
                return Ok(None);
            }
            tokio::time::sleep(self.core().pause(wake, remaining)).await;
        }
    }

    /// Completes the job: one round trip. Refused if this delivery's lease
    /// has passed to another delivery.
    ///
    /// # Errors
    /// [`RedisError::LeaseLost`] (the lease ran out and the job was
    /// requeued or handed to another worker: that delivery completes it),
    /// [`RedisError::Dead`], [`RedisError::UnknownJob`] (already
    /// completed); [`RedisError::Unavailable`], [`RedisError::Backend`].
    ///
    /// # Cancel safety
    /// Dropping the future may leave the job completed or not; if not, it
    /// is delivered again after its lease.
    pub async fn ack(&self, job: &Job) -> Result<(), RedisError> {
        let call = self.core().lease_op(job);
        core::parse_lease(
            self.run(&self.core().scripts.ack, &call).await?,
            job.id,
            "ack",
        )
        .map(drop)
    }

    /// [`ack`](Self::ack) this job and [`try_reserve`](Self::try_reserve)
    /// the next in one round trip (one script): a worker's loop at two
    /// round trips per job, enqueue included. The reserve happens whatever
    /// the ack's outcome, which is the first value.
    ///
    /// # Errors
    /// [`RedisError::DurationOutOfRange`] for the lease;
    /// [`RedisError::Unavailable`], [`RedisError::Backend`] (then neither
    /// happened, or both did: the unacked job comes back after its lease,
    /// a reserved one after the new lease).
    pub async fn ack_and_reserve(
        &self,
        job: &Job,
        lease: Duration,
    ) -> Result<(Result<(), RedisError>, Option<Job>), RedisError> {
        let call = self.core().ack_reserve(job, lease)?;
        let v = self.run(&self.core().scripts.ack_reserve, &call).await?;
        let (acked, next) = core::parse_ack_reserve(v, job.id)?;
        Ok((acked, next.into_job()))
    }

    /// Reports the delivery failed: the job runs again after the
    /// [`backoff`](super::RedisQueueBuilder::backoff)'s jittered delay for
    /// this attempt, or, on its last attempt, moves to the dead set with
    /// `reason` (truncated to 1 KiB).
    ///
    /// # Errors
    /// As [`ack`](Self::ack).
    pub async fn nack(&self, job: &Job, reason: &str) -> Result<Nacked, RedisError> {
        let (call, delay) = self.core().nack(job, reason);
        core::parse_nack(
            self.run(&self.core().scripts.nack, &call).await?,
            job.id,
            delay,
        )
    }

    /// Renews the lease for `lease` from now (Redis's clock), and updates
    /// `job`'s deadline.
    ///
    /// # Errors
    /// [`RedisError::DurationOutOfRange`]; else as [`ack`](Self::ack).
    pub async fn extend(&self, job: &mut Job, lease: Duration) -> Result<(), RedisError> {
        let call = self.core().extend(job, lease)?;
        let v = self.run(&self.core().scripts.extend, &call).await?;
        core::parse_extend(v, job)
    }

    /// Hands the job back unfinished (for a worker shutting down): ready
    /// again at once at its level, this delivery not counted as an attempt.
    ///
    /// # Errors
    /// As [`ack`](Self::ack).
    pub async fn release(&self, job: &Job) -> Result<(), RedisError> {
        let call = self.core().lease_op(job);
        core::parse_lease(
            self.run(&self.core().scripts.release, &call).await?,
            job.id,
            "release",
        )
        .map(drop)
    }

    /// Up to `count` (at most 10,000) dead jobs from position `offset`,
    /// oldest burial first.
    ///
    /// # Errors
    /// [`RedisError::Unavailable`], [`RedisError::Backend`].
    pub async fn dead(&self, offset: usize, count: usize) -> Result<Vec<DeadJob>, RedisError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        core::parse_dead(
            self.run(&self.core().scripts.dead, &self.core().dead(offset, count))
                .await?,
        )
    }

    /// Moves a dead job back to ready with its attempts reset; `false` if
    /// `id` is not in the dead set.
    ///
    /// # Errors
    /// [`RedisError::Unavailable`], [`RedisError::Backend`].
    pub async fn requeue_dead(&self, id: JobId) -> Result<bool, RedisError> {
        core::parse_requeue(
            self.run(&self.core().scripts.requeue, &self.core().requeue(id))
                .await?,
        )
    }

    /// Counts per state, and the oldest pending job's age.
    ///
    /// # Errors
    /// [`RedisError::Unavailable`], [`RedisError::Backend`].
    pub async fn stats(&self) -> Result<QueueStats, RedisError> {
        core::parse_stats(
            self.run(&self.core().scripts.stats, &self.core().stats())
                .await?,
        )
    }

    /// The queue's base key, `prefix{name}` (every key starts with it).
    pub fn base_key(&self) -> &str {
        &self.core().base
    }
}

impl fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueue")
            .field("base_key", &self.core().base)
            .field("link", &self.inner.link)
            .finish_non_exhaustive()
    }
}
