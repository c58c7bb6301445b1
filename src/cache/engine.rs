use super::builder::CacheBuilder;
use super::climber::{self, Climber};
use super::flight::{current_thread, Flight, Outcome, SharedError, State};
use super::read_buffer::{ReadBuffer, Recorded};
use super::segment::{Removals, Segment, EXPIRE_BUDGET, NEVER};
use super::{CacheStats, Policy, RemovalCause};
use crate::clock::{duration_to_nanos, Clock, SystemClock};
use crate::counter::StripedCounters;
use crate::shard;
use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::sync::{Mutex, RwLock, RwLockWriteGuard};
use crate::DefaultHashBuilder;
use crossbeam_utils::CachePadded;
use std::borrow::Borrow;
use std::convert::Infallible;
use std::fmt;
#[cfg(feature = "async")]
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
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
    seg: RwLock<Segment<K, V>>,
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
    fn write(&self) -> RwLockWriteGuard<'_, Segment<K, V>> {
        let mut seg = self.seg.write();
        self.reads.drain(|i| seg.on_hit(i));
        seg
    }
}

/// The adaptive window of a bounded TinyLFU cache: the climber and the
/// share word it publishes to the shards (see `climber.rs`).
pub(crate) struct Adaptive {
    pub(crate) word: crate::sync::Arc<AtomicU64>,
    climber: Mutex<Climber>,
}

impl Adaptive {
    pub(crate) fn new(capacity: u64) -> Self {
        let climber = Climber::new(capacity);
        Adaptive {
            word: crate::sync::Arc::new(AtomicU64::new(climber::to_word(climber.share()))),
            climber: Mutex::new(climber),
        }
    }
}

/// The settings a built cache keeps.
pub(crate) struct Config<K, V> {
    pub(crate) policy: Policy,
    pub(crate) max_capacity: Option<u64>,
    /// Nanoseconds; `None` for none.
    pub(crate) ttl: Option<u64>,
    pub(crate) tti: Option<u64>,
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
    shards: Box<[CachePadded<Shard<K, V>>]>,
    mask: usize,
    hasher: S,
    clock: C,
    config: Config<K, V>,
    /// Total weight, kept only with a weigher (for the cache-wide bound).
    /// Relaxed: the segments hold the truth under their locks; this is a
    /// running sum used to decide whether to evict across shards.
    total: CachePadded<AtomicU64>,
    /// Where the cache-wide eviction looks next.
    cursor: AtomicUsize,
    /// Whether any entry was given its own TTL (then writes read the clock).
    /// Relaxed: a hint; the segment's own state decides under its lock.
    per_entry_ttl: AtomicBool,
    stats: StripedCounters<COUNTERS>,
    adaptive: Option<Adaptive>,
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

/// Who leads a load, or what to wait on.
enum Role<V> {
    Found(V),
    Wait(Arc<Flight<V>>),
    Lead(Arc<Flight<V>>),
    /// The key's flight runs its loader on this very thread: the caller is
    /// that loader, asking for its own key.
    Reentered,
}

impl<K: Hash + Eq, V, S: BuildHasher, C: Clock> Cache<K, V, S, C> {
    pub(crate) fn from_parts(
        shards: Box<[CachePadded<Shard<K, V>>]>,
        hasher: S,
        clock: C,
        config: Config<K, V>,
        adaptive: Option<Adaptive>,
    ) -> Self {
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
            adaptive,
        }
    }

    /// Gives the window climber a look at the hit counters (a writer calls
    /// this every 64 new keys of its shard). A writer that finds the
    /// climber busy goes on: the next look catches up.
    #[cold]
    fn climb(&self) {
        let Some(a) = &self.adaptive else {
            return;
        };
        let Some(mut c) = a.climber.try_lock() else {
            return;
        };
        let hits = self.stats.sum(HITS);
        let requests = hits.saturating_add(self.stats.sum(MISSES));
        if requests < c.due_at() {
            return;
        }
        if let Some(share) = c.observe(requests, hits) {
            // Relaxed: see `Segment::shared_window`.
            a.word.store(climber::to_word(share), Ordering::Relaxed);
        }
    }

