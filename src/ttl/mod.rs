//! Memoization with a time to live.
//!
//! - [`Memoized`]: wraps a loader `Fn(&K) -> Result<V, E>` with a
//!   [`Cache`](crate::cache::Cache) whose entries expire; concurrent callers
//!   of one missing key share one load (the cache's single-flight loader).
//! - [`ttl_from_secs_f64`]: a TTL from configuration, validated.
//!
//! The time-to-live cache itself is [`Cache`](crate::cache::Cache) with
//! [`time_to_live`](crate::cache::CacheBuilder::time_to_live): expiry runs
//! on the crate's hierarchical timer wheel (`src/wheel.rs`).
mod error;
mod memo;

pub use error::{ttl_from_secs_f64, Error};
pub use memo::{MemoError, MemoStats, Memoized, MemoizedBuilder};
