//! [`Script`]: a Lua script called by `EVALSHA`, with the one `NOSCRIPT`
//! recovery every Redis-backed module shares.
//!
//! A server forgets its script cache on restart, `SCRIPT FLUSH` and
//! failover to a replica that never saw the script; a cluster node that
//! never ran it has none. Instead of loading first and racing a flush, a
//! call goes out as `EVALSHA`; only a call that got `NOSCRIPT` (which did
//! not run) is resent as `EVAL` with the source, which runs it and caches
//! it on that node in the same round trip. So no call ever runs twice,
//! pipelines included, and the reload reaches whichever node owns the
//! key, with no separate `SCRIPT LOAD` routing.
use super::link::{AsyncLink, BlockingLink};
use ::redis::{
    Cmd, ErrorKind, Pipeline, RedisError, RedisResult, ServerErrorKind, ToRedisArgs, Value,
};
use std::fmt;

/// A Lua script and its SHA-1.
pub(crate) struct Script {
    name: &'static str,
    source: &'static str,
    sha: String,
}

/// One call of a script: its keys and arguments, encoded.
#[derive(Clone, Debug, Default)]
pub(crate) struct ScriptCall {
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl ScriptCall {
    /// A call on `key` (the key the cluster routes by).
    pub(crate) fn new(key: &str) -> Self {
        ScriptCall {
            keys: vec![key.as_bytes().to_vec()],
            args: Vec::new(),
        }
    }

    /// Appends an argument (`ARGV[n]`).
    pub(crate) fn arg<T: ToRedisArgs>(mut self, value: T) -> Self {
        self.args.extend(value.to_redis_args());
        self
    }
}

impl Script {
    /// `name` names the script in error messages.
    pub(crate) fn new(name: &'static str, source: &'static str) -> Self {
        let sha = ::redis::Script::new(source).get_hash().to_owned();
        Script { name, source, sha }
    }

    fn command(&self, verb: &str, head: &str, call: &ScriptCall) -> Cmd {
        let mut cmd = ::redis::cmd(verb);
        cmd.arg(head).arg(call.keys.len());
        for k in &call.keys {
            cmd.arg(k.as_slice());
        }
        for a in &call.args {
            cmd.arg(a.as_slice());
        }
        cmd
    }

    /// The `EVALSHA` of `call`.
    pub(crate) fn evalsha(&self, call: &ScriptCall) -> Cmd {
        self.command("EVALSHA", &self.sha, call)
    }

    /// The `EVAL` of `call` (runs and caches the script).
    pub(crate) fn eval(&self, call: &ScriptCall) -> Cmd {
        self.command("EVAL", self.source, call)
    }

    /// Runs `call` on `link`.
    pub(crate) async fn invoke_async(
        &self,
        link: &AsyncLink,
        call: &ScriptCall,
    ) -> RedisResult<Value> {
        match link.query(&self.evalsha(call)).await {
            Err(e) if is_noscript(&e) => link.query(&self.eval(call)).await,
            other => other,
        }
    }

    /// Runs `call` on `link`, blocking.
    pub(crate) fn invoke_blocking(
        &self,
        link: &BlockingLink,
        call: &ScriptCall,
    ) -> RedisResult<Value> {
        match link.query(&self.evalsha(call)) {
            Err(e) if is_noscript(&e) => link.query(&self.eval(call)),
            other => other,
        }
    }

