use super::Error;
use crate::cache::{Cache, CacheBuilder};
use crate::clock::{Clock, SystemClock};
use crate::DefaultHashBuilder;
use std::fmt;
#[cfg(feature = "async")]
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::Duration;

/// Why [`Memoized::get`] returned no value.
#[derive(Debug)]
#[non_exhaustive]
pub enum MemoError<E> {
    /// The loader returned this error (shared by every caller that waited
    /// on the same load). Errors are not cached: the next call loads again.
    Load(Arc<E>),
}

impl<E> Clone for MemoError<E> {
    fn clone(&self) -> Self {
        match self {
            MemoError::Load(e) => MemoError::Load(Arc::clone(e)),
        }
    }
}

impl<E: fmt::Display> fmt::Display for MemoError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoError::Load(e) => write!(f, "loader failed: {e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for MemoError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MemoError::Load(e) => Some(&**e),
        }
    }
}

/// Counters of a [`Memoized`].
///
/// With the `serde` feature it (de)serializes as a map of its counters; a
/// counter missing on input reads as 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
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

/// A function memoized through a [`Cache`] with a time to live: a thin
/// layer over [`Cache::try_get_or_insert_with`], so concurrent callers of
/// one missing key share one load.
///
/// - A loader error is returned to every caller that waited on that load,
///   and is not cached.
/// - A loader panic propagates on the thread that ran the loader; a caller
///   waiting on it then runs the loader itself. No poisoned entry is left.
/// - [`invalidate`](Self::invalidate) during a load discards that load's
///   result: it is returned to its callers but not cached.
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
    cache: Cache<K, V, S, C>,
    loader: F,
    _error: std::marker::PhantomData<fn() -> E>,
}

/// Builder for [`Memoized`]; see [`Memoized::builder`].
pub struct MemoizedBuilder<K, V, E, F, C = SystemClock, S = DefaultHashBuilder> {
    cache: CacheBuilder<K, V, S, C>,
    ttl: Duration,
    loader: F,
    _error: std::marker::PhantomData<fn() -> E>,
}

impl<K, V, E, F, C: fmt::Debug, S> fmt::Debug for MemoizedBuilder<K, V, E, F, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoizedBuilder")
            .field("cache", &self.cache)
            .field("ttl", &self.ttl)
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
            cache: Cache::builder(),
            ttl: Duration::from_secs(60),
            loader,
            _error: std::marker::PhantomData,
        }
    }
}

impl<K, V, E, F, C, S> MemoizedBuilder<K, V, E, F, C, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    /// How long a loaded value is served. Default: 60 s.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Bound on cached values. Default: unbounded.
    pub fn capacity(mut self, capacity: u64) -> Self {
        self.cache = self.cache.max_capacity(capacity);
        self
    }

    /// The clock, for example a [`ManualClock`](crate::clock::ManualClock).
    pub fn clock<C2: Clock>(self, clock: C2) -> MemoizedBuilder<K, V, E, F, C2, S> {
        MemoizedBuilder {
            cache: self.cache.clock(clock),
            ttl: self.ttl,
            loader: self.loader,
            _error: std::marker::PhantomData,
        }
    }

    /// The hasher, for example a DoS-resistant one for untrusted keys.
    pub fn hasher<S2: BuildHasher>(self, hasher: S2) -> MemoizedBuilder<K, V, E, F, C, S2> {
        MemoizedBuilder {
            cache: self.cache.hasher(hasher),
            ttl: self.ttl,
            loader: self.loader,
            _error: std::marker::PhantomData,
        }
    }

    /// Builds the memoizer.
    ///
    /// # Errors
    /// [`Error::ZeroTtl`], or [`Error::Cache`] as
    /// [`CacheBuilder::build`].
    pub fn build(self) -> Result<Memoized<K, V, E, F, C, S>, Error>
    where
        C: Clock,
        S: BuildHasher,
    {
        if self.ttl.is_zero() {
            return Err(Error::ZeroTtl);
        }
        Ok(Memoized {
            cache: self.cache.time_to_live(self.ttl).build()?,
            loader: self.loader,
            _error: std::marker::PhantomData,
        })
    }
}

