//! The sans-IO core of both Redis limiters: it builds each operation's
//! script calls, reads the replies and decides the fallback; the async and
//! the blocking limiter are thin shells that only carry the calls over
//! their link.
//!
//! ```text
//!   shell: core.call(..) / core.lease_begin(..)   validate, plan
//!          core.request(&calls) ──► Script::invoke*(link) ──► replies
//!          core.settle(&calls, replies)            parse, or fall back
//!          core.lease_end(..) / core.answer(..)    the caller's answer
//! ```
use super::super::gcra::Gcra;
use super::super::{Error, KeyedLimiter, Limiter, RateLimitInfo, RateLimitPolicy, Requota};
use super::call::{self, Answer, Call, OpKind};
use super::quota::Quota;
use crate::clock::{duration_to_nanos, Clock, ManualClock, SystemClock};
use crate::redis_link::{is_unreachable, Script, ScriptCall};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Mutex;
use crate::DefaultHashBuilder;
use ::redis::{Cmd, RedisError, RedisResult, Value};
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

pub(crate) struct Core {
    /// `gcra.lua`, sent through the crate's one `EVALSHA` mechanism.
    pub(crate) script: Script,
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

/// A round trip the core asks a shell to make.
pub(crate) enum Request {
    /// One call, as a plain command (no pipeline framing).
    One(ScriptCall),
    /// Several, as pipelines (one per cluster slot) with a reply per call.
    Many(Vec<ScriptCall>),
}

impl Core {
    pub(crate) fn new(
        prefix: String,
        quota: Quota,
        policy: FailurePolicy,
        clock: Option<ManualClock>,
        lease: Option<(u64, Duration)>,
    ) -> Result<Self, Error> {
        call::check_prefix(&prefix)?;
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
            script: call::script(),
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
                        calls.extend(call::call(prefix, key, OpKind::Refund, back, l.gcra).ok());
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
        mut answers: Vec<Answer>,
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
                call::call(
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
        call::call(&self.prefix, key, kind, cost, gcra)
    }

    /// The round trip for `calls`; `None` when there is nothing to send.
    pub(crate) fn request(&self, calls: &[Call]) -> Option<Request> {
        let now = self.now().map_or_else(String::new, |n| n.to_string());
        match calls {
            [] => None,
            [c] => Some(Request::One(c.script_call(&now))),
            _ => Some(Request::Many(
                calls.iter().map(|c| c.script_call(&now)).collect(),
            )),
        }
    }

    /// The answers to `calls` from their replies (`replies[i]` answers
    /// `calls[i]`): the script's reply, [`Error::Backend`] for an error
    /// Redis returned, the failure policy when Redis was unreachable.
    pub(crate) fn settle(&self, calls: &[Call], replies: Vec<RedisResult<Value>>) -> Vec<Answer> {
        let mut replies = replies.into_iter();
        calls
            .iter()
            .map(|c| match replies.next() {
                Some(Ok(v)) => call::parse(v),
                Some(Err(e)) if is_unreachable(&e) => self.fall_back(c, &e),
                Some(Err(e)) => Err(Error::Backend {
                    message: e.to_string(),
                }),
                None => Err(Error::Backend {
                    message: "fewer replies than calls".into(),
                }),
            })
            .collect()
    }

    /// The one answer of a single-call operation.
    pub(crate) fn answer(answers: Vec<Answer>) -> Result<RateLimitInfo, Error> {
        answers
            .into_iter()
            .next()
            .map(|a| a.map(|(info, _)| info))
            .unwrap_or_else(|| {
                Err(Error::Backend {
                    message: "no reply".into(),
                })
            })
    }

    /// The answers of a batch, or its first error.
    pub(crate) fn answers(answers: Vec<Answer>) -> Result<Vec<RateLimitInfo>, Error> {
        answers
            .into_iter()
            .map(|a| a.map(|(info, _)| info))
            .collect()
    }

    /// The calls of `check_many`, every pair validated before any is sent.
    pub(crate) fn batch<K: AsRef<str>>(&self, checks: &[(K, u64)]) -> Result<Vec<Call>, Error> {
        checks
            .iter()
            .map(|(k, cost)| self.call(k.as_ref(), OpKind::Check, *cost, None))
            .collect()
    }

    /// `reset`: forgets `key` in-process and gives the `DEL` to send.
    pub(crate) fn reset(&self, key: &str) -> Result<Cmd, Error> {
        let call = self.call(key, OpKind::Peek, 0, None)?;
        self.reset_local(key);
        let mut cmd = ::redis::cmd("DEL");
        cmd.arg(&call.redis_key);
        Ok(cmd)
    }

    fn fall_back(&self, call: &Call, e: &RedisError) -> Answer {
        // A lease falls back as a plain check of its cost: nothing leased.
        let info = self.fall_back_info(call, e)?;
        Ok((info, if info.allowed { call.cost } else { 0 }))
    }

    fn fall_back_info(&self, call: &Call, e: &RedisError) -> Result<RateLimitInfo, Error> {
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

    fn reset_local(&self, key: &str) {
        self.forget_lease(key);
        if let Some(local) = &self.local {
            local.reset(key);
        }
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

#[cfg(test)]
mod tests {
    //! The core without Redis: replies in, answers out.
    use super::*;
    use ::redis::ErrorKind;

    fn core(policy: FailurePolicy) -> Core {
        Core::new("t:".into(), Quota::new(1.0, 3).unwrap(), policy, None, None).unwrap()
    }

    fn reply(first: i64, remaining: i64) -> RedisResult<Value> {
        Ok(Value::Array(
            [first, 3, remaining, -1, 1_000_000_000]
                .into_iter()
                .map(Value::Int)
                .collect(),
        ))
    }

    fn refused() -> RedisResult<Value> {
        Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        )))
    }

    #[test]
    fn request_shape() {
        let c = core(FailurePolicy::FailClosed);
        let a = c.call("a", OpKind::Check, 1, None).unwrap();
        assert_eq!(a.redis_key, "t:{a}");
        assert!(c.request(&[]).is_none());
        assert!(matches!(
            c.request(std::slice::from_ref(&a)),
            Some(Request::One(_))
        ));
        assert!(matches!(
            c.request(&[a.clone(), a]),
            Some(Request::Many(v)) if v.len() == 2
        ));
    }

    #[test]
    fn settle_reads_replies_and_types_errors() {
        let c = core(FailurePolicy::FailClosed);
        let calls: Vec<Call> = ["a", "b", "c", "d"]
            .iter()
            .map(|k| c.call(k, OpKind::Check, 1, None).unwrap())
            .collect();
        let server = Err(RedisError::from((
            ErrorKind::Server(::redis::ServerErrorKind::ResponseError),
            "WRONGTYPE",
        )));
        let got = c.settle(&calls, vec![reply(1, 2), server, refused()]);
        assert!(matches!(&got[0], Ok((info, 1)) if info.allowed && info.remaining == 2));
        assert!(matches!(got[1], Err(Error::Backend { .. })));
        assert!(matches!(got[2], Err(Error::Unavailable { .. })));
        assert!(matches!(got[3], Err(Error::Backend { .. })), "no reply");
        assert_eq!(c.fallbacks(), 0);
        assert!(matches!(Core::answers(got), Err(Error::Backend { .. })));
    }

    #[test]
    fn unreachable_falls_back_by_policy() {
        let open = core(FailurePolicy::FailOpen);
        let call = open.call("k", OpKind::Check, 2, None).unwrap();
        let got = open.settle(std::slice::from_ref(&call), vec![refused()]);
        let info = Core::answer(got).unwrap();
        assert!(info.allowed && info.remaining == 1);
        assert_eq!(open.fallbacks(), 1);

        let local = core(FailurePolicy::Local);
        let call = local.call("k", OpKind::Check, 2, None).unwrap();
        let admitted: Vec<bool> = (0..2)
            .map(|_| {
                let got = local.settle(std::slice::from_ref(&call), vec![refused()]);
                Core::answer(got).unwrap().allowed
            })
            .collect();
        assert_eq!(admitted, [true, false], "limited in-process");
        assert_eq!(local.fallbacks(), 2);
    }
}
