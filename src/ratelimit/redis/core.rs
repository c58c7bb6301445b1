//! What the async and the blocking limiter share: the quota, the key
//! prefix, the failure policy with its in-process fallback, and the handling
//! of each round's replies. Only the transport differs between the two.
use super::super::gcra::Gcra;
use super::super::{Error, KeyedLimiter, RateLimitInfo};
use super::script::{self, Call, OpKind, Reply};
use crate::clock::{Clock, ManualClock};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::RwLock;
use ::redis::Value;
use arc_swap::ArcSwap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What a limiter answers while Redis is unreachable or not answering in
/// time (connection refused, dropped, or past the response timeout).
///
/// Errors that Redis *returns* (a rejected argument, a key holding other
/// data) are never covered by the policy: they are [`Error::Backend`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Admit every request: availability over the limit. The answer has
    /// `allowed: true`, `remaining = burst - cost`, no reset time.
    FailOpen,
    /// Refuse with [`Error::Unavailable`] (the default): the limit over
    /// availability.
    #[default]
    FailClosed,
    /// Limit in-process with a [`KeyedLimiter`] of the same quota until
    /// Redis answers again. Each instance then admits up to its own
    /// `burst + rate x t` per key, so N instances admit up to N times the
    /// limit during the outage; what they admitted is not written back.
    Local,
}

/// A validated rate and burst for the Redis limiter: the in-process rules
/// (see [`TokenBucketBuilder::rate`](super::super::TokenBucketBuilder::rate))
/// plus `burst x (1 / rate) <= 2^52` ns (about 52 days), the span the
/// script computes exactly.
///
/// ```
/// use latchwork::ratelimit::{Error, Quota};
///
/// let q = Quota::new(100.0 / 60.0, 100)?; // 100 per minute, bursts of 100
/// assert_eq!(q.burst(), 100);
/// assert!(matches!(Quota::new(f64::NAN, 1), Err(Error::InvalidRate { .. })));
/// assert!(matches!(Quota::new(1e-6, 1_000_000), Err(Error::CapacityOverflow { .. })));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub(crate) gcra: Gcra,
}

impl Quota {
    /// `rate` tokens per second, at most `burst` stored.
    ///
    /// # Errors
    /// [`Error::InvalidRate`] for zero, negative, NaN or infinite rates,
    /// [`Error::RateOutOfRange`], [`Error::ZeroCapacity`] for a zero burst,
    /// [`Error::CapacityOverflow`] past the 2^52 ns span.
    pub fn new(rate: f64, burst: u64) -> Result<Self, Error> {
        script::quota(rate, burst).map(|gcra| Quota { gcra })
    }

    /// The burst capacity in tokens.
    pub fn burst(&self) -> u64 {
        self.gcra.capacity()
    }

    /// The effective rate in tokens per second (the interval is rounded up
    /// to a whole nanosecond).
    pub fn rate(&self) -> f64 {
        1e9 / self.gcra.interval() as f64
    }
}

impl fmt::Debug for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quota")
            .field("rate", &self.rate())
            .field("burst", &self.burst())
            .finish()
    }
}

pub(crate) struct Core {
    pub(crate) sha: String,
    pub(crate) prefix: String,
    quota: ArcSwap<Quota>,
    policy: FailurePolicy,
    local: Option<RwLock<KeyedLimiter<String>>>,
    fallbacks: AtomicU64,
    /// Test-only: replaces Redis `TIME` so a timeline can be scripted.
    clock: Option<ManualClock>,
}

/// Per call: its answer once it has one.
pub(crate) type Answers = Vec<Option<Result<RateLimitInfo, Error>>>;

impl Core {
    pub(crate) fn new(
        prefix: String,
        quota: Quota,
        policy: FailurePolicy,
        clock: Option<ManualClock>,
    ) -> Result<Self, Error> {
        script::check_prefix(&prefix)?;
        let local = match policy {
            FailurePolicy::Local => Some(RwLock::new(
                KeyedLimiter::builder()
                    .rate(quota.rate())
                    .burst(quota.burst())
                    .build()?,
            )),
            _ => None,
        };
        Ok(Core {
            sha: ::redis::Script::new(script::SOURCE).get_hash().to_owned(),
            prefix,
            quota: ArcSwap::from_pointee(quota),
            policy,
            local,
            fallbacks: AtomicU64::new(0),
            clock,
        })
    }

