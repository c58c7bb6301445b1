//! Leased mode: per hot key, tokens already charged in Redis that this
//! instance spends in-process, and the calls that take and return them.
use super::super::gcra::Gcra;
use super::super::{Error, RateLimitInfo};
use super::call::{self, Answer, Call, OpKind};
use crate::clock::duration_to_nanos;
use crate::sync::Mutex;
use crate::DefaultHashBuilder;
use std::collections::HashMap;
use std::time::Duration;

/// Leased mode: per hot key, tokens already charged in Redis that this
/// instance spends without a round trip.
pub(super) struct Leases {
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
pub(super) enum Begin {
    /// No lease involved: send the call as it is.
    Direct(Call),
    /// Spent from the lease, no round trip.
    Spent(RateLimitInfo),
    /// Send `calls` (refunds of expired leases, then the lease) and
    /// settle with [`Leases::end`].
    Lease(LeasePlan),
}

/// A lease round trip in flight.
pub(super) struct LeasePlan {
    pub(super) calls: Vec<Call>,
    /// Tokens of a still-valid lease, too few for the cost, spent too.
    keep: u64,
    cost: u64,
}

impl Leases {
    pub(super) fn new(max: u64, ttl: Duration) -> Self {
        Leases {
            max,
            ttl: duration_to_nanos(ttl),
            held: Mutex::new(Held {
                map: HashMap::default(),
                next_sweep: MIN_LEASE_SWEEP,
            }),
        }
    }

    /// Leased mode, before the round trip: spend from a valid lease, or
    /// plan a new one (returning an expired lease's rest on the way).
    pub(super) fn begin(&self, call: Call, now: u64, prefix: &str) -> Begin {
        let (mut keep, mut back) = (0, 0);
        let mut calls = Vec::with_capacity(2);
        {
            let mut held = self.held.lock();
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
            want: self.max.min(call.gcra.capacity()).max(need),
            ..call
        });
        Begin::Lease(LeasePlan { calls, keep, cost })
    }

    /// Leased mode, after the round trip: file the tokens taken and answer.
    pub(super) fn end(
        &self,
        plan: LeasePlan,
        mut answers: Vec<Answer>,
        now: u64,
    ) -> Result<RateLimitInfo, Error> {
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
            let mut held = self.held.lock();
            let l = held.map.entry(call.key.clone()).or_insert(Lease {
                tokens: 0,
                expires: now.saturating_add(self.ttl),
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
    pub(super) fn drain(&self, prefix: &str) -> Vec<Call> {
        self.held
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
    pub(super) fn forget(&self, key: &str) {
        self.held.lock().map.remove(key);
    }
}
