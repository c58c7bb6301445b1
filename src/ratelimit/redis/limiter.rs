//! The async limiter, on a tokio `ConnectionManager`.
use super::super::{AsyncLimiter, Error, RateLimitInfo, RateLimitPolicy, Requota};
use super::builder::{unavailable, RedisLimiterBuilder};
use super::core::{Answers, Begin, Core, FailurePolicy, Quota};
use super::script::{self, Call, OpKind, Request, RELOADS};
use ::redis::aio::ConnectionManager;
use std::fmt;
use std::future::Future;

/// A GCRA rate limiter whose state lives in Redis, shared by every
/// instance of a service: async, on the `redis` crate's tokio
/// `ConnectionManager`. See the [module docs](super) for the script, the
/// keys and cluster use; [`BlockingRedisLimiter`](super::BlockingRedisLimiter)
/// is the same limiter without a runtime.
///
/// It is an [`AsyncLimiter`] for `str` and `String` keys:
/// [`throttle_async`](AsyncLimiter::throttle_async) is [`check`](Self::check),
/// and [`Requota`] reports and changes the limiter's quota (as
/// [`quota`](Self::quota) and [`set_quota`](Self::set_quota)).
///
/// Every method is one round trip (plus one `SCRIPT LOAD` after the
/// server lost its script cache). Cancel safety: dropping a future after
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
    conn: ConnectionManager,
}

impl RedisLimiter {
    /// A builder; `url` (or `client`) and `rate` are required.
    pub fn builder() -> RedisLimiterBuilder {
        RedisLimiterBuilder::new()
    }

    pub(crate) async fn start(core: Core, conn: ConnectionManager) -> Result<Self, Error> {
        let limiter = RedisLimiter { core, conn };
        limiter.load().await?;
        Ok(limiter)
    }

    async fn load(&self) -> Result<(), Error> {
        let mut conn = self.conn.clone();
        script::load_command()
            .query_async::<String>(&mut conn)
            .await
            .map(drop)
            .map_err(unavailable)
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
        match self
            .core
            .lease_begin(self.core.call(key, OpKind::Check, cost, None)?)
        {
            Begin::Direct(call) => self.one(call).await,
            Begin::Spent(info) => Ok(info),
            Begin::Lease(plan) => {
                let answers = self.run(&plan.calls).await;
                self.core.lease_end(plan, answers)
            }
        }
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
        self.one(self.core.call(key, OpKind::Check, cost, Some(quota))?)
            .await
    }

    /// Whether `key` could take one token now, taking none: `remaining`
    /// counts the tokens before any is taken.
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub async fn peek(&self, key: &str) -> Result<RateLimitInfo, Error> {
        self.one(self.core.call(key, OpKind::Peek, 1, None)?).await
    }

    /// Gives `cost` tokens back to `key` (admitted but not served), never
    /// above full.
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub async fn refund(&self, key: &str, cost: u64) -> Result<RateLimitInfo, Error> {
        self.one(self.core.call(key, OpKind::Refund, cost, None)?)
            .await
    }

    /// Forgets `key` (in Redis and in the local fallback): its bucket is
    /// full again.
    ///
    /// # Errors
    /// [`Error::InvalidKey`]; [`Error::Unavailable`] if Redis is
    /// unreachable, whatever the policy.
    pub async fn reset(&self, key: &str) -> Result<(), Error> {
        let call = self.core.call(key, OpKind::Peek, 0, None)?;
        self.core.reset_local(key);
        let mut conn = self.conn.clone();
        ::redis::cmd("DEL")
            .arg(&call.redis_key)
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    /// Checks many `(key, cost)` pairs in one pipelined round trip, each
    /// like [`check`](Self::check); answers in order.
    ///
    /// # Errors
    /// Every key and cost is validated first: one invalid pair fails the
    /// batch before anything is sent. After that, the first failed call's
    /// error (the others' costs stay charged).
    pub async fn check_many<K: AsRef<str>>(
        &self,
        checks: &[(K, u64)],
    ) -> Result<Vec<RateLimitInfo>, Error> {
        let calls = checks
            .iter()
            .map(|(k, cost)| self.core.call(k.as_ref(), OpKind::Check, *cost, None))
            .collect::<Result<Vec<_>, _>>()?;
        self.run(&calls)
            .await
            .into_iter()
            .map(|a| a.map(|(info, _)| info))
            .collect()
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
        script::redis_key(&self.core.prefix, key)
    }

    async fn one(&self, call: Call) -> Result<RateLimitInfo, Error> {
        let mut answers = self.run(std::slice::from_ref(&call)).await;
        answers
            .pop()
            .map(|a| a.map(|(info, _)| info))
            .unwrap_or_else(|| {
                Err(Error::Backend {
                    message: "no reply".into(),
                })
            })
    }

    /// One pipeline; on `NOSCRIPT`, load the script and resend only the
    /// calls that got it.
    async fn run(&self, calls: &[Call]) -> Vec<Result<(RateLimitInfo, u64), Error>> {
        let mut out: Answers = vec![None; calls.len()];
        let mut todo: Vec<usize> = (0..calls.len()).collect();
        let now = self.core.now();
        let mut conn = self.conn.clone();
        for round in 0..=RELOADS {
            let batch: Vec<&Call> = todo.iter().map(|&i| &calls[i]).collect();
            let replies = match script::request(&self.core.sha, &batch, now) {
                Request::One(cmd) => script::one_reply(cmd.query_async(&mut conn).await),
                Request::Many(pipe) => script::many_replies(pipe.query_async(&mut conn).await),
            };
            match replies {
                Ok(replies) => todo = self.core.absorb(&todo, replies, &mut out),
                Err(e) => {
                    self.core.failed(calls, &todo, &e, &mut out);
                    break;
                }
            }
            if todo.is_empty() || round == RELOADS {
                break;
            }
            if let Err(e) = script::load_command()
                .query_async::<String>(&mut conn)
                .await
            {
                self.core.failed(calls, &todo, &e, &mut out);
                break;
            }
        }
        Core::finish(out)
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
