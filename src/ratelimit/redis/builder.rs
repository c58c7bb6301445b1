//! The one builder of both Redis limiters.
use super::super::Error;
use super::core::{Core, FailurePolicy, Quota};
use super::{BlockingRedisLimiter, RedisLimiter};
use crate::clock::ManualClock;
use std::fmt;
use std::time::Duration;

/// Builder for [`RedisLimiter`] (async, `build`) and
/// [`BlockingRedisLimiter`] (`build_blocking`); see
/// [`RedisLimiter::builder`].
pub struct RedisLimiterBuilder {
    client: Option<Result<::redis::Client, String>>,
    rate: Option<f64>,
    burst: Option<u64>,
    prefix: String,
    policy: FailurePolicy,
    connect_timeout: Duration,
    response_timeout: Duration,
    clock: Option<ManualClock>,
    lease: Option<(u64, Duration)>,
}

impl RedisLimiterBuilder {
    pub(crate) fn new() -> Self {
        RedisLimiterBuilder {
            client: None,
            rate: None,
            burst: None,
            prefix: "latchwork:rl:".to_owned(),
            policy: FailurePolicy::default(),
            connect_timeout: Duration::from_millis(500),
            response_timeout: Duration::from_millis(500),
            clock: None,
            lease: None,
        }
    }

    /// The server, as a `redis://host:port/db` URL (required, or
    /// [`client`](Self::client)).
    pub fn url(mut self, url: &str) -> Self {
        self.client = Some(::redis::Client::open(url).map_err(|e| e.to_string()));
        self
    }

    /// The server, as a `redis` client (required, or [`url`](Self::url)).
    pub fn client(mut self, client: ::redis::Client) -> Self {
        self.client = Some(Ok(client));
        self
    }

    /// Tokens per second per key (required): finite, above 0, at most 1e9.
    pub fn rate(mut self, tokens_per_second: f64) -> Self {
        self.rate = Some(tokens_per_second);
        self
    }

    /// The limit: the most tokens each key's bucket holds, its largest
    /// burst. Default: one second's worth (`ceil(rate)`).
    pub fn limit(mut self, tokens: u64) -> Self {
        self.burst = Some(tokens);
        self
    }

    /// The same as [`limit`](Self::limit), under its older name.
    pub fn burst(self, tokens: u64) -> Self {
        self.limit(tokens)
    }

    /// Prefix of every Redis key (default `latchwork:rl:`): a key `k` is
    /// stored at `prefix{k}`. At most 128 bytes, no braces.
    pub fn key_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.prefix);
        self
    }

    /// What to answer while Redis is unreachable; default
    /// [`FailurePolicy::FailClosed`].
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Longest wait for a connection (default 500 ms).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest wait for a reply (default 500 ms); past it the failure
    /// policy answers.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Leased mode for hot keys: a check that finds no lease for its key
    /// takes up to `max_tokens` (at most the burst) from Redis in one round
    /// trip, and later checks on that key spend them in-process until they
    /// run out or `ttl` passes; the rest then goes back to Redis with the
    /// next round trip for that key, with a later lease round trip once the
    /// held leases have doubled (an amortised sweep of the expired ones), on
    /// `release_leases`, or on drop of the blocking limiter.
    ///
    /// Every key checked through a leased limiter is leased: build one with
    /// `lease` for the keys known to be hot and a plain one with the same
    /// prefix for the rest; they share each key's state in Redis.
    ///
    /// **Bound.** Tokens are charged in Redis *before* they are spent, so
    /// across all instances the admitted total still never exceeds
    /// `burst + rate x t`: over-admission is zero, within the documented
    /// "at most `max_tokens` per instance" a lease could allow. What leasing
    /// costs is fairness: an instance can hold back up to `max_tokens` tokens
    /// that other instances are denied until it spends or returns them.
    /// `remaining` in a leased answer is this instance's lease plus the
    /// global remainder at its last round trip (an estimate). Peek, refund
    /// and `check_many` always go to Redis.
    pub fn lease(mut self, max_tokens: u64, ttl: Duration) -> Self {
        self.lease = Some((max_tokens, ttl));
        self
    }

    /// Test-only: the script reads this clock instead of Redis `TIME`, so
    /// a test scripts a timeline. Not for production: instances with
    /// different clocks would disagree.
    #[doc(hidden)]
    pub fn test_clock(mut self, clock: ManualClock) -> Self {
        self.clock = Some(clock);
        self
    }

    fn parts(self) -> Result<(::redis::Client, Core, Duration, Duration), Error> {
        let client = match self.client {
            None => return Err(Error::MissingParameter { parameter: "url" }),
            Some(Err(message)) => return Err(Error::InvalidConnection { message }),
            Some(Ok(c)) => c,
        };
        let rate = self
            .rate
            .ok_or(Error::MissingParameter { parameter: "rate" })?;
        let burst = match self.burst {
            Some(b) => b,
            // A NaN or out-of-range rate is reported by `Quota::new`.
            None if rate.is_finite() && rate > 0.0 => (rate.ceil() as u64).max(1),
            None => 1,
        };
        for (parameter, d) in [
            ("connect_timeout", self.connect_timeout),
            ("response_timeout", self.response_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::ZeroWindow { parameter });
            }
        }
        if let Some((max, ttl)) = self.lease {
            if max == 0 {
                return Err(Error::ZeroCapacity { parameter: "lease" });
            }
            if ttl.is_zero() {
                return Err(Error::ZeroWindow {
                    parameter: "lease_ttl",
                });
            }
        }
        let quota = Quota::new(rate, burst)?;
        let core = Core::new(self.prefix, quota, self.policy, self.clock, self.lease)?;
        Ok((client, core, self.connect_timeout, self.response_timeout))
    }

    /// Connects a tokio `ConnectionManager` (it reconnects on its own) and
    /// loads the script.
    ///
    /// # Errors
    /// [`Error::MissingParameter`] without a URL or rate;
    /// [`Error::InvalidConnection`] for a malformed URL; the quota errors
    /// of [`Quota::new`]; [`Error::InvalidKey`] for a bad prefix;
    /// [`Error::Unavailable`] if Redis cannot be reached now.
    pub async fn build(self) -> Result<RedisLimiter, Error> {
        let (client, core, connect, response) = self.parts()?;
        let config = ::redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect))
            .set_response_timeout(Some(response))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(200));
        let conn = ::redis::aio::ConnectionManager::new_with_config(client, config)
            .await
            .map_err(unavailable)?;
        RedisLimiter::start(core, conn).await
    }

    /// Opens a blocking connection (reopened after a failure) and loads the
    /// script.
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn build_blocking(self) -> Result<BlockingRedisLimiter, Error> {
        let (client, core, connect, response) = self.parts()?;
        BlockingRedisLimiter::start(core, client, connect, response)
    }
}

pub(crate) fn unavailable(e: ::redis::RedisError) -> Error {
    if super::script::is_unreachable(&e) {
        Error::Unavailable {
            message: e.to_string(),
        }
    } else {
        Error::Backend {
            message: e.to_string(),
        }
    }
}

impl fmt::Debug for RedisLimiterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiterBuilder")
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .field("key_prefix", &self.prefix)
            .field("policy", &self.policy)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .finish_non_exhaustive()
    }
}
