//! The one builder of both Redis queues.
use super::core::{check_duration, Core, DEFAULT_MAX_ATTEMPTS};
use super::error::RedisError;
use super::{BlockingRedisQueue, RedisQueue};
use crate::redis_link::{AsyncLink, BlockingLink, Endpoint, LinkConfig};
use crate::retry::Backoff;
use std::fmt;
use std::time::Duration;

/// Builder for [`RedisQueue`] (async, [`build`](Self::build)) and
/// [`BlockingRedisQueue`] ([`build_blocking`](Self::build_blocking)); see
/// [`RedisQueue::builder`].
pub struct RedisQueueBuilder {
    name: String,
    endpoint: Option<Endpoint>,
    prefix: String,
    link: LinkConfig,
    max_attempts: u32,
    window: Duration,
    backoff: Backoff,
    poll: Duration,
}

impl RedisQueueBuilder {
    pub(crate) fn new(name: &str) -> Self {
        RedisQueueBuilder {
            name: name.to_owned(),
            endpoint: None,
            prefix: "latchwork:q:".to_owned(),
            link: LinkConfig::DEFAULT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            window: Duration::from_secs(24 * 3600),
            backoff: Backoff::default(),
            poll: Duration::from_millis(20),
        }
    }

    /// A single server, `redis://host:port/db` (or [`cluster`](Self::cluster),
    /// or [`endpoint`](Self::endpoint); one is required).
    pub fn url(self, url: &str) -> Self {
        self.endpoint(Endpoint::Node(url.to_owned()))
    }

    /// A Redis Cluster through these seed URLs.
    pub fn cluster<S: AsRef<str>>(self, seeds: impl IntoIterator<Item = S>) -> Self {
        self.endpoint(Endpoint::Cluster(
            seeds.into_iter().map(|s| s.as_ref().to_owned()).collect(),
        ))
    }

    /// Where Redis is: a node or a cluster.
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// Prefix of every key (default `latchwork:q:`): the queue lives under
    /// `prefix{name}:...`. At most 128 bytes, no braces.
    pub fn key_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.prefix);
        self
    }

    /// Longest wait for a connection (default 500 ms; 1 ms to 1 hour).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.link.connect_timeout = timeout;
        self
    }

    /// Longest wait for one reply (default 500 ms; 1 ms to 1 hour): past
    /// it a call fails with [`RedisError::Unavailable`].
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.link.response_timeout = timeout;
        self
    }

    /// Deliveries per job unless its [`EnqueueOptions`](super::EnqueueOptions)
    /// say otherwise (default 5; at least 1; `u32::MAX` retries forever).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// How long an idempotency key is remembered after its enqueue
    /// (default 24 h; 1 ms to 365 days).
    pub fn idempotency_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The retry schedule of `nack` (default [`Backoff::default`]:
    /// exponential from 100 ms, capped at 20 s, full jitter). Retry `n`
    /// waits the schedule's `n`th delay, jittered, in whole milliseconds.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Longest pause between two tries of a waiting `reserve` (default
    /// 20 ms; 1 ms to 60 s). A waiting reserve also wakes when the next
    /// delayed job is due or the next lease runs out.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    fn parts(self) -> Result<(Core, Endpoint, LinkConfig), RedisError> {
        let endpoint = self
            .endpoint
            .ok_or(RedisError::MissingParameter { parameter: "url" })?;
        if let Endpoint::Cluster(seeds) = &endpoint {
            if seeds.is_empty() {
                return Err(RedisError::InvalidConnection {
                    message: "a cluster endpoint needs at least one seed URL".into(),
                });
            }
        }
        let (min, max) = (Duration::from_millis(1), Duration::from_secs(3600));
        check_duration("connect_timeout", self.link.connect_timeout, min, max)?;
        check_duration("response_timeout", self.link.response_timeout, min, max)?;
        let core = Core::new(
            &self.prefix,
            &self.name,
            self.max_attempts,
            self.window,
            self.backoff,
            self.poll,
        )?;
        Ok((core, endpoint, self.link))
    }

    /// Connects (a `ConnectionManager`, or a cluster connection).
    ///
    /// # Errors
    /// [`RedisError::MissingParameter`] without an endpoint; the input
    /// errors of each setter; [`RedisError::InvalidConnection`] for a
    /// malformed URL; [`RedisError::Unavailable`] when Redis cannot be
    /// reached now.
    pub async fn build(self) -> Result<RedisQueue, RedisError> {
        let (core, endpoint, link) = self.parts()?;
        let link = AsyncLink::connect(&endpoint, link)
            .await
            .map_err(connect_error)?;
        Ok(RedisQueue::start(core, link))
    }

    /// Opens a blocking connection (reopened after a failure).
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn build_blocking(self) -> Result<BlockingRedisQueue, RedisError> {
        let (core, endpoint, link) = self.parts()?;
        let link = BlockingLink::connect(&endpoint, link).map_err(connect_error)?;
        Ok(BlockingRedisQueue::start(core, link))
    }
}

fn connect_error(e: ::redis::RedisError) -> RedisError {
    if e.kind() == ::redis::ErrorKind::InvalidClientConfig {
        RedisError::InvalidConnection {
            message: e.to_string(),
        }
    } else {
        RedisError::from_client(&e)
    }
}

impl fmt::Debug for RedisQueueBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueueBuilder")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("key_prefix", &self.prefix)
            .field("max_attempts", &self.max_attempts)
            .field("idempotency_window", &self.window)
            .field("poll_interval", &self.poll)
            .finish_non_exhaustive()
    }
}
