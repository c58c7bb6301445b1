use super::cache::{TtlCache, TtlCacheBuilder};
use super::Error;
use crate::clock::{Clock, SystemClock};
use crate::counter::StripedCounters;
use crate::sync::{Arc, Condvar, Mutex};
use crate::DefaultHashBuilder;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Duration;

const HITS: usize = 0;
const MISSES: usize = 1;
const LOADS: usize = 2;
const FAILURES: usize = 3;

/// Why [`Memoized::get`] returned no value.
#[derive(Debug)]
pub enum MemoError<E> {
    /// The loader returned this error (shared by every caller that waited
    /// on the same load). Errors are not cached: the next call loads again.
    Load(std::sync::Arc<E>),
    /// The loader panicked on another thread while this caller waited for
    /// it. The panic itself propagates on the loading thread; the key is
    /// loadable again.
    LoaderPanicked,
}

impl<E> Clone for MemoError<E> {
    fn clone(&self) -> Self {
        match self {
            MemoError::Load(e) => MemoError::Load(std::sync::Arc::clone(e)),
            MemoError::LoaderPanicked => MemoError::LoaderPanicked,
        }
    }
}

impl<E: fmt::Display> fmt::Display for MemoError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoError::Load(e) => write!(f, "loader failed: {e}"),
            MemoError::LoaderPanicked => f.write_str("loader panicked on the thread that ran it"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for MemoError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MemoError::Load(e) => Some(&**e),
            MemoError::LoaderPanicked => None,
        }
    }
}

/// Counters of a [`Memoized`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoStats {
    /// Calls answered from the cache.
    pub hits: u64,
    /// Calls that found no cached value (they loaded or waited for a load).
    pub misses: u64,
    /// Loader runs.
    pub loads: u64,
    /// Loader runs that returned an error or panicked.
    pub load_failures: u64,
}

/// One in-progress load that callers of the same key wait on.
///
/// Protocol: the leader creates the flight under the key's flight-map lock,
/// runs the loader with no lock held, stores the outcome in `state` and
/// wakes every waiter through `done`. Waiters check `state` under its
/// mutex before waiting, so a wake-up cannot be lost: either they see the
/// outcome, or they are waiting on `done` when the leader notifies.
struct Flight<V, E> {
    state: Mutex<Option<Result<V, MemoError<E>>>>,
    done: Condvar,
}

impl<V: Clone, E> Flight<V, E> {
    fn new() -> Self {
        Flight {
            state: Mutex::new(None),
            done: Condvar::new(),
        }
    }

    fn finish(&self, outcome: Result<V, MemoError<E>>) {
        *self.state.lock() = Some(outcome);
        self.done.notify_all();
    }

