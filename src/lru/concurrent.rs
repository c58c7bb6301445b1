use super::cache::Upsert;
use super::read_buffer::{ReadBuffer, Recorded};
use super::{Error, LruCache};
use crate::counter::StripedCounters;
use crate::shard;
use crate::sync::RwLock;
use crate::DefaultHashBuilder;
use crossbeam_utils::CachePadded;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

const HITS: usize = 0;
const MISSES: usize = 1;
const INSERTS: usize = 2;
const EVICTIONS: usize = 3;

/// Counters of a [`ConcurrentLru`]. Read with relaxed loads: exact when the
/// cache is quiet, a near-snapshot while threads use it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// `get` calls that found their key.
    pub hits: u64,
    /// `get` calls that did not.
    pub misses: u64,
    /// `insert` calls (new keys and updates).
    pub inserts: u64,
    /// Entries evicted to make room.
    pub evictions: u64,
}

impl CacheStats {
    /// `hits / (hits + misses)`, or 0.0 before any `get`.
    pub fn hit_ratio(&self) -> f64 {
        crate::counter::ratio(self.hits, self.misses)
    }
}

/// A cached value and the segment tick of its last promotion.
struct Entry<V> {
    value: V,
    stamp: u32,
}

/// One shard's LRU and its promotion clock, guarded by the shard lock.
struct Segment<K, V, S> {
    lru: LruCache<K, Entry<V>, S>,
    /// Counts promotions and inserts (wrapping).
    tick: u32,
    /// A hit on an entry promoted fewer than `window` ticks ago is not
    /// recorded: at most `window` entries can have moved above it, so it is
    /// already in the most recent `window` positions. 0 records every hit.
    window: u32,
}

impl<K: Hash + Eq, V, S: BuildHasher> Segment<K, V, S> {
    #[inline]
    fn next_tick(&mut self) -> u32 {
        self.tick = self.tick.wrapping_add(1);
        self.tick
    }

    #[inline]
    fn promote(&mut self, i: u32) {
        let tick = self.next_tick();
        self.lru.touch_with(i, |e| e.stamp = tick);
    }

    /// Whether a hit on `entry` is worth recording.
    #[inline]
    fn wants_promotion(&self, entry: &Entry<V>) -> bool {
        self.tick.wrapping_sub(entry.stamp) >= self.window
    }
}

struct Shard<K, V, S> {
    lru: RwLock<Segment<K, V, S>>,
    reads: ReadBuffer,
}

impl<K: Hash + Eq, V, S: BuildHasher> Shard<K, V, S> {
    /// The write lock, with every recorded hit replayed: the invariant that
    /// no write section changes the arena before draining keeps recorded
    /// indices valid.
    #[inline]
    fn write(&self) -> crate::sync::RwLockWriteGuard<'_, Segment<K, V, S>> {
        let mut seg = self.lru.write();
        self.reads.drain(|i| seg.promote(i));
        seg
    }
}

/// A sharded LRU cache shared by `&self` across threads.
///
/// Keys are spread by hash over a power-of-two number of shards, each an
/// arena [`LruCache`] behind a reader-writer lock. A `get` takes only its
/// shard's *read* lock: it clones the value and records the hit in the
/// shard's lossy read buffer (one CAS), so hits on one shard proceed in
/// parallel. The recorded hits are replayed into the LRU order in batches by
/// whoever next holds the write lock: an `insert`, a `remove`, or a reader
/// that finds the buffer half full and wins a `try_write`.
///
/// Eviction is LRU per shard. Every write replays pending hits before it
/// evicts, so from one thread the cache behaves exactly like a set of strict
/// LRU shards; under contention a hit may be dropped from the buffer, which
/// makes the order approximate (the entry may be evicted a little early),
/// never the contents wrong.
///
/// `get` returns a clone of the value: cheap for small values, and for large
/// ones store an `Arc<V>` so the clone is a reference-count increment.
///
/// ```
/// use latchwork::lru::ConcurrentLru;
/// use std::sync::Arc;
///
/// let cache = Arc::new(ConcurrentLru::new(1_000)?);
/// let handles: Vec<_> = (0..4u64)
///     .map(|t| {
///         let cache = Arc::clone(&cache);
///         std::thread::spawn(move || {
///             for i in 0..100 {
///                 cache.insert(t * 1_000 + i, i);
///                 assert_eq!(cache.get(&(t * 1_000 + i)), Some(i));
///             }
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(cache.len(), 400);
/// assert_eq!(cache.stats().hits, 400);
/// # Ok::<(), latchwork::lru::Error>(())
/// ```
pub struct ConcurrentLru<K, V, S = DefaultHashBuilder> {
    shards: Box<[CachePadded<Shard<K, V, S>>]>,
    shard_mask: usize,
    hasher: S,
    capacity: usize,
    stats: StripedCounters<4>,
}