    pub(crate) fn quota(&self) -> Quota {
        **self.quota.load()
    }

    pub(crate) fn set_quota(&self, rate: f64, burst: u64) -> Result<(), Error> {
        let q = Quota::new(rate, burst)?;
        if let Some(local) = &self.local {
            local.write().set_quota(q.rate(), q.burst())?;
        }
        self.quota.store(Arc::new(q));
        Ok(())
    }

    pub(crate) fn policy(&self) -> FailurePolicy {
        self.policy
    }

    pub(crate) fn fallbacks(&self) -> u64 {
        // Relaxed: a statistic; it orders nothing.
        self.fallbacks.load(Ordering::Relaxed)
    }

    pub(crate) fn now(&self) -> Option<u64> {
        self.clock.as_ref().map(Clock::now_nanos)
    }

    pub(crate) fn call(
        &self,
        key: &str,
        kind: OpKind,
        cost: u64,
        quota: Option<&Quota>,
    ) -> Result<Call, Error> {
        let gcra = quota.map_or_else(|| self.quota().gcra, |q| q.gcra);
        script::call(&self.prefix, key, kind, cost, gcra)
    }

    /// Files one round's replies (`values[j]` answers `calls[todo[j]]`) and
    /// returns the calls that met `NOSCRIPT`.
    pub(crate) fn absorb(
        &self,
        todo: &[usize],
        values: Vec<Value>,
        out: &mut Answers,
    ) -> Vec<usize> {
        let mut again = Vec::new();
        let mut values = values.into_iter();
        for &i in todo {
            match values.next().map(script::parse) {
                Some(Reply::Info(info)) => out[i] = Some(Ok(info)),
                Some(Reply::NoScript) => again.push(i),
                Some(Reply::Failed(e)) => out[i] = Some(Err(e)),
                None => {
                    out[i] = Some(Err(Error::Backend {
                        message: "fewer replies than calls".into(),
                    }))
                }
            }
        }
        again
    }

    /// A transport error for the calls in `todo`: the failure policy when
    /// Redis is unreachable, else [`Error::Backend`].
    pub(crate) fn failed(
        &self,
        calls: &[Call],
        todo: &[usize],
        e: &::redis::RedisError,
        out: &mut Answers,
    ) {
        for &i in todo {
            out[i] = Some(if script::is_unreachable(e) {
                self.fall_back(&calls[i], e)
            } else {
                Err(Error::Backend {
                    message: e.to_string(),
                })
            });
        }
    }

    fn fall_back(&self, call: &Call, e: &::redis::RedisError) -> Result<RateLimitInfo, Error> {
        if self.policy == FailurePolicy::FailClosed {
            return Err(Error::Unavailable {
                message: e.to_string(),
            });
        }
        // Relaxed: a statistic; it orders nothing.
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        let Some(local) = &self.local else {
            let cap = call.gcra.capacity();
            let spent = if call.kind == OpKind::Check {
                call.cost
            } else {
                0
            };
            return Ok(RateLimitInfo {
                allowed: true,
                limit: cap,
                remaining: cap - spent,
                retry_after: None,
                reset_after: Duration::ZERO,
            });
        };
        let local = local.read();
        Ok(match call.kind {
            OpKind::Check => local.check_info(call.key.as_str(), call.cost)?,
            OpKind::Peek => local.peek_info(call.key.as_str()),
            OpKind::Refund => local.refund(call.key.as_str(), call.cost),
        })
    }

    pub(crate) fn reset_local(&self, key: &str) {
        if let Some(local) = &self.local {
            local.read().reset(key);
        }
    }

    /// The answers in call order; a call that still has none met
    /// `NOSCRIPT` even after loading the script.
    pub(crate) fn finish(out: Answers) -> Vec<Result<RateLimitInfo, Error>> {
        out.into_iter()
            .map(|a| {
                a.unwrap_or_else(|| {
                    Err(Error::Backend {
                        message: "NOSCRIPT persisted after loading the limiter script".into(),
                    })
                })
            })
            .collect()
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("quota", &self.quota())
            .field("key_prefix", &self.prefix)
            .field("policy", &self.policy)
            .field("fallbacks", &self.fallbacks())
            .finish_non_exhaustive()
    }
}
