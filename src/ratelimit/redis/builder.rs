//! The one builder of both Redis limiters, for a single node or a cluster.
use super::super::Error;
use super::core::{Core, FailurePolicy};
use super::quota::Quota;
use super::{BlockingRedisLimiter, RedisLimiter};
use crate::clock::ManualClock;
use crate::redis_link::{is_unreachable, AsyncLink, BlockingLink, Endpoint, LinkConfig};
use std::fmt;
use std::time::Duration;

/// Builder for [`RedisLimiter`] (async, `build`) and
/// [`BlockingRedisLimiter`] (`build_blocking`); see
/// [`RedisLimiter::builder`].
pub struct RedisLimiterBuilder {
    target: Option<Result<Target, String>>,
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
            target: None,
            rate: None,
            burst: None,
            prefix: "latchwork:rl:".to_owned(),
            policy: FailurePolicy::default(),
            connect_timeout: LinkConfig::DEFAULT.connect_timeout,
            response_timeout: LinkConfig::DEFAULT.response_timeout,
            clock: None,
            lease: None,
        }
    }

    /// The server, as a `redis://host:port/db` URL (one of `url`,
    /// [`client`](Self::client) and [`endpoint`](Self::endpoint) is
    /// required; the last one given counts).
    pub fn url(mut self, url: &str) -> Self {
        self.target = Some(node(url));
        self
    }

    /// The server, as a `redis` client.
    pub fn client(mut self, client: ::redis::Client) -> Self {
        self.target = Some(Ok(Target::Node(client)));
        self
    }

    /// A single node ([`Endpoint::Node`], as [`url`](Self::url)) or a Redis
    /// Cluster through its seed nodes ([`Endpoint::Cluster`]): each call
    /// goes to the master of its key's slot, `MOVED` and `ASK` are
    /// followed, and `check_many` sends each key's call on its own.
    ///
    /// ```no_run
    /// use latchwork::ratelimit::{Endpoint, RedisLimiter};
    ///
    /// let seeds = Endpoint::cluster_from_list("redis://10.0.0.1:7000,redis://10.0.0.2:7000");
    /// let limiter = RedisLimiter::builder()
    ///     .endpoint(seeds)
    ///     .rate(10.0)
    ///     .build_blocking()?;
    /// # Ok::<(), latchwork::ratelimit::Error>(())
    /// ```
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.target = Some(match endpoint {
            Endpoint::Node(url) => node(&url),
            Endpoint::Cluster(seeds) => cluster(seeds),
        });
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

    fn parts(self) -> Result<(Target, Core, LinkConfig), Error> {
        let target = match self.target {
            None => return Err(Error::MissingParameter { parameter: "url" }),
            Some(Err(message)) => return Err(Error::InvalidConnection { message }),
            Some(Ok(t)) => t,
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
        let link = LinkConfig {
            connect_timeout: self.connect_timeout,
            response_timeout: self.response_timeout,
        };
        Ok((target, core, link))
    }

    /// Connects: a tokio `ConnectionManager` for a node (it reconnects on
    /// its own), an async cluster connection for a cluster. The script is
    /// sent by `EVALSHA` and reaches each node with its first call there
    /// (`EVAL` after `NOSCRIPT`).
    ///
    /// # Errors
    /// [`Error::MissingParameter`] without a URL or rate;
    /// [`Error::InvalidConnection`] for a malformed URL; the quota errors
    /// of [`Quota::new`]; [`Error::InvalidKey`] for a bad prefix;
    /// [`Error::Unavailable`] if Redis cannot be reached now.
    pub async fn build(self) -> Result<RedisLimiter, Error> {
        let (target, core, config) = self.parts()?;
        let link = match target {
            Target::Node(client) => AsyncLink::node(client, config).await,
            Target::Cluster(endpoint) => AsyncLink::connect(&endpoint, config).await,
        }
        .map_err(unavailable)?;
        Ok(RedisLimiter::new(core, link))
    }

    /// Opens a blocking connection (reopened after a failure), to the node
    /// or to the cluster.
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn build_blocking(self) -> Result<BlockingRedisLimiter, Error> {
        let (target, core, config) = self.parts()?;
        let link = match target {
            Target::Node(client) => BlockingLink::node(client, config),
            Target::Cluster(endpoint) => BlockingLink::connect(&endpoint, config),
        }
        .map_err(unavailable)?;
        Ok(BlockingRedisLimiter::new(core, link))
    }
}

/// Where the limiter connects, its URLs already checked.
enum Target {
    Node(::redis::Client),
    Cluster(Endpoint),
}

fn node(url: &str) -> Result<Target, String> {
    ::redis::Client::open(url)
        .map(Target::Node)
        .map_err(|e| e.to_string())
}

fn cluster(seeds: Vec<String>) -> Result<Target, String> {
    if seeds.is_empty() {
        return Err("a cluster endpoint needs at least one seed URL".into());
    }
    for seed in &seeds {
        ::redis::Client::open(seed.as_str()).map_err(|e| e.to_string())?;
    }
    Ok(Target::Cluster(Endpoint::Cluster(seeds)))
}

/// A client error as the limiter's: [`Error::Unavailable`] when Redis is
/// unreachable, else [`Error::Backend`].
pub(crate) fn unavailable(e: ::redis::RedisError) -> Error {
    if is_unreachable(&e) {
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
        let endpoint = match &self.target {
            Some(Ok(Target::Cluster(e))) => Some(format!("{e:?}")),
            Some(Ok(Target::Node(c))) => Some(format!("Node({})", c.get_connection_info().addr())),
            _ => None,
        };
        f.debug_struct("RedisLimiterBuilder")
            .field("endpoint", &endpoint)
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .field("key_prefix", &self.prefix)
            .field("policy", &self.policy)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .finish_non_exhaustive()
    }
}
