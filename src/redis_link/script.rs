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
use ::redis::cluster_routing::Slot;
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

    /// The cluster slot of the call's first key (its hash tag's, if any).
    fn slot(&self) -> Slot {
        // redis-rs's CRC16 of the hash tag: the rule the server and the
        // cluster client route by.
        Slot::for_key(self.keys.first().map_or(&[][..], Vec::as_slice))
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

    /// Runs `calls` as pipelines, each reply kept apart: `Ok` holds the
    /// call's reply (a server error is its `Value::ServerError`), `Err` the
    /// transport error of the pipeline that carried it. On a single node
    /// all go in one pipeline; on a cluster one pipeline per slot (a
    /// cluster pipeline must name one), sent concurrently. The calls that
    /// got `NOSCRIPT` are resent as `EVAL` in a second pipeline; those that
    /// met `MOVED` or `ASK` (the slot moved during a reshard; the call did
    /// not run) are resent alone, which the cluster client redirects. The
    /// limiter's `check_many` shape.
    pub(crate) async fn invoke_many_async(
        &self,
        link: &AsyncLink,
        calls: &[ScriptCall],
    ) -> Vec<RedisResult<Value>> {
        let groups = groups(calls, link.is_cluster());
        let sent = futures_util::future::join_all(
            groups
                .iter()
                .map(|g| async move { self.group_async(link, calls, g).await }),
        )
        .await;
        let mut out = scatter(calls.len(), &groups, sent);
        for i in redirected(&out) {
            out[i] = self.invoke_async(link, &calls[i]).await;
        }
        out
    }

    /// [`invoke_many_async`](Self::invoke_many_async), blocking (one slot's
    /// pipeline after the other).
    pub(crate) fn invoke_many_blocking(
        &self,
        link: &BlockingLink,
        calls: &[ScriptCall],
    ) -> Vec<RedisResult<Value>> {
        let groups = groups(calls, link.is_cluster());
        let sent = groups
            .iter()
            .map(|g| self.group_blocking(link, calls, g))
            .collect();
        let mut out = scatter(calls.len(), &groups, sent);
        for i in redirected(&out) {
            out[i] = self.invoke_blocking(link, &calls[i]);
        }
        out
    }

    async fn group_async(
        &self,
        link: &AsyncLink,
        calls: &[ScriptCall],
        group: &[usize],
    ) -> Vec<RedisResult<Value>> {
        let first = link
            .query_pipeline(&self.pipeline(calls, group, false))
            .await;
        let mut replies = spread(group.len(), first);
        let retry = noscript_indices(&replies);
        if !retry.is_empty() {
            let again: Vec<usize> = retry.iter().map(|&j| group[j]).collect();
            let fresh = link
                .query_pipeline(&self.pipeline(calls, &again, true))
                .await;
            for (j, r) in retry.into_iter().zip(spread(again.len(), fresh)) {
                replies[j] = r;
            }
        }
        replies
    }

    fn group_blocking(
        &self,
        link: &BlockingLink,
        calls: &[ScriptCall],
        group: &[usize],
    ) -> Vec<RedisResult<Value>> {
        let first = link.query_pipeline(&self.pipeline(calls, group, false));
        let mut replies = spread(group.len(), first);
        let retry = noscript_indices(&replies);
        if !retry.is_empty() {
            let again: Vec<usize> = retry.iter().map(|&j| group[j]).collect();
            let fresh = link.query_pipeline(&self.pipeline(calls, &again, true));
            for (j, r) in retry.into_iter().zip(spread(again.len(), fresh)) {
                replies[j] = r;
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

/// Which calls go in one pipeline: on a node all of them; on a cluster
/// those whose first key hashes to the same slot, in first-seen order.
fn groups(calls: &[ScriptCall], cluster: bool) -> Vec<Vec<usize>> {
    if !cluster {
        return vec![(0..calls.len()).collect()];
    }
    let mut slots: Vec<(Slot, Vec<usize>)> = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        let slot = c.slot();
        match slots.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, g)) => g.push(i),
            None => slots.push((slot, vec![i])),
        }
    }
    slots.into_iter().map(|(_, g)| g).collect()
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

/// The per-group results back in call order.
fn scatter(
    n: usize,
    groups: &[Vec<usize>],
    sent: Vec<Vec<RedisResult<Value>>>,
) -> Vec<RedisResult<Value>> {
    let mut out: Vec<Option<RedisResult<Value>>> = vec![None; n];
    for (group, replies) in groups.iter().zip(sent) {
        for (&i, r) in group.iter().zip(replies) {
            out[i] = Some(r);
        }
    }
    out.into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(RedisError::from((
                    ErrorKind::UnexpectedReturnType,
                    "no reply for a pipelined call",
                )))
            })
        })
        .collect()
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

/// The calls a reshard redirected: not run, to be resent alone.
fn redirected(replies: &[RedisResult<Value>]) -> Vec<usize> {
    (0..replies.len())
        .filter(|&i| matches!(server_code(&replies[i]), Some("MOVED" | "ASK")))
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
