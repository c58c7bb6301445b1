//! The answer every limiter can give about one check: the five values of
//! redis-cell's `CL.THROTTLE`, enough for rate-limit response headers.
use super::Error;
use std::time::Duration;

/// What a check decided and where the key's allowance stands after it: the
/// answer of [`Limiter::throttle`](super::Limiter::throttle) and
/// [`AsyncLimiter::throttle_async`](super::AsyncLimiter::throttle_async).
///
/// The same five values as redis-cell's `CL.THROTTLE` reply, returned alike
/// by every limiter (the token buckets, the windows, the keyed limiter and
/// the Redis-backed limiter of feature `redis`), so a handler fills its
/// headers the same way whichever limiter it is given. A **denial is an
/// answer**: `allowed == false` with a `retry_after`, never an `Err`.
/// With the `http` feature, `write_headers` writes them:
///
/// | header | value |
/// |---|---|
/// | `RateLimit` (IETF draft) | `"default";r=<remaining>;t=<reset_after_secs>` |
/// | `RateLimit-Limit` | [`limit`](Self::limit) |
/// | `RateLimit-Remaining` | [`remaining`](Self::remaining) |
/// | `RateLimit-Reset` | [`reset_after`](Self::reset_after), in whole seconds rounded up |
/// | `Retry-After` (on a 429) | [`retry_after`](Self::retry_after), in whole seconds rounded up, at least 1 |
///
/// ```
/// use latchwork::clock::ManualClock;
/// use latchwork::ratelimit::{KeyedLimiter, RateLimitInfo};
/// use std::time::Duration;
///
/// let limiter = KeyedLimiter::builder().rate(1.0).burst(2).clock(ManualClock::new()).build()?;
/// let info: RateLimitInfo = limiter.check_info("alice", 2)?;
/// assert!(info.allowed);
/// assert_eq!((info.limit, info.remaining), (2, 0));
/// assert_eq!(info.reset_after, Duration::from_secs(2));
/// let denied = limiter.check_info("alice", 1)?;
/// assert!(!denied.allowed);
/// assert_eq!(denied.retry_after, Some(Duration::from_secs(1)));
/// assert_eq!(denied.retry_after_secs(), Some(1));
/// # Ok::<(), latchwork::ratelimit::Error>(())
/// ```
///
/// With the `serde` feature it (de)serializes as a map of the five fields,
/// the durations as whole numbers of nanoseconds (as every duration the
/// crate serializes) and a missing `retry_after` as `null`:
/// `{"allowed":false,"limit":2,"remaining":0,"retry_after":1000000000,"reset_after":2000000000}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RateLimitInfo {
    /// Whether the request was admitted (its cost taken).
    pub allowed: bool,
    /// The limiter's limit (see [`Requota::limit`](super::Requota::limit)):
    /// a bucket's burst capacity, a window's count.
    pub limit: u64,
    /// Whole units that could still be admitted after this check.
    pub remaining: u64,
    /// For a denial, how long until the same request would be admitted (if
    /// nothing else spends meanwhile); `None` when admitted.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_nanos::option"))]
    pub retry_after: Option<Duration>,
    /// How long until the allowance is whole again (zero when it is): a
    /// bucket full, a window empty.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_nanos"))]
    pub reset_after: Duration,
}

impl RateLimitInfo {
    /// `reset_after` in whole seconds, rounded up: the `RateLimit-Reset`
    /// header.
    pub fn reset_after_secs(&self) -> u64 {
        ceil_secs(self.reset_after)
    }

    /// `retry_after` in whole seconds, rounded up (at least 1 for a
    /// denial): the `Retry-After` header.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after.map(|d| ceil_secs(d).max(1))
    }

    /// The answer in the `Err` convention of `check` and `try_acquire`:
    /// `Ok(self)` when admitted, [`Error::RateLimited`] with the
    /// `retry_after` when denied. For callers that want `?` on a denial.
    ///
    /// ```
    /// use latchwork::clock::ManualClock;
    /// use latchwork::ratelimit::{Error, Limiter, TokenBucket};
    /// use std::time::Duration;
    ///
    /// let bucket = TokenBucket::builder().rate(1.0).limit(1).clock(ManualClock::new()).build()?;
    /// assert!(bucket.throttle(&(), 1)?.into_result().is_ok());
    /// let denied = bucket.throttle(&(), 1)?.into_result();
    /// assert_eq!(denied, Err(Error::RateLimited { retry_after: Duration::from_secs(1) }));
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::RateLimited`] for a denial.
    pub fn into_result(self) -> Result<RateLimitInfo, Error> {
        if self.allowed {
            Ok(self)
        } else {
            Err(Error::RateLimited {
                retry_after: self.retry_after.unwrap_or(Duration::ZERO),
            })
        }
    }
}

/// `d` in whole seconds, rounded up.
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    // Saturates: `Duration::MAX` has a fraction past `u64::MAX` seconds.
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}