    #[inline]
    fn shard_index(&self, hash: u64) -> usize {
        shard::index(hash, self.mask)
    }

    #[inline]
    fn uses_expiry(&self) -> bool {
        self.config.ttl.is_some()
            || self.config.tti.is_some()
            || self.per_entry_ttl.load(Ordering::Relaxed)
    }

    /// The clock reading for a write, for `Segment::clamp_now`, which takes
    /// it once the shard's write lock is held (`None` when nothing expires).
    /// Read before waiting for the lock, it could be older than the time
    /// another writer set meanwhile, and the wait would count as the clock
    /// stepping back (see `crate::clock::AtomicClamp::write`).
    #[inline]
    fn write_now(&self) -> impl FnOnce() -> Option<u64> + Copy + '_ {
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
    fn get_hashed<Q>(&self, hash: u64, key: &Q) -> Option<V>
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
            }
            let node = seg.node(i)?;
            Some((i, node.value.clone(), seg.wants_hit(node)))
        });
        let Some((i, value, wanted)) = hit else {
            drop(seg);
            self.stats.incr(MISSES);
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
    fn deadlines(&self, now: u64, ttl: Option<u64>) -> (u64, u64) {
        let hard = ttl.map_or(NEVER, |t| now.saturating_add(t).min(NEVER - 1));
        let idle = self
            .config
            .tti
            .map_or(NEVER, |t| now.saturating_add(t).min(NEVER - 1));
        (hard.min(idle), hard)
    }

    #[inline]
    fn weigh(&self, key: &K, value: &V) -> u32 {
        self.config
            .weigher
            .as_ref()
            .map_or(1, |w| w(key, value).max(1))
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
            let (before, after) = {
                let mut seg = self.shards[idx].write();
                seg.flights.cancel(hash, &key);
                let before = seg.weight();
                if let Some(i) = seg.find(hash, &key) {
                    seg.remove_index(i, &self.hasher, RemovalCause::Replaced, &mut out);
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
        let (stored, before, after, climb) = {
            let mut seg = self.shards[idx].write();
            let now = seg.clamp_now(now);
            let (deadline, hard) = self.deadlines(now, ttl);
            seg.flights.cancel(hash, &key);
            let before = seg.weight();
            seg.expire(now, EXPIRE_BUDGET, &self.hasher, &mut out);
            let stored = seg
                .upsert(
                    hash,
                    key,
                    value,
                    weight,
                    deadline,
                    hard,
                    &self.hasher,
                    &mut out,
                )
                .is_some();
            (stored, before, seg.weight(), seg.climb_due())
        };
        if climb {
            self.climb();
        }
        self.stats.incr(INSERTS);
        self.account(idx, before, after);
        self.notify(out);
        stored
    }

    /// Keeps the cache-wide weight (with a weigher) and restores the bound
    /// when a shard holds an entry heavier than its share.
    fn account(&self, idx: usize, before: u64, after: u64) {
        if self.config.weigher.is_none() {
            return;
        }
        // Relaxed: see `total`.
        if after >= before {
            self.total.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.total.fetch_sub(before - after, Ordering::Relaxed);
        }
        let Some(max) = self.config.max_capacity else {
            return;
        };
        // The other shards first, round-robin from a moving start so no
        // shard is drained alone; the writer's own shard (where the heavy
        // entry just went) only once the others have nothing left.
        let n = self.shards.len();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        let mut idle = 0;
        let mut step = 0usize;
        while self.total.load(Ordering::Relaxed) > max {
            let j = if idle >= n {
                idx
            } else {
                step += 1;
                (start + step) & self.mask
            };
            if j == idx && idle < n {
                idle += 1;
                continue;
            }
            let mut out = Removals::new();
            let (evicted, freed) = {
                let mut seg = self.shards[j].write();
                let before = seg.weight();
                let evicted = seg.evict_one(&self.hasher, &mut out);
                (evicted, before - seg.weight())
            };
            self.total.fetch_sub(freed, Ordering::Relaxed);
            self.notify(out);
            if evicted {
                idle = 0;
            } else if j == idx {
                break; // nothing left anywhere
            } else {
                idle += 1;
            }
        }
    }

    /// Counts and reports removals, outside every lock; the values drop here.
    fn notify(&self, out: Removals<K, V>) {
        if out.is_empty() {
            return;
        }
        for (key, value, cause) in out.into_iter() {
            self.stats.incr(match cause {
                RemovalCause::Size => EVICTIONS,
                RemovalCause::Expired => EXPIRATIONS,
                RemovalCause::Explicit => INVALIDATIONS,
                RemovalCause::Replaced => REPLACEMENTS,
            });
            if let Some(listener) = &self.config.listener {
                if catch_unwind(AssertUnwindSafe(|| listener(&key, &value, cause))).is_err() {
                    self.stats.incr(LISTENER_PANICS);
                }
            }
        }
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

    /// The value for `key`, or the value `init` computes, which is then
    /// inserted. Concurrent callers for one missing key run one `init`: the
    /// others wait for it and receive its value.
    ///
    /// # Panics
    /// If `init` panics, or the weigher, `V::clone`, the clock or the key's
    /// `Hash` or `Eq` panics while the value is stored, the panic
    /// propagates to this caller, nothing is stored, the key is left
    /// loadable and the waiting callers start over (one of them runs its
    /// own `init`).
    ///
    /// If `init` asks for `key` itself (through any loading method,
    /// blocking or async, on the thread `init` runs on), that inner call
    /// panics with a message saying the key's loader re-entered the cache:
    /// it would otherwise wait on itself forever. A loader that waits for
    /// its own key on *another* thread is not detected and deadlocks.
    pub fn get_or_insert_with(&self, key: K, init: impl FnOnce() -> V) -> V
    where
        K: Clone,
        V: Clone,
    {
        match self.load(key, || Ok::<V, Infallible>(init())) {
            Ok(v) => v,
            Err(e) => match *e {},
        }
    }

    /// As [`get_or_insert_with`](Self::get_or_insert_with) with a fallible
    /// `init`: an error is returned to this caller and to every caller that
    /// waited on the same load, and nothing is cached, so the next call
    /// loads again.
    ///
    /// # Errors
    /// The error `init` (this caller's, or the one it waited on) returned.
    ///
    /// # Panics
    /// As [`get_or_insert_with`](Self::get_or_insert_with), re-entrance
    /// included (a re-entered load panics rather than returning an error:
    /// `E` is the caller's type).
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, Arc<E>>
    where
        K: Clone,
        V: Clone,
        E: Send + Sync + 'static,
    {
        self.load(key, init)
    }

    /// The async form of [`get_or_insert_with`](Self::get_or_insert_with):
    /// the value for `key`, or the value the future `init` produces, which
    /// is then inserted. Concurrent callers for one missing key, blocking
    /// or async, share one load: the leader awaits its `init`, the others
    /// wait on the same flight (a task registers its waker where a thread
    /// would park). `init` needs no `'static` bound and is polled in the
    /// caller's task; it is dropped unpolled if the key is found or
    /// another caller's load is awaited.
    ///
    /// ```
    /// use latchwork::cache::Cache;
    /// # let block_on = futures::executor::block_on;
    /// let cache = Cache::new(100)?;
    /// let local = String::from("borrowed, not 'static");
    /// let v = block_on(cache.get_or_insert_async("k", async { local.len() }));
    /// assert_eq!(v, 21);
    /// # Ok::<(), latchwork::cache::Error>(())
    /// ```
    ///
    /// # Cancel safety
    /// Dropping the future of a *waiting* caller removes its waker and
    /// changes nothing else. Dropping the future of the *leading* caller
    /// (its `init` is dropped mid-load) behaves like a panicking loader:
    /// the flight is marked abandoned and unregistered, nothing is stored,
    /// and one waiting caller (thread or task) runs its own `init` instead.
    /// No caller waits forever and no key is left stuck.
    ///
    /// # Panics
    /// As [`get_or_insert_with`](Self::get_or_insert_with). Re-entrance is
    /// caught while `init` is being polled: a call for `key` polled from
    /// inside `init` (awaited by it, or a blocking call made in it) panics.
    /// Two calls for one key joined in one task (`join!`) are not
    /// re-entrance: the second waits for the first. A loader that awaits a
    /// *spawned* task loading its own key is not detected and never
    /// completes.
    #[cfg(feature = "async")]
    pub async fn get_or_insert_async(&self, key: K, init: impl Future<Output = V>) -> V
    where
        K: Clone,
        V: Clone,
    {
        let init = async { Ok::<V, Infallible>(init.await) };
        match self.load_async(key, init).await {
            Ok(v) => v,
            Err(e) => match *e {},
        }
    }

    /// The async form of
    /// [`try_get_or_insert_with`](Self::try_get_or_insert_with): an error is
    /// returned to this caller and every caller that waited on the same
    /// load, and nothing is cached.
    ///
    /// # Errors
    /// The error `init` (this caller's, or the one it waited on) returned.
    ///
    /// # Cancel safety
    /// As [`get_or_insert_async`](Self::get_or_insert_async).
    ///
    /// # Panics
    /// As [`get_or_insert_async`](Self::get_or_insert_async).
    #[cfg(feature = "async")]
    pub async fn try_get_or_insert_async<E>(
        &self,
        key: K,
        init: impl Future<Output = Result<V, E>>,
    ) -> Result<V, Arc<E>>
    where
        K: Clone,
        V: Clone,
        E: Send + Sync + 'static,
    {
        self.load_async(key, init).await
    }

    /// `load` with an awaited loader: the same flight protocol, the same
    /// guard (dropped with the future if it is cancelled mid-load).
    #[cfg(feature = "async")]
    async fn load_async<E>(
        &self,
        key: K,
        init: impl Future<Output = Result<V, E>>,
    ) -> Result<V, Arc<E>>
    where
        K: Clone,
        V: Clone,
        E: Send + Sync + 'static,
    {
        let hash = self.hasher.hash_one(&key);
        if let Some(v) = self.get_hashed(hash, &key) {
            return Ok(v);
        }
        let idx = self.shard_index(hash);
        let lead = loop {
            match self.role(idx, hash, &key, false) {
                Role::Found(v) => return Ok(v),
                Role::Wait(f) => {
                    if let Some(done) = waited(f.wait_async().await) {
                        return done;
                    }
                }
                Role::Lead(flight) => break Lead::new(self, idx, hash, flight),
                Role::Reentered => reentered(),
            }
        };
        self.stats.incr(LOADS);
        let mut init = std::pin::pin!(init);
        // Each poll of `init` records this thread on the flight: a call
        // for the same key polled from inside it (the loader awaiting its
        // own key) is caught instead of pending forever.
        let result =
            std::future::poll_fn(|cx| lead.flight.running(|| init.as_mut().poll(cx))).await;
        self.finish_load(lead, key, result)
    }

    fn load<E>(&self, key: K, init: impl FnOnce() -> Result<V, E>) -> Result<V, Arc<E>>
    where
        K: Clone,
        V: Clone,
        E: Send + Sync + 'static,
    {
        let hash = self.hasher.hash_one(&key);
        if let Some(v) = self.get_hashed(hash, &key) {
            return Ok(v);
        }
        let idx = self.shard_index(hash);
        let lead = loop {
            match self.role(idx, hash, &key, true) {
                Role::Found(v) => return Ok(v),
                Role::Wait(f) => {
                    if let Some(done) = waited(f.wait()) {
                        return done;
                    }
                }
                Role::Lead(flight) => break Lead::new(self, idx, hash, flight),
                Role::Reentered => reentered(),
            }
        };
        self.stats.incr(LOADS);
        let result = init();
        self.finish_load(lead, key, result)
    }

    /// Under the shard's write lock: the entry, the flight to wait on, or a
    /// new flight this caller leads (`blocking`: its loader runs on this
    /// thread until it returns).
    fn role(&self, idx: usize, hash: u64, key: &K, blocking: bool) -> Role<V>
    where
        K: Clone,
        V: Clone,
    {
        let now = self.write_now();
        let mut seg = self.shards[idx].write();
        let now = seg.clamp_now(now);
        if let Some(n) = seg
            .find(hash, key)
            .filter(|&i| seg.live(i, || now))
            .and_then(|i| seg.node(i))
        {
            return Role::Found(n.value.clone());
        }
        let me = current_thread();
        match seg.flights.find(hash, key) {
            Some(f) if f.runs_on(me) => Role::Reentered,
            Some(f) => Role::Wait(f),
            None => Role::Lead(seg.flights.start(hash, key.clone(), blocking.then_some(me))),
        }
    }

    /// The leader's last step. What runs user code (the weigher, `V::clone`)
    /// runs first, while `lead` still guards the flight: a panic there
    /// abandons it. Then the value is stored (if the flight is still
    /// registered) or, on an error, the flight only unregistered; the
    /// outcome is published to the waiters before the listener hears of
    /// any removal.
    fn finish_load<E>(
        &self,
        lead: Lead<'_, K, V, S, C>,
        key: K,
        result: Result<V, E>,
    ) -> Result<V, Arc<E>>
    where
        V: Clone,
        E: Send + Sync + 'static,
    {
        match result {
            Ok(v) => {
                let weight = self.weigh(&key, &v);
                let (stored, shared) = (v.clone(), v.clone());
                let mut out = Removals::new();
                let (before, after) = self.store_loaded(&lead, key, stored, weight, &mut out);
                let idx = lead.idx;
                lead.publish(State::Done(shared));
                self.account(idx, before, after);
                self.notify(out);
                Ok(v)
            }
            Err(e) => {
                self.stats.incr(LOAD_ERRORS);
                let e = Arc::new(e);
                let shared: SharedError = e.clone();
                lead.unregister();
                lead.publish(State::Failed(shared));
                Err(e)
            }
        }
    }

    /// Unregisters the leader's flight and, in the same critical section,
    /// stores the loaded value if the flight was still registered (no
    /// removal or invalidation of the key happened during the load).
    /// Returns the shard's weight before and after.
    fn store_loaded(
        &self,
        lead: &Lead<'_, K, V, S, C>,
        key: K,
        value: V,
        weight: u32,
        out: &mut Removals<K, V>,
    ) -> (u64, u64) {
        let heavy = self
            .config
            .max_capacity
            .is_some_and(|cap| u64::from(weight) > cap);
        let now = self.write_now();
        let mut seg = self.shards[lead.idx].write();
        let before = seg.weight();
        let registered = seg.flights.finish(lead.hash, &lead.flight);
        if heavy {
            drop(seg);
            // Counted as written and refused, as `insert` counts it.
            self.stats.incr(INSERTS);
            out.push(key, value, RemovalCause::Size);
            return (before, before);
        }
        if !registered {
            return (before, before);
        }
        let now = seg.clamp_now(now);
        let (deadline, hard) = self.deadlines(now, self.config.ttl);
        seg.expire(now, EXPIRE_BUDGET, &self.hasher, out);
        seg.upsert(
            lead.hash,
            key,
            value,
            weight,
            deadline,
            hard,
            &self.hasher,
            out,
        );
        let after = seg.weight();
        let climb = seg.climb_due();
        drop(seg);
        if climb {
            self.climb();
        }
        self.stats.incr(INSERTS);
        (before, after)
    }

    /// Removes every entry (each reported as [`RemovalCause::Explicit`]);
    /// loads in flight are not stored when they complete. Shard by shard:
    /// not atomic across shards.
    pub fn invalidate_all(&self) {
        self.each_shard(|seg, _, _, out| {
            seg.flights.clear();
            seg.clear(RemovalCause::Explicit, out);
        });
    }

    /// Keeps only the live entries for which `keep` returns true; the
    /// others are removed as [`RemovalCause::Explicit`] (expired entries are
    /// reclaimed as [`RemovalCause::Expired`] without being shown to
    /// `keep`). Shard by shard, `keep` running under each shard's lock: it
    /// must not use the cache.
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.each_shard(|seg, now, hasher, out| {
            seg.retain(now, hasher, &mut keep, RemovalCause::Explicit, out);
        });
    }

    /// Replays every recorded hit and reclaims every expired entry now
    /// (ordinary calls do this a bounded amount at a time).
    pub fn run_pending_tasks(&self) {
        self.each_shard(|seg, now, hasher, out| seg.expire_all(now, hasher, out));
    }

    /// Runs `op` on every shard in turn under its write lock (with the
    /// shard's clamped clock reading), then keeps the cache-wide weight and
    /// reports the removals outside the lock: the one loop behind
    /// `invalidate_all`, `retain` and `run_pending_tasks`.
    fn each_shard(&self, mut op: impl FnMut(&mut Segment<K, V>, u64, &S, &mut Removals<K, V>)) {
        let now = self.write_now();
        for (idx, shard) in self.shards.iter().enumerate() {
            let mut out = Removals::new();
            let (before, after) = {
                let mut seg = shard.write();
                let now = seg.clamp_now(now);
                let before = seg.weight();
                op(&mut seg, now, &self.hasher, &mut out);
                (before, seg.weight())
            };
            self.account(idx, before, after);
            self.notify(out);
        }
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

    /// Expired entries whose timers are due but not handled yet; for tests.
    #[doc(hidden)]
    pub fn pending_expirations(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.seg.read().pending_expiry())
            .sum()
    }
}

/// What a waiter does with the outcome of the load it waited on: return
/// it, or (`None`) start over: the leader gave up, or failed with another
/// caller's error type, so this caller loads with its own.
fn waited<V, E: Send + Sync + 'static>(outcome: Outcome<V>) -> Option<Result<V, Arc<E>>> {
    match outcome {
        Outcome::Value(v) => Some(Ok(v)),
        Outcome::Error(e) => e.downcast::<E>().ok().map(Err),
        Outcome::Retry => None,
    }
}

/// The leader's hold on its flight, from registration to publication.
/// Dropped unpublished (a panic in the loader, the weigher, `V::clone`, the
/// key's `Hash` or `Eq` or the clock while the value is stored; or an async
/// leader dropped mid-load), it unregisters the flight by identity and
/// marks it `Abandoned`: the waiters start over and the key stays loadable.
struct Lead<'a, K: Hash + Eq, V, S: BuildHasher, C: Clock> {
    cache: &'a Cache<K, V, S, C>,
    idx: usize,
    hash: u64,
    flight: Arc<Flight<V>>,
    armed: bool,
}