    /// Runs `calls`, each reply kept apart: `Ok` holds the call's reply (a
    /// server error is its `Value::ServerError`), `Err` the transport error
    /// that met it. On a single node all go in one pipeline, and the calls
    /// that got `NOSCRIPT` are resent as `EVAL` in a second one. On a
    /// cluster each call goes alone (here all at once, which the
    /// multiplexed connection to each master pipelines by itself): the
    /// cluster client retries a pipeline *whole* when one reply in it is a
    /// `MOVED` or `ASK`, which would run again the calls of a resharded slot
    /// that had already run; alone, each call is redirected on its own and
    /// runs once. The limiter's `check_many` shape.
    pub(crate) async fn invoke_many_async(
        &self,
        link: &AsyncLink,
        calls: &[ScriptCall],
    ) -> Vec<RedisResult<Value>> {
        if calls.is_empty() {
            return Vec::new();
        }
        if link.is_cluster() {
            return futures_util::future::join_all(
                calls.iter().map(|c| self.invoke_async(link, c)),
            )
            .await;
        }
        let first = link
            .query_pipeline(&self.pipeline(calls, &all(calls), false))
            .await;
        let mut replies = spread(calls.len(), first);
        let retry = noscript_indices(&replies);
        if !retry.is_empty() {
            let fresh = link
                .query_pipeline(&self.pipeline(calls, &retry, true))
                .await;
            for (i, r) in retry.iter().zip(spread(retry.len(), fresh)) {
                replies[*i] = r;
            }
        }
        replies
    }

    /// [`invoke_many_async`](Self::invoke_many_async), blocking (on a
    /// cluster, one call after the other).
    pub(crate) fn invoke_many_blocking(
        &self,
        link: &BlockingLink,
        calls: &[ScriptCall],
    ) -> Vec<RedisResult<Value>> {
        if calls.is_empty() {
            return Vec::new();
        }
        if link.is_cluster() {
            return calls
                .iter()
                .map(|c| self.invoke_blocking(link, c))
                .collect();
        }
        let first = link.query_pipeline(&self.pipeline(calls, &all(calls), false));
        let mut replies = spread(calls.len(), first);
        let retry = noscript_indices(&replies);
        if !retry.is_empty() {
            let fresh = link.query_pipeline(&self.pipeline(calls, &retry, true));
            for (i, r) in retry.iter().zip(spread(retry.len(), fresh)) {
                replies[*i] = r;
            }
        }
        replies
    }

    /// The pipeline of `calls[i]` for each `i` in `which`.
    fn pipeline(&self, calls: &[ScriptCall], which: &[usize], with_source: bool) -> Pipeline {
        let mut pipe = ::redis::pipe();
        pipe.ignore_errors();
        for &i in which {
            pipe.add_command(if with_source {
                self.eval(&calls[i])
            } else {
                self.evalsha(&calls[i])
            });
        }
        pipe
    }
}

fn is_noscript(e: &RedisError) -> bool {
    matches!(e.kind(), ErrorKind::Server(ServerErrorKind::NoScript)) || e.code() == Some("NOSCRIPT")
}

fn all(calls: &[ScriptCall]) -> Vec<usize> {
    (0..calls.len()).collect()
}

/// One pipeline's outcome as one result per call: a transport error is
/// every call's; a short reply is an error for the calls it lacks.
fn spread(n: usize, result: RedisResult<Vec<Value>>) -> Vec<RedisResult<Value>> {
    match result {
        Err(e) => vec![Err(e); n],
        Ok(values) => {
            let mut out: Vec<RedisResult<Value>> = values.into_iter().take(n).map(Ok).collect();
            while out.len() < n {
                out.push(Err(RedisError::from((
                    ErrorKind::UnexpectedReturnType,
                    "fewer pipeline replies than calls",
                ))));
            }
            out
        }
    }
}

fn server_code(r: &RedisResult<Value>) -> Option<&str> {
    match r {
        Ok(Value::ServerError(e)) => Some(e.code()),
        _ => None,
    }
}

fn noscript_indices(replies: &[RedisResult<Value>]) -> Vec<usize> {
    (0..replies.len())
        .filter(|&i| server_code(&replies[i]) == Some("NOSCRIPT"))
        .collect()
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("name", &self.name)
            .field("sha", &self.sha)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_gives_every_call_a_result() {
        let short = spread(3, Ok(vec![Value::Int(1)]));
        assert!(matches!(short[0], Ok(Value::Int(1))));
        assert!(short[1].is_err() && short[2].is_err());
        let down = spread(
            2,
            Err(RedisError::from((ErrorKind::Io, "connection dropped"))),
        );
        assert!(down.iter().all(|r| r
            .as_ref()
            .is_err_and(|e| e.is_io_error() || e.kind() == ErrorKind::Io)));
        assert!(noscript_indices(&down).is_empty());
    }
}
