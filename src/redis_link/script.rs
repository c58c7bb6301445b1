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

    /// Runs `calls` as one pipeline (on a cluster, all on one slot), each
    /// reply kept apart (a server error is that call's `Value::ServerError`);
    /// the calls that got `NOSCRIPT` are resent as `EVAL` in a second
    /// pipeline. The limiter's `check_many` shape.
    #[allow(dead_code)] // the batched form, for the limiter's move onto this module
    pub(crate) async fn invoke_many_async(
        &self,
        link: &AsyncLink,
        calls: &[ScriptCall],
    ) -> RedisResult<Vec<Value>> {
        let mut replies: Vec<Value> = link.query_pipeline(&self.pipeline(calls, false)).await?;
        let retry = noscript_indices(&replies);
        if !retry.is_empty() {
            let again: Vec<ScriptCall> = retry.iter().map(|&i| calls[i].clone()).collect();
            let fresh: Vec<Value> = link.query_pipeline(&self.pipeline(&again, true)).await?;
            for (i, v) in retry.into_iter().zip(fresh) {
                replies[i] = v;
            }
        }
        Ok(replies)
    }

    /// [`invoke_many_async`](Self::invoke_many_async), blocking.
    #[allow(dead_code)] // the batched form, for the limiter's move onto this module
    pub(crate) fn invoke_many_blocking(
        &self,
        link: &BlockingLink,
        calls: &[ScriptCall],
    ) -> RedisResult<Vec<Value>> {
        let mut replies: Vec<Value> = link.query_pipeline(&self.pipeline(calls, false))?;
        let retry = noscript_indices(&replies);
        if !retry.is_empty() {
            let again: Vec<ScriptCall> = retry.iter().map(|&i| calls[i].clone()).collect();
            let fresh: Vec<Value> = link.query_pipeline(&self.pipeline(&again, true))?;
            for (i, v) in retry.into_iter().zip(fresh) {
                replies[i] = v;
            }
        }
        Ok(replies)
    }

    fn pipeline(&self, calls: &[ScriptCall], with_source: bool) -> Pipeline {
        let mut pipe = ::redis::pipe();
        pipe.ignore_errors();
        for c in calls {
            pipe.add_command(if with_source {
                self.eval(c)
            } else {
                self.evalsha(c)
            });
        }
        pipe
    }
}

fn is_noscript(e: &RedisError) -> bool {
    matches!(e.kind(), ErrorKind::Server(ServerErrorKind::NoScript)) || e.code() == Some("NOSCRIPT")
}

fn noscript_indices(replies: &[Value]) -> Vec<usize> {
    replies
        .iter()
        .enumerate()
        .filter(|(_, v)| matches!(v, Value::ServerError(e) if e.code() == "NOSCRIPT"))
        .map(|(i, _)| i)
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
