//! [`BlockingRedisQueue`]: the queue without an async runtime, the same
//! calls over one synchronous connection.
use super::super::Level;
use super::core::{self, Core, Nacked, Reserved};
use super::error::RedisError;
use super::job::{DeadJob, EnqueueOptions, Enqueued, Job, JobId, QueueStats};
use crate::redis_link::{BlockingLink, Script, ScriptCall};
use std::fmt;
use std::time::{Duration, Instant};

/// [`RedisQueue`](super::RedisQueue) for threads: the same scripts, keys,
/// checks and answers (each method documents itself by reference to the
/// async one), over one blocking connection that is reopened after a
/// failure.
///
/// Calls from several threads share the connection one at a time; for
/// parallel round trips give each thread its own queue value (they share
/// all state through Redis).
///
/// ```no_run
/// use latchwork::queue::{EnqueueOptions, Priority, RedisQueue};
/// use std::time::Duration;
///
/// let queue = RedisQueue::builder("reports").url("redis://127.0.0.1:6379").build_blocking()?;
/// queue.enqueue(b"weekly", Priority::Low, EnqueueOptions::new())?;
/// while let Some(job) = queue.reserve(Duration::from_secs(60), Duration::from_secs(1))? {
///     queue.ack(&job)?;
/// }
/// # Ok::<(), latchwork::queue::RedisError>(())
/// ```
pub struct BlockingRedisQueue {
    core: Core,
    link: BlockingLink,
}

impl BlockingRedisQueue {
    pub(crate) fn start(core: Core, link: BlockingLink) -> Self {
        BlockingRedisQueue { core, link }
    }

    fn run(&self, script: &Script, call: &ScriptCall) -> Result<::redis::Value, RedisError> {
        script
            .invoke_blocking(&self.link, call)
            .map_err(|e| RedisError::from_client(&e))
    }

    /// As [`RedisQueue::enqueue`](super::RedisQueue::enqueue).
    ///
    /// # Errors
    /// As `RedisQueue::enqueue`.
    pub fn enqueue(
        &self,
        payload: impl AsRef<[u8]>,
        level: impl Into<Level>,
        options: EnqueueOptions,
    ) -> Result<Enqueued, RedisError> {
        let call = self
            .core
            .enqueue(payload.as_ref(), level.into(), &options)?;
        core::parse_enqueue(self.run(&self.core.scripts.enqueue, &call)?)
    }

    /// As [`RedisQueue::enqueue_json`](super::RedisQueue::enqueue_json).
    ///
    /// # Errors
    /// As `RedisQueue::enqueue_json`.
    #[cfg(feature = "serde")]
    pub fn enqueue_json<T: serde::Serialize + ?Sized>(
        &self,
        value: &T,
        level: impl Into<Level>,
        options: EnqueueOptions,
    ) -> Result<Enqueued, RedisError> {
        let bytes = serde_json::to_vec(value).map_err(|e| RedisError::Codec {
            message: e.to_string(),
        })?;
        self.enqueue(bytes, level, options)
    }

    fn reserve_once(&self, lease: Duration) -> Result<Reserved, RedisError> {
        let call = self.core.reserve(lease)?;
        core::parse_reserve(self.run(&self.core.scripts.reserve, &call)?)
    }

    /// As [`RedisQueue::try_reserve`](super::RedisQueue::try_reserve).
    ///
    /// # Errors
    /// As `RedisQueue::try_reserve`.
    pub fn try_reserve(&self, lease: Duration) -> Result<Option<Job>, RedisError> {
        Ok(match self.reserve_once(lease)? {
            Reserved::Job(job) => Some(job),
            Reserved::Empty(_) => None,
        })
    }