/// Builder for [`ConcurrentLru`]; see [`ConcurrentLru::builder`].
pub struct ConcurrentLruBuilder<K, V, S = DefaultHashBuilder> {
    capacity: usize,
    shards: Option<usize>,
    strict: bool,
    hasher: S,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V, S> fmt::Debug for ConcurrentLruBuilder<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrentLruBuilder")
            .field("capacity", &self.capacity)
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq, V, S: BuildHasher + Clone> ConcurrentLruBuilder<K, V, S> {
    /// Number of shards, rounded up to a power of two and clamped so each
    /// shard holds at least one entry. Default: 32 x the available
    /// parallelism, but no shard smaller than 32 entries.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Records every hit, so that from one thread each shard is an exact
    /// LRU. By default a hit is not recorded when fewer than half a shard's
    /// capacity of promotions and inserts happened since the entry was last
    /// promoted (it is then certainly in the most recent half): this saves
    /// the buffer write and the replay for hot keys, and all of them when
    /// nothing is being inserted, at a cost of under half a percentage point
    /// of hit ratio on the Zipf(0.99) trace (see `docs/benchmarks.md`).
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The hasher, for example a DoS-resistant one for untrusted keys.
    pub fn hasher<S2: BuildHasher + Clone>(self, hasher: S2) -> ConcurrentLruBuilder<K, V, S2> {
        ConcurrentLruBuilder {
            capacity: self.capacity,
            shards: self.shards,
            strict: self.strict,
            hasher,
            _types: PhantomData,
        }
    }

    /// Builds the cache.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`], [`Error::CapacityTooLarge`] (per shard), or
    /// [`Error::ZeroShards`].
    pub fn build(self) -> Result<ConcurrentLru<K, V, S>, Error> {
        if self.capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        if self.shards == Some(0) {
            return Err(Error::ZeroShards);
        }
        // Shards of 32+ entries keep per-shard LRU close to a global one.
        let n = shard::count(self.shards, Some(self.capacity), 32);
        let shards = (0..n)
            .map(|i| {
                let cap = shard::capacity_of(self.capacity, n, i);
                let window = if self.strict { 0 } else { (cap / 2) as u32 };
                Ok(CachePadded::new(Shard {
                    lru: RwLock::new(Segment {
                        lru: LruCache::with_hasher(cap, self.hasher.clone())?,
                        tick: 0,
                        window,
                    }),
                    reads: ReadBuffer::new(),
                }))
            })
            .collect::<Result<Box<[_]>, Error>>()?;
        Ok(ConcurrentLru {
            shards,
            shard_mask: n - 1,
            hasher: self.hasher,
            capacity: self.capacity,
            stats: StripedCounters::new(),
        })
    }
}

impl<K: Hash + Eq, V> ConcurrentLru<K, V> {
    /// A cache of `capacity` entries with the default shard count and hasher.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`] for 0.
    pub fn new(capacity: usize) -> Result<Self, Error> {
        Self::builder(capacity).build()
    }

