//! Time-to-live caching: a sharded cache whose entries expire, reclaimed
//! through a hierarchical timer wheel, and a memoizer that loads each
//! missing key once however many threads ask (single-flight).
//!
//! - [`TtlCache`]: `&self` from many threads; `get` never returns an entry
//!   at or past its deadline; expired entries are reclaimed by ordinary
//!   calls in work proportional to what expired, not to the cache size.
//! - [`Memoized`]: wraps a loader `Fn(&K) -> Result<V, E>` with a
//!   [`TtlCache`]; concurrent callers of one missing key share one load.
//!
//! Both take their time from the crate's [`Clock`](crate::clock::Clock).
mod cache;
mod error;
mod memo;
mod wheel;

pub use cache::{TtlCache, TtlCacheBuilder, TtlStats};
pub use error::{ttl_from_secs_f64, Error};
pub use memo::{MemoError, MemoStats, Memoized, MemoizedBuilder};
