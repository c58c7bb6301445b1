//! Where Redis is ([`Endpoint`]) and how long a link waits for it
//! ([`LinkConfig`]).
use std::fmt;
use std::time::Duration;

/// The Redis a Redis-backed structure talks to: one server, or a Redis
/// Cluster reached through seed nodes.
///
/// URLs are `redis://[user:password@]host:port[/db]` (`rediss://` needs
/// redis-rs's TLS features). With `Cluster`, any reachable subset of the
/// masters works as seeds: the client reads the slot map from them,
/// follows `MOVED` and `ASK` redirections and refreshes the map when the
/// cluster reshards.
///
/// ```
/// use latchwork::queue::Endpoint;
///
/// let one = Endpoint::Node("redis://127.0.0.1:6379".into());
/// let many = Endpoint::cluster_from_list("redis://10.0.0.1:7000, redis://10.0.0.2:7000");
/// assert_eq!(many, Endpoint::Cluster(vec![
///     "redis://10.0.0.1:7000".into(),
///     "redis://10.0.0.2:7000".into(),
/// ]));
/// assert_ne!(one, many);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A single server (or a proxy that looks like one).
    Node(String),
    /// A Redis Cluster, through one or more seed nodes.
    Cluster(Vec<String>),
}

impl Endpoint {
    /// A cluster from a comma-separated list of seed URLs (what
    /// `scripts/redis_cluster up` prints); blanks around commas and empty
    /// entries are ignored.
    pub fn cluster_from_list(list: &str) -> Endpoint {
        Endpoint::Cluster(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Whether this is a cluster endpoint.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Endpoint::Cluster(_))
    }
}

impl fmt::Debug for Endpoint {
    // URLs may carry a password: show host parts only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Node(url) => f.debug_tuple("Node").field(&redact(url)).finish(),
            Endpoint::Cluster(seeds) => f
                .debug_tuple("Cluster")
                .field(&seeds.iter().map(|s| redact(s)).collect::<Vec<_>>())
                .finish(),
        }
    }
}

/// `redis://user:secret@host` as `redis://***@host`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The timeouts of one link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LinkConfig {
    /// Longest wait for a connection (each attempt).
    pub(crate) connect_timeout: Duration,
    /// Longest wait for one reply.
    pub(crate) response_timeout: Duration,
}

impl LinkConfig {
    /// The defaults every Redis-backed builder starts from: 500 ms each.
    pub(crate) const DEFAULT: LinkConfig = LinkConfig {
        connect_timeout: Duration::from_millis(500),
        response_timeout: Duration::from_millis(500),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_passwords() {
        let e = Endpoint::Node("redis://u:secret@h:1".into());
        assert_eq!(format!("{e:?}"), "Node(\"redis://***@h:1\")");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
    }
}
