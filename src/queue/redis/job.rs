//! The values a Redis queue hands out and takes: [`Job`],
//! [`EnqueueOptions`], [`Enqueued`], [`DeadJob`] and [`QueueStats`].
use super::super::{Level, LEVELS};
use std::fmt;
use std::time::{Duration, SystemTime};

/// A job's id: unique within its queue, increasing in enqueue order.
pub type JobId = u64;

/// One delivery of a job to a worker, holding its lease.
///
/// Pass it to `ack`, `nack`, `extend` or `release` of the queue that
/// reserved it. The lease is a token: once the lease runs out and the job
/// is delivered again, this delivery's token is refused
/// ([`RedisError::LeaseLost`](super::RedisError::LeaseLost)), so one job is
/// completed at most once however many deliveries it had.
#[derive(Clone, PartialEq, Eq)]
pub struct Job {
    pub(crate) id: JobId,
    pub(crate) token: u64,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) level: Level,
    pub(crate) enqueued_at_ms: u64,
    pub(crate) deadline_ms: u64,
    pub(crate) payload: Vec<u8>,
}

impl Job {
    /// The job's id.
    pub fn id(&self) -> JobId {
        self.id
    }

    /// Which delivery this is: 1 the first; raised by every lease that ran
    /// out and every retry after `nack`.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The job's maximum attempt count.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether this is the last attempt (a failure now buries the job).
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }

    /// The job's priority level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, moved out.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// When the job was enqueued, by Redis's clock.
    pub fn enqueued_at(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.enqueued_at_ms)
    }

    /// When this delivery's lease runs out, by Redis's clock (as of the
    /// reservation or the last `extend` of this value).
    pub fn lease_deadline(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.deadline_ms)
    }

    /// The payload as JSON of `T` (feature `serde`).
    ///
    /// # Errors
    /// [`RedisError::Codec`](super::RedisError::Codec) when the payload is
    /// not `T`'s JSON.
    #[cfg(feature = "serde")]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, super::RedisError> {
        serde_json::from_slice(&self.payload).map_err(|e| super::RedisError::Codec {
            message: e.to_string(),
        })
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("attempt", &self.attempt)
            .field("max_attempts", &self.max_attempts)
            .field("level", &self.level)
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// How one job is enqueued: when it may run, its attempts, its
/// idempotency key. `EnqueueOptions::default()` runs it now with the
/// queue's default attempts and no key.
///
/// ```
/// use latchwork::queue::EnqueueOptions;
/// use std::time::Duration;
///
/// let opts = EnqueueOptions::new()
///     .delay(Duration::from_secs(30))
///     .idempotency_key("invoice-1207")
///     .max_attempts(5);
/// assert_eq!(opts.get_max_attempts(), Some(5));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnqueueOptions {
    pub(crate) delay: Duration,
    pub(crate) run_at: Option<SystemTime>,
    pub(crate) key: Option<String>,
    pub(crate) max_attempts: Option<u32>,
}

impl EnqueueOptions {
    /// Run now, the queue's attempts, no key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Not before `delay` from now, by Redis's clock (0 = now; at most
    /// [`MAX_DELAY`](super::MAX_DELAY); rounded up to whole milliseconds).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self.run_at = None;
        self
    }

    /// Not before `at` (compared with Redis's clock; a time in the past
    /// runs now, one more than [`MAX_DELAY`](super::MAX_DELAY) ahead of
    /// this machine's clock is refused).
    pub fn run_at(mut self, at: SystemTime) -> Self {
        self.run_at = Some(at);
        self.delay = Duration::ZERO;
        self
    }

    /// An idempotency key (1 to
    /// [`MAX_IDEMPOTENCY_KEY_LEN`](super::MAX_IDEMPOTENCY_KEY_LEN) bytes): a
    /// second enqueue with the same key inside the queue's idempotency
    /// window enqueues nothing and answers [`Enqueued::Duplicate`].
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The most deliveries (at least 1; `u32::MAX` means retry for as long
    /// as it takes); default: the queue's.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// The attempts set here, if any.
    pub fn get_max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }
}

/// What an enqueue did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Enqueued {
    /// A new job.
    New(JobId),
    /// Nothing: a job with the same idempotency key was enqueued inside the
    /// window; its id.
    Duplicate(JobId),
}

impl Enqueued {
    /// The job's id, new or existing.
    pub fn id(self) -> JobId {
        match self {
            Enqueued::New(id) | Enqueued::Duplicate(id) => id,
        }
    }

    /// Whether this was a duplicate (no job enqueued).
    pub fn is_duplicate(self) -> bool {
        matches!(self, Enqueued::Duplicate(_))
    }
}

/// A job in the dead set.
#[derive(Clone, PartialEq, Eq)]
pub struct DeadJob {
    /// The job's id.
    pub id: JobId,
    /// Its level.
    pub level: Level,
    /// Deliveries it had.
    pub attempts: u32,
    /// Its maximum.
    pub max_attempts: u32,
    /// When it was enqueued (Redis's clock).
    pub enqueued_at: SystemTime,
    /// When it was buried (Redis's clock).
    pub died_at: SystemTime,
    /// The last failure's reason (the `nack` reason, or the lease that ran
    /// out).
    pub reason: String,
    /// The payload.
    pub payload: Vec<u8>,
}

impl fmt::Debug for DeadJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadJob")
            .field("id", &self.id)
            .field("level", &self.level)
            .field("attempts", &self.attempts)
            .field("reason", &self.reason)
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// A snapshot of a queue, from one script call (consistent in itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueStats {
    /// Ready jobs per level (index = level number).
    pub ready: [u64; LEVELS],
    /// Jobs waiting for their run-at time or retry delay.
    pub delayed: u64,
    /// Jobs held by a worker's lease (including leases that ran out and
    /// are not yet reclaimed by the next reserve).
    pub leased: u64,
    /// Jobs in the dead set.
    pub dead: u64,
    /// Age of the oldest job not yet completed or dead (ready, delayed or
    /// leased), by Redis's clock; `None` when there is none.
    pub oldest_age: Option<Duration>,
}

impl QueueStats {
    /// Ready jobs over all levels.
    pub fn ready_total(&self) -> u64 {
        self.ready.iter().sum()
    }
}

impl fmt::Display for QueueStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ready {}, delayed {}, leased {}, dead {}",
            self.ready_total(),
            self.delayed,
            self.leased,
            self.dead
        )?;
        if let Some(age) = self.oldest_age {
            write!(f, ", oldest {age:?}")?;
        }
        Ok(())
    }
}
