//! The one Lua script, the keys it is called on, and its replies.
//!
//! Every operation (check, peek, refund) is one `EVALSHA` of
//! `gcra.lua`; a batch is a pipeline of them. A `NOSCRIPT` reply (the
//! server's script cache was flushed, or a failover lost it) loads the
//! script and retries only the calls that got it, so no call runs twice.
use super::super::gcra::Gcra;
use super::super::{Error, RateLimitInfo};
use ::redis::{Cmd, ErrorKind, Pipeline, RedisResult, ServerErrorKind, Value};
use std::time::Duration;

/// The script's source; its SHA-1 is what `EVALSHA` names.
pub(crate) const SOURCE: &str = include_str!("gcra.lua");

/// How many times one call loads the script after `NOSCRIPT` before it
/// gives up (each reload can race another client's `SCRIPT FLUSH`).
pub(crate) const RELOADS: usize = 3;

/// Longest key accepted, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 512;

/// Longest key prefix accepted, in bytes.
pub(crate) const MAX_PREFIX_LEN: usize = 128;

/// The largest `burst x interval` the script computes exactly (2^52 ns,
/// about 52 days): its arithmetic is in Lua's doubles.
pub(crate) const MAX_TAU: u64 = 1 << 52;

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

/// Validates a quota for the script: the in-process rules plus
/// `burst x interval <= 2^52` ns.
pub(crate) fn quota(rate: f64, burst: u64) -> Result<Gcra, Error> {
    within_span(Gcra::new(rate, burst)?, burst)
}

/// The `burst x interval <= 2^52` ns check of [`quota`].
pub(crate) fn within_span(gcra: Gcra, burst: u64) -> Result<Gcra, Error> {
    if gcra.capacity().saturating_mul(gcra.interval()) > MAX_TAU {
        return Err(Error::CapacityOverflow {
            parameter: "burst",
            value: burst,
        });
    }
    Ok(gcra)
}

/// One `EVALSHA` of the script for `c`. `now` (test-only, decimal
/// nanoseconds; empty for Redis `TIME`) replaces the server's clock.
pub(crate) fn evalsha(sha: &str, c: &Call, now: &str) -> Cmd {
    let mut cmd = ::redis::cmd("EVALSHA");
    cmd.arg(sha)
        .arg(1)
        .arg(&c.redis_key)
        .arg(c.kind.code())
        .arg(c.cost)
        .arg(c.gcra.interval())
        .arg(c.gcra.capacity())
        .arg(now)
        .arg(c.want);
    cmd
}

/// A round's request: a lone call goes as a plain command (no pipeline
/// framing), several as one pipeline whose replies are kept per call
/// (`ignore_errors`), so one call's error does not hide the others'.
pub(crate) enum Request {
    One(Cmd),
    Many(Pipeline),
}

pub(crate) fn request(sha: &str, calls: &[&Call], now: Option<u64>) -> Request {
    let now = now.map_or_else(String::new, |n| n.to_string());
    if let [c] = calls {
        return Request::One(evalsha(sha, c, &now));
    }
    let mut pipe = ::redis::pipe();
    pipe.ignore_errors();
    for c in calls {
        pipe.add_command(evalsha(sha, c, &now));
    }
    Request::Many(pipe)
}

/// A lone command's result in the pipeline's shape: an error the server
/// returned is that call's reply; a transport error stays an error.
pub(crate) fn one_reply(result: RedisResult<Value>) -> RedisResult<Vec<Reply>> {
    match result {
        Ok(v) => Ok(vec![parse(v)]),
        Err(e) if is_unreachable(&e) => Err(e),
        Err(e) => match e.kind() {
            ErrorKind::Server(ServerErrorKind::NoScript) => Ok(vec![Reply::NoScript]),
            ErrorKind::Server(_) | ErrorKind::Extension => {
                Ok(vec![Reply::Failed(Error::Backend {
                    message: e.to_string(),
                })])
            }
            _ => Err(e),
        },
    }
}

/// A pipeline's replies, one per call.
pub(crate) fn many_replies(result: RedisResult<Vec<Value>>) -> RedisResult<Vec<Reply>> {
    result.map(|values| values.into_iter().map(parse).collect())
}

/// The `SCRIPT LOAD` command.
pub(crate) fn load_command() -> ::redis::Cmd {
    let mut cmd = ::redis::cmd("SCRIPT");
    cmd.arg("LOAD").arg(SOURCE);
    cmd
}

/// One call's reply.
pub(crate) enum Reply {
    /// The answer, and the raw first field (for a lease, the tokens taken).
    Info(RateLimitInfo, u64),
    NoScript,
    Failed(Error),
}

/// Reads one reply of the script.
pub(crate) fn parse(value: Value) -> Reply {
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
            Reply::Info(
                RateLimitInfo {
                    allowed: first >= 1,
                    limit: u64::try_from(n[1]).unwrap_or(0),
                    remaining: u64::try_from(n[2]).unwrap_or(0),
                    retry_after: (n[3] >= 0).then(|| ns(n[3])),
                    reset_after: ns(n[4]),
                },
                first,
            )
        }
        Value::ServerError(e) if e.code() == "NOSCRIPT" => Reply::NoScript,
        Value::ServerError(e) => Reply::Failed(Error::Backend {
            message: format!("{} {}", e.code(), e.details().unwrap_or_default()),
        }),
        _ => malformed(),
    }
}

fn malformed() -> Reply {
    Reply::Failed(Error::Backend {
        message: "unexpected reply from the limiter script".into(),
    })
}

/// Whether a client error means "Redis is unreachable or not answering"
/// (the failure policy applies) rather than "Redis said no".
pub(crate) fn is_unreachable(e: &::redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.code(),
            Some("LOADING" | "MASTERDOWN" | "TRYAGAIN" | "BUSY" | "CLUSTERDOWN")
        )
        || matches!(
            e.kind(),
            ::redis::ErrorKind::Io | ::redis::ErrorKind::ClusterConnectionNotFound
        )
}
