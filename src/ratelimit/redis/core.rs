//! What the async and the blocking limiter share: the quota, the key
//! prefix, the failure policy with its in-process fallback, and the handling
//! of each round's replies. Only the transport differs between the two.
use super::super::gcra::Gcra;
use super::super::{Error, KeyedLimiter, Limiter, RateLimitInfo, RateLimitPolicy, Requota};
use super::script::{self, Call, OpKind, Reply};
use crate::clock::{duration_to_nanos, Clock, ManualClock, SystemClock};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Mutex;
use crate::DefaultHashBuilder;
use arc_swap::ArcSwap;
use std::collections::HashMap;
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
///
/// With the `serde` feature a quota serializes as `{"rate": f64, "burst":
/// u64}`, `rate` being the effective [`rate`](Self::rate), and deserializes
/// from the same map through the same checks as [`Quota::new`]. A rate that
/// is exactly `1e9 / n` for a whole `n` (as every serialized rate is) gets
/// the interval `n` ns, so a quota reads back unchanged.
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

    /// The limit: the burst capacity in tokens.
    pub fn limit(&self) -> u64 {
        self.gcra.capacity()
    }

    /// The same as [`limit`](Self::limit), under its older name.
    pub fn burst(&self) -> u64 {
        self.gcra.capacity()
    }

    /// The quota as a [`RateLimitPolicy`]: `limit` tokens per the time an
    /// empty bucket takes to refill.
    pub fn policy(&self) -> RateLimitPolicy {
        RateLimitPolicy::of_gcra(&self.gcra)
    }

    /// The quota of `policy`: `limit` tokens, one per `window / limit`
    /// (rounded up to a nanosecond).
    ///
    /// # Errors
    /// [`Error::CapacityOverflow`] past the 2^52 ns span.
    pub fn from_policy(policy: RateLimitPolicy) -> Result<Self, Error> {
        script::within_span(policy.to_gcra()?, policy.limit()).map(|gcra| Quota { gcra })
    }

    /// The effective rate in tokens per second (the interval is rounded up
    /// to a whole nanosecond).
    pub fn rate(&self) -> f64 {
        1e9 / self.gcra.interval() as f64
    }
}

