//! The async limiter: a thin shell that carries the core's calls over an
//! [`AsyncLink`].
use super::super::{AsyncLimiter, Error, RateLimitInfo, RateLimitPolicy, Requota};
use super::builder::{unavailable, RedisLimiterBuilder};
use super::call::{self, Answer, Call, OpKind};
use super::core::{Core, FailurePolicy, Op, Request};
use super::quota::Quota;
use crate::redis_link::AsyncLink;
use std::fmt;
use std::future::Future;

/// A GCRA rate limiter whose state lives in Redis, shared by every
/// instance of a service: async, on the `redis` crate's tokio
/// `ConnectionManager` (a single node) or its async cluster connection (a
/// Redis Cluster). See the [module docs](super) for the script, the keys
/// and cluster use; [`BlockingRedisLimiter`](super::BlockingRedisLimiter)
/// is the same limiter without a runtime.
///
/// It is an [`AsyncLimiter`] for `str` and `String` keys:
/// [`throttle_async`](AsyncLimiter::throttle_async) is [`check`](Self::check),
/// and [`Requota`] reports and changes the limiter's quota (as
/// [`quota`](Self::quota) and [`set_quota`](Self::set_quota)).
///
/// Every method is one round trip (plus one `EVAL` after the server lost
/// its script cache; on a cluster, `check_many` sends one call per key, all
/// at once). Cancel safety: dropping a future after
/// the request was written may leave its cost charged in Redis with no
/// answer; nothing else is lost.
///
/// ```no_run
/// use latchwork::ratelimit::{FailurePolicy, RedisLimiter};
///
/// # async fn handler() -> Result<(), latchwork::ratelimit::Error> {
/// let limiter = RedisLimiter::builder()
///     .url("redis://127.0.0.1:6379")
///     .rate(100.0 / 60.0) // 100 per minute ...
///     .burst(100) // ... in bursts of up to 100
///     .key_prefix("api:")
///     .failure_policy(FailurePolicy::Local)
///     .build()
///     .await?;
/// let info = limiter.check("key-42", 1).await?;
/// println!("RateLimit-Remaining: {}", info.remaining);
/// if !info.allowed {
///     println!("429, Retry-After: {:?}", info.retry_after_secs());
/// }
/// # Ok(()) }
/// ```
pub struct RedisLimiter {
    core: Core,
    link: AsyncLink,
}

impl RedisLimiter {
    /// A builder; `url` (or `client`) and `rate` are required.
    pub fn builder() -> RedisLimiterBuilder {
        RedisLimiterBuilder::new()
    }

    pub(crate) fn new(core: Core, link: AsyncLink) -> Self {
        RedisLimiter { core, link }
    }

    /// Takes `cost` tokens from `key` if available now: the trait's
    /// [`throttle_async`](AsyncLimiter::throttle_async). A denial is `Ok`
    /// with `allowed: false` and a `retry_after`; `cost == 0` takes nothing
    /// and reports the key's state.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for an empty key or one over 512 bytes,
    /// [`Error::CostExceedsCapacity`] if `cost` is above the limit (nothing
    /// is sent);
    /// [`Error::Unavailable`] when Redis is unreachable under
    /// [`FailurePolicy::FailClosed`]; [`Error::Backend`] when Redis answers
    /// with an error (for example the key holds other data).
    pub async fn check(&self, key: &str, cost: u64) -> Result<RateLimitInfo, Error> {
        self.exec(self.core.check(key, cost)?).await
    }

    /// Returns every lease's unspent tokens to Redis in one round trip
    /// (leased mode; see [`RedisLimiterBuilder::lease`]). Call it before
    /// dropping the limiter: the async limiter cannot do so in `drop`, and
    /// tokens not returned stay charged until their key refills.
    pub async fn release_leases(&self) {
        let calls = self.core.drain_leases();
        if !calls.is_empty() {
            drop(self.run(&calls).await);
        }
    }

    /// [`check`](Self::check) under `quota` instead of the limiter's: a
    /// per-key quota. A key whose stored quota differs is converted first
    /// (a full bucket stays full, any other keeps its whole tokens, capped
    /// at the new burst), so changing a key's quota hands out no burst.
    /// The `Local` fallback uses the limiter's quota.
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub async fn check_with(
        &self,
        key: &str,
        cost: u64,
        quota: &Quota,
    ) -> Result<RateLimitInfo, Error> {
        self.exec(self.core.single(key, OpKind::Check, cost, Some(quota))?)
            .await
    }

