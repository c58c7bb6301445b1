use std::fmt;
use std::time::Duration;

/// Why a rate limiter could not be built, or why a request could not be
/// judged.
///
/// The [`Limiter`](super::Limiter) trait's convention answers a denial as
/// `Ok` with `allowed: false`, so its `Err` is never a denial: a cost above
/// the limit, a request that can never pass, a store failure.
/// [`Error::RateLimited`] is the denial of the `Err`-style conveniences
/// (`check`, `try_acquire`): it carries how long until the same request
/// would be admitted (a `Retry-After` for an HTTP 429). Every other variant
/// is a caller mistake that waiting cannot fix, or (with the `redis`
/// feature, and only then) a store that failed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The request is over the limit now; retrying after `retry_after`
    /// (if nothing else consumes capacity meanwhile) succeeds.
    RateLimited {
        /// How long until the requested cost fits.
        retry_after: Duration,
    },
    /// A request cost more than the limiter's capacity, so it could never be
    /// admitted.
    CostExceedsCapacity {
        /// The cost asked for.
        cost: u64,
        /// The limiter's capacity (burst or per-window limit).
        capacity: u64,
    },
    /// A rate was NaN, infinite, zero or negative.
    InvalidRate {
        /// The parameter's name.
        parameter: &'static str,
        /// The value given.
        value: f64,
    },
    /// A finite positive rate outside what nanosecond ticks can represent:
    /// above 1e9 per second, or so low that one token takes more than
    /// `u64::MAX` nanoseconds.
    RateOutOfRange {
        /// The parameter's name.
        parameter: &'static str,
        /// The value given.
        value: f64,
    },
    /// A capacity (burst, limit or key bound) of zero.
    ZeroCapacity {
        /// The parameter's name.
        parameter: &'static str,
    },
    /// A window of zero length.
    ZeroWindow {
        /// The parameter's name.
        parameter: &'static str,
    },
    /// A capacity so large that its time span overflows the 64-bit
    /// nanosecond state (burst x emission interval > `u64::MAX` ns).
    CapacityOverflow {
        /// The parameter's name.
        parameter: &'static str,
        /// The value given.
        value: u64,
    },
    /// The request can never be admitted: the units that must leave the
    /// window before it fits leave only after the clock's last reading
    /// (`u64::MAX` nanoseconds, about 584 years after its origin), so no
    /// wait helps. A clock stopped at that end of time, or a window that
    /// outlasts it, gets this instead of an [`Error::RateLimited`] that no
    /// wait could honour (and that would keep a blocking `acquire` looping).
    ///
    /// The token buckets ([`TokenBucket`](super::TokenBucket),
    /// [`KeyedLimiter`](super::KeyedLimiter)) answer the same when the
    /// tokens a request needs would refill only after that last reading.
    EndOfTime {
        /// The parameter whose span runs past the end of time: `window` for
        /// the sliding windows, `interval` (the refill time of one token,
        /// `1 / rate`) for the token buckets.
        parameter: &'static str,
    },
    /// A required builder parameter was not set.
    MissingParameter {
        /// The parameter's name.
        parameter: &'static str,
    },
    /// A key or key prefix that cannot be stored: empty, too long, or (for
    /// a prefix) holding a brace that would break the cluster hash tag; or
    /// (feature `http`) a policy name that cannot be written in a header.
    /// Only with the `redis` or `http` feature.
    #[cfg(any(feature = "redis", feature = "http"))]
    InvalidKey {
        /// The parameter's name (`key` or `key_prefix`).
        parameter: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The shared store (Redis) could not be reached or did not answer in
    /// time, and the failure policy is to fail closed. Retrying later may
    /// succeed. Only with the `redis` feature.
    #[cfg(feature = "redis")]
    Unavailable {
        /// The store client's message.
        message: String,
    },
    /// The shared store's address or client configuration is invalid (a
    /// malformed `redis://` URL, say). Only with the `redis` feature.
    #[cfg(feature = "redis")]
    InvalidConnection {
        /// The store client's message.
        message: String,
    },
    /// The shared store answered with an error: a rejected script argument,
    /// a key holding something other than limiter state, a script that could
    /// not be loaded. Waiting does not fix it. Only with the `redis`
    /// feature.
    #[cfg(feature = "redis")]
    Backend {
        /// The store's message.
        message: String,
    },
}

impl Error {
    /// `Ok` if a cost of `cost` can ever be admitted by a limit of
    /// `limit`, else [`Error::CostExceedsCapacity`]: the one check every
    /// limiter makes before deciding.
    #[inline]
    pub(crate) fn check_cost(cost: u64, limit: u64) -> Result<(), Error> {
        if cost > limit {
            return Err(Error::CostExceedsCapacity {
                cost,
                capacity: limit,
            });
        }
        Ok(())
    }

    /// For [`Error::RateLimited`], how long to wait; `None` otherwise.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// The denial of the `Err` convention: [`Error::RateLimited`] after
    /// `wait_nanos`.
    pub(crate) fn limited(wait_nanos: u64) -> Error {
        Error::RateLimited {
            retry_after: Duration::from_nanos(wait_nanos),
        }
    }

    /// Whether this is the ordinary denial, [`Error::RateLimited`].
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Error::RateLimited { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::RateLimited { retry_after } => {
                write!(f, "rate limited: retry after {retry_after:?}")
            }
            Error::CostExceedsCapacity { cost, capacity } => write!(
                f,
                "`cost` {cost} exceeds the limiter's capacity {capacity}, so it could never be admitted"
            ),
            Error::InvalidRate { parameter, value } => write!(
                f,
                "`{parameter}` must be a finite number above 0, got {value}"
            ),
            Error::RateOutOfRange { parameter, value } => write!(
                f,
                "`{parameter}` {value} is out of range: it must lie between about 5.5e-11 and 1e9 per second"
            ),
            Error::ZeroCapacity { parameter } => {
                write!(f, "`{parameter}` must be at least 1, got 0")
            }
            Error::ZeroWindow { parameter } => {
                write!(f, "`{parameter}` must be longer than zero")
            }
            Error::CapacityOverflow { parameter, value } => write!(
                f,
                "`{parameter}` {value} is too large: its refill time overflows 64-bit nanoseconds"
            ),
            Error::EndOfTime { parameter } => write!(
                f,
                "the request can never be admitted: the `{parameter}` it waits on ends after the clock's last reading (u64::MAX ns, about 584 years after its origin); use a shorter `{parameter}` or a clock that has not run out"
            ),
            Error::MissingParameter { parameter } => {
                write!(f, "`{parameter}` was not set on the builder")
            }
            #[cfg(any(feature = "redis", feature = "http"))]
            Error::InvalidKey { parameter, reason } => {
                write!(f, "`{parameter}` is invalid: {reason}")
            }
            #[cfg(feature = "redis")]
            Error::Unavailable { message } => write!(
                f,
                "the rate limit store is unreachable ({message}); retry later or choose another failure policy"
            ),
            #[cfg(feature = "redis")]
            Error::InvalidConnection { message } => {
                write!(f, "the rate limit store's address is invalid: {message}")
            }
            #[cfg(feature = "redis")]
            Error::Backend { message } => {
                write!(f, "the rate limit store rejected the request: {message}")
            }
        }
    }
}

impl std::error::Error for Error {}
