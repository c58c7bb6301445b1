//! One call of the limiter script (`gcra.lua`): the validated key and
//! cost, the hash-tagged Redis key, the arguments, and the reply read back.
//!
//! Every operation (check, peek, refund, lease) is one call; sending it
//! (`EVALSHA`, `NOSCRIPT` recovery, pipelines per cluster slot) is
//! [`redis_link::Script`](crate::redis_link::Script)'s job.
use super::super::gcra::Gcra;
use super::super::{Error, RateLimitInfo};
use crate::redis_link::{Script, ScriptCall};
use ::redis::Value;
use std::time::Duration;

/// The limiter script.
pub(crate) fn script() -> Script {
    Script::new("ratelimit gcra", include_str!("gcra.lua"))
}

/// Longest key accepted, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 512;

/// Longest key prefix accepted, in bytes.
pub(crate) const MAX_PREFIX_LEN: usize = 128;

/// What one script call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    Check,
    Peek,
    Refund,
    /// Take up to `Call::want` tokens, at least `cost`, or none.
    Lease,
}

impl OpKind {
    fn code(self) -> &'static str {
        match self {
            OpKind::Check => "c",
            OpKind::Peek => "p",
            OpKind::Refund => "r",
            OpKind::Lease => "l",
        }
    }
}

/// One validated script call.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// The caller's key, for the in-process fallback.
    pub(crate) key: String,
    /// `prefix{key}`: the Redis key, hash-tagged.
    pub(crate) redis_key: String,
    pub(crate) kind: OpKind,
    pub(crate) cost: u64,
    pub(crate) gcra: Gcra,
    /// For a lease, the most tokens to take; else 0.
    pub(crate) want: u64,
}

/// Checks a prefix: short, and no brace (the braces belong to the key's
/// hash tag).
pub(crate) fn check_prefix(prefix: &str) -> Result<(), Error> {
    let reason = if prefix.len() > MAX_PREFIX_LEN {
        "longer than 128 bytes"
    } else if prefix.contains(['{', '}']) {
        "contains `{` or `}`, which would move the cluster hash tag"
    } else {
        return Ok(());
    };
    Err(Error::InvalidKey {
        parameter: "key_prefix",
        reason,
    })
}

/// Checks the key and the cost and builds the call; nothing invalid ever
/// reaches Redis.
pub(crate) fn call(
    prefix: &str,
    key: &str,
    kind: OpKind,
    cost: u64,
    gcra: Gcra,
) -> Result<Call, Error> {
    if key.is_empty() {
        return Err(Error::InvalidKey {
            parameter: "key",
            reason: "empty",
        });
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidKey {
            parameter: "key",
            reason: "longer than 512 bytes",
        });
    }
    gcra.check_cost(cost)?;
    Ok(Call {
        key: key.to_owned(),
        redis_key: redis_key(prefix, key),
        kind,
        cost,
        gcra,
        want: 0,
    })
}

/// `prefix{key}`: Redis Cluster hashes only the part inside the first
/// braces, so everything stored for one key (its bucket, a lease) shares
/// one slot. A `}` inside the key ends the tag early, which only changes
/// the slot, never which state the key reaches.
pub(crate) fn redis_key(prefix: &str, key: &str) -> String {
    let mut k = String::with_capacity(prefix.len() + key.len() + 2);
    k.push_str(prefix);
    k.push('{');
    k.push_str(key);
    k.push('}');
    k
}

impl Call {
    /// The script call: `KEYS[1]` the Redis key; `now` (test-only,
    /// decimal nanoseconds; empty for Redis `TIME`) replaces the server's
    /// clock.
    pub(crate) fn script_call(&self, now: &str) -> ScriptCall {
        ScriptCall::new(&self.redis_key)
            .arg(self.kind.code())
            .arg(self.cost)
            .arg(self.gcra.interval())
            .arg(self.gcra.capacity())
            .arg(now)
            .arg(self.want)
    }
}

/// One call's answer, and the raw first reply field (for a lease, the
/// tokens taken).
pub(crate) type Answer = Result<(RateLimitInfo, u64), Error>;

/// Reads one reply of the script; a server error is [`Error::Backend`].
pub(crate) fn parse(value: Value) -> Answer {
    match value {
        Value::Array(items) if items.len() == 5 => {
            let mut n = [0i64; 5];
            for (slot, item) in n.iter_mut().zip(&items) {
                match item {
                    Value::Int(v) => *slot = *v,
                    _ => return malformed(),
                }
            }
            let ns = |v: i64| Duration::from_nanos(u64::try_from(v).unwrap_or(0));
            let first = u64::try_from(n[0]).unwrap_or(0);
            Ok((
                RateLimitInfo {
                    allowed: first >= 1,
                    limit: u64::try_from(n[1]).unwrap_or(0),
                    remaining: u64::try_from(n[2]).unwrap_or(0),
                    retry_after: (n[3] >= 0).then(|| ns(n[3])),
                    reset_after: ns(n[4]),
                },
                first,
            ))
        }
        Value::ServerError(e) => Err(Error::Backend {
            message: format!("{} {}", e.code(), e.details().unwrap_or_default()),
        }),
        _ => malformed(),
    }
}

fn malformed() -> Answer {
    Err(Error::Backend {
        message: "unexpected reply from the limiter script".into(),
    })
}
