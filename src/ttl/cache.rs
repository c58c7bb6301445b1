use super::wheel::{Timer, Wheel};
use super::Error;
use crate::arena::Arena;
use crate::clock::{duration_to_nanos, Clock, SystemClock};
use crate::counter::StripedCounters;
use crate::lru::cache::Upsert;
use crate::lru::LruCache;
use crate::shard;
use crate::sync::Mutex;
use crate::DefaultHashBuilder;
use crossbeam_utils::CachePadded;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::time::Duration;

const HITS: usize = 0;
const MISSES: usize = 1;
const INSERTS: usize = 2;
const EVICTIONS: usize = 3;
const EXPIRATIONS: usize = 4;

/// Counters of a [`TtlCache`]; exact when the cache is quiet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TtlStats {
    /// `get` calls that found a live entry.
    pub hits: u64,
    /// `get` calls that found nothing live.
    pub misses: u64,
    /// Inserts (new keys and updates).
    pub inserts: u64,
    /// Live entries evicted because a bounded cache was full.
    pub evictions: u64,
    /// Entries removed because their time was up.
    pub expirations: u64,
}

impl TtlStats {
    /// `hits / (hits + misses)`, or 0.0 before any `get`.
    pub fn hit_ratio(&self) -> f64 {
        crate::counter::ratio(self.hits, self.misses)
    }
}

/// A value and the clock reading (nanoseconds) at which it expires.
struct Entry<V> {
    value: V,
    deadline: u64,
}

/// One shard: entries in an arena LRU (recency for the capacity bound) and
/// their expiry hints in a timer wheel, both indexed by arena slot.
struct Shard<K, V, S> {
    lru: LruCache<K, Entry<V>, S>,
    wheel: Wheel,
}

#[inline]
fn tick_of(deadline: u64, resolution: u64) -> u64 {
    // Round up: a timer never fires before its entry has expired.
    deadline / resolution + u64::from(deadline % resolution != 0)
}

impl<K: Hash + Eq, V, S: BuildHasher> Shard<K, V, S> {
    /// Removes the entry timer `t` was set for, if its time is up at `now`;
    /// returns whether it did. A stale timer (its entry removed, or re-timed
    /// by an update) does nothing: the entry's own timer will fire.
    #[inline]
    fn fire(lru: &mut LruCache<K, Entry<V>, S>, t: Timer, now: u64, resolution: u64) -> bool {
        let due = |e: &Entry<V>| e.deadline <= now && tick_of(e.deadline, resolution) == t.tick;
        if lru.value_at(t.index).is_some_and(due) {
            lru.remove_index(t.index);
            true
        } else {
            false
        }
    }

    /// Advances the wheel to `now` and removes what expired; work
    /// proportional to the timers due, not to the entries held.
    #[inline]
    fn expire(&mut self, now: u64, resolution: u64) -> usize {
        let mut removed = 0;
        let lru = &mut self.lru;
        self.wheel.advance(now / resolution, |t| {
            removed += usize::from(Self::fire(lru, t, now, resolution));
        });
        removed
    }

    /// As `expire`, and also removes entries that expired within the tick
    /// in progress, so nothing expired remains.
    fn expire_exact(&mut self, now: u64, resolution: u64) -> usize {
        let mut removed = self.expire(now, resolution);
        let lru = &mut self.lru;
        self.wheel.retain_next(|t| {
            if Self::fire(lru, t, now, resolution) {
                removed += 1;
                true
            } else {
                // Stale hints (entry gone or re-timed) may go as well.
                lru.value_at(t.index)
                    .is_none_or(|e| tick_of(e.deadline, resolution) != t.tick)
            }
        });
        removed
    }

    /// Rebuilds the wheel from the live entries once stale hints outnumber
    /// them, so hint memory stays proportional to entries held.
    fn compact_if_stale(&mut self, resolution: u64) {
        if self.wheel.len() <= 2 * self.lru.len() + 64 {
            return;
        }
        let elapsed = self.wheel.elapsed();
        self.wheel.clear(elapsed);
        for (index, e) in self.lru.indexed_values() {
            self.wheel.insert(Timer {
                index,
                tick: tick_of(e.deadline, resolution),
            });
        }
    }
}

type PaddedShard<K, V, S> = CachePadded<Mutex<Shard<K, V, S>>>;

