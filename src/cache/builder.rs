use super::engine::{Cache, Config, Listener, Shard, Weigher};
use super::maintenance::Adaptive;
use super::segment::{Limits, Segment};
use super::{Error, Policy, RemovalCause};
use crate::arena::Arena;
use crate::clock::{duration_to_nanos, Clock, SystemClock};
use crate::sync::shard::{self, CountError};
use crate::DefaultHashBuilder;
use crossbeam_utils::CachePadded;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::time::Duration;

/// Sketch words per entry for a cache of `capacity` entries: 8 while the
/// whole sketch stays within 1 MiB (caches up to 16k entries), halving
/// above, down to one word (8 bytes) per entry from 128k entries on.
pub(crate) fn sketch_per_entry(capacity: u64) -> usize {
    let per = (1u64 << 17) / capacity.max(1);
    1usize << per.clamp(1, 8).ilog2()
}

/// Builder for a [`Cache`]; see [`Cache::builder`].
///
/// Every setting is optional: the default is an unbounded cache with the
/// TinyLFU policy, no expiry, no listener, the default hasher and the
/// system clock.
pub struct CacheBuilder<K, V, S = DefaultHashBuilder, C = SystemClock> {
    max_capacity: Option<u64>,
    weigher: Option<Weigher<K, V>>,
    policy: Policy,
    ttl: Option<Duration>,
    tti: Option<Duration>,
    refresh: Option<Duration>,
    listener: Option<Listener<K, V>>,
    shards: Option<usize>,
    hasher: S,
    clock: C,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V, S, C: fmt::Debug> fmt::Debug for CacheBuilder<K, V, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("max_capacity", &self.max_capacity)
            .field("weigher", &self.weigher.is_some())
            .field("policy", &self.policy)
            .field("time_to_live", &self.ttl)
            .field("time_to_idle", &self.tti)
            .field("eviction_listener", &self.listener.is_some())
            .field("shards", &self.shards)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl<K, V> CacheBuilder<K, V> {
    pub(super) fn new() -> Self {
        CacheBuilder {
            max_capacity: None,
            weigher: None,
            policy: Policy::default(),
            ttl: None,
            tti: None,
            refresh: None,
            listener: None,
            shards: None,
            hasher: DefaultHashBuilder::default(),
            clock: SystemClock::new(),
            _types: PhantomData,
        }
    }
}

impl<K, V, S, C> CacheBuilder<K, V, S, C> {
    /// The most the cache holds: entries, or total weight when a
    /// [`weigher`](Self::weigher) is set. Unset: unbounded.
    pub fn max_capacity(mut self, max_capacity: u64) -> Self {
        self.max_capacity = Some(max_capacity);
        self
    }

    /// Weighs each entry (for example its size in bytes), so that
    /// `max_capacity` bounds the total weight. A weight of 0 counts as 1.
    ///
    /// The capacity is split evenly across the shards. An entry heavier
    /// than its shard's share is still cached: its shard evicts everything
    /// else it holds, and the cache then evicts from the other shards until
    /// the total is back within `max_capacity`. An entry heavier than the
    /// whole capacity is not cached: `insert` returns `false` and the
    /// listener hears of it with [`RemovalCause::Size`].
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Box::new(weigher));
        self
    }

    /// The eviction policy; default [`Policy::TinyLfu`].
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Every entry expires this long after it was inserted or last updated.
    /// `Duration::MAX` (or anything beyond about 584 years) means never.
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Every entry expires this long after it was last read or written
    /// (and never later than its time to live, when both are set).
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.tti = Some(tti);
        self
    }

    /// A read of an entry written at least this long ago starts one reload
    /// of it in the background (refresh after write): the read, and every
    /// read until the reload lands, gets the current value at once. The
    /// reloads run where a [`Refresher`](super::Refresher) built on the
    /// cache runs them (a thread of the caller's, a task, or the caller's
    /// own thread between requests); see `Refresher`. `Duration::MAX`
    /// means never; zero is refused ([`Error::ZeroDuration`]).
    pub fn refresh_after_write(mut self, after: Duration) -> Self {
        self.refresh = Some(after);
        self
    }

    /// Called once for every entry that leaves the cache (or, being too
    /// heavy, never enters it), with why. It runs on the thread that caused
    /// the removal, after the shard's lock is released, so it may use the
    /// cache. A panic in it is caught and counted
    /// ([`CacheStats::listener_panics`](super::CacheStats::listener_panics));
    /// the other notifications still run.
    ///
    /// Entries still held when the cache is dropped are not reported.
    pub fn eviction_listener(
        mut self,
        listener: impl Fn(&K, &V, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Box::new(listener));
        self
    }

    /// The number of shards, rounded up to a power of two and then lowered
    /// until each shard holds at least 32 entries (or 32 units of weight).
    /// Default: shards of about 512 entries, at most 64, chosen from the
    /// capacity alone so that the hit ratio does not depend on the machine.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// The hasher, for example `std::collections::hash_map::RandomState`
    /// (SipHash) where keys come from untrusted clients.
    pub fn hasher<S2>(self, hasher: S2) -> CacheBuilder<K, V, S2, C> {
        CacheBuilder {
            max_capacity: self.max_capacity,
            weigher: self.weigher,
            policy: self.policy,
            ttl: self.ttl,
            tti: self.tti,
            refresh: self.refresh,
            listener: self.listener,
            shards: self.shards,
            hasher,
            clock: self.clock,
            _types: PhantomData,
        }
    }

    /// The clock expiry reads, for example a
    /// [`ManualClock`](crate::clock::ManualClock) in tests.
    pub fn clock<C2>(self, clock: C2) -> CacheBuilder<K, V, S, C2> {
        CacheBuilder {
            max_capacity: self.max_capacity,
            weigher: self.weigher,
            policy: self.policy,
            ttl: self.ttl,
            tti: self.tti,
            refresh: self.refresh,
            listener: self.listener,
            shards: self.shards,
            hasher: self.hasher,
            clock,
            _types: PhantomData,
        }
    }
}

