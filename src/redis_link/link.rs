//! The connections: [`AsyncLink`] (tokio, multiplexed) and
//! [`BlockingLink`] (one synchronous connection, reopened after a
//! failure), each to a single node or a cluster.
use super::endpoint::{Endpoint, LinkConfig};
use crate::sync::Mutex;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConnection};
use ::redis::{Cmd, ConnectionLike, ErrorKind, FromRedisValue, Pipeline, RedisError, RedisResult};
use std::fmt;
use std::time::Duration;

/// Whether a client error means "Redis is unreachable or not answering in
/// time" (the caller may retry later) rather than "Redis said no".
pub(crate) fn is_unreachable(e: &RedisError) -> bool {
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
            ErrorKind::Io | ErrorKind::ClusterConnectionNotFound
        )
}

fn cluster_client(seeds: &[String], config: LinkConfig) -> RedisResult<ClusterClient> {
    ClusterClientBuilder::new(seeds.iter().map(String::as_str))
        .connection_timeout(config.connect_timeout)
        .response_timeout(config.response_timeout)
        .retries(2)
        .build()
}

/// An async connection shared by clones: a `ConnectionManager` (one
/// multiplexed connection that reconnects on its own) or a cluster
/// connection (one multiplexed connection per master, routed by slot).
#[derive(Clone)]
pub(crate) enum AsyncLink {
    Node(ConnectionManager),
    Cluster(::redis::cluster_async::ClusterConnection),
}

impl AsyncLink {
    /// Connects within `config`'s timeouts.
    pub(crate) async fn connect(endpoint: &Endpoint, config: LinkConfig) -> RedisResult<Self> {
        match endpoint {
            Endpoint::Node(url) => Self::node(::redis::Client::open(url.as_str())?, config).await,
            Endpoint::Cluster(seeds) => {
                let client = cluster_client(seeds, config)?;
                Ok(AsyncLink::Cluster(client.get_async_connection().await?))
            }
        }
    }

    /// Connects to the single node of a client the caller built (the
    /// limiter's `client(..)`), within `config`'s timeouts.
    pub(crate) async fn node(client: ::redis::Client, config: LinkConfig) -> RedisResult<Self> {
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(200));
        Ok(AsyncLink::Node(
            ConnectionManager::new_with_config(client, manager).await?,
        ))
    }

    /// Whether this link routes by slot (a pipeline must then name one).
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, AsyncLink::Cluster(_))
    }

    /// One command.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        match self {
            AsyncLink::Node(c) => cmd.query_async(&mut c.clone()).await,
            AsyncLink::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }

    /// One pipeline (on a cluster, every command must name the same slot).
    pub(crate) async fn query_pipeline<T: FromRedisValue>(
        &self,
        pipe: &Pipeline,
    ) -> RedisResult<T> {
        match self {
            AsyncLink::Node(c) => pipe.query_async(&mut c.clone()).await,
            AsyncLink::Cluster(c) => pipe.query_async(&mut c.clone()).await,
        }
    }
}

impl fmt::Debug for AsyncLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AsyncLink::Node(_) => "AsyncLink::Node",
            AsyncLink::Cluster(_) => "AsyncLink::Cluster",
        })
    }
}

enum Sync {
    Node(::redis::Connection),
    Cluster(Box<ClusterConnection>),
}

impl Sync {
    fn as_dyn(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Sync::Node(c) => c,
            Sync::Cluster(c) => &mut **c,
        }
    }
}

enum Target {
    Node(::redis::Client),
    Cluster(Box<ClusterClient>),
}

/// A synchronous connection used by one caller at a time; it is opened on
/// first use and dropped after a transport failure, so the next call
/// reconnects (within the connect timeout).
pub(crate) struct BlockingLink {
    target: Target,
    config: LinkConfig,
    conn: Mutex<Option<Sync>>,
}

impl BlockingLink {
    /// Checks the endpoint's URLs and connects once, so that a wrong
    /// address fails at build time.
    pub(crate) fn connect(endpoint: &Endpoint, config: LinkConfig) -> RedisResult<Self> {
        match endpoint {
            Endpoint::Node(url) => Self::node(::redis::Client::open(url.as_str())?, config),
            Endpoint::Cluster(seeds) => Self::start(
                Target::Cluster(Box::new(cluster_client(seeds, config)?)),
                config,
            ),
        }
    }

    /// As [`connect`](Self::connect), to the single node of a client the
    /// caller built (the limiter's `client(..)`).
    pub(crate) fn node(client: ::redis::Client, config: LinkConfig) -> RedisResult<Self> {
        Self::start(Target::Node(client), config)
    }

    fn start(target: Target, config: LinkConfig) -> RedisResult<Self> {
        let link = BlockingLink {
            target,
            config,
            conn: Mutex::new(None),
        };
        link.with_conn(|_| Ok(()))?;
        Ok(link)
    }

    /// Whether this link routes by slot (a pipeline must then name one).
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster(_))
    }

    fn open(&self) -> RedisResult<Sync> {
        match &self.target {
            Target::Node(client) => {
                let c = client.get_connection_with_timeout(self.config.connect_timeout)?;
                c.set_read_timeout(Some(self.config.response_timeout))?;
                c.set_write_timeout(Some(self.config.response_timeout))?;
                Ok(Sync::Node(c))
            }
            Target::Cluster(client) => Ok(Sync::Cluster(Box::new(client.get_connection()?))),
        }
    }

    /// Runs `f` on the connection, opening it first if needed.
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut dyn ConnectionLike) -> RedisResult<T>,
    ) -> RedisResult<T> {
        let mut guard = self.conn.lock();
        if guard.as_mut().is_some_and(|c| !c.as_dyn().is_open()) {
            *guard = None;
        }
        let conn = match &mut *guard {
            Some(c) => c,
            slot => slot.insert(self.open()?),
        };
        let result = f(conn.as_dyn());
        if result.as_ref().is_err_and(is_unreachable) {
            *guard = None;
        }
        result
    }

    /// One command.
    pub(crate) fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        self.with_conn(|c| cmd.query(c))
    }

    /// One pipeline (on a cluster, every command must name the same slot).
    pub(crate) fn query_pipeline<T: FromRedisValue>(&self, pipe: &Pipeline) -> RedisResult<T> {
        self.with_conn(|c| pipe.query(c))
    }
}

impl fmt::Debug for BlockingLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.target {
            Target::Node(_) => "BlockingLink::Node",
            Target::Cluster(_) => "BlockingLink::Cluster",
        })
    }
}