/// A thread-safe cache whose entries expire a set time after insertion.
///
/// - An entry is expired when `now >= deadline`; an expired entry is never
///   returned, even before it is reclaimed.
/// - Reclamation rides on ordinary calls: each call advances its shard's
///   hierarchical timer wheel to the current tick and removes what expired,
///   in work proportional to what expired, not to the cache size. Keys that
///   are never read again are reclaimed all the same. No background thread.
/// - Optional capacity: a full shard first drops its expired entries, then
///   evicts its least recently used one.
/// - Sharded by key hash; each shard is a mutex over an arena LRU and a
///   wheel, so different keys rarely contend.
/// - Time comes from a [`Clock`]; tests use
///   [`ManualClock`](crate::clock::ManualClock).
///
/// ```
/// use latchwork::clock::ManualClock;
/// use latchwork::ttl::TtlCache;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let cache = TtlCache::builder()
///     .default_ttl(Duration::from_secs(60))
///     .clock(clock.clone())
///     .build()?;
/// cache.insert("session:1", "alice");
/// cache.insert_with_ttl("session:2", "bob", Duration::from_secs(5))?;
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(cache.get("session:1"), Some("alice"));
/// assert_eq!(cache.get("session:2"), None); // expired at exactly 5 s
/// assert_eq!(cache.len(), 1);
/// # Ok::<(), latchwork::ttl::Error>(())
/// ```
pub struct TtlCache<K, V, C = SystemClock, S = DefaultHashBuilder> {
    shards: Box<[PaddedShard<K, V, S>]>,
    shard_mask: usize,
    hasher: S,
    clock: C,
    default_ttl: u64,
    resolution: u64,
    capacity: Option<usize>,
    stats: StripedCounters<5>,
}

/// Builder for [`TtlCache`]; see [`TtlCache::builder`].
pub struct TtlCacheBuilder<K, V, C = SystemClock, S = DefaultHashBuilder> {
    default_ttl: Duration,
    capacity: Option<usize>,
    shards: Option<usize>,
    resolution: Duration,
    clock: C,
    hasher: S,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V, C: fmt::Debug, S> fmt::Debug for TtlCacheBuilder<K, V, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlCacheBuilder")
            .field("default_ttl", &self.default_ttl)
            .field("capacity", &self.capacity)
            .field("shards", &self.shards)
            .field("resolution", &self.resolution)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq, V, C: Clock, S: BuildHasher + Clone> TtlCacheBuilder<K, V, C, S> {
    /// TTL of [`TtlCache::insert`]. Default: 60 s.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// Bound on live entries (split evenly over shards). Default: unbounded.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Number of shards, rounded up to a power of two. Default: 32 x the
    /// available parallelism (no more than the capacity).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Length of one timer-wheel tick: expired entries are reclaimed at this
    /// granularity (they are never *returned* after their deadline, whatever
    /// the resolution). Default: 1 ms.
    pub fn resolution(mut self, resolution: Duration) -> Self {
        self.resolution = resolution;
        self
    }

    /// The clock, for example a [`ManualClock`](crate::clock::ManualClock).
    pub fn clock<C2: Clock>(self, clock: C2) -> TtlCacheBuilder<K, V, C2, S> {
        TtlCacheBuilder {
            default_ttl: self.default_ttl,
            capacity: self.capacity,
            shards: self.shards,
            resolution: self.resolution,
            clock,
            hasher: self.hasher,
            _types: PhantomData,
        }
    }

    /// The hasher, for example a DoS-resistant one for untrusted keys.
    pub fn hasher<S2: BuildHasher + Clone>(self, hasher: S2) -> TtlCacheBuilder<K, V, C, S2> {
        TtlCacheBuilder {
            default_ttl: self.default_ttl,
            capacity: self.capacity,
            shards: self.shards,
            resolution: self.resolution,
            clock: self.clock,
            hasher,
            _types: PhantomData,
        }
    }

    /// Builds the cache.
    ///
    /// # Errors
    /// [`Error::ZeroTtl`], [`Error::ZeroCapacity`], [`Error::ZeroShards`],
    /// [`Error::ZeroResolution`] or [`Error::CapacityTooLarge`].
    pub fn build(self) -> Result<TtlCache<K, V, C, S>, Error> {
        let default_ttl = checked_ttl(self.default_ttl)?;
        let resolution = duration_to_nanos(self.resolution);
        if resolution == 0 {
            return Err(Error::ZeroResolution);
        }
        if self.capacity == Some(0) {
            return Err(Error::ZeroCapacity);
        }
        if self.shards == Some(0) {
            return Err(Error::ZeroShards);
        }
        let n = shard::count(self.shards, self.capacity, 1);
        let now_tick = self.clock.now_nanos() / resolution;
        let shards = (0..n)
            .map(|i| {
                let cap = match self.capacity {
                    Some(cap) => shard::capacity_of(cap, n, i),
                    None => Arena::<()>::MAX_LEN,
                };
                let lru = LruCache::with_hasher(cap, self.hasher.clone()).map_err(|_| {
                    Error::CapacityTooLarge {
                        requested: self.capacity.unwrap_or(cap),
                    }
                })?;
                Ok(CachePadded::new(Mutex::new(Shard {
                    lru,
                    wheel: Wheel::new(now_tick),
                })))
            })
            .collect::<Result<Box<[_]>, Error>>()?;
        Ok(TtlCache {
            shards,
            shard_mask: n - 1,
            hasher: self.hasher,
            clock: self.clock,
            default_ttl,
            resolution,
            capacity: self.capacity,
            stats: StripedCounters::new(),
        })
    }
}

fn checked_ttl(ttl: Duration) -> Result<u64, Error> {
    match duration_to_nanos(ttl) {
        0 => Err(Error::ZeroTtl),
        n => Ok(n),
    }
}

impl<K: Hash + Eq, V> TtlCache<K, V> {
    /// An unbounded cache on the system clock whose `insert` uses
    /// `default_ttl`.
    ///
    /// # Errors
    /// [`Error::ZeroTtl`] for a zero TTL.
    pub fn new(default_ttl: Duration) -> Result<Self, Error> {
        Self::builder().default_ttl(default_ttl).build()
    }

