//! Rate limiters: a lock-free token bucket, exact and approximate sliding
//! windows, and a sharded keyed limiter with bounded memory.
//!
//! | type | semantics | state | concurrency |
//! |---|---|---|---|
//! | [`TokenBucket`] | `rate`/s refill, `burst` capacity, continuous | one `AtomicU64` | CAS loop, no lock |
//! | [`SlidingWindowLog`] | at most `limit` in any window `W`, exact | `<= limit` timestamps | mutex |
//! | [`SlidingWindowCounter`] | weighted previous + current fixed window | 3 words | mutex |
//! | [`KeyedLimiter`] | one token bucket per key, `max_keys` bound | key + 8 bytes | read lock + CAS per check |
//! | `RedisLimiter` (feature `redis`) | one token bucket per key, shared by every replica | one Redis string per key, expiring when full | one Lua call per check |
//!
//! The token bucket is the generic cell rate algorithm (GCRA): its state is
//! the *theoretical arrival time*, the clock reading at which the bucket is
//! full again, in nanoseconds. All limiters take the crate's
//! [`Clock`](crate::clock::Clock), so tests drive time with
//! [`ManualClock`](crate::clock::ManualClock).
//!
//! Every check returns `Ok(())` or an [`Error`]: [`Error::RateLimited`]
//! carries the time until the request would be admitted (an HTTP 429's
//! `Retry-After`); a cost above the capacity is
//! [`Error::CostExceedsCapacity`], never a silent denial forever. Blocking
//! `acquire` sleeps through the clock; with feature `async`,
//! `until_ready` / [`KeyedLimiter::until_key_ready`] await admission on any
//! runtime, sleeping through a caller-supplied
//! [`Sleeper`](crate::sleep::Sleeper). Waiters on one `TokenBucket` or
//! window limiter (threads and tasks together) are admitted first come,
//! first served; every wait is cancel safe (a dropped wait consumes
//! nothing and holds nobody up). `wait_time` remains for callers that
//! schedule their own retries.
//!
//! `check_info` answers a [`RateLimitInfo`] instead (allowed, limit,
//! remaining, retry-after, reset-after: the rate-limit headers). With the
//! `redis` feature (off by default), `RedisLimiter` and
//! `BlockingRedisLimiter` (module `redis`) give the same answer from a
//! bucket kept in Redis and shared by every replica.
//!
//! ```
//! use latchwork::ratelimit::{Error, KeyedLimiter, TokenBucket};
//!
//! let global = TokenBucket::builder().rate(1_000.0).burst(100).build()?;
//! let per_client = KeyedLimiter::builder().rate(10.0).burst(5).build()?;
//! match global.check().and_then(|()| per_client.check("client-42")) {
//!     Ok(()) => { /* serve */ }
//!     Err(Error::RateLimited { retry_after }) => { /* 429, Retry-After */ let _ = retry_after; }
//!     Err(e) => return Err(e),
//! }
//! # Ok::<(), Error>(())
//! ```
mod bucket;
mod error;
mod fifo;
mod gcra;
mod info;
mod keyed;
#[cfg(feature = "redis")]
pub mod redis;
mod window_counter;
mod window_log;

pub use bucket::{TokenBucket, TokenBucketBuilder};
pub use error::Error;
pub use info::RateLimitInfo;
pub use keyed::{KeyedLimiter, KeyedLimiterBuilder};
#[cfg(feature = "redis")]
pub use redis::{BlockingRedisLimiter, FailurePolicy, Quota, RedisLimiter, RedisLimiterBuilder};
pub use window_counter::{SlidingWindowCounter, SlidingWindowCounterBuilder};
pub use window_log::{SlidingWindowLog, SlidingWindowLogBuilder};

/// The async form of [`retry_until_admitted`] (the keyed limiter's
/// `until_key_ready`): nothing is taken until `try_acquire` admits, so it
/// is cancel safe at every await.
#[cfg(feature = "async")]
async fn retry_until_admitted_async<S: crate::sleep::Sleeper>(
    mut try_acquire: impl FnMut() -> Result<(), Error>,
    sleeper: &S,
) -> Result<(), Error> {
    loop {
        match try_acquire() {
            Err(Error::RateLimited { retry_after }) => sleeper.sleep(retry_after).await,
            other => return other,
        }
    }
}

/// The blocking `acquire` of the keyed limiter: retries `try_acquire`, sleeping
/// on `clock` for each denial's retry-after, until it is admitted or fails
/// for another reason.
fn retry_until_admitted<C: crate::clock::Clock>(
    mut try_acquire: impl FnMut() -> Result<(), Error>,
    clock: &C,
) -> Result<(), Error> {
    loop {
        match try_acquire() {
            Err(Error::RateLimited { retry_after }) => clock.sleep(retry_after),
            other => return other,
        }
    }
}
