//! The [`Cache`] type and its table-facing API: construction, `get`,
//! `peek`, `contains`, `insert`, `remove`, the sizes and the stats.
//!
//! `Cache`'s methods are split by job over three files, each an `impl`
//! block on the same type: this one (the entry points of a lookup or a
//! write, and the shards they lock), `load.rs` (single-flight loading:
//! `get_or_insert_with` and its kin) and `maintenance.rs` (what keeps the
//! cache within its bounds: the cache-wide weight bound, removal reports,
//! bulk invalidation, expiry reclamation and the adaptive window).
//! Each shard's state is a `Segment` (`segment.rs`).
use super::builder::CacheBuilder;
use super::expiry::{EXPIRE_BUDGET, NEVER};
use super::maintenance::Adaptive;
use super::read_buffer::{ReadBuffer, Recorded};
use super::refresh::RefreshLink;
use super::segment::{Removals, Segment};
use super::{CacheStats, Policy, RemovalCause};
use crate::clock::{duration_to_nanos, Clock, SystemClock};
use crate::counter::StripedCounters;
use crate::shard;
use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::sync::{RwLock, RwLockWriteGuard};
use crate::DefaultHashBuilder;
use crossbeam_utils::CachePadded;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

pub(crate) type Weigher<K, V> = Box<dyn Fn(&K, &V) -> u32 + Send + Sync>;
pub(crate) type Listener<K, V> = Box<dyn Fn(&K, &V, RemovalCause) + Send + Sync>;

pub(crate) const HITS: usize = 0;
pub(crate) const MISSES: usize = 1;
pub(crate) const INSERTS: usize = 2;
pub(crate) const EVICTIONS: usize = 3;
pub(crate) const EXPIRATIONS: usize = 4;
pub(crate) const INVALIDATIONS: usize = 5;
pub(crate) const REPLACEMENTS: usize = 6;
pub(crate) const LOADS: usize = 7;
pub(crate) const LOAD_ERRORS: usize = 8;
pub(crate) const LISTENER_PANICS: usize = 9;
const COUNTERS: usize = 10;

/// One shard: its segment behind a reader-writer lock, and the lossy buffer
/// of hits recorded under the read lock.
pub(crate) struct Shard<K, V> {
    pub(super) seg: RwLock<Segment<K, V>>,
    reads: ReadBuffer,
}

impl<K: Hash + Eq, V> Shard<K, V> {
    pub(crate) fn new(seg: Segment<K, V>) -> Self {
        Shard {
            seg: RwLock::new(seg),
            reads: ReadBuffer::new(),
        }
    }

    /// The write lock, with every recorded hit replayed first. Every write
    /// section goes through here, so no write changes the arena while a hit
    /// recorded against it is pending: recorded indices stay valid.
    #[inline]
    pub(super) fn write(&self) -> RwLockWriteGuard<'_, Segment<K, V>> {
        let mut seg = self.seg.write();
        self.reads.drain(|i| seg.on_hit(i));
        seg
    }
}

/// The settings a built cache keeps.
pub(crate) struct Config<K, V> {
    pub(crate) policy: Policy,
    pub(crate) max_capacity: Option<u64>,
    /// Nanoseconds; `None` for none.
    pub(crate) ttl: Option<u64>,
    pub(crate) tti: Option<u64>,
    /// Nanoseconds after a write when a read starts a refresh; see
    /// `refresh.rs`.
    pub(crate) refresh: Option<u64>,
    pub(crate) weigher: Option<Weigher<K, V>>,
    pub(crate) listener: Option<Listener<K, V>>,
}

