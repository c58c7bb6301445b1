//! The answer every limiter can give about one check: the five values of
//! redis-cell's `CL.THROTTLE`, enough for rate-limit response headers.
use std::time::Duration;

/// What a check decided and where the key's bucket stands after it.
///
/// The same five values as redis-cell's `CL.THROTTLE` reply, returned alike
/// by the in-process [`TokenBucket::check_info`](super::TokenBucket::check_info)
/// and [`KeyedLimiter::check_info`](super::KeyedLimiter::check_info) and by
/// the Redis-backed limiter (feature `redis`), so a handler fills its
/// headers the same way whichever limiter it is given:
///
/// | header | value |
/// |---|---|
/// | `RateLimit-Limit` | [`limit`](Self::limit) |
/// | `RateLimit-Remaining` | [`remaining`](Self::remaining) |
/// | `RateLimit-Reset` | [`reset_after`](Self::reset_after), in whole seconds rounded up |
/// | `Retry-After` (on a 429) | [`retry_after`](Self::retry_after), in whole seconds rounded up |
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
    /// The burst capacity: the most tokens the key can hold.
    pub limit: u64,
    /// Whole tokens left after this check.
    pub remaining: u64,
    /// For a denial, how long until the same request would be admitted (if
    /// nothing else spends meanwhile); `None` when admitted.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_nanos::option"))]
    pub retry_after: Option<Duration>,
    /// How long until the bucket is full again (zero when it is full).
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
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}
