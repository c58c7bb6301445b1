//! The queue without I/O: checks every input, builds each script call and
//! reads each reply, so the async and blocking queues are thin shells that
//! only send and wait.
use super::super::Level;
use super::error::RedisError;
use super::job::{DeadJob, EnqueueOptions, Enqueued, Job, JobId, QueueStats};
use crate::redis_link::{Script, ScriptCall};
use crate::retry::{Backoff, RandomSource, SplitMix64};
use crate::sync::Mutex;
use ::redis::Value;
use std::time::{Duration, SystemTime};

/// Largest payload accepted, in bytes (16 MiB). Redis holds each job's
/// payload in memory; store large data elsewhere and enqueue a reference.
pub const MAX_PAYLOAD_LEN: usize = 16 << 20;
/// Longest idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 256;
/// Longest queue name or key prefix, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Longest lease (7 days); the shortest is 1 ms.
pub const MAX_LEASE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Longest delay, run-at distance or idempotency window (365 days).
pub const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Default maximum attempts per job.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

macro_rules! script {
    ($name:literal, $file:literal) => {
        Script::new(
            $name,
            concat!(include_str!("common.lua"), include_str!($file)),
        )
    };
}

/// One [`Script`] per operation, each `common.lua` + its body.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) enqueue: Script,
    pub(crate) reserve: Script,
    pub(crate) ack: Script,
    pub(crate) ack_reserve: Script,
    pub(crate) extend: Script,
    pub(crate) nack: Script,
    pub(crate) release: Script,
    pub(crate) dead: Script,
    pub(crate) requeue: Script,
    pub(crate) stats: Script,
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            enqueue: script!("enqueue", "enqueue.lua"),
            reserve: script!("reserve", "reserve.lua"),
            ack: script!("ack", "ack.lua"),
            ack_reserve: script!("ack_reserve", "ack_reserve.lua"),
            extend: script!("extend", "extend.lua"),
            nack: script!("nack", "nack.lua"),
            release: script!("release", "release.lua"),
            dead: script!("dead", "dead.lua"),
            requeue: script!("requeue", "requeue.lua"),
            stats: script!("stats", "stats.lua"),
        }
    }
}

/// What a reserve call found.
pub(crate) enum Reserved {
    Job(Job),
    /// Nothing ready; the time until a delayed job is due or a lease runs
    /// out, if any.
    Empty(Option<Duration>),
}

impl Reserved {
    pub(crate) fn into_job(self) -> Option<Job> {
        match self {
            Reserved::Job(job) => Some(job),
            Reserved::Empty(_) => None,
        }
    }
}

/// What a nack did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nacked {
    /// A retry is scheduled after this delay (the backoff's, jittered).
    Retry(Duration),
    /// The job had no attempts left and moved to the dead set.
    Dead,
}

/// The validated settings every call uses.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) base: String,
    pub(crate) scripts: Scripts,
    pub(crate) max_attempts: u32,
    pub(crate) window_ms: u64,
    pub(crate) backoff: Backoff,
    pub(crate) poll: Duration,
    rng: Mutex<SplitMix64>,
}