    fn wait(&self) -> Result<V, MemoError<E>> {
        let mut state = self.state.lock();
        loop {
            if let Some(outcome) = state.as_ref() {
                return outcome.clone();
            }
            state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Loads in flight for one shard of keys.
type FlightMap<K, V, E, S> = Mutex<hashbrown::HashMap<K, Arc<Flight<V, E>>, S>>;

/// A function memoized through a [`TtlCache`], loading each missing key
/// once however many threads ask for it at the same moment.
///
/// - `get(&k)` answers from the cache, or runs the loader. Concurrent
///   callers of the same missing key wait for the one load in flight and
///   all receive its result; other keys are not blocked meanwhile.
/// - A loader error is returned to every caller that waited on that load,
///   and is not cached.
/// - A loader panic propagates on the thread that ran the loader; the
///   callers waiting on it get [`MemoError::LoaderPanicked`], and the key
///   can be loaded again: no poisoned entry is left behind.
///
/// ```
/// use latchwork::ttl::Memoized;
/// use std::time::Duration;
///
/// let square = Memoized::builder(|n: &u64| Ok::<_, std::num::TryFromIntError>(n * n))
///     .ttl(Duration::from_secs(30))
///     .build()?;
/// assert_eq!(square.get(&12).unwrap(), 144);
/// assert_eq!(square.get(&12).unwrap(), 144); // from the cache
/// assert_eq!(square.stats().loads, 1);
/// # Ok::<(), latchwork::ttl::Error>(())
/// ```
pub struct Memoized<K, V, E, F, C = SystemClock, S = DefaultHashBuilder> {
    cache: TtlCache<K, V, C, S>,
    loader: F,
    flights: Box<[FlightMap<K, V, E, S>]>,
    hasher: S,
    stats: StripedCounters<4>,
}

/// Builder for [`Memoized`]; see [`Memoized::builder`].
pub struct MemoizedBuilder<K, V, E, F, C = SystemClock, S = DefaultHashBuilder> {
    cache: TtlCacheBuilder<K, V, C, S>,
    loader: F,
    _error: std::marker::PhantomData<fn() -> E>,
}

impl<K, V, E, F, C: fmt::Debug, S> fmt::Debug for MemoizedBuilder<K, V, E, F, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoizedBuilder")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl<K, V, E, F> Memoized<K, V, E, F>
where
    K: Hash + Eq + Clone,
    V: Clone,
    F: Fn(&K) -> Result<V, E>,
{
    /// A builder around `loader` (TTL 60 s, unbounded, system clock).
    pub fn builder(loader: F) -> MemoizedBuilder<K, V, E, F> {
        MemoizedBuilder {
            cache: TtlCache::builder(),
            loader,
            _error: std::marker::PhantomData,
        }
    }
}

impl<K, V, E, F, C, S> MemoizedBuilder<K, V, E, F, C, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    F: Fn(&K) -> Result<V, E>,
    C: Clock,
    S: BuildHasher + Clone,
{
    /// How long a loaded value is served. Default: 60 s.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.cache = self.cache.default_ttl(ttl);
        self
    }

    /// Bound on cached values. Default: unbounded.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.cache = self.cache.capacity(capacity);
        self
    }

    /// The clock, for example a [`ManualClock`](crate::clock::ManualClock).
    pub fn clock<C2: Clock>(self, clock: C2) -> MemoizedBuilder<K, V, E, F, C2, S> {
        MemoizedBuilder {
            cache: self.cache.clock(clock),
            loader: self.loader,
            _error: std::marker::PhantomData,
        }
    }

    /// The hasher, for example a DoS-resistant one for untrusted keys.
    pub fn hasher<S2: BuildHasher + Clone>(self, hasher: S2) -> MemoizedBuilder<K, V, E, F, C, S2> {
        MemoizedBuilder {
            cache: self.cache.hasher(hasher),
            loader: self.loader,
            _error: std::marker::PhantomData,
        }
    }

    /// Builds the memoizer.
    ///
    /// # Errors
    /// As [`TtlCacheBuilder::build`].
    pub fn build(self) -> Result<Memoized<K, V, E, F, C, S>, Error> {
        let cache = self.cache.build()?;
        let hasher = cache.hasher().clone();
        let n = cache.shard_count();
        Ok(Memoized {
            flights: (0..n)
                .map(|_| Mutex::new(hashbrown::HashMap::with_hasher(hasher.clone())))
                .collect(),
            hasher,
            cache,
            loader: self.loader,
            stats: StripedCounters::new(),
        })
    }
}

impl<K, V, E, F, C, S> Memoized<K, V, E, F, C, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    F: Fn(&K) -> Result<V, E>,
    C: Clock,
    S: BuildHasher,
{
    /// The value for `key`: cached, or loaded once for every concurrent
    /// caller of that key.
    ///
    /// # Errors
    /// [`MemoError::Load`] with the loader's error, or
    /// [`MemoError::LoaderPanicked`] when the load this call waited on
    /// panicked. If this thread runs a loader that panics, the panic
    /// propagates here.
    pub fn get(&self, key: &K) -> Result<V, MemoError<E>> {
        if let Some(v) = self.cache.get(key) {
            self.stats.incr(HITS);
            return Ok(v);
        }
        self.stats.incr(MISSES);
        let flights =
            &self.flights[crate::shard::index(self.hasher.hash_one(key), self.flights.len() - 1)];
        let (flight, leader) = {
            let mut map = flights.lock();
            match map.get(key) {
                Some(f) => (Arc::clone(f), false),
                None => {
                    // A load that finished between our miss and this lock
                    // stored its value before leaving the map.
                    if let Some(v) = self.cache.get(key) {
                        return Ok(v);
                    }
                    let f = Arc::new(Flight::new());
                    map.insert(key.clone(), Arc::clone(&f));
                    (f, true)
                }
            }
        };
        if !leader {
            return flight.wait();
        }
        self.stats.incr(LOADS);
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.loader)(key)));
        // Store a success before leaving the map, so a caller who misses
        // the flight finds the value; errors and panics are not cached.
        if let Ok(Ok(v)) = &outcome {
            self.cache.insert(key.clone(), v.clone());
        }
        flights.lock().remove(key);
        match outcome {
            Ok(Ok(v)) => {
                flight.finish(Ok(v.clone()));
                Ok(v)
            }
            Ok(Err(e)) => {
                self.stats.incr(FAILURES);
                let err = MemoError::Load(std::sync::Arc::new(e));
                flight.finish(Err(err.clone()));
                Err(err)
            }
            Err(panic) => {
                self.stats.incr(FAILURES);
                flight.finish(Err(MemoError::LoaderPanicked));
                resume_unwind(panic)
            }
        }
    }

    /// Drops the cached value for `key`; the next `get` loads again.
    pub fn invalidate(&self, key: &K) {
        self.cache.remove(key);
    }

    /// Drops every cached value.
    pub fn invalidate_all(&self) {
        self.cache.clear();
    }

    /// Hits, misses, loads and load failures so far.
    pub fn stats(&self) -> MemoStats {
        MemoStats {
            hits: self.stats.sum(HITS),
            misses: self.stats.sum(MISSES),
            loads: self.stats.sum(LOADS),
            load_failures: self.stats.sum(FAILURES),
        }
    }

    /// The underlying cache (for its length, stats or clock).
    pub fn cache(&self) -> &TtlCache<K, V, C, S> {
        &self.cache
    }
}

impl<K, V, E, F, C: fmt::Debug, S> fmt::Debug for Memoized<K, V, E, F, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memoized")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}
