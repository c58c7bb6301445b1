//! The blocking limiter: a thin shell that carries the core's calls over
//! a [`BlockingLink`].
use super::super::{Error, Limiter, RateLimitInfo, RateLimitPolicy, Requota};
use super::builder::unavailable;
use super::call::{self, Answer, Call, OpKind};
use super::core::{Core, FailurePolicy, Op, Request};
use super::quota::Quota;
use crate::redis_link::BlockingLink;
use std::fmt;
use std::time::Duration;

/// [`RedisLimiter`](super::RedisLimiter) without an async runtime: the same
/// script, keys, policy and answers, over one blocking connection (to a
/// node, or to a cluster) that is reopened (within the connect timeout)
/// after a failure.
///
/// It is a [`Limiter`] for every key that is a string (`str`, `String`,
/// `&str`): [`throttle`](Limiter::throttle) is [`check`](Self::check),
/// [`probe`](Limiter::probe) a peek of any cost, and a blocking
/// [`acquire`](Limiter::acquire) sleeps the thread (Redis keeps server
/// time). Its async form blocks too: on a runtime, use `RedisLimiter`.
///
/// Calls from several threads share the connection one at a time; for
/// parallel round trips give each thread its own limiter (they share all
/// state through Redis).
///
/// ```no_run
/// use latchwork::ratelimit::RedisLimiter;
///
/// let limiter = RedisLimiter::builder()
///     .url("redis://127.0.0.1:6379")
///     .rate(10.0)
///     .burst(20)
///     .build_blocking()?;
/// let info = limiter.check("user:7", 1)?;
/// assert!(info.limit == 20);
/// # Ok::<(), latchwork::ratelimit::Error>(())
/// ```
pub struct BlockingRedisLimiter {
    core: Core,
    link: BlockingLink,
}

impl BlockingRedisLimiter {
    pub(crate) fn new(core: Core, link: BlockingLink) -> Self {
        BlockingRedisLimiter { core, link }
    }

    /// As [`RedisLimiter::check`](super::RedisLimiter::check).
    ///
    /// # Errors
    /// As [`RedisLimiter::check`](super::RedisLimiter::check).
    pub fn check(&self, key: &str, cost: u64) -> Result<RateLimitInfo, Error> {
        self.exec(self.core.check(key, cost)?)
    }

    /// Returns every lease's unspent tokens to Redis in one round trip
    /// (leased mode; see
    /// [`RedisLimiterBuilder::lease`](super::RedisLimiterBuilder::lease)). Drop
    /// does it too.
    pub fn release_leases(&self) {
        let calls = self.core.drain_leases();
        if !calls.is_empty() {
            drop(self.run(&calls));
        }
    }

    /// As [`RedisLimiter::check_with`](super::RedisLimiter::check_with): a
    /// per-key quota, converting the key's state when it differs.
    ///
    /// # Errors
    /// As [`RedisLimiter::check`](super::RedisLimiter::check).
    pub fn check_with(&self, key: &str, cost: u64, quota: &Quota) -> Result<RateLimitInfo, Error> {
        self.exec(self.core.single(key, OpKind::Check, cost, Some(quota))?)
    }

    /// As [`RedisLimiter::peek`](super::RedisLimiter::peek).
    ///
    /// # Errors
    /// As [`RedisLimiter::check`](super::RedisLimiter::check).
    pub fn peek(&self, key: &str) -> Result<RateLimitInfo, Error> {
        self.exec(self.core.single(key, OpKind::Peek, 1, None)?)
    }

    /// As [`RedisLimiter::refund`](super::RedisLimiter::refund).
    ///
    /// # Errors
    /// As [`RedisLimiter::check`](super::RedisLimiter::check).
    pub fn refund(&self, key: &str, cost: u64) -> Result<RateLimitInfo, Error> {
        self.exec(self.core.single(key, OpKind::Refund, cost, None)?)
    }

    /// As [`RedisLimiter::reset`](super::RedisLimiter::reset).
    ///
    /// # Errors
    /// As [`RedisLimiter::reset`](super::RedisLimiter::reset).
    pub fn reset(&self, key: &str) -> Result<(), Error> {
        let del = self.core.reset(key)?;
        self.link.query::<i64>(&del).map(drop).map_err(unavailable)
    }

    /// As [`RedisLimiter::check_many`](super::RedisLimiter::check_many):
    /// one pipelined round trip (on a cluster, one call per key, one after
    /// the other).
    ///
    /// # Errors
    /// As [`RedisLimiter::check_many`](super::RedisLimiter::check_many).
    pub fn check_many<K: AsRef<str>>(
        &self,
        checks: &[(K, u64)],
    ) -> Result<Vec<RateLimitInfo>, Error> {
        let calls = self.core.batch(checks)?;
        Core::answers(self.run(&calls))
    }

    /// As [`RedisLimiter::set_quota`](super::RedisLimiter::set_quota).
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

    /// How many answers came from the failure policy.
    pub fn fallbacks(&self) -> u64 {
        self.core.fallbacks()
    }

    /// The Redis key that holds `key`'s state: `prefix{key}`.
    pub fn redis_key(&self, key: &str) -> String {
        call::redis_key(&self.core.prefix, key)
    }

    /// Sends `op`'s calls and lets the core answer.
    fn exec(&self, op: Op) -> Result<RateLimitInfo, Error> {
        let answers = self.run(op.calls());
        self.core.finish(op, answers)
    }

    /// The shell: the core's request over the link, the replies back to
    /// the core.
    fn run(&self, calls: &[Call]) -> Vec<Answer> {
        let script = &self.core.script;
        let replies = match self.core.request(calls) {
            None => Vec::new(),
            Some(Request::One(c)) => vec![script.invoke_blocking(&self.link, &c)],
            Some(Request::Many(cs)) => script.invoke_many_blocking(&self.link, &cs),
        };
        self.core.settle(calls, replies)
    }
}

impl Requota for BlockingRedisLimiter {
    fn policy(&self) -> RateLimitPolicy {
        self.core.quota().policy()
    }

    /// As [`set_quota`](BlockingRedisLimiter::set_quota), with the rate
    /// given as `limit` tokens per `window`.
    ///
    /// # Errors
    /// As [`Quota::from_policy`]; on error nothing changes.
    fn set_policy(&self, policy: RateLimitPolicy) -> Result<(), Error> {
        self.core.set_policy(policy)
    }
}

/// A key names the bucket at `prefix{key}`.
impl<Q: AsRef<str> + ?Sized> Limiter<Q> for BlockingRedisLimiter {
    fn throttle(&self, key: &Q, cost: u64) -> Result<RateLimitInfo, Error> {
        self.check(key.as_ref(), cost)
    }

    fn probe(&self, key: &Q, cost: u64) -> Result<RateLimitInfo, Error> {
        self.exec(self.core.single(key.as_ref(), OpKind::Peek, cost, None)?)
    }

    fn sleep(&self, duration: Duration) {
        self.core.sleep(duration);
    }
}

impl Drop for BlockingRedisLimiter {
    fn drop(&mut self) {
        self.release_leases();
    }
}

impl fmt::Debug for BlockingRedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt(f)
    }
}