impl<K, V, E, F, C, S> Memoized<K, V, E, F, C, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    E: Send + Sync + 'static,
    F: Fn(&K) -> Result<V, E>,
    C: Clock,
    S: BuildHasher,
{
    /// The value for `key`: cached, or loaded once for every concurrent
    /// caller of that key.
    ///
    /// # Errors
    /// [`MemoError::Load`] with the loader's error. If this thread runs a
    /// loader that panics, the panic propagates here.
    pub fn get(&self, key: &K) -> Result<V, MemoError<E>> {
        self.cache
            .try_get_or_insert_with(key.clone(), || (self.loader)(key))
            .map_err(MemoError::Load)
    }
}

impl<K, V, E, F, C, S> Memoized<K, V, E, F, C, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    C: Clock,
    S: BuildHasher,
{
    /// Drops the cached value for `key`, and makes a load in flight for it
    /// return without caching; the next `get` loads again.
    pub fn invalidate(&self, key: &K) {
        self.cache.remove(key);
    }

    /// Drops every cached value (and discards the loads in flight).
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    /// Hits, misses, loads and load failures so far.
    pub fn stats(&self) -> MemoStats {
        let s = self.cache.stats();
        MemoStats {
            hits: s.hits,
            misses: s.misses,
            loads: s.loads,
            load_failures: s.load_errors,
        }
    }

    /// The underlying cache (for its length, stats or clock).
    pub fn cache(&self) -> &Cache<K, V, S, C> {
        &self.cache
    }
}

#[cfg(feature = "async")]
impl<K, V, E, F> Memoized<K, V, E, F>
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    /// A builder around an async `loader` (TTL 60 s, unbounded, system
    /// clock), read with [`get_async`](Memoized::get_async). The loader's
    /// future must own what it needs from the key (clone it).
    ///
    /// ```
    /// use latchwork::ttl::Memoized;
    /// # let block_on = futures::executor::block_on;
    /// let double = Memoized::builder_async(|n: &u64| {
    ///     let n = *n;
    ///     async move { Ok::<_, std::io::Error>(n * 2) }
    /// })
    /// .build()?;
    /// assert_eq!(block_on(double.get_async(&21)).unwrap(), 42);
    /// # Ok::<(), latchwork::ttl::Error>(())
    /// ```
    pub fn builder_async<Fut>(loader: F) -> MemoizedBuilder<K, V, E, F>
    where
        F: Fn(&K) -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        MemoizedBuilder {
            cache: Cache::builder(),
            ttl: Duration::from_secs(60),
            loader,
            _error: std::marker::PhantomData,
        }
    }
}

#[cfg(feature = "async")]
impl<K, V, E, F, C, S> Memoized<K, V, E, F, C, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    E: Send + Sync + 'static,
    C: Clock,
    S: BuildHasher,
{
    /// The async form of [`get`](Memoized::get), for a memoizer built with
    /// [`builder_async`](Memoized::builder_async): cached, or loaded once
    /// for every concurrent caller of that key, on the cache's single-flight
    /// loader ([`Cache::try_get_or_insert_async`]). The loader's future runs
    /// in the leading caller's task.
    ///
    /// # Errors
    /// [`MemoError::Load`] with the loader's error.
    ///
    /// # Cancel safety
    /// As [`Cache::get_or_insert_async`]: a dropped waiting call changes
    /// nothing; a dropped leading call abandons its load and a waiting
    /// caller loads instead; nothing half-loaded is cached.
    pub async fn get_async<Fut>(&self, key: &K) -> Result<V, MemoError<E>>
    where
        F: Fn(&K) -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        self.cache
            .try_get_or_insert_async(key.clone(), async { (self.loader)(key).await })
            .await
            .map_err(MemoError::Load)
    }
}

impl<K, V, E, F, C: fmt::Debug, S> fmt::Debug for Memoized<K, V, E, F, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memoized")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}