    /// As [`RedisQueue::reserve`](super::RedisQueue::reserve): sleeps the
    /// thread between tries.
    ///
    /// # Errors
    /// As `RedisQueue::reserve`.
    pub fn reserve(&self, lease: Duration, timeout: Duration) -> Result<Option<Job>, RedisError> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            let wake = match self.reserve_once(lease)? {
                Reserved::Job(job) => return Ok(Some(job)),
                Reserved::Empty(wake) => wake,
            };
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) {
                return Ok(None);
            }
            std::thread::sleep(self.core.pause(wake, remaining));
        }
    }

    /// As [`RedisQueue::ack`](super::RedisQueue::ack).
    ///
    /// # Errors
    /// As `RedisQueue::ack`.
    pub fn ack(&self, job: &Job) -> Result<(), RedisError> {
        let call = self.core.lease_op(job);
        core::parse_lease(self.run(&self.core.scripts.ack, &call)?, job.id, "ack").map(drop)
    }

    /// As [`RedisQueue::ack_and_reserve`](super::RedisQueue::ack_and_reserve).
    ///
    /// # Errors
    /// As `RedisQueue::ack_and_reserve`.
    pub fn ack_and_reserve(
        &self,
        job: &Job,
        lease: Duration,
    ) -> Result<(Result<(), RedisError>, Option<Job>), RedisError> {
        let call = self.core.ack_reserve(job, lease)?;
        let v = self.run(&self.core.scripts.ack_reserve, &call)?;
        let (acked, next) = core::parse_ack_reserve(v, job.id)?;
        Ok((acked, next.into_job()))
    }

    /// As [`RedisQueue::nack`](super::RedisQueue::nack).
    ///
    /// # Errors
    /// As `RedisQueue::nack`.
    pub fn nack(&self, job: &Job, reason: &str) -> Result<Nacked, RedisError> {
        let (call, delay) = self.core.nack(job, reason);
        core::parse_nack(self.run(&self.core.scripts.nack, &call)?, job.id, delay)
    }

    /// As [`RedisQueue::extend`](super::RedisQueue::extend).
    ///
    /// # Errors
    /// As `RedisQueue::extend`.
    pub fn extend(&self, job: &mut Job, lease: Duration) -> Result<(), RedisError> {
        let call = self.core.extend(job, lease)?;
        let v = self.run(&self.core.scripts.extend, &call)?;
        core::parse_extend(v, job)
    }

    /// As [`RedisQueue::release`](super::RedisQueue::release).
    ///
    /// # Errors
    /// As `RedisQueue::release`.
    pub fn release(&self, job: &Job) -> Result<(), RedisError> {
        let call = self.core.lease_op(job);
        core::parse_lease(
            self.run(&self.core.scripts.release, &call)?,
            job.id,
            "release",
        )
        .map(drop)
    }

    /// As [`RedisQueue::dead`](super::RedisQueue::dead).
    ///
    /// # Errors
    /// As `RedisQueue::dead`.
    pub fn dead(&self, offset: usize, count: usize) -> Result<Vec<DeadJob>, RedisError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        core::parse_dead(self.run(&self.core.scripts.dead, &self.core.dead(offset, count))?)
    }

    /// As [`RedisQueue::requeue_dead`](super::RedisQueue::requeue_dead).
    ///
    /// # Errors
    /// As `RedisQueue::requeue_dead`.
    pub fn requeue_dead(&self, id: JobId) -> Result<bool, RedisError> {
        core::parse_requeue(self.run(&self.core.scripts.requeue, &self.core.requeue(id))?)
    }

    /// As [`RedisQueue::stats`](super::RedisQueue::stats).
    ///
    /// # Errors
    /// As `RedisQueue::stats`.
    pub fn stats(&self) -> Result<QueueStats, RedisError> {
        core::parse_stats(self.run(&self.core.scripts.stats, &self.core.stats())?)
    }

    /// The queue's base key, `prefix{name}`.
    pub fn base_key(&self) -> &str {
        &self.core.base
    }
}

impl fmt::Debug for BlockingRedisQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingRedisQueue")
            .field("base_key", &self.core.base)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}
