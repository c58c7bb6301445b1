//! Refresh after write: a hot key is reloaded in the background before it
//! goes stale, and no reader ever waits for the reload.
//!
//! With [`refresh_after_write`](super::CacheBuilder::refresh_after_write)
//! each entry keeps its last write time (a `u64` per arena slot, only in
//! caches that refresh). A `get` that finds its entry written at least the
//! period ago claims the refresh with one CAS that sets the time's top bit
//! (the *mark*): the first reader wins, every other reader sees the mark
//! and goes on. (The check sits in the read path's branch for entries
//! with times, which a refreshing cache keeps for every entry, so it costs
//! other caches nothing.) The winner pushes the entry's (hash, slot) on the cache's
//! refresh queue and wakes the refresher; that is all a reader does, under
//! the shard's read lock, and it returns the current value at once.
//!
//! A [`Refresher`] runs the reloads where its owner runs it: `run` on a
//! thread of the caller's (or tokio's `spawn_blocking`), `run_pending` on
//! the caller's own thread between requests. For each queued slot it
//! clones the key (under the read lock, if the slot still holds a marked
//! entry), calls the loader with no lock held, and lands the result under
//! the write lock:
//! - **Success:** stored as a write (listener: `Replaced`), the write time
//!   reset and the mark cleared, unless the entry changed meanwhile: a
//!   plain write of the key cleared the mark (the newer write wins, the
//!   reload is dropped), or a compute or load of the key holds its flight.
//! - **Failure** (an error, or a loader panic, caught and counted as a
//!   load error): the old value stays, the mark is cleared and the write
//!   time set so the next refresh is due a quarter period later.
//!
//! One reload per key at a time (the mark), none on a read path, and a
//! loader that never returns blocks only the refresher running it.
use super::engine::{Cache, LOADS, LOAD_ERRORS};
use super::segment::{Removals, Segment};
use super::Error;
use crate::clock::Clock;
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::sync::wait::WaitQueue;
use crate::sync::waiting::{WaitFor, WaitOn, Waiting};
use crate::sync::Mutex;
use std::collections::VecDeque;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};

/// The refresh mark: the top bit of a write time (nanoseconds stay below
/// 2^63 for 292 years of uptime).
const MARK: u64 = 1 << 63;

/// The cache's queue of slots due a refresh, shared with its refreshers.
struct RefreshQueue {
    due: Mutex<VecDeque<(u64, u32)>>,
    ready: WaitQueue,
    /// Set when the cache is dropped: refreshers stop.
    closed: AtomicBool,
}

/// The cache's end of the refresh queue; dropping it (with the cache)
/// closes the queue and wakes the refreshers so they return.
pub(crate) struct RefreshLink(Arc<RefreshQueue>);

impl RefreshLink {
    pub(crate) fn new() -> Self {
        RefreshLink(Arc::new(RefreshQueue {
            due: Mutex::new(VecDeque::new()),
            ready: WaitQueue::new(),
            closed: AtomicBool::new(false),
        }))
    }
}

impl Drop for RefreshLink {
    fn drop(&mut self) {
        // SeqCst: the notifier half of the wait queue's handshake (its
        // `notify` fences after this store).
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.ready.notify();
    }
}

impl<K: Hash + Eq, V> Segment<K, V> {
    /// Records that entry `i` was written at `now` (clears its mark).
    pub(super) fn set_written(&mut self, i: u32, now: u64) {
        // The read path checks for a refresh only where an entry has
        // times (see `Cache::get_hashed`).
        self.enable_times();
        let i = i as usize;
        if self.written.len() <= i {
            let len = self.arena.slot_count().max(i + 1);
            self.written.resize_with(len, || AtomicU64::new(0));
        }
        // Relaxed: written under the write lock; readers that race it
        // under a read lock cannot exist (the lock excludes them).
        self.written[i].store(now & !MARK, Ordering::Relaxed);
    }

    /// The write time of entry `i` and whether its refresh is claimed.
    fn written_at(&self, i: u32) -> Option<&AtomicU64> {
        self.written.get(i as usize)
    }
}