    /// A builder (default TTL 60 s, unbounded, system clock).
    pub fn builder() -> TtlCacheBuilder<K, V> {
        TtlCacheBuilder {
            default_ttl: Duration::from_secs(60),
            capacity: None,
            shards: None,
            resolution: Duration::from_millis(1),
            clock: SystemClock,
            hasher: DefaultHashBuilder::default(),
            _types: PhantomData,
        }
    }
}

impl<K: Hash + Eq, V, C: Clock, S: BuildHasher> TtlCache<K, V, C, S> {
    #[inline]
    fn shard(&self, hash: u64) -> &Mutex<Shard<K, V, S>> {
        &self.shards[shard::index(hash, self.shard_mask)]
    }

    /// A clone of the live value for `key`, marking it recently used.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let hash = self.hasher.hash_one(key);
        let now = self.clock.now_nanos();
        let (value, expired) = {
            let mut shard = self.shard(hash).lock();
            let mut expired = shard.expire(now, self.resolution);
            let value = match shard.lru.find(hash, key) {
                Some(i) => match shard.lru.value_at(i) {
                    Some(e) if e.deadline > now => {
                        let v = e.value.clone();
                        // Recency only matters to a bounded cache.
                        if self.capacity.is_some() {
                            shard.lru.touch_with(i, |_| {});
                        }
                        Some(v)
                    }
                    Some(_) => {
                        // Expired within the tick in progress: lazy removal.
                        shard.lru.remove_index(i);
                        expired += 1;
                        None
                    }
                    None => None,
                },
                None => None,
            };
            (value, expired)
        };
        self.count_expired(expired);
        self.stats.incr(if value.is_some() { HITS } else { MISSES });
        value
    }

    /// Inserts `key -> value` with the default TTL, replacing any value.
    pub fn insert(&self, key: K, value: V) {
        self.insert_nanos(key, value, self.default_ttl);
    }