    /// Whether `key` could take one token now, taking none: `remaining`
    /// counts the tokens before any is taken.
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub async fn peek(&self, key: &str) -> Result<RateLimitInfo, Error> {
        self.exec(self.core.single(key, OpKind::Peek, 1, None)?)
            .await
    }

    /// Gives `cost` tokens back to `key` (admitted but not served), never
    /// above full.
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub async fn refund(&self, key: &str, cost: u64) -> Result<RateLimitInfo, Error> {
        self.exec(self.core.single(key, OpKind::Refund, cost, None)?)
            .await
    }

    /// Forgets `key` (in Redis and in the local fallback): its bucket is
    /// full again.
    ///
    /// # Errors
    /// [`Error::InvalidKey`]; [`Error::Unavailable`] if Redis is
    /// unreachable, whatever the policy.
    pub async fn reset(&self, key: &str) -> Result<(), Error> {
        let del = self.core.reset(key)?;
        self.link
            .query::<i64>(&del)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    /// Checks many `(key, cost)` pairs in one pipelined round trip (on a
    /// cluster, one call per key, all sent at once), each like
    /// [`check`](Self::check); answers in order.
    ///
    /// # Errors
    /// Every key and cost is validated first: one invalid pair fails the
    /// batch before anything is sent. After that, the first failed call's
    /// error (the others' costs stay charged).
    pub async fn check_many<K: AsRef<str>>(
        &self,
        checks: &[(K, u64)],
    ) -> Result<Vec<RateLimitInfo>, Error> {
        let calls = self.core.batch(checks)?;
        Core::answers(self.run(&calls).await)
    }

    /// Changes the limiter's rate and burst at run time, keeping every
    /// key's state: each key is converted by the script the next time it is
    /// touched (see [`check_with`](Self::check_with)), the local fallback at
    /// once. Other instances keep their own quota until told.
    ///
    /// # Errors
    /// As [`Quota::new`]; on error nothing changes.
    pub fn set_quota(&self, rate: f64, burst: u64) -> Result<(), Error> {
        self.core.set_quota(rate, burst)
    }

    /// The limiter's current quota.
    pub fn quota(&self) -> Quota {
        self.core.quota()
    }

    /// The failure policy.
    pub fn failure_policy(&self) -> FailurePolicy {
        self.core.policy()
    }

    /// How many answers came from the failure policy (`FailOpen` or
    /// `Local`) because Redis was unreachable.
    pub fn fallbacks(&self) -> u64 {
        self.core.fallbacks()
    }

    /// The Redis key that holds `key`'s state: `prefix{key}`.
    pub fn redis_key(&self, key: &str) -> String {
        call::redis_key(&self.core.prefix, key)
    }

    /// Sends `op`'s calls and lets the core answer.
    async fn exec(&self, op: Op) -> Result<RateLimitInfo, Error> {
        let answers = self.run(op.calls()).await;
        self.core.finish(op, answers)
    }

    /// The shell: the core's request over the link, the replies back to
    /// the core.
    async fn run(&self, calls: &[Call]) -> Vec<Answer> {
        let script = &self.core.script;
        let replies = match self.core.request(calls) {
            None => Vec::new(),
            Some(Request::One(c)) => vec![script.invoke_async(&self.link, &c).await],
            Some(Request::Many(cs)) => script.invoke_many_async(&self.link, &cs).await,
        };
        self.core.settle(calls, replies)
    }
}

impl Requota for RedisLimiter {
    fn policy(&self) -> RateLimitPolicy {
        self.core.quota().policy()
    }

    /// As [`set_quota`](RedisLimiter::set_quota), with the rate given as
    /// `limit` tokens per `window`.
    ///
    /// # Errors
    /// As [`Quota::from_policy`]; on error nothing changes.
    fn set_policy(&self, policy: RateLimitPolicy) -> Result<(), Error> {
        self.core.set_policy(policy)
    }
}

/// A `str` key names the bucket at `prefix{key}`.
impl AsyncLimiter<str> for RedisLimiter {
    fn throttle_async(
        &self,
        key: &str,
        cost: u64,
    ) -> impl Future<Output = Result<RateLimitInfo, Error>> + Send {
        self.check(key, cost)
    }
}

/// As for `str` keys.
impl AsyncLimiter<String> for RedisLimiter {
    fn throttle_async(
        &self,
        key: &String,
        cost: u64,
    ) -> impl Future<Output = Result<RateLimitInfo, Error>> + Send {
        self.check(key, cost)
    }
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt(f)
    }
}
