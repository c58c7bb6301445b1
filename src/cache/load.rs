//! Single-flight loading: `get_or_insert_with` and its fallible and async
//! forms, one loader per missing key however many callers ask.
//!
//! More methods of `Cache` (defined in `engine.rs`). A caller finds the
//! entry, waits on the key's flight, or registers a flight and leads the
//! load; the [`Lead`] guard, held from registration to publication, makes
//! a panicking or cancelled leader abandon the flight instead of leaving
//! the key stuck, and `store_loaded` stores the value only if no removal
//! unregistered the flight meanwhile. The flight table and the waiting
//! itself are `flight.rs`'s.
use super::engine::{Cache, INSERTS, LOADS, LOAD_ERRORS};
use super::flight::{current_thread, Flight, SharedError, State};
use super::segment::Removals;
use super::RemovalCause;
use crate::clock::Clock;
use std::convert::Infallible;
#[cfg(feature = "async")]
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

/// Who leads a load (or a compute), or what to wait on.
pub(super) enum Role<V> {
    Found(V),
    Wait(Arc<Flight<V>>),
    /// This caller registered the flight; with the live value it found
    /// when it asked to lead over one (a compute), else `None`.
    Lead(Arc<Flight<V>>, Option<V>),
    /// The key's flight runs its loader on this very thread: the caller is
    /// that loader, asking for its own key.
    Reentered,
}

impl<K: Hash + Eq, V, S: BuildHasher, C: Clock> Cache<K, V, S, C> {
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
            match self.role(idx, hash, &key, false, false) {
                Role::Found(v) => return Ok(v),
                Role::Wait(f) => {
                    if let Some(done) = waited(f.wait_async().await) {
                        return done;
                    }
                }
                Role::Lead(flight, _) => break Lead::new(self, idx, hash, flight),
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
            match self.role(idx, hash, &key, true, false) {
                Role::Found(v) => return Ok(v),
                Role::Wait(f) => {
                    if let Some(done) = waited(f.wait()) {
                        return done;
                    }
                }
                Role::Lead(flight, _) => break Lead::new(self, idx, hash, flight),
                Role::Reentered => reentered(),
            }
        };
        self.stats.incr(LOADS);
        let result = init();
        self.finish_load(lead, key, result)
    }

    /// Under the shard's write lock: the entry, the flight to wait on, or a
    /// new flight this caller leads (`blocking`: its loader runs on this
    /// thread until it returns). With `over_found` (a compute) a live entry
    /// does not end the call: the caller leads over it, given its value.
    pub(super) fn role(
        &self,
        idx: usize,
        hash: u64,
        key: &K,
        blocking: bool,
        over_found: bool,
    ) -> Role<V>
    where
        K: Clone,
        V: Clone,
    {
        let now = self.write_now();
        let mut seg = self.shards[idx].write();
        let now = seg.clamp_now(now);
        let found = seg
            .find(hash, key)
            .filter(|&i| seg.live(i, || now))
            .and_then(|i| seg.node(i))
            .map(|n| n.value.clone());
        if let (Some(v), false) = (&found, over_found) {
            return Role::Found(v.clone());
        }
        let me = current_thread();
        match seg.flights.find(hash, key) {
            Some(f) if f.runs_on(me) => Role::Reentered,
            Some(f) => Role::Wait(f),
            None => Role::Lead(
                seg.flights.start(hash, key.clone(), blocking.then_some(me)),
                found,
            ),
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
        let ttl = self.config.ttl;
        self.store_in(&mut seg, now, lead.hash, key, value, weight, ttl, out);
        let after = seg.weight();
        drop(seg);
        self.stats.incr(INSERTS);
        (before, after)
    }
}

/// What a waiter does with the outcome of the load it waited on: return
/// it, or (`None`) start over: the leader gave up, or failed with another
/// caller's error type, so this caller loads with its own.
fn waited<V, E: Send + Sync + 'static>(outcome: State<V>) -> Option<Result<V, Arc<E>>> {
    match outcome {
        State::Done(v) => Some(Ok(v)),
        State::Failed(e) => e.downcast::<E>().ok().map(Err),
        State::Abandoned => None,
    }
}

/// The leader's hold on its flight, from registration to publication.
/// Dropped unpublished (a panic in the loader, the weigher, `V::clone`, the
/// key's `Hash` or `Eq` or the clock while the value is stored; or an async
/// leader dropped mid-load), it unregisters the flight by identity and
/// marks it `Abandoned`: the waiters start over and the key stays loadable.
pub(super) struct Lead<'a, K: Hash + Eq, V, S: BuildHasher, C: Clock> {
    cache: &'a Cache<K, V, S, C>,
    pub(super) idx: usize,
    pub(super) hash: u64,
    pub(super) flight: Arc<Flight<V>>,
    armed: bool,
}

impl<'a, K: Hash + Eq, V, S: BuildHasher, C: Clock> Lead<'a, K, V, S, C> {
    /// Takes charge of `flight`, just registered by this caller.
    pub(super) fn new(
        cache: &'a Cache<K, V, S, C>,
        idx: usize,
        hash: u64,
        flight: Arc<Flight<V>>,
    ) -> Self {
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
    pub(super) fn publish(mut self, outcome: State<V>) {
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
pub(super) fn reentered() -> ! {
    panic!(
        "latchwork Cache: a key's loader re-entered the cache for that same key \
         (a loading call such as get_or_insert_with, made from inside the key's own loader, \
         would wait on itself forever)"
    )
}
