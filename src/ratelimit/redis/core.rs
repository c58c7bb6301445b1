//! The sans-IO core of both Redis limiters: it builds each operation's
//! script calls, reads the replies and decides the fallback; the async and
//! the blocking limiter are thin shells that only carry the calls over
//! their link.
//!
//! ```text
//!   core.check / core.single ──► Op              validate; spend a lease
//!   core.request(op.calls()) ──► Request ──► Script::invoke*(link)   (shell)
//!   core.settle(calls, replies)                  parse, type, or fall back
//!   core.finish(op, answers) ──► RateLimitInfo   file a lease, answer
//! ```
use super::super::{Error, KeyedLimiter, Limiter, RateLimitInfo, RateLimitPolicy, Requota};
use super::call::{self, Answer, Call, OpKind};
use super::lease::{Begin, Leases};
use super::quota::Quota;
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::redis_link::{is_unreachable, Script, ScriptCall};
use crate::sync::atomic::{AtomicU64, Ordering};
use ::redis::{Cmd, RedisError, RedisResult, Value};
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

/// One operation, planned by the core: the calls a shell sends (none when
/// a lease answered it in-process), then [`Core::finish`].
pub(crate) struct Op(Begin);

impl Op {
    /// The calls to send, in order.
    pub(crate) fn calls(&self) -> &[Call] {
        match &self.0 {
            Begin::Direct(c) => std::slice::from_ref(c),
            Begin::Spent(_) => &[],
            Begin::Lease(plan) => &plan.calls,
        }
    }
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
            leases: lease.map(|(max, ttl)| Leases::new(max, ttl)),
        })
    }

    fn local_now(&self) -> u64 {
        self.clock
            .as_ref()
            .map_or_else(|| SystemClock.now_nanos(), Clock::now_nanos)
    }

    /// Leased mode, before the round trip: only a check that takes
    /// tokens is leased.
    fn lease_begin(&self, call: Call) -> Begin {
        match &self.leases {
            Some(leases) if call.kind == OpKind::Check && call.cost > 0 => {
                leases.begin(call, self.local_now(), &self.prefix)
            }
            _ => Begin::Direct(call),
        }
    }

    /// Takes every lease's unspent tokens, as refund calls to send.
    pub(crate) fn drain_leases(&self) -> Vec<Call> {
        self.leases
            .as_ref()
            .map_or_else(Vec::new, |l| l.drain(&self.prefix))
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

    /// `check`: from a lease when leased mode has one, else one call (or a
    /// lease round trip).
    pub(crate) fn check(&self, key: &str, cost: u64) -> Result<Op, Error> {
        Ok(Op(self.lease_begin(self.call(
            key,
            OpKind::Check,
            cost,
            None,
        )?)))
    }

    /// Any other single-key operation: one call, never leased.
    pub(crate) fn single(
        &self,
        key: &str,
        kind: OpKind,
        cost: u64,
        quota: Option<&Quota>,
    ) -> Result<Op, Error> {
        Ok(Op(Begin::Direct(self.call(key, kind, cost, quota)?)))
    }

    /// The caller's answer to `op`, from the answers to its calls.
    pub(crate) fn finish(&self, op: Op, answers: Vec<Answer>) -> Result<RateLimitInfo, Error> {
        match op.0 {
            Begin::Direct(_) => Core::answer(answers),
            Begin::Spent(info) => Ok(info),
            Begin::Lease(plan) => match &self.leases {
                Some(leases) => leases.end(plan, answers, self.local_now()),
                None => Err(Error::Backend {
                    message: "not in leased mode".into(),
                }),
            },
        }
    }

    /// The one answer of a single-call operation.
    fn answer(answers: Vec<Answer>) -> Result<RateLimitInfo, Error> {
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
        if let Some(leases) = &self.leases {
            leases.forget(key);
        }
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
