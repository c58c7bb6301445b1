//! The one description of a quota every limiter reports and accepts: at
//! most `limit` units of cost per `window`, as the IETF draft's
//! `RateLimit-Policy` header (`q` and `w`) states it.
use super::gcra::Gcra;
use super::Error;
use crate::clock::duration_to_nanos;
use std::fmt;
use std::time::Duration;

/// A limiter's quota: at most [`limit`](Self::limit) units of cost per
/// [`window`](Self::window).
///
/// The vocabulary is the IETF draft's (`draft-ietf-httpapi-ratelimit-headers`,
/// `RateLimit-Policy: "default";q=<limit>;w=<window>`) and redis-cell's, and
/// every limiter speaks it through [`Requota`](super::Requota):
///
/// | limiter | `limit` | `window` |
/// |---|---|---|
/// | token buckets ([`TokenBucket`](super::TokenBucket), [`KeyedLimiter`](super::KeyedLimiter), the Redis limiters) | the burst: the most tokens a bucket holds | the time an empty bucket takes to refill: `limit / rate` |
/// | [`SlidingWindowLog`](super::SlidingWindowLog), [`SlidingWindowCounter`](super::SlidingWindowCounter) | units admitted per window | the window |
///
/// So `RateLimitPolicy::new(100, 60 s)` is "100 per minute" for all of them:
/// a bucket of 100 tokens refilling at 100/60 per second, or a window of a
/// minute admitting 100. A bucket's refill time per token is the window
/// divided by the limit, rounded *up* to a whole nanosecond (its effective
/// rate never exceeds the one asked for), so the policy it reports back can
/// be a few nanoseconds longer than the one it was given.
///
/// ```
/// use latchwork::clock::ManualClock;
/// use latchwork::ratelimit::{RateLimitPolicy, Requota, TokenBucket};
/// use std::time::Duration;
///
/// let bucket = TokenBucket::builder().rate(10.0).limit(5).clock(ManualClock::new()).build()?;
/// // 5 tokens, refilled in 5 x 100 ms.
/// assert_eq!(bucket.policy(), RateLimitPolicy::new(5, Duration::from_millis(500))?);
/// bucket.set_policy(RateLimitPolicy::new(100, Duration::from_secs(60))?)?;
/// assert_eq!(bucket.limit(), 100);
/// # Ok::<(), latchwork::ratelimit::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimitPolicy {
    limit: u64,
    window: Duration,
}

impl RateLimitPolicy {
    /// At most `limit` units of cost per `window`.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`] for a zero `limit`, [`Error::ZeroWindow`]
    /// for a window shorter than a nanosecond.
    pub fn new(limit: u64, window: Duration) -> Result<Self, Error> {
        if limit == 0 {
            return Err(Error::ZeroCapacity { parameter: "limit" });
        }
        if duration_to_nanos(window) == 0 {
            return Err(Error::ZeroWindow {
                parameter: "window",
            });
        }
        Ok(RateLimitPolicy { limit, window })
    }

    /// The most units of cost admitted per window (a bucket's burst).
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The window (a bucket's time to refill from empty).
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The window in whole seconds, rounded up: the `w` of the
    /// `RateLimit-Policy` header.
    pub fn window_secs(&self) -> u64 {
        super::info::ceil_secs(self.window)
    }

    /// The policy of a token bucket: its burst, refilled in `burst x
    /// interval`.
    pub(crate) fn of_gcra(gcra: &Gcra) -> Self {
        RateLimitPolicy {
            limit: gcra.capacity(),
            window: Duration::from_nanos(gcra.tau()),
        }
    }

    /// The policy of a sliding window: `limit` per `window` nanoseconds
    /// (both at least 1, as the window builders check).
    pub(crate) fn of_window(limit: u64, window: u64) -> Self {
        RateLimitPolicy {
            limit,
            window: Duration::from_nanos(window),
        }
    }

    /// The token bucket of this policy: `limit` tokens, one per
    /// `ceil(window / limit)` nanoseconds.
    ///
    /// # Errors
    /// [`Error::CapacityOverflow`] when `limit x interval` (after rounding
    /// up) passes `u64::MAX` nanoseconds.
    pub(crate) fn to_gcra(self) -> Result<Gcra, Error> {
        let window = duration_to_nanos(self.window);
        Gcra::from_interval(window.div_ceil(self.limit), self.limit)
    }

    /// The window in clock nanoseconds (at least 1, saturating at
    /// `u64::MAX`), for the sliding windows.
    pub(crate) fn window_nanos(&self) -> u64 {
        duration_to_nanos(self.window)
    }
}

impl fmt::Debug for RateLimitPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitPolicy")
            .field("limit", &self.limit)
            .field("window", &self.window)
            .finish()
    }
}

impl fmt::Display for RateLimitPolicy {
    /// `100 per 60s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {:?}", self.limit, self.window)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn validates_and_converts() {
        assert_eq!(
            RateLimitPolicy::new(0, Duration::from_secs(1)),
            Err(Error::ZeroCapacity { parameter: "limit" })
        );
        assert_eq!(
            RateLimitPolicy::new(1, Duration::from_nanos(0)),
            Err(Error::ZeroWindow {
                parameter: "window"
            })
        );
        let p = RateLimitPolicy::new(3, Duration::from_nanos(10)).unwrap();
        let g = p.to_gcra().unwrap();
        // ceil(10 / 3) = 4 ns per token: reported back as 12 ns.
        assert_eq!((g.interval(), g.capacity()), (4, 3));
        assert_eq!(
            RateLimitPolicy::of_gcra(&g).window(),
            Duration::from_nanos(12)
        );
        // Huge windows saturate, then overflow the span.
        let huge = RateLimitPolicy::new(2, Duration::MAX).unwrap();
        assert!(matches!(
            huge.to_gcra(),
            Err(Error::CapacityOverflow { .. })
        ));
        assert_eq!(huge.window_nanos(), u64::MAX);
        assert_eq!(
            RateLimitPolicy::new(1, Duration::from_millis(1500))
                .unwrap()
                .window_secs(),
            2
        );
        assert_eq!(p.to_string(), "3 per 10ns");
    }
}