/// A concurrent cache: sharded, hits off exclusive locks, TinyLFU admission
/// or LRU, optional weights, time-to-live and time-to-idle, an eviction
/// listener and single-flight loaders.
///
/// - **Hits take a shard's read lock only.** A `get` clones the value and
///   records the hit (one CAS) in the shard's lossy read buffer; the hits
///   are replayed into the policy (frequency sketch, recency order) in
///   batches by whoever next holds the shard's write lock. Time-to-idle
///   refreshes a hit entry's deadline under the read lock too.
/// - **Policies**: [`Policy::TinyLfu`] (the default) keeps the entries a
///   frequency sketch says are used most, with a small recency window for
///   new arrivals, so scans and one-hit wonders do not flush the working
///   set; [`Policy::Lru`] is a plain LRU per shard (exact from one thread).
/// - **Expiry**: an expired entry is never returned. Reclamation rides on
///   writes to its shard, at most a small fixed number of entries per call
///   (a mass expiry is spread over many calls);
///   [`run_pending_tasks`](Self::run_pending_tasks) reclaims everything now.
///   Until then [`len`](Self::len) counts expired entries not yet reclaimed.
///   No background thread.
/// - **Listener**: once per removal, with its [`RemovalCause`], outside
///   every lock.
/// - **Loaders**: [`get_or_insert_with`](Self::get_or_insert_with) runs one
///   loader per missing key however many threads ask at once.
///
/// `get` returns a clone: store `Arc<V>` for large values.
///
/// ```
/// use latchwork::cache::{Cache, Policy, RemovalCause};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let evicted = Arc::new(AtomicUsize::new(0));
/// let seen = evicted.clone();
/// let cache = Cache::builder()
///     .max_capacity(10_000)
///     .policy(Policy::TinyLfu)
///     .time_to_live(Duration::from_secs(300))
///     .eviction_listener(move |_k: &u64, _v: &String, cause| {
///         if cause == RemovalCause::Size {
///             seen.fetch_add(1, Ordering::Relaxed);
///         }
///     })
///     .build()?;
/// cache.insert(1, "one".to_string());
/// assert_eq!(cache.get(&1).as_deref(), Some("one"));
/// let v = cache.get_or_insert_with(2, || "two".to_string());
/// assert_eq!(v, "two");
/// assert_eq!(cache.remove(&1).as_deref(), Some("one"));
/// assert_eq!(cache.len(), 1);
/// # Ok::<(), latchwork::cache::Error>(())
/// ```
pub struct Cache<K, V, S = DefaultHashBuilder, C = SystemClock> {
    pub(super) shards: Box<[CachePadded<Shard<K, V>>]>,
    pub(super) mask: usize,
    pub(super) hasher: S,
    pub(super) clock: C,
    pub(super) config: Config<K, V>,
    /// Total weight, kept only with a weigher (for the cache-wide bound).
    /// Relaxed: the segments hold the truth under their locks; this is a
    /// running sum used to decide whether to evict across shards.
    pub(super) total: CachePadded<AtomicU64>,
    /// Where the cache-wide eviction looks next.
    pub(super) cursor: AtomicUsize,
    /// Whether any entry was given its own TTL (then writes read the clock).
    /// Relaxed: a hint; the segment's own state decides under its lock.
    per_entry_ttl: AtomicBool,
    pub(super) stats: StripedCounters<COUNTERS>,
    pub(super) adaptive: Option<Adaptive>,
    /// The keys due a refresh (with `refresh_after_write`).
    pub(super) refreshes: Option<RefreshLink>,
}

impl<K: Hash + Eq, V> Cache<K, V> {
    /// A builder; see [`CacheBuilder`].
    pub fn builder() -> CacheBuilder<K, V> {
        CacheBuilder::new()
    }

    /// A TinyLFU cache of `max_capacity` entries with the defaults.
    ///
    /// # Errors
    /// As [`CacheBuilder::build`].
    pub fn new(max_capacity: u64) -> Result<Self, super::Error> {
        Self::builder().max_capacity(max_capacity).build()
    }
}

impl<K: Hash + Eq, V, S: BuildHasher, C: Clock> Cache<K, V, S, C> {
    pub(crate) fn from_parts(
        shards: Box<[CachePadded<Shard<K, V>>]>,
        hasher: S,
        clock: C,
        config: Config<K, V>,
        adaptive: Option<Adaptive>,
    ) -> Self {
        let refreshes = config.refresh.map(|_| RefreshLink::new());
        Cache {
            mask: shards.len() - 1,
            shards,
            hasher,
            clock,
            config,
            total: CachePadded::new(AtomicU64::new(0)),
            cursor: AtomicUsize::new(0),
            per_entry_ttl: AtomicBool::new(false),
            stats: StripedCounters::new(),
            refreshes,
            adaptive,
        }
    }