    /// Inserts `key -> value` expiring `ttl` from now, replacing any value.
    ///
    /// # Errors
    /// [`Error::ZeroTtl`]; the cache is unchanged.
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) -> Result<(), Error> {
        self.insert_nanos(key, value, checked_ttl(ttl)?);
        Ok(())
    }

    fn insert_nanos(&self, key: K, value: V, ttl: u64) {
        let hash = self.hasher.hash_one(&key);
        let now = self.clock.now_nanos();
        let deadline = now.saturating_add(ttl);
        let (upsert, expired) = {
            let mut shard = self.shard(hash).lock();
            let mut expired = shard.expire(now, self.resolution);
            if shard.lru.len() >= shard.lru.capacity() && shard.lru.find(hash, &key).is_none() {
                // Full: expired entries go before any live one is evicted.
                expired += shard.expire_exact(now, self.resolution);
            }
            let (index, upsert) = shard.lru.upsert(hash, key, Entry { value, deadline });
            shard.wheel.insert(Timer {
                index,
                tick: tick_of(deadline, self.resolution),
            });
            shard.compact_if_stale(self.resolution);
            (upsert, expired)
        };
        self.count_expired(expired);
        self.stats.incr(INSERTS);
        if let Upsert::Evicted(_) = upsert {
            self.stats.incr(EVICTIONS);
        }
        // `upsert` (a replaced or evicted pair) drops here, outside the lock.
    }

    /// Removes `key`; returns whether it was present and live.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let now = self.clock.now_nanos();
        let (removed, expired) = {
            let mut shard = self.shard(hash).lock();
            let mut expired = shard.expire(now, self.resolution);
            let removed = match shard.lru.find(hash, key) {
                Some(i) => shard.lru.remove_index(i),
                None => None,
            };
            let live = removed.as_ref().is_some_and(|(_, e)| e.deadline > now);
            if removed.is_some() && !live {
                expired += 1;
            }
            (live, expired)
        };
        self.count_expired(expired);
        removed
    }

    /// Whether `key` has a live entry (does not count as a hit or touch).
    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let now = self.clock.now_nanos();
        let shard = self.shard(hash).lock();
        shard
            .lru
            .find(hash, key)
            .and_then(|i| shard.lru.value_at(i))
            .is_some_and(|e| e.deadline > now)
    }

    /// Number of live entries. Reclaims every expired entry first, so the
    /// count is exact at the moment each shard is visited.
    pub fn len(&self) -> usize {
        let now = self.clock.now_nanos();
        let mut expired = 0;
        let len = self
            .shards
            .iter()
            .map(|s| {
                let mut shard = s.lock();
                expired += shard.expire_exact(now, self.resolution);
                shard.lru.len()
            })
            .sum();
        self.count_expired(expired);
        len
    }

    /// Whether no live entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries held, expired-but-not-yet-reclaimed ones included: what the
    /// cache's memory is spent on. Cheaper than [`len`](Self::len), which
    /// reclaims first.
    pub fn entries_held(&self) -> usize {
        self.shards.iter().map(|s| s.lock().lru.len()).sum()
    }

    /// Removes every expired entry and returns how many it removed (those
    /// already reclaimed by earlier calls are not counted again).
    pub fn cleanup_expired(&self) -> usize {
        let now = self.clock.now_nanos();
        let n = self
            .shards
            .iter()
            .map(|s| s.lock().expire_exact(now, self.resolution))
            .sum();
        self.count_expired(n);
        n
    }

    /// Removes every entry.
    pub fn clear(&self) {
        let now_tick = self.clock.now_nanos() / self.resolution;
        for s in self.shards.iter() {
            let mut shard = s.lock();
            shard.lru.clear();
            let elapsed = now_tick.max(shard.wheel.elapsed());
            shard.wheel.clear(elapsed);
        }
    }

    /// Hits, misses, inserts, evictions and expirations so far.
    pub fn stats(&self) -> TtlStats {
        TtlStats {
            hits: self.stats.sum(HITS),
            misses: self.stats.sum(MISSES),
            inserts: self.stats.sum(INSERTS),
            evictions: self.stats.sum(EVICTIONS),
            expirations: self.stats.sum(EXPIRATIONS),
        }
    }

    /// The bound on live entries, if any.
    pub fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    /// The TTL [`insert`](Self::insert) uses.
    pub fn default_ttl(&self) -> Duration {
        Duration::from_nanos(self.default_ttl)
    }

    /// The cache's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    pub(crate) fn hasher(&self) -> &S {
        &self.hasher
    }

    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Heap bytes of the shards' arenas, indexes and wheels.
    pub fn heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let shard = s.lock();
                shard.lru.heap_bytes() + shard.wheel.heap_bytes()
            })
            .sum()
    }

    /// Checks every shard's invariants; for tests and fuzz targets.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        for s in self.shards.iter() {
            let shard = s.lock();
            shard.lru.check_invariants()?;
            if shard.wheel.len() < shard.lru.len() {
                return Err("fewer expiry hints than entries".into());
            }
        }
        Ok(())
    }

    #[inline]
    fn count_expired(&self, n: usize) {
        if n > 0 {
            self.stats.add(EXPIRATIONS, n as u64);
        }
    }
}

impl<K, V, C: fmt::Debug, S> fmt::Debug for TtlCache<K, V, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlCache")
            .field("shards", &self.shards.len())
            .field("capacity", &self.capacity)
            .field("default_ttl", &Duration::from_nanos(self.default_ttl))
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}