#[cfg(feature = "serde")]
impl Quota {
    /// [`Quota::new`], except that a rate of exactly `1e9 / n` (what
    /// [`rate`](Self::rate) answers for an interval of `n` ns) gets that
    /// interval, not one a float rounding error made `n + 1`.
    fn read_back(rate: f64, burst: u64) -> Result<Self, Error> {
        let n = (1e9 / rate).round();
        // `u64::MAX as f64` is 2^64: anything below it fits.
        if n >= 1.0 && n < u64::MAX as f64 && 1e9 / n == rate {
            let gcra = Gcra::from_interval(n as u64, burst)?;
            script::within_span(gcra, burst).map(|gcra| Quota { gcra })
        } else {
            Quota::new(rate, burst)
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Quota {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Quota", 2)?;
        st.serialize_field("rate", &self.rate())?;
        st.serialize_field("burst", &self.burst())?;
        st.end()
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Quota {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename = "Quota", deny_unknown_fields)]
        struct Raw {
            rate: f64,
            burst: u64,
        }
        let raw = Raw::deserialize(d)?;
        Quota::read_back(raw.rate, raw.burst).map_err(serde::de::Error::custom)
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
    local: Option<KeyedLimiter<String>>,
    fallbacks: AtomicU64,
    /// Test-only: replaces Redis `TIME` so a timeline can be scripted (and
    /// the system clock for lease expiry).
    clock: Option<ManualClock>,
    leases: Option<Leases>,
}

/// Leased mode: per hot key, tokens already charged in Redis that this
/// instance spends without a round trip.
struct Leases {
    /// Most tokens one lease takes (at most the burst when used).
    max: u64,
    /// How long a lease may be spent, in nanoseconds.
    ttl: u64,
    held: Mutex<Held>,
}

struct Held {
    map: HashMap<String, Lease, DefaultHashBuilder>,
    /// Size at which the next lease round trip also returns every expired
    /// lease (amortised, as the keyed limiter's sweep), so keys that are
    /// never checked again neither pin memory nor keep their tokens.
    next_sweep: usize,
}

/// Fewest leases held before the first sweep.
const MIN_LEASE_SWEEP: usize = 16;

struct Lease {
    tokens: u64,
    /// Local clock reading after which the rest goes back to Redis.
    expires: u64,
    gcra: Gcra,
    /// Redis's answer when the lease was taken.
    info: RateLimitInfo,
}

/// What a check in leased mode does next.
pub(crate) enum Begin {
    /// No lease involved: send the call as it is.
    Direct(Call),
    /// Spent from the lease, no round trip.
    Spent(RateLimitInfo),
    /// Send `calls` (a refund of an expired lease, then the lease) and
    /// settle with [`Core::lease_end`].
    Lease(LeasePlan),
}

/// A lease round trip in flight.
pub(crate) struct LeasePlan {
    pub(crate) calls: Vec<Call>,
    /// Tokens of a still-valid lease, too few for the cost, spent too.
    keep: u64,
    cost: u64,
}

/// Per call: its answer (and the raw first reply field) once it has one.
pub(crate) type Answers = Vec<Option<Result<(RateLimitInfo, u64), Error>>>;

impl Core {
    pub(crate) fn new(
        prefix: String,
        quota: Quota,
        policy: FailurePolicy,
        clock: Option<ManualClock>,
        lease: Option<(u64, Duration)>,
    ) -> Result<Self, Error> {
        script::check_prefix(&prefix)?;
        let local = match policy {
            FailurePolicy::Local => Some(
                KeyedLimiter::builder()
                    .rate(quota.rate())
                    .limit(quota.limit())
                    .build()?,
            ),
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
            leases: lease.map(|(max, ttl)| Leases {
                max,
                ttl: duration_to_nanos(ttl),
                held: Mutex::new(Held {
                    map: HashMap::default(),
                    next_sweep: MIN_LEASE_SWEEP,
                }),
            }),
        })
    }

    fn local_now(&self) -> u64 {
        self.clock
            .as_ref()
            .map_or_else(|| SystemClock.now_nanos(), Clock::now_nanos)
    }

    /// Leased mode, before the round trip: spend from a valid lease, or
    /// plan a new one (returning an expired lease's rest on the way).
    pub(crate) fn lease_begin(&self, call: Call) -> Begin {
        let Some(leases) = &self.leases else {
            return Begin::Direct(call);
        };
        if call.kind != OpKind::Check || call.cost == 0 {
            return Begin::Direct(call);
        }
        let now = self.local_now();
        let (mut keep, mut back) = (0, 0);
        let mut calls = Vec::with_capacity(2);
        {
            let mut held = leases.held.lock();
            if let Some(l) = held.map.get_mut(&call.key) {
                let valid = now < l.expires && l.gcra == call.gcra;
                if valid && l.tokens >= call.cost {
                    l.tokens -= call.cost;
                    return Begin::Spent(RateLimitInfo {
                        allowed: true,
                        limit: call.gcra.capacity(),
                        remaining: l.tokens + l.info.remaining,
                        retry_after: None,
                        reset_after: l.info.reset_after,
                    });
                }
                if valid {
                    keep = l.tokens;
                } else {
                    back = l.tokens.min(call.gcra.capacity());
                }
                held.map.remove(&call.key);
            }
            if held.map.len() >= held.next_sweep {
                let prefix = &self.prefix;
                held.map.retain(|key, l| {
                    if now < l.expires {
                        return true;
                    }
                    let back = l.tokens.min(l.gcra.capacity());
                    if back > 0 {
                        calls.extend(script::call(prefix, key, OpKind::Refund, back, l.gcra).ok());
                    }
                    false
                });
                held.next_sweep = (held.map.len() * 2).max(MIN_LEASE_SWEEP);
            }
        }
        let need = call.cost - keep;
        if back > 0 {
            calls.push(Call {
                kind: OpKind::Refund,
                cost: back,
                ..call.clone()
            });
        }
        let cost = call.cost;
        calls.push(Call {
            kind: OpKind::Lease,
            cost: need,
            want: leases.max.min(call.gcra.capacity()).max(need),
            ..call
        });
        Begin::Lease(LeasePlan { calls, keep, cost })
    }

    /// Leased mode, after the round trip: file the tokens taken and answer.
    pub(crate) fn lease_end(
        &self,
        plan: LeasePlan,
        mut answers: Vec<Result<(RateLimitInfo, u64), Error>>,
    ) -> Result<RateLimitInfo, Error> {
        let Some(leases) = &self.leases else {
            return Err(Error::Backend {
                message: "not in leased mode".into(),
            });
        };
        let Some(call) = plan.calls.last() else {
            return Err(Error::Backend {
                message: "empty lease plan".into(),
            });
        };
        let answer = answers.pop().unwrap_or_else(|| {
            Err(Error::Backend {
                message: "no reply".into(),
            })
        });
        let (info, left) = match answer {
            // `taken >= need`, so this cannot underflow.
            Ok((info, taken)) if taken >= call.cost && info.allowed => {
                (Ok(info), plan.keep + taken - plan.cost)
            }
            Ok((info, _)) => (Ok(info), plan.keep),
            Err(e) => (Err(e), plan.keep),
        };
        if left > 0 {
            let now = self.local_now();
            let mut held = leases.held.lock();
            let l = held.map.entry(call.key.clone()).or_insert(Lease {
                tokens: 0,
                expires: now.saturating_add(leases.ttl),
                gcra: call.gcra,
                info: *info.as_ref().unwrap_or(&RateLimitInfo {
                    allowed: true,
                    limit: call.gcra.capacity(),
                    remaining: 0,
                    retry_after: None,
                    reset_after: Duration::ZERO,
                }),
            });
            l.tokens += left;
        }
        let info = info?;
        Ok(RateLimitInfo {
            remaining: info.remaining + left,
            ..info
        })
    }

    /// Takes every lease's unspent tokens, as refund calls to send.
    pub(crate) fn drain_leases(&self) -> Vec<Call> {
        let Some(leases) = &self.leases else {
            return Vec::new();
        };
        let prefix = &self.prefix;
        leases
            .held
            .lock()
            .map
            .drain()
            .filter(|(_, l)| l.tokens > 0)
            .filter_map(|(key, l)| {
                script::call(
                    prefix,
                    &key,
                    OpKind::Refund,
                    l.tokens.min(l.gcra.capacity()),
                    l.gcra,
                )
                .ok()
            })
            .collect()
    }

    /// Drops `key`'s lease without returning it (the key is being reset).
    pub(crate) fn forget_lease(&self, key: &str) {
        if let Some(leases) = &self.leases {
            leases.held.lock().map.remove(key);
        }
    }

    pub(crate) fn quota(&self) -> Quota {
        **self.quota.load()
    }

    pub(crate) fn set_quota(&self, rate: f64, burst: u64) -> Result<(), Error> {
        let q = Quota::new(rate, burst)?;
        if let Some(local) = &self.local {
            local.set_quota(q.rate(), q.burst())?;
        }
        self.quota.store(Arc::new(q));
        Ok(())
    }

    pub(crate) fn set_policy(&self, policy: RateLimitPolicy) -> Result<(), Error> {
        let q = Quota::from_policy(policy)?;
        if let Some(local) = &self.local {
            local.set_policy(policy)?;
        }
        self.quota.store(Arc::new(q));
        Ok(())
    }

    /// What a blocking wait sleeps on: the test clock if there is one (it
    /// replaces Redis `TIME`), else the thread.
    pub(crate) fn sleep(&self, duration: Duration) {
        match &self.clock {
            Some(clock) => clock.sleep(duration),
            None => SystemClock.sleep(duration),
        }
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

    /// Files one round's replies (`replies[j]` answers `calls[todo[j]]`) and
    /// returns the calls that met `NOSCRIPT`.
    pub(crate) fn absorb(
        &self,
        todo: &[usize],
        replies: Vec<Reply>,
        out: &mut Answers,
    ) -> Vec<usize> {
        let mut again = Vec::new();
        let mut replies = replies.into_iter();
        for &i in todo {
            match replies.next() {
                Some(Reply::Info(info, first)) => out[i] = Some(Ok((info, first))),
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

    fn fall_back(
        &self,
        call: &Call,
        e: &::redis::RedisError,
    ) -> Result<(RateLimitInfo, u64), Error> {
        // A lease falls back as a plain check of its cost: nothing leased.
        let info = self.fall_back_info(call, e)?;
        Ok((info, if info.allowed { call.cost } else { 0 }))
    }

    fn fall_back_info(&self, call: &Call, e: &::redis::RedisError) -> Result<RateLimitInfo, Error> {
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
        Ok(match call.kind {
            OpKind::Check | OpKind::Lease => local.check_info(call.key.as_str(), call.cost)?,
            OpKind::Peek => Limiter::<str>::probe(local, call.key.as_str(), call.cost)?,
            OpKind::Refund => local.refund(call.key.as_str(), call.cost),
        })
    }

    pub(crate) fn reset_local(&self, key: &str) {
        self.forget_lease(key);
        if let Some(local) = &self.local {
            local.reset(key);
        }
    }

    /// The answers in call order; a call that still has none met
    /// `NOSCRIPT` even after loading the script.
    pub(crate) fn finish(out: Answers) -> Vec<Result<(RateLimitInfo, u64), Error>> {
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