impl<K: Hash + Eq, V, S: BuildHasher, C: Clock> Cache<K, V, S, C> {
    /// A read's refresh check, under the shard's read lock: claims the
    /// refresh of entry `i` (hash `hash`) if it was written `after` or more
    /// ago and nobody claimed it yet, and queues it.
    #[inline(always)]
    pub(super) fn refresh_if_due(&self, seg: &Segment<K, V>, hash: u64, i: u32, after: u64) {
        let Some(cell) = seg.written_at(i) else {
            return;
        };
        // Relaxed: the value is self-contained; the CAS below decides.
        let t = cell.load(Ordering::Relaxed);
        if t & MARK == 0 {
            self.claim_refresh(seg, cell, t, hash, i, after);
        }
    }

    #[cold]
    #[inline(never)]
    fn claim_refresh(
        &self,
        seg: &Segment<K, V>,
        cell: &AtomicU64,
        t: u64,
        hash: u64,
        i: u32,
        after: u64,
    ) {
        let now = seg.floored(|| self.clock.now_nanos());
        if now.saturating_sub(t) < after {
            return;
        }
        // Relaxed: the CAS only has to pick one winner among the readers;
        // the queue's mutex publishes what the winner pushes.
        if cell
            .compare_exchange(t, t | MARK, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            if let Some(link) = &self.refreshes {
                link.0.due.lock().push_back((hash, i));
                link.0.ready.notify();
            }
        }
    }

    /// Takes the next queued refresh: the slot's key (cloned, if the slot
    /// still holds a claimed entry) and its hash.
    fn next_refresh(&self) -> Option<Option<(K, u64)>>
    where
        K: Clone,
    {
        let (hash, i) = self.refreshes.as_ref()?.0.due.lock().pop_front()?;
        let seg = self.shards[self.shard_index(hash)].seg.read();
        let claimed = seg
            .written_at(i)
            // Relaxed: see `refresh_if_due`.
            .is_some_and(|c| c.load(Ordering::Relaxed) & MARK != 0);
        Some(
            seg.node(i)
                .filter(|_| claimed)
                .map(|n| (n.key.clone(), hash)),
        )
    }

    /// Lands a reload of `key`: stores `value` if the entry is still the
    /// claimed one and no flight holds the key; on `None` (the loader
    /// failed) keeps the old value and schedules the next try.
    fn land_refresh(&self, key: K, hash: u64, value: Option<V>, after: u64) {
        let idx = self.shard_index(hash);
        let now = self.write_now();
        let mut out = Removals::new();
        let (before, after_weight) = {
            let mut seg = self.shards[idx].write();
            let now = seg.clamp_now(now);
            let before = seg.weight();
            let Some(i) = seg.find(hash, &key) else {
                return;
            };
            let claimed = seg
                .written_at(i)
                // Relaxed: under the write lock.
                .is_some_and(|c| c.load(Ordering::Relaxed) & MARK != 0);
            if !claimed {
                // A write of the key since the claim: it wins.
                return;
            }
            match value {
                Some(v) if seg.flights.find(hash, &key).is_none() => {
                    let weight = self.weigh(&key, &v);
                    let fits = self
                        .config
                        .max_capacity
                        .is_none_or(|cap| u64::from(weight) <= cap);
                    if fits {
                        let ttl = self.config.ttl;
                        self.store_in(&mut seg, now, hash, key, v, weight, ttl, &mut out);
                    } else {
                        seg.set_written(i, now);
                    }
                }
                Some(_) => seg.set_written(i, now),
                None => {
                    // Due again a quarter period from now.
                    let back = after - after / 4;
                    seg.set_written(i, now.saturating_sub(back));
                }
            }
            (before, seg.weight())
        };
        self.account(idx, before, after_weight);
        self.notify(out);
    }
}

/// The next queued reload of the cache behind `cache`, with a strong
/// reference to it: `None` when nothing is queued or the cache is gone,
/// `Some(None)` for a slot whose entry changed since its claim (skipped).
#[allow(clippy::type_complexity)]
fn next_due<K, V, S, C>(
    cache: &Weak<Cache<K, V, S, C>>,
) -> Option<Option<(Arc<Cache<K, V, S, C>>, K, u64)>>
where
    K: Hash + Eq + Clone,
    S: BuildHasher,
    C: Clock,
{
    let cache = cache.upgrade()?;
    let next = cache.next_refresh()?;
    Some(next.map(|(key, hash)| (cache, key, hash)))
}