    /// A builder for a cache of `capacity` entries.
    pub fn builder(capacity: usize) -> ConcurrentLruBuilder<K, V> {
        ConcurrentLruBuilder {
            capacity,
            shards: None,
            strict: false,
            hasher: DefaultHashBuilder::default(),
            _types: PhantomData,
        }
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> ConcurrentLru<K, V, S> {
    #[inline]
    fn shard(&self, hash: u64) -> &Shard<K, V, S> {
        // hashbrown uses the low bits for the bucket and the top 7 for its
        // tag; take the shard from bits above 32 so they stay independent.
        &self.shards[shard::index(hash, self.shard_mask)]
    }

    /// A clone of the value for `key`, recording the hit for LRU order.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash);
        let seg = shard.lru.read();
        let Some(i) = seg.lru.find(hash, key) else {
            drop(seg);
            self.stats.incr(MISSES);
            return None;
        };
        let entry = seg.lru.value_at(i)?;
        let value = entry.value.clone();
        // Recorded under the read lock: a drain needs the write lock, so it
        // never overlaps this record, and index `i` cannot be reused before
        // the hit is replayed (every write section drains first).
        let recorded = if seg.wants_promotion(entry) {
            shard.reads.record(i)
        } else {
            Recorded::Ok
        };
        drop(seg);
        self.stats.incr(HITS);
        if recorded == Recorded::ShouldDrain {
            if let Some(mut seg) = shard.lru.try_write() {
                shard.reads.drain(|i| seg.promote(i));
            }
        }
        Some(value)
    }

    /// The value for `key` without recording a hit or touching the stats.
    pub fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let hash = self.hasher.hash_one(key);
        let seg = self.shard(hash).lru.read();
        let i = seg.lru.find(hash, key)?;
        seg.lru.value_at(i).map(|e| e.value.clone())
    }

    /// Whether `key` is cached, without recording a hit.
    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        self.shard(hash).lru.read().lru.find(hash, key).is_some()
    }

    /// Inserts or updates `key`, making it most recently used in its shard,
    /// and returns the pair evicted to make room, if any.
    pub fn insert(&self, key: K, value: V) -> Option<(K, V)> {
        let hash = self.hasher.hash_one(&key);
        let shard = self.shard(hash);
        let upsert = {
            let mut seg = shard.write();
            let stamp = seg.next_tick();
            seg.lru.upsert(hash, key, Entry { value, stamp }).1
        };
        // Counting and dropping the displaced value happen outside the lock.
        self.stats.incr(INSERTS);
        match upsert {
            Upsert::Evicted((k, e)) => {
                self.stats.incr(EVICTIONS);
                Some((k, e.value))
            }
            Upsert::Inserted | Upsert::Updated(_) => None,
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash);
        shard.write().lru.remove(key).map(|e| e.value)
    }

    /// Number of entries, summed over shards (a near-snapshot under writes).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lru.read().lru.len()).sum()
    }

    /// Whether no shard holds an entry.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.lru.read().lru.is_empty())
    }

    /// Total capacity over all shards.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Removes every entry (shard by shard; not atomic across shards).
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            shard.write().lru.clear();
        }
    }

    /// Hits, misses, inserts and evictions so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.stats.sum(HITS),
            misses: self.stats.sum(MISSES),
            inserts: self.stats.sum(INSERTS),
            evictions: self.stats.sum(EVICTIONS),
        }
    }

    /// Sets every counter back to zero.
    pub fn reset_stats(&self) {
        self.stats.reset();
    }

    /// Heap bytes held by the shards' arenas and indexes.
    pub fn heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lru.read().lru.heap_bytes())
            .sum::<usize>()
            + self.shards.len() * std::mem::size_of::<CachePadded<Shard<K, V, S>>>()
    }

    /// Checks every shard's invariants; for tests and fuzz targets.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        for s in self.shards.iter() {
            s.lru.read().lru.check_invariants()?;
        }
        Ok(())
    }
}

impl<K, V, S> fmt::Debug for ConcurrentLru<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrentLru")
            .field("capacity", &self.capacity)
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}
