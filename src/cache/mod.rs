//! The crate's concurrent cache: one engine with options.
//!
//! [`Cache`] is sharded by key hash; a hit takes only its shard's read
//! lock. Its builder turns on what a service needs:
//!
//! | option | what it does |
//! |---|---|
//! | [`max_capacity`](CacheBuilder::max_capacity) | bound on entries, or on total weight with a [`weigher`](CacheBuilder::weigher) |
//! | [`policy`](CacheBuilder::policy) | [`Policy::TinyLfu`] (frequency-based admission, the default) or [`Policy::Lru`] |
//! | [`time_to_live`](CacheBuilder::time_to_live), [`time_to_idle`](CacheBuilder::time_to_idle) | expiry on the crate's hierarchical timer wheel; per entry with [`Cache::insert_with_ttl`] |
//! | [`eviction_listener`](CacheBuilder::eviction_listener) | told of every removal and its [`RemovalCause`], outside the locks |
//! | [`clock`](CacheBuilder::clock), [`hasher`](CacheBuilder::hasher), [`shards`](CacheBuilder::shards) | injectable time, hashing and sharding |
//!
//! and [`Cache::get_or_insert_with`] loads a missing key once however many
//! threads ask for it (single-flight). [`Cache::entry`] gives an atomic
//! read-modify-write of one key ([`Entry::and_compute_with`]: no update
//! lost against other computes and loads), [`Cache::iter`] a view of the
//! live entries shard by shard, and with feature `serde`
//! `Cache::snapshot` and `Cache::restore` a warm restart (entries, their
//! time to live left, their frequencies and the learnt window).
//!
//! How it works, per shard: entries live once in an arena of `u32`-linked
//! slots (indices stay put while an entry lives, as its timers need) with
//! three lists for TinyLFU's window, probation and protected regions; a
//! 4-bit count-min sketch with periodic halving decides admissions; hits
//! recorded under the read lock are replayed into the sketch and the lists
//! by the next writer. See `docs/design.md`.
mod builder;
mod engine;
mod entry;
mod error;
mod expiry;
mod flight;
mod iter;
mod load;
mod maintenance;
mod policy;
mod read_buffer;
mod refresh;
mod segment;
mod shadow;
mod sketch;
#[cfg(feature = "serde")]
mod snapshot;

#[cfg(all(test, not(loom)))]
mod model_tests;

pub use builder::CacheBuilder;
pub use engine::Cache;
pub use entry::{Computed, Entry, Op};
pub use error::Error;
pub use iter::Iter;
#[cfg(feature = "async")]
pub use refresh::AsyncRefresher;
pub use refresh::Refresher;
#[cfg(feature = "serde")]
pub use snapshot::{
    Restored, SavedEntry, Snapshot, SnapshotError, SNAPSHOT_FORMAT, SNAPSHOT_VERSION,
};

/// The eviction policy of a [`Cache`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Policy {
    /// W-TinyLFU: new entries enter a small LRU window (1% of a shard);
    /// leaving it, an entry is admitted to the main region (a segmented LRU:
    /// probation and protected) only if a frequency sketch says it is used
    /// more often than the entry it would evict. Resists scans and one-hit
    /// wonders; the best hit ratio on most workloads.
    #[default]
    TinyLfu,
    /// Least recently used, per shard: exact from one thread.
    Lru,
}

/// Why an entry left a [`Cache`] (or never entered it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// Evicted by the size bound (or rejected: heavier than the capacity).
    Size,
    /// Its time to live or time to idle ran out.
    Expired,
    /// Removed by `remove`, `retain` or `invalidate_all`.
    Explicit,
    /// Its value was replaced by an insert for the same key.
    Replaced,
}

/// Counters of a [`Cache`]. Read with relaxed loads: exact when the cache is
/// quiet, a near-snapshot while threads use it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[non_exhaustive]
pub struct CacheStats {
    /// `get` calls (and loader calls) that found a live entry.
    pub hits: u64,
    /// `get` calls (and loader calls) that did not.
    pub misses: u64,
    /// Entries written: inserts, updates and stored loads.
    pub inserts: u64,
    /// Removals with [`RemovalCause::Size`].
    pub evictions: u64,
    /// Removals with [`RemovalCause::Expired`].
    pub expirations: u64,
    /// Removals with [`RemovalCause::Explicit`].
    pub invalidations: u64,
    /// Removals with [`RemovalCause::Replaced`].
    pub replacements: u64,
    /// Loader runs.
    pub loads: u64,
    /// Loader runs that returned an error or panicked.
    pub load_errors: u64,
    /// Listener calls that panicked (caught; the cache carries on).
    pub listener_panics: u64,
}

impl CacheStats {
    /// `hits / (hits + misses)`, or 0.0 before any lookup.
    pub fn hit_ratio(&self) -> f64 {
        crate::counter::ratio(self.hits, self.misses)
    }
}