impl<'a, K: Hash + Eq, V, S: BuildHasher, C: Clock> Lead<'a, K, V, S, C> {
    /// Takes charge of `flight`, just registered by this caller.
    fn new(cache: &'a Cache<K, V, S, C>, idx: usize, hash: u64, flight: Arc<Flight<V>>) -> Self {
        Lead {
            cache,
            idx,
            hash,
            flight,
            armed: true,
        }
    }

    /// Unregisters the flight if an invalidation has not already.
    fn unregister(&self) -> bool {
        self.cache.shards[self.idx]
            .write()
            .flights
            .finish(self.hash, &self.flight)
    }

    /// Publishes the outcome to the waiters (the flight is unregistered by
    /// now): the guard's duty is done.
    fn publish(mut self, outcome: State<V>) {
        self.flight.finish(outcome);
        self.armed = false;
    }
}

impl<K: Hash + Eq, V, S: BuildHasher, C: Clock> Drop for Lead<'_, K, V, S, C> {
    fn drop(&mut self) {
        if self.armed {
            self.unregister();
            self.cache.stats.incr(LOAD_ERRORS);
            self.flight.finish(State::Abandoned);
        }
    }
}

/// The panic of a loader that asks for its own key: that call would wait
/// on itself forever.
// The one deliberate panic of the loaders, documented on each of them:
// there is no error to return it as (`E` is the caller's type).
#[allow(clippy::panic)]
#[cold]
#[inline(never)]
fn reentered() -> ! {
    panic!(
        "latchwork Cache: a key's loader re-entered the cache for that same key \
         (a loading call such as get_or_insert_with, made from inside the key's own loader, \
         would wait on itself forever)"
    )
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