    #[inline]
    pub(super) fn shard_index(&self, hash: u64) -> usize {
        shard::index(hash, self.mask)
    }

    #[inline]
    fn uses_expiry(&self) -> bool {
        self.config.ttl.is_some()
            || self.config.tti.is_some()
            || self.config.refresh.is_some()
            || self.per_entry_ttl.load(Ordering::Relaxed)
    }

    /// The clock reading for a write, for `Segment::clamp_now`, which takes
    /// it once the shard's write lock is held (`None` when nothing expires).
    /// Read before waiting for the lock, it could be older than the time
    /// another writer set meanwhile, and the wait would count as the clock
    /// stepping back (see `crate::clock::AtomicClamp::write`).
    #[inline]
    pub(super) fn write_now(&self) -> impl FnOnce() -> Option<u64> + Copy + '_ {
        move || self.uses_expiry().then(|| self.clock.now_nanos())
    }

    /// A clone of the live value for `key`, recording the hit for the
    /// policy.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.get_hashed(self.hasher.hash_one(key), key)
    }

    #[inline]
    pub(super) fn get_hashed<Q>(&self, hash: u64, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let shard = &self.shards[self.shard_index(hash)];
        let seg = shard.seg.read();
        let hit = seg.find(hash, key).and_then(|i| {
            if let Some(t) = seg.times(i) {
                // Relaxed: see `Times::deadline`.
                let d = t.deadline.load(Ordering::Relaxed);
                if d != NEVER || self.config.tti.is_some() {
                    let now = seg.floored(|| self.clock.now_nanos());
                    if now >= d {
                        // Seen expired: never live again, whatever the
                        // clock does next.
                        seg.raise_floor(now);
                        return None;
                    }
                    if let Some(tti) = self.config.tti {
                        seg.touch(i, now, tti);
                    }
                }
                if let Some(after) = self.config.refresh {
                    self.refresh_if_due(&seg, hash, i, after);
                }
            }
            let node = seg.node(i)?;
            Some((i, node.value.clone(), seg.wants_hit(node)))
        });
        let Some((i, value, wanted)) = hit else {
            drop(seg);
            self.stats.incr(MISSES);
            self.shadow(hash);
            return None;
        };
        // Recorded under the read lock: a drain needs the write lock, so it
        // never overlaps this record, and index `i` cannot be reused before
        // the hit is replayed (every write section drains first).
        let recorded = if wanted {
            shard.reads.record(i)
        } else {
            Recorded::Ok
        };
        drop(seg);
        self.stats.incr(HITS);
        self.shadow(hash);
        if recorded == Recorded::ShouldDrain {
            if let Some(mut seg) = shard.seg.try_write() {
                shard.reads.drain(|i| seg.on_hit(i));
            }
        }
        Some(value)
    }

    /// A clone of the live value for `key`, with no effect on the policy,
    /// the idle timer or the stats.
    pub fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let hash = self.hasher.hash_one(key);
        let seg = self.shards[self.shard_index(hash)].seg.read();
        let i = seg.find(hash, key)?;
        seg.live(i, || seg.floored(|| self.clock.now_nanos()))
            .then(|| seg.node(i).map(|n| n.value.clone()))
            .flatten()
    }

    /// Whether a live entry for `key` is held (no effect on the policy).
    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let seg = self.shards[self.shard_index(hash)].seg.read();
        seg.find(hash, key)
            .is_some_and(|i| seg.live(i, || seg.floored(|| self.clock.now_nanos())))
    }

    /// Inserts or replaces `key`'s value (the old one is reported to the
    /// listener as [`RemovalCause::Replaced`], or as
    /// [`RemovalCause::Expired`] if it had expired). Returns whether the
    /// entry is cached after the call. `false` means it left at once and the
    /// listener heard of it with [`RemovalCause::Size`]: it weighs more than
    /// the whole capacity, or the TinyLFU admission filter preferred the
    /// entries it would have displaced. (A new entry normally waits in the
    /// recency window before it meets the filter; only one heavier than its
    /// shard's window, or in a shard of capacity one, meets it at once.)
    pub fn insert(&self, key: K, value: V) -> bool {
        self.insert_ttl(key, value, self.config.ttl)
    }

    /// As [`insert`](Self::insert), with this entry's own time to live in
    /// place of the cache's (time-to-idle still applies).
    /// `Duration::MAX` means no expiry; `Duration::ZERO` stores an entry
    /// that is already expired (never returned).
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) -> bool {
        if !self.per_entry_ttl.load(Ordering::Relaxed) {
            self.per_entry_ttl.store(true, Ordering::Relaxed);
        }
        let ttl = duration_to_nanos(ttl);
        self.insert_ttl(key, value, (ttl != u64::MAX).then_some(ttl))
    }

    /// The (deadline, hard cap) of an entry written at `now`.
    #[inline]
    pub(super) fn deadlines(&self, now: u64, ttl: Option<u64>) -> (u64, u64) {
        let hard = ttl.map_or(NEVER, |t| now.saturating_add(t).min(NEVER - 1));
        let idle = self
            .config
            .tti
            .map_or(NEVER, |t| now.saturating_add(t).min(NEVER - 1));
        (hard.min(idle), hard)
    }

    #[inline]
    pub(super) fn weigh(&self, key: &K, value: &V) -> u32 {
        self.config
            .weigher
            .as_ref()
            .map_or(1, |w| w(key, value).max(1))
    }

    /// The write `insert` and a finished load both make, under the shard's
    /// write lock at time `now`: reclaims a bounded number of expired
    /// entries, then stores `key` with the deadlines of `ttl`. Returns
    /// whether the entry is held.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn store_in(
        &self,
        seg: &mut Segment<K, V>,
        now: u64,
        hash: u64,
        key: K,
        value: V,
        weight: u32,
        ttl: Option<u64>,
        out: &mut Removals<K, V>,
    ) -> bool {
        let (deadline, hard) = self.deadlines(now, ttl);
        seg.expire(now, EXPIRE_BUDGET, &self.hasher, out);
        let stored = seg.upsert(hash, key, value, weight, deadline, hard, &self.hasher, out);
        self.track_entries(seg.len());
        if let (Some(i), Some(_)) = (stored, self.config.refresh) {
            seg.set_written(i, now);
        }
        stored.is_some()
    }

    fn insert_ttl(&self, key: K, value: V, ttl: Option<u64>) -> bool {
        let hash = self.hasher.hash_one(&key);
        let weight = self.weigh(&key, &value);
        let idx = self.shard_index(hash);
        let mut out = Removals::new();
        if self
            .config
            .max_capacity
            .is_some_and(|cap| u64::from(weight) > cap)
        {
            // Too heavy to hold: the new value replaces the old one (which
            // must not be served any more) and leaves at once.
            let now = self.write_now();
            let (before, after) = {
                let mut seg = self.shards[idx].write();
                seg.flights.cancel(hash, &key);
                let before = seg.weight();
                if let Some(i) = seg.find(hash, &key) {
                    // An old value that had expired is reported as such,
                    // as `upsert` reports it.
                    let cause = if seg.live(i, || seg.clamp_now(now)) {
                        RemovalCause::Replaced
                    } else {
                        RemovalCause::Expired
                    };
                    seg.remove_index(i, &self.hasher, cause, &mut out);
                }
                (before, seg.weight())
            };
            self.stats.incr(INSERTS);
            self.account(idx, before, after);
            out.push(key, value, RemovalCause::Size);
            self.notify(out);
            return false;
        }
        let now = self.write_now();
        let (stored, before, after) = {
            let mut seg = self.shards[idx].write();
            let now = seg.clamp_now(now);
            seg.flights.cancel(hash, &key);
            let before = seg.weight();
            let stored = self.store_in(&mut seg, now, hash, key, value, weight, ttl, &mut out);
            (stored, before, seg.weight())
        };
        self.stats.incr(INSERTS);
        self.account(idx, before, after);
        self.notify(out);
        stored
    }

    /// Removes `key`, returning its value if it was live (the listener hears
    /// [`RemovalCause::Explicit`]; an expired entry is reclaimed as
    /// [`RemovalCause::Expired`] and `None` returned). A load in flight for
    /// the key is not stored when it completes.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let idx = self.shard_index(hash);
        let now = self.write_now();
        let mut out = Removals::new();
        let (before, after) = {
            let mut seg = self.shards[idx].write();
            let now = seg.clamp_now(now);
            seg.flights.cancel(hash, key);
            let before = seg.weight();
            if let Some(i) = seg.find(hash, key) {
                let cause = if seg.live(i, || now) {
                    RemovalCause::Explicit
                } else {
                    RemovalCause::Expired
                };
                seg.remove_index(i, &self.hasher, cause, &mut out);
            }
            (before, seg.weight())
        };
        self.account(idx, before, after);
        let mut taken = None;
        let mut rest = Removals::new();
        for (k, v, cause) in out.into_iter() {
            if cause == RemovalCause::Explicit && taken.is_none() {
                self.stats.incr(INVALIDATIONS);
                if let Some(listener) = &self.config.listener {
                    if catch_unwind(AssertUnwindSafe(|| listener(&k, &v, cause))).is_err() {
                        self.stats.incr(LISTENER_PANICS);
                    }
                }
                taken = Some(v);
            } else {
                rest.push(k, v, cause);
            }
        }
        self.notify(rest);
        taken
    }

    /// Entries held, summed over shards (a near-snapshot under writes).
    /// Counts expired entries not reclaimed yet; see
    /// [`run_pending_tasks`](Self::run_pending_tasks).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.seg.read().len()).sum()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.seg.read().len() == 0)
    }

    /// The total weight held (the entry count without a weigher).
    pub fn weighted_size(&self) -> u64 {
        self.shards.iter().map(|s| s.seg.read().weight()).sum()
    }

    /// The configured capacity; `None` for unbounded.
    pub fn max_capacity(&self) -> Option<u64> {
        self.config.max_capacity
    }

    /// The eviction policy.
    pub fn policy(&self) -> Policy {
        self.config.policy
    }

    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Counters since the cache was built (or [`reset_stats`](Self::reset_stats)).
    pub fn stats(&self) -> CacheStats {
        let s = |c| self.stats.sum(c);
        CacheStats {
            hits: s(HITS),
            misses: s(MISSES),
            inserts: s(INSERTS),
            evictions: s(EVICTIONS),
            expirations: s(EXPIRATIONS),
            invalidations: s(INVALIDATIONS),
            replacements: s(REPLACEMENTS),
            loads: s(LOADS),
            load_errors: s(LOAD_ERRORS),
            listener_panics: s(LISTENER_PANICS),
        }
    }

    /// Sets every counter back to zero.
    pub fn reset_stats(&self) {
        self.stats.reset();
    }

    /// Heap bytes held by the shards (tables, arenas, deadlines, timers and
    /// sketches), not counting what keys and values own.
    pub fn heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.seg.read().heap_bytes())
            .sum::<usize>()
            + self.shards.len() * std::mem::size_of::<CachePadded<Shard<K, V>>>()
    }

    /// Checks every shard's invariants and the cache-wide weight bound; for
    /// tests and fuzz targets.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut total = 0u64;
        for s in self.shards.iter() {
            // The read lock: checking must not replay pending hits.
            let seg = s.seg.read();
            seg.check(&self.hasher)?;
            total += seg.weight();
        }
        if let Some(max) = self.config.max_capacity {
            if total > max {
                return Err(format!("weighted size {total} over max_capacity {max}"));
            }
        }
        Ok(())
    }
}

impl<K, V, S, C: fmt::Debug> fmt::Debug for Cache<K, V, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("policy", &self.config.policy)
            .field("max_capacity", &self.config.max_capacity)
            .field("time_to_live", &self.config.ttl.map(Duration::from_nanos))
            .field("time_to_idle", &self.config.tti.map(Duration::from_nanos))
            .field("shards", &self.shards.len())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}
