//! [`RedisError`]: why a [`RedisQueue`](super::RedisQueue) call failed.
use std::fmt;
use std::time::Duration;

/// Why a Redis queue operation, or building the queue, failed.
///
/// Input errors (`Invalid*`, `PayloadTooLarge`, `DurationOutOfRange`,
/// `ZeroAttempts`, `MissingParameter`) are found before anything is sent.
/// `LeaseLost`, `UnknownJob` and `Dead` are Redis refusing a stale
/// acknowledgement; `Unavailable` and `Backend` are transport and server
/// failures.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisError {
    /// A required builder parameter was not given.
    MissingParameter {
        /// The parameter's builder method.
        parameter: &'static str,
    },
    /// A name, prefix or idempotency key is empty, too long or contains a
    /// character that would move the cluster hash tag.
    InvalidName {
        /// Which one.
        parameter: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A payload longer than [`MAX_PAYLOAD_LEN`](super::MAX_PAYLOAD_LEN).
    PayloadTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A lease, delay, window or timeout outside its documented range.
    DurationOutOfRange {
        /// Which one.
        parameter: &'static str,
        /// The value given.
        value: Duration,
        /// The smallest accepted.
        min: Duration,
        /// The largest accepted.
        max: Duration,
    },
    /// A maximum attempt count of 0 (a job must run at least once).
    ZeroAttempts,
    /// The URL or seed list cannot be parsed, or a cluster was given no
    /// seed.
    InvalidConnection {
        /// The client's message.
        message: String,
    },
    /// Redis could not be reached or did not answer within the response
    /// timeout; the operation may or may not have happened (an enqueue can
    /// be retried safely with an idempotency key).
    Unavailable {
        /// The client's message.
        message: String,
    },
    /// Redis answered with an error (wrong key type, out of memory, a
    /// script error).
    Backend {
        /// The server's message.
        message: String,
    },
    /// The lease ran out and the job was requeued or handed to another
    /// worker: this worker must not complete it (the other delivery will).
    LeaseLost {
        /// The job.
        job: u64,
    },
    /// The job's lease ran out on its last attempt, or it failed for the
    /// last time: it is in the dead set.
    Dead {
        /// The job.
        job: u64,
    },
    /// No such job: already completed, or never enqueued here.
    UnknownJob {
        /// The job.
        job: u64,
    },
    /// A payload could not be encoded or decoded (the serde helpers).
    Codec {
        /// The codec's message.
        message: String,
    },
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisError::MissingParameter { parameter } => {
                write!(f, "the Redis queue builder needs `{parameter}`")
            }
            RedisError::InvalidName { parameter, reason } => write!(f, "`{parameter}` {reason}"),
            RedisError::PayloadTooLarge { len, max } => write!(
                f,
                "a payload of {len} bytes is over the queue's limit of {max} bytes; store large data elsewhere and enqueue a reference"
            ),
            RedisError::DurationOutOfRange {
                parameter,
                value,
                min,
                max,
            } => write!(
                f,
                "`{parameter}` of {value:?} is out of range: it must be from {min:?} to {max:?}"
            ),
            RedisError::ZeroAttempts => {
                f.write_str("`max_attempts` must be at least 1 (a job runs at least once)")
            }
            RedisError::InvalidConnection { message } => {
                write!(f, "invalid Redis endpoint: {message}")
            }
            RedisError::Unavailable { message } => write!(
                f,
                "Redis is unavailable (unreachable or past the response timeout): {message}"
            ),
            RedisError::Backend { message } => write!(f, "Redis answered with an error: {message}"),
            RedisError::LeaseLost { job } => write!(
                f,
                "job {job}: the lease ran out and the job was requeued or handed to another worker; this delivery must not complete it"
            ),
            RedisError::Dead { job } => write!(
                f,
                "job {job} is in the dead set (its attempts ran out); list it with `dead` and requeue it with `requeue_dead`"
            ),
            RedisError::UnknownJob { job } => {
                write!(f, "job {job} does not exist: it was completed, or never enqueued on this queue")
            }
            RedisError::Codec { message } => write!(f, "payload codec: {message}"),
        }
    }
}

impl std::error::Error for RedisError {}

impl RedisError {
    /// Whether retrying the same call later may succeed (Redis was
    /// unavailable).
    pub fn is_transient(&self) -> bool {
        matches!(self, RedisError::Unavailable { .. })
    }

    pub(crate) fn from_client(e: &::redis::RedisError) -> RedisError {
        if crate::redis_link::is_unreachable(e) {
            RedisError::Unavailable {
                message: e.to_string(),
            }
        } else {
            RedisError::Backend {
                message: e.to_string(),
            }
        }
    }
}
