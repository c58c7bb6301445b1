use std::fmt;

/// Why a [`Cache`](super::Cache) could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `max_capacity(0)`: a bounded cache must hold something. Leave the
    /// capacity unset for an unbounded cache.
    ZeroCapacity,
    /// Without a weigher every entry weighs 1, and the capacity per shard
    /// must fit the shard's `u32` arena indices.
    CapacityTooLarge {
        /// The capacity asked for.
        requested: u64,
        /// The largest entry capacity for this shard count.
        max: u64,
    },
    /// `shards(0)`.
    ZeroShards,
    /// More shards than the cache supports.
    TooManyShards {
        /// The count asked for.
        requested: usize,
        /// The most shards a cache takes.
        max: usize,
    },
    /// `time_to_live` or `time_to_idle` of zero: every entry would be
    /// expired before it could be read.
    ZeroDuration {
        /// Which setting (`"time_to_live"` or `"time_to_idle"`).
        parameter: &'static str,
    },
    /// A [`Refresher`](super::Refresher) for a cache built without
    /// [`refresh_after_write`](super::CacheBuilder::refresh_after_write):
    /// nothing would ever be due.
    NoRefreshPeriod,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroCapacity => f.write_str(
                "max_capacity must be at least 1 (leave it unset for an unbounded cache)",
            ),
            Error::CapacityTooLarge { requested, max } => write!(
                f,
                "max_capacity {requested} entries exceeds the maximum of {max} for this shard count \
                 (u32 arena indices per shard); use more shards or a weigher"
            ),
            Error::ZeroShards => f.write_str("shards must be at least 1, got 0"),
            Error::TooManyShards { requested, max } => {
                write!(f, "shards must be at most {max}, got {requested}")
            }
            Error::ZeroDuration { parameter } => write!(
                f,
                "{parameter} must be greater than zero (entries would expire before any read)"
            ),
            Error::NoRefreshPeriod => f.write_str(
                "a Refresher needs a cache built with refresh_after_write (nothing would ever be due)",
            ),
        }
    }
}

impl std::error::Error for Error {}