/// Whole milliseconds, rounded up.
pub(crate) fn ms_ceil(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

pub(crate) fn check_duration(
    parameter: &'static str,
    value: Duration,
    min: Duration,
    max: Duration,
) -> Result<u64, RedisError> {
    if value < min || value > max {
        return Err(RedisError::DurationOutOfRange {
            parameter,
            value,
            min,
            max,
        });
    }
    Ok(ms_ceil(value))
}

pub(crate) fn check_name(
    parameter: &'static str,
    name: &str,
    allow_empty: bool,
) -> Result<(), RedisError> {
    let reason = if name.is_empty() && !allow_empty {
        "is empty"
    } else if name.len() > MAX_NAME_LEN {
        "is longer than 128 bytes"
    } else if name.contains(['{', '}']) {
        "contains `{` or `}`, which would move the cluster hash tag"
    } else {
        return Ok(());
    };
    Err(RedisError::InvalidName { parameter, reason })
}

impl Core {
    pub(crate) fn new(
        prefix: &str,
        name: &str,
        max_attempts: u32,
        window: Duration,
        backoff: Backoff,
        poll: Duration,
    ) -> Result<Core, RedisError> {
        check_name("key_prefix", prefix, true)?;
        check_name("name", name, false)?;
        if max_attempts == 0 {
            return Err(RedisError::ZeroAttempts);
        }
        let window_ms = check_duration(
            "idempotency_window",
            window,
            Duration::from_millis(1),
            MAX_DELAY,
        )?;
        check_duration(
            "poll_interval",
            poll,
            Duration::from_millis(1),
            Duration::from_secs(60),
        )?;
        Ok(Core {
            base: format!("{prefix}{{{name}}}"),
            scripts: Scripts::new(),
            max_attempts,
            window_ms,
            backoff,
            poll,
            rng: Mutex::new(SplitMix64::from_entropy()),
        })
    }

    fn call(&self) -> ScriptCall {
        ScriptCall::new(&self.base)
    }

    pub(crate) fn enqueue(
        &self,
        payload: &[u8],
        level: Level,
        opts: &EnqueueOptions,
    ) -> Result<ScriptCall, RedisError> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(RedisError::PayloadTooLarge {
                len: payload.len(),
                max: MAX_PAYLOAD_LEN,
            });
        }
        let attempts = opts.max_attempts.unwrap_or(self.max_attempts);
        if attempts == 0 {
            return Err(RedisError::ZeroAttempts);
        }
        let delay_ms = check_duration("delay", opts.delay, Duration::ZERO, MAX_DELAY)?;
        let run_at_ms = match opts.run_at {
            None => 0,
            Some(at) => {
                let ahead = at
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                check_duration("run_at", ahead, Duration::ZERO, MAX_DELAY)?;
                // Before the epoch or in the past: run now (1 ms is past).
                at.duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(1, |d| ms_ceil(d).max(1))
            }
        };
        let key = match &opts.key {
            None => "",
            Some(k) if k.is_empty() => {
                return Err(RedisError::InvalidName {
                    parameter: "idempotency_key",
                    reason: "is empty",
                })
            }
            Some(k) if k.len() > MAX_IDEMPOTENCY_KEY_LEN => {
                return Err(RedisError::InvalidName {
                    parameter: "idempotency_key",
                    reason: "is longer than 256 bytes",
                })
            }
            Some(k) => k.as_str(),
        };
        Ok(self
            .call()
            .arg(payload)
            .arg(level.get())
            .arg(attempts)
            .arg(run_at_ms)
            .arg(delay_ms)
            .arg(key)
            .arg(self.window_ms))
    }

    pub(crate) fn reserve(&self, lease: Duration) -> Result<ScriptCall, RedisError> {
        let ms = check_duration("lease", lease, Duration::from_millis(1), MAX_LEASE)?;
        Ok(self.call().arg(ms))
    }

    pub(crate) fn ack_reserve(&self, job: &Job, lease: Duration) -> Result<ScriptCall, RedisError> {
        let ms = check_duration("lease", lease, Duration::from_millis(1), MAX_LEASE)?;
        Ok(self.lease_op(job).arg(ms))
    }

    pub(crate) fn lease_op(&self, job: &Job) -> ScriptCall {
        self.call().arg(job.id).arg(job.token)
    }

    /// The jittered backoff delay before the retry after attempt
    /// `attempt`: the schedule's nominal delay for that retry, randomised
    /// by its jitter kind (decorrelated jitter reads the previous retry's
    /// nominal delay as "previous", since deliveries of one job may come
    /// from different processes).
    pub(crate) fn retry_delay(&self, attempt: u32) -> Duration {
        let b = &self.backoff;
        let nominal = b.nominal(attempt);
        let previous = if attempt <= 1 {
            b.base()
        } else {
            b.nominal(attempt - 1)
        };
        let (lo, hi) = b
            .jitter()
            .interval(nominal, previous, b.base(), b.max_delay());
        let (lo, hi) = (ms_ceil(lo), ms_ceil(hi).max(ms_ceil(lo)));
        let span = hi - lo;
        let draw = if span == 0 {
            0
        } else {
            self.rng.lock().next_u64() % (span.saturating_add(1)).max(1)
        };
        Duration::from_millis(lo + draw).min(MAX_DELAY)
    }

    pub(crate) fn nack(&self, job: &Job, reason: &str) -> (ScriptCall, Duration) {
        let delay = self.retry_delay(job.attempt);
        // Reasons are for people: keep the dead set's memory bounded.
        let reason = truncate(reason, 1024);
        (self.lease_op(job).arg(ms_ceil(delay)).arg(reason), delay)
    }

    pub(crate) fn extend(&self, job: &Job, lease: Duration) -> Result<ScriptCall, RedisError> {
        let ms = check_duration("lease", lease, Duration::from_millis(1), MAX_LEASE)?;
        Ok(self.lease_op(job).arg(ms))
    }

    pub(crate) fn dead(&self, offset: usize, count: usize) -> ScriptCall {
        self.call().arg(offset).arg(count.min(10_000))
    }

    pub(crate) fn requeue(&self, id: JobId) -> ScriptCall {
        self.call().arg(id)
    }

    pub(crate) fn stats(&self) -> ScriptCall {
        self.call()
    }

    /// The time a waiting reserve sleeps before its next try.
    pub(crate) fn pause(&self, wake: Option<Duration>, remaining: Option<Duration>) -> Duration {
        let mut d = self.poll;
        if let Some(w) = wake {
            d = d.min(w.max(Duration::from_millis(1)));
        }
        if let Some(r) = remaining {
            d = d.min(r);
        }
        d
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

// ---- replies ----

fn malformed(script: &str) -> RedisError {
    RedisError::Backend {
        message: format!("unexpected reply from the queue's {script} script"),
    }
}

fn items(v: Value, script: &str) -> Result<Vec<Value>, RedisError> {
    match v {
        Value::Array(items) => Ok(items),
        Value::ServerError(e) => Err(RedisError::Backend {
            message: format!("{} {}", e.code(), e.details().unwrap_or_default()),
        }),
        _ => Err(malformed(script)),
    }
}

fn int(v: Option<&Value>, script: &str) -> Result<i64, RedisError> {
    match v {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(malformed(script)),
    }
}

fn uint<T: TryFrom<i64>>(v: Option<&Value>, script: &str) -> Result<T, RedisError> {
    T::try_from(int(v, script)?).map_err(|_| malformed(script))
}

fn bytes(v: Option<Value>, script: &str) -> Result<Vec<u8>, RedisError> {
    match v {
        Some(Value::BulkString(b)) => Ok(b),
        Some(Value::SimpleString(s)) => Ok(s.into_bytes()),
        _ => Err(malformed(script)),
    }
}

fn level(v: Option<&Value>, script: &str) -> Result<Level, RedisError> {
    Level::new(uint(v, script)?).map_err(|_| malformed(script))
}

fn epoch(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

pub(crate) fn parse_enqueue(v: Value) -> Result<Enqueued, RedisError> {
    let it = items(v, "enqueue")?;
    let id = uint(it.get(1), "enqueue")?;
    Ok(match int(it.first(), "enqueue")? {
        1 => Enqueued::New(id),
        _ => Enqueued::Duplicate(id),
    })
}

/// An ack's outcome (the lease check's codes as errors) and the reserve
/// that followed it.
pub(crate) fn parse_ack_reserve(
    v: Value,
    job: JobId,
) -> Result<(Result<(), RedisError>, Reserved), RedisError> {
    let mut it = items(v, "ack_reserve")?;
    if it.is_empty() {
        return Err(malformed("ack_reserve"));
    }
    let acked = match int(it.first(), "ack_reserve")? {
        0 => Err(RedisError::UnknownJob { job }),
        -1 => Err(RedisError::LeaseLost { job }),
        -2 => Err(RedisError::Dead { job }),
        _ => Ok(()),
    };
    it.remove(0);
    Ok((acked, reserve_reply(it)?))
}

pub(crate) fn parse_reserve(v: Value) -> Result<Reserved, RedisError> {
    reserve_reply(items(v, "reserve")?)
}

fn reserve_reply(mut it: Vec<Value>) -> Result<Reserved, RedisError> {
    const S: &str = "reserve";
    if int(it.first(), S)? == 0 {
        let wake = int(it.get(1), S)?;
        return Ok(Reserved::Empty(
            u64::try_from(wake).ok().map(Duration::from_millis),
        ));
    }
    if it.len() != 9 {
        return Err(malformed(S));
    }
    let payload = bytes(it.pop(), S)?;
    Ok(Reserved::Job(Job {
        id: uint(it.get(1), S)?,
        token: uint(it.get(2), S)?,
        attempt: uint::<u64>(it.get(3), S)?.min(u64::from(u32::MAX)) as u32,
        max_attempts: uint(it.get(4), S)?,
        level: level(it.get(5), S)?,
        enqueued_at_ms: uint(it.get(6), S)?,
        deadline_ms: uint(it.get(7), S)?,
        payload,
    }))
}

/// The lease check's codes as errors; `Ok` with the remaining fields on 1
/// (and on 2, a nack's burial).
pub(crate) fn parse_lease(
    v: Value,
    job: JobId,
    script: &str,
) -> Result<(i64, Vec<Value>), RedisError> {
    let it = items(v, script)?;
    match int(it.first(), script)? {
        0 => Err(RedisError::UnknownJob { job }),
        -1 => Err(RedisError::LeaseLost { job }),
        -2 => Err(RedisError::Dead { job }),
        code => Ok((code, it)),
    }
}

pub(crate) fn parse_extend(v: Value, job: &mut Job) -> Result<(), RedisError> {
    let (_, it) = parse_lease(v, job.id, "extend")?;
    job.deadline_ms = uint(it.get(1), "extend")?;
    Ok(())
}

pub(crate) fn parse_nack(v: Value, job: JobId, delay: Duration) -> Result<Nacked, RedisError> {
    Ok(match parse_lease(v, job, "nack")?.0 {
        2 => Nacked::Dead,
        _ => Nacked::Retry(delay),
    })
}

pub(crate) fn parse_dead(v: Value) -> Result<Vec<DeadJob>, RedisError> {
    const S: &str = "dead";
    let it = items(v, S)?;
    if it.len() % 8 != 0 {
        return Err(malformed(S));
    }
    let mut out = Vec::with_capacity(it.len() / 8);
    let mut it = it.into_iter();
    while let Some(id) = it.next() {
        let f: Vec<Value> = std::iter::once(id).chain(it.by_ref().take(7)).collect();
        let mut f = f.into_iter();
        let mut next = || f.next();
        let id = uint(next().as_ref(), S)?;
        let died: u64 = uint(next().as_ref(), S)?;
        let level = level(next().as_ref(), S)?;
        let attempts: u64 = uint(next().as_ref(), S)?;
        let max_attempts = uint(next().as_ref(), S)?;
        let enqueued: u64 = uint(next().as_ref(), S)?;
        let reason = String::from_utf8_lossy(&bytes(next(), S)?).into_owned();
        let payload = bytes(next(), S)?;
        out.push(DeadJob {
            id,
            level,
            attempts: attempts.min(u64::from(u32::MAX)) as u32,
            max_attempts,
            enqueued_at: epoch(enqueued),
            died_at: epoch(died),
            reason,
            payload,
        });
    }
    Ok(out)
}

pub(crate) fn parse_requeue(v: Value) -> Result<bool, RedisError> {
    let it = items(v, "requeue")?;
    Ok(int(it.first(), "requeue")? == 1)
}

pub(crate) fn parse_stats(v: Value) -> Result<QueueStats, RedisError> {
    const S: &str = "stats";
    let it = items(v, S)?;
    if it.len() != 4 + super::super::LEVELS {
        return Err(malformed(S));
    }
    let mut ready = [0u64; super::super::LEVELS];
    for (slot, v) in ready.iter_mut().zip(&it[4..]) {
        *slot = uint(Some(v), S)?;
    }
    let age = int(it.get(3), S)?;
    Ok(QueueStats {
        ready,
        delayed: uint(it.first(), S)?,
        leased: uint(it.get(1), S)?,
        dead: uint(it.get(2), S)?,
        oldest_age: u64::try_from(age).ok().map(Duration::from_millis),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_round_up() {
        assert_eq!(ms_ceil(Duration::from_nanos(1)), 1);
        assert_eq!(ms_ceil(Duration::from_millis(3)), 3);
        assert_eq!(ms_ceil(Duration::MAX), u64::MAX);
    }

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate("ééé", 3), "é");
    }
}
