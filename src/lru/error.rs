use std::fmt;

/// Why an LRU cache could not be built or resized.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A capacity of zero was requested; a cache must hold at least one entry.
    ZeroCapacity,
    /// The requested capacity does not fit the cache's `u32` arena indices.
    CapacityTooLarge {
        /// The capacity that was asked for.
        requested: usize,
        /// The largest capacity supported.
        max: usize,
    },
    /// Zero shards were requested for a concurrent cache.
    ZeroShards,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroCapacity => f.write_str("LRU capacity must be at least 1, got 0"),
            Error::CapacityTooLarge { requested, max } => write!(
                f,
                "LRU capacity {requested} exceeds the maximum of {max} (arena links are u32)"
            ),
            Error::ZeroShards => f.write_str("a concurrent LRU needs at least 1 shard, got 0"),
        }
    }
}

impl std::error::Error for Error {}