/// The refresh queue and period of `cache`, for a refresher.
fn link_of<K, V, S, C>(cache: &Cache<K, V, S, C>) -> Result<(Arc<RefreshQueue>, u64), Error> {
    match (&cache.refreshes, cache.config.refresh) {
        (Some(link), Some(after)) => Ok((link.0.clone(), after)),
        _ => Err(Error::NoRefreshPeriod),
    }
}

impl<K: Hash + Eq, V, S: BuildHasher, C: Clock> Cache<K, V, S, C> {
    /// Counts a reload's outcome (a panic or an error is a load error) and
    /// lands it.
    fn land_loaded<E>(
        &self,
        key: K,
        hash: u64,
        loaded: std::thread::Result<Result<V, E>>,
        after: u64,
    ) {
        self.stats.incr(LOADS);
        let value = match loaded {
            Ok(Ok(v)) => Some(v),
            _ => {
                self.stats.incr(LOAD_ERRORS);
                None
            }
        };
        self.land_refresh(key, hash, value, after);
    }
}

/// Runs the reloads of a cache built with
/// [`refresh_after_write`](super::CacheBuilder::refresh_after_write),
/// with the loader given here; see the module doc of `refresh.rs`.
///
/// ```
/// use latchwork::cache::{Cache, Refresher};
/// use latchwork::clock::ManualClock;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let cache: Arc<Cache<u32, String, _, ManualClock>> = Arc::new(
///     Cache::builder()
///         .max_capacity(1_000)
///         .refresh_after_write(Duration::from_secs(30))
///         .clock(clock.clone())
///         .build()?,
/// );
/// let refresher = Refresher::new(&cache, |id: &u32| Ok::<_, String>(format!("v2 of {id}")))?;
/// cache.insert(7, "v1".to_string());
/// clock.advance(Duration::from_secs(31));
/// // The read gets the current value at once and queues one reload.
/// assert_eq!(cache.get(&7).as_deref(), Some("v1"));
/// // A thread of the service would call `refresher.run()`; here, inline:
/// assert_eq!(refresher.run_pending(), 1);
/// assert_eq!(cache.get(&7).as_deref(), Some("v2 of 7"));
/// # Ok::<(), latchwork::cache::Error>(())
/// ```
pub struct Refresher<K, V, S, C, F> {
    cache: Weak<Cache<K, V, S, C>>,
    queue: Arc<RefreshQueue>,
    after: u64,
    loader: F,
}

impl<K, V, S, C, F, E> Refresher<K, V, S, C, F>
where
    K: Hash + Eq + Clone,
    S: BuildHasher,
    C: Clock,
    F: Fn(&K) -> Result<V, E>,
{
    /// A refresher of `cache` that reloads with `loader`.
    ///
    /// # Errors
    /// [`Error::NoRefreshPeriod`] when the cache was built without
    /// [`refresh_after_write`](super::CacheBuilder::refresh_after_write).
    pub fn new(cache: &Arc<Cache<K, V, S, C>>, loader: F) -> Result<Self, Error> {
        let (queue, after) = link_of(cache)?;
        Ok(Refresher {
            cache: Arc::downgrade(cache),
            queue,
            after,
            loader,
        })
    }

    /// Runs every reload queued now on this thread; returns how many ran
    /// (a loader that failed or panicked counts).
    pub fn run_pending(&self) -> usize {
        let mut ran = 0;
        while let Some(next) = next_due(&self.cache) {
            let Some((cache, key, hash)) = next else {
                continue;
            };
            let loaded = catch_unwind(AssertUnwindSafe(|| (self.loader)(&key)));
            cache.land_loaded(key, hash, loaded, self.after);
            ran += 1;
        }
        ran
    }

    /// Runs reloads as they are queued, parking in between, until the
    /// cache is dropped. Give it a thread (or tokio's `spawn_blocking`).
    pub fn run(&self) {
        let mut due = Waiting::new(Due(&self.queue));
        loop {
            self.run_pending();
            if due.block() {
                return;
            }
        }
    }
}

/// What a refresher waits for: a queued reload (`false`) or the cache's
/// drop (`true`).
struct Due<'a>(&'a RefreshQueue);

impl WaitOn for Due<'_> {
    fn queue(&self) -> &WaitQueue {
        &self.0.ready
    }
}

