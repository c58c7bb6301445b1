//! Rate limiters: a lock-free token bucket, exact and approximate sliding
//! windows, a sharded keyed limiter with bounded memory and (feature
//! `redis`) a limiter shared by every replica through Redis, all behind
//! one trait.
//!
//! | type | semantics | state | concurrency |
//! |---|---|---|---|
//! | [`TokenBucket`] | `rate`/s refill, `limit` (burst) capacity, continuous | one `AtomicU64` | CAS loop, no lock |
//! | [`SlidingWindowLog`] | at most `limit` in any window `W`, exact | `<= limit` timestamps | mutex |
//! | [`SlidingWindowCounter`] | weighted previous + current fixed window | 3 words | mutex |
//! | [`KeyedLimiter`] | one token bucket per key, `max_keys` bound | key + 8 bytes | read lock + CAS per check |
//! | `RedisLimiter` (feature `redis`) | one token bucket per key, shared by every replica | one Redis string per key, expiring when full | one Lua call per check |
//!
//! # One trait
//! Every limiter is a [`Limiter<K>`](Limiter) (answers at once; the Redis
//! limiter's blocking form too) or an [`AsyncLimiter<K>`](AsyncLimiter)
//! (its async form: every `Limiter` is one, and so is `RedisLimiter`), so a
//! handler or a tower layer is written once and takes any of them. `K` is
//! the key a request is limited by: keyed limiters look it up, unkeyed ones
//! accept every key and ignore it, so the same key extractor serves a
//! global bucket and a per-client limiter. Both traits share
//! [`Requota`]: [`limit`](Requota::limit) and
//! [`policy`](Requota::policy) (the limit and its window, one
//! [`RateLimitPolicy`]) and a re-quota through `&self`
//! ([`set_policy`](Requota::set_policy)) that hands out no burst.
//!
//! **The one convention.** The central method,
//! [`Limiter::throttle`] (`throttle_async` in the async form), answers a
//! [`RateLimitInfo`] (allowed, limit, remaining, retry-after, reset-after:
//! redis-cell's five values). **A denial is `Ok(info)` with `info.allowed
//! == false`**; `Err` is kept for what is not a denial: a cost above the
//! limit ([`Error::CostExceedsCapacity`], never a silent denial forever), a
//! request that can never pass ([`Error::EndOfTime`]) or a store that
//! failed (with `redis`). The older `check()` / `try_acquire(cost)`, which
//! answer a denial as `Err(`[`Error::RateLimited`]`)`, remain as
//! conveniences for callers that want `?`; they are the trait's provided
//! methods, as are the blocking [`Limiter::acquire`], the async
//! `AsyncLimiter::until_ready` (feature `async`, sleeping through a
//! caller-supplied [`Sleeper`](crate::sleep::Sleeper)) and
//! [`Limiter::wait_time`]. Waiters on one `TokenBucket` or window limiter
//! (threads and tasks together) are admitted first come, first served, in
//! its [`WaitLine`]; every wait is cancel safe (a dropped wait consumes
//! nothing and holds nobody up).
//!
//! One name per quantity: the **limit** is a bucket's burst capacity and a
//! window's count (the older `capacity()` and builder `.burst(..)` still
//! work and mean the same number); a window or a bucket's time to refill
//! from empty is the **window**.
//!
//! **Headers** (feature `http`): `RateLimitInfo::write_headers` writes the
//! IETF draft's `RateLimit` and `RateLimit-Policy` fields, the de-facto
//! `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` trio, or
//! both (`HeaderStyle`), and `Retry-After` on a denial; seconds are
//! rounded up, never 0 on a denial.
//!
//! The token bucket is the generic cell rate algorithm (GCRA): its state is
//! the *theoretical arrival time*, the clock reading at which the bucket is
//! full again, in nanoseconds. All limiters take the crate's
//! [`Clock`](crate::clock::Clock), so tests drive time with
//! [`ManualClock`](crate::clock::ManualClock).
//!
//! ```
//! use latchwork::ratelimit::{Error, KeyedLimiter, Limiter, TokenBucket};
//!
//! let global = TokenBucket::builder().rate(1_000.0).limit(100).build()?;
//! let per_client = KeyedLimiter::builder().rate(10.0).limit(5).build()?;
//! // The one convention: a denial is an answer, `Err` is not a denial.
//! let global_info = global.throttle(&(), 1)?;
//! let client_info = per_client.throttle("client-42", 1)?;
//! if global_info.allowed && client_info.allowed {
//!     /* serve, with client_info's remaining in the headers */
//! } else {
//!     /* 429, Retry-After: */
//!     let _ = client_info.retry_after_secs().or(global_info.retry_after_secs());
//! }
//! // The `Err`-style convenience, for `?`.
//! match global.check() {
//!     Ok(()) => {}
//!     Err(Error::RateLimited { retry_after }) => { let _ = retry_after; }
//!     Err(e) => return Err(e),
//! }
//! # Ok::<(), Error>(())
//! ```
mod bucket;
mod error;
mod gcra;
#[cfg(feature = "http")]
mod headers;
mod info;
mod keyed;
mod limiter;
mod line;
mod policy;
#[cfg(feature = "redis")]
pub mod redis;
mod window;
mod window_counter;
mod window_log;

pub use bucket::{TokenBucket, TokenBucketBuilder};
pub use error::Error;
#[cfg(feature = "http")]
pub use headers::{HeaderOptions, HeaderStyle};
pub use info::RateLimitInfo;
pub use keyed::{KeyedLimiter, KeyedLimiterBuilder};
pub use limiter::{AsyncLimiter, Limiter, Requota};
pub use line::WaitLine;
pub use policy::RateLimitPolicy;
#[cfg(feature = "redis")]
pub use redis::{
    BlockingRedisLimiter, Endpoint, FailurePolicy, Quota, RedisLimiter, RedisLimiterBuilder,
};
pub use window_counter::{SlidingWindowCounter, SlidingWindowCounterBuilder};
pub use window_log::{SlidingWindowLog, SlidingWindowLogBuilder};