impl<K: Hash + Eq, V, S: BuildHasher, C: Clock> CacheBuilder<K, V, S, C> {
    /// Builds the cache.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`], [`Error::ZeroShards`],
    /// [`Error::TooManyShards`], [`Error::ZeroDuration`] for a zero TTL or
    /// TTI, and [`Error::CapacityTooLarge`] for an entry capacity a shard's
    /// `u32` arena cannot index.
    pub fn build(self) -> Result<Cache<K, V, S, C>, Error> {
        if self.max_capacity == Some(0) {
            return Err(Error::ZeroCapacity);
        }
        for (d, parameter) in [
            (self.ttl, "time_to_live"),
            (self.tti, "time_to_idle"),
            (self.refresh, "refresh_after_write"),
        ] {
            if d == Some(Duration::ZERO) {
                return Err(Error::ZeroDuration { parameter });
            }
        }
        let n = shard::count(self.shards, self.max_capacity).map_err(|e| match e {
            CountError::Zero => Error::ZeroShards,
            CountError::TooMany { requested, max } => Error::TooManyShards { requested, max },
        })?;
        let weighted = self.weigher.is_some();
        let arena_max = Arena::<()>::MAX_LEN as u64;
        if let Some(cap) = self.max_capacity {
            let per_shard = cap.div_ceil(n as u64);
            if !weighted && per_shard > arena_max {
                return Err(Error::CapacityTooLarge {
                    requested: cap,
                    max: arena_max.saturating_mul(n as u64),
                });
            }
        }
        let now = self.clock.now_nanos();
        let sketch_per_entry = match self.max_capacity {
            Some(cap) if !weighted => sketch_per_entry(cap),
            _ => 1,
        };
        let adaptive = (self.policy == Policy::TinyLfu)
            .then_some(self.max_capacity)
            .flatten()
            .map(|cap| Adaptive::new(cap, weighted));
        let shards = (0..n)
            .map(|i| {
                let capacity = self
                    .max_capacity
                    .map_or(u64::MAX, |c| shard::capacity_of(c, n, i));
                let entries = if weighted {
                    arena_max
                } else {
                    capacity.min(arena_max)
                };
                let limits = Limits {
                    capacity,
                    max_entries: usize::try_from(entries).unwrap_or(usize::MAX),
                    sketch_per_entry,
                };
                let seg = Segment::new(self.policy, limits, now);
                let seg = match &adaptive {
                    Some(a) => seg.with_window(a.word.clone()),
                    None => seg,
                };
                CachePadded::new(Shard::new(seg))
            })
            .collect();
        let nanos = |d: Option<Duration>| d.map(duration_to_nanos).filter(|&n| n != u64::MAX);
        Ok(Cache::from_parts(
            shards,
            self.hasher,
            self.clock,
            Config {
                policy: self.policy,
                max_capacity: self.max_capacity,
                ttl: nanos(self.ttl),
                tti: nanos(self.tti),
                refresh: nanos(self.refresh),
                weigher: self.weigher,
                listener: self.listener,
            },
            adaptive,
        ))
    }
}
