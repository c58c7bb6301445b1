//! GCRA rate limiting across processes, with the state in Redis (feature
//! `redis`, off by default for now).
//!
//! A service of N replicas needs one limit, not N: [`RedisLimiter`] (async,
//! tokio) and [`BlockingRedisLimiter`] keep each key's bucket in Redis and
//! answer the same [`RateLimitInfo`](super::RateLimitInfo) as the
//! in-process [`KeyedLimiter::check_info`](super::KeyedLimiter::check_info),
//! so a handler moves between local and shared limiting unchanged.
//!
//! **How.** One Lua script (`gcra.lua`), called by `EVALSHA`, does the
//! whole check atomically on the server: it reads the key, applies the same
//! GCRA arithmetic as the in-process bucket, writes the new state and
//! answers the five values. Sending it is the crate's one Redis mechanism
//! (the same as the Redis job queue's): a call that meets `NOSCRIPT` (a
//! `SCRIPT FLUSH`, a restart, a failover to a replica without the script)
//! is resent as `EVAL`, which runs and caches the script, inside pipelines
//! too, so no check is charged twice. Both limiters share one sans-IO core
//! (the calls, the replies, the fallback); they differ only in how they
//! wait for Redis.
//!
//! **State.** The value at `prefix{key}` is `"<tat> <interval> <burst>"`:
//! the theoretical arrival time in nanoseconds (the in-process encoding;
//! here of Redis `TIME`, the one clock every instance shares), with the
//! quota it was computed under. Its expiry (`PX`) is the time until the
//! bucket is full again, when the value carries no information, so idle keys
//! cost Redis nothing and an expired key is exactly a fresh one.
//!
//! **Quota changes.** A call whose quota (the limiter's, changed by
//! `set_quota`, or a per-key [`Quota`] given to `check_with`) differs from
//! the stored one converts the state first: a full bucket stays full, any
//! other keeps the whole tokens it had, capped at the new burst, and refills
//! at the new rate. No quota change hands out a burst.
//!
//! **Limits.** Lua computes in doubles, so the script works in the span
//! `burst x interval <= 2^52` ns (about 52 days, e.g. 1 per minute in bursts
//! of 75,000): [`Quota::new`] rejects anything larger with
//! [`Error::CapacityOverflow`](super::Error::CapacityOverflow), and the
//! script rejects out-of-range arguments itself instead of admitting
//! everything. Keys are 1 to 512 bytes; costs above the burst are
//! [`Error::CostExceedsCapacity`](super::Error::CostExceedsCapacity); an
//! invalid call never reaches Redis.
//!
//! **Failures.** Connect and response timeouts (500 ms by default) bound
//! every call; past them, or when the connection is refused, the
//! [`FailurePolicy`] answers: fail closed with
//! [`Error::Unavailable`](super::Error::Unavailable) (default), fail open,
//! or limit in-process until Redis answers again. A Redis that restarts
//! empty (no persistence) forgets every bucket: each key can then spend at
//! most one fresh burst on top of what it had already been admitted.
//!
//! **Leased mode** ([`RedisLimiterBuilder::lease`]), for hot keys: one
//! round trip takes up to L tokens, which the instance then spends
//! in-process. The tokens are charged in Redis before they are spent, so the
//! cluster-wide bound `burst + rate x t` still holds exactly: no
//! over-admission at all, where charging after spending would allow up to
//! L per instance. Unspent
//! tokens go back on expiry, on `release_leases` and on drop of the
//! blocking limiter. The cost is fairness: an instance may hold back up to
//! L tokens that the others are denied meanwhile.
//!
//! **Redis Cluster.** Give the builder an [`Endpoint::Cluster`] of seed
//! URLs instead of a `url`; the node and the cluster answer the same. Every
//! key is stored as `prefix{key}`: the braces are a hash tag, so all of a
//! key's state sits in one slot, and the script touches only that one key
//! (declared in `KEYS`), as Cluster requires. Each call goes to its key's
//! master (`MOVED` and `ASK` during a reshard are followed), different keys
//! spread over the slots, and `check_many` sends each key's call on its
//! own (all at once in the async limiter), so that a reshard redirects each
//! call alone and none runs twice. Each node gets the script with the first
//! call that reaches it, through the `NOSCRIPT` path.
//!
//! ```no_run
//! use latchwork::ratelimit::{BlockingRedisLimiter, FailurePolicy, RedisLimiter};
//!
//! let limiter: BlockingRedisLimiter = RedisLimiter::builder()
//!     .url("redis://127.0.0.1:6379")
//!     .rate(100.0 / 60.0)
//!     .burst(100)
//!     .failure_policy(FailurePolicy::Local)
//!     .build_blocking()?;
//! let batch = limiter.check_many(&[("a", 1), ("b", 5)])?; // one round trip
//! assert_eq!(batch.len(), 2);
//! limiter.refund("b", 5)?; // the request for b was not served after all
//! # Ok::<(), latchwork::ratelimit::Error>(())
//! ```
mod blocking;
mod builder;
mod call;
mod core;
mod lease;
mod limiter;
mod quota;

pub use crate::redis_link::Endpoint;
pub use blocking::BlockingRedisLimiter;
pub use builder::RedisLimiterBuilder;
pub use core::FailurePolicy;
pub use limiter::RedisLimiter;
pub use quota::Quota;