impl WaitFor for Due<'_> {
    type Output = bool;

    fn take(&mut self) -> Option<bool> {
        self.ready().then(|| self.0.closed.load(Ordering::SeqCst))
    }

    fn ready(&self) -> bool {
        // SeqCst: the waiter half of the handshake with the cache's drop
        // (`RefreshLink::drop`); the queue's mutex orders the pushes.
        self.0.closed.load(Ordering::SeqCst) || !self.0.due.lock().is_empty()
    }
}

/// The async form of [`Refresher`]: reloads with a loader that returns a
/// future, awaited in the task that runs [`run`](Self::run) (a task of
/// the caller's runtime, spawned once). Needs feature `async`.
///
/// ```
/// use latchwork::cache::{AsyncRefresher, Cache};
/// use std::sync::Arc;
/// use std::time::Duration;
/// # futures::executor::block_on(async {
/// let cache: Arc<Cache<u32, String>> = Arc::new(
///     Cache::builder()
///         .max_capacity(1_000)
///         .refresh_after_write(Duration::from_secs(30))
///         .build()?,
/// );
/// let refresher = AsyncRefresher::new(&cache, |id: u32| async move {
///     Ok::<_, std::io::Error>(format!("row {id}")) // a database call
/// })?;
/// // In a service: `tokio::spawn(async move { refresher.run().await })`.
/// assert_eq!(refresher.run_pending().await, 0); // nothing is due yet
/// # Ok::<(), latchwork::cache::Error>(())
/// # }).unwrap();
/// ```
#[cfg(feature = "async")]
pub struct AsyncRefresher<K, V, S, C, F> {
    cache: Weak<Cache<K, V, S, C>>,
    queue: Arc<RefreshQueue>,
    after: u64,
    loader: F,
}

#[cfg(feature = "async")]
impl<K, V, S, C, F, Fut, E> AsyncRefresher<K, V, S, C, F>
where
    K: Hash + Eq + Clone,
    S: BuildHasher,
    C: Clock,
    F: Fn(K) -> Fut,
    Fut: std::future::Future<Output = Result<V, E>>,
{
    /// A refresher of `cache` that reloads with `loader`.
    ///
    /// # Errors
    /// [`Error::NoRefreshPeriod`] when the cache was built without
    /// [`refresh_after_write`](super::CacheBuilder::refresh_after_write).
    pub fn new(cache: &Arc<Cache<K, V, S, C>>, loader: F) -> Result<Self, Error> {
        let (queue, after) = link_of(cache)?;
        Ok(AsyncRefresher {
            cache: Arc::downgrade(cache),
            queue,
            after,
            loader,
        })
    }

    /// Runs every reload queued now, one after another in this task;
    /// returns how many ran (a loader that failed or panicked counts).
    pub async fn run_pending(&self) -> usize {
        let mut ran = 0;
        while let Some(next) = next_due(&self.cache) {
            let Some((cache, key, hash)) = next else {
                continue;
            };
            // The strong reference is not held across the loader's await:
            // a cache dropped meanwhile ends the run at the next key.
            drop(cache);
            let loading = std::pin::pin!((self.loader)(key.clone()));
            let loaded = CatchUnwind(loading).await;
            let Some(cache) = self.cache.upgrade() else {
                break;
            };
            cache.land_loaded(key, hash, loaded, self.after);
            ran += 1;
        }
        ran
    }

    /// Runs reloads as they are queued, waiting in between without a
    /// thread, until the cache is dropped.
    pub async fn run(&self) {
        loop {
            self.run_pending().await;
            if Waiting::new(Due(&self.queue)).await {
                return;
            }
        }
    }
}

/// Polls a future, turning a panic into `Err` (a loader's panic must not
/// kill the refresher's task).
#[cfg(feature = "async")]
struct CatchUnwind<'a, F: std::future::Future>(std::pin::Pin<&'a mut F>);

#[cfg(feature = "async")]
impl<F: std::future::Future> std::future::Future for CatchUnwind<'_, F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let fut = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}

impl<K, V, S, C, F> fmt::Debug for Refresher<K, V, S, C, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher")
            .field("after_nanos", &self.after)
            .field("queued", &self.queue.due.lock().len())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "async")]
impl<K, V, S, C, F> fmt::Debug for AsyncRefresher<K, V, S, C, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRefresher")
            .field("after_nanos", &self.after)
            .field("queued", &self.queue.due.lock().len())
            .finish_non_exhaustive()
    }
}
