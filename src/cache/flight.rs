//! Single-flight loads: one loader per missing key, however many callers
//! ask for it at once.
//!
//! Protocol. A caller that misses takes the shard's write lock, finds no
//! entry and no flight for the key, registers a [`Flight`] in the shard's
//! [`FlightTable`] and releases the lock: it is the *leader*. Callers that
//! find the flight clone its `Arc` under the same lock and wait on it. The
//! leader runs the loader with no lock held, then takes the shard's write
//! lock again: if its flight is still registered it unregisters it and
//! stores the value; then it publishes the outcome in the flight's state
//! and wakes the waiters.
//!
//! - A waiter (a parked thread or a task's waker) waits on the flight's
//!   [`WaitQueue`], the crate's one wait mechanism: the leader stores the
//!   outcome, then notifies the queue, whose handshake loses no wake-up.
//!   The blocking and the async loaders run this one protocol.
//! - An error reaches every waiter and is not stored in the cache.
//! - A leader that panics (or, for a future, is dropped) marks the flight
//!   `Abandoned` from a drop guard; waiters then start over, and one of them
//!   becomes the next leader: no key is left stuck.
//! - A removal of the key, `retain` or `invalidate_all` unregisters the
//!   flight, so a load that began before the invalidation is not stored
//!   after it (its waiters still receive the value they asked for).
use crate::sync::Mutex;
use crate::wait::WaitQueue;
// std's `Arc` even under loom: errors cross the public API as
// `std::sync::Arc<E>` (and need `Arc<dyn Any>` downcasts, which loom's
// `Arc` lacks); the flight's wait protocol is its loom `Mutex` and
// `Condvar`, which the models do explore.
use hashbrown::HashTable;
use std::any::Any;
use std::borrow::Borrow;
use std::sync::Arc;

/// A loader error, shared by every caller of one load.
pub(crate) type SharedError = Arc<dyn Any + Send + Sync>;

pub(crate) enum State<V> {
    Loading,
    Done(V),
    Failed(SharedError),
    Abandoned,
}

/// One load's outcome and its waiters: threads park and tasks register
/// wakers on `done`, the crate's one wait queue.
pub(crate) struct Flight<V> {
    state: Mutex<State<V>>,
    done: WaitQueue,
}

/// What a waiter learned.
pub(crate) enum Outcome<V> {
    Value(V),
    Error(SharedError),
    /// The leader gave up; start over.
    Retry,
}

impl<V> Flight<V> {
    pub(crate) fn new() -> Self {
        Flight {
            state: Mutex::new(State::Loading),
            done: WaitQueue::new(),
        }
    }

    /// Publishes the outcome and wakes every waiter. Only the first call has
    /// an effect.
    pub(crate) fn finish(&self, outcome: State<V>) {
        let mut state = self.state.lock();
        if matches!(*state, State::Loading) {
            *state = outcome;
        }
        drop(state);
        self.done.notify();
    }

    fn loading(&self) -> bool {
        matches!(*self.state.lock(), State::Loading)
    }

    fn outcome(&self) -> Option<Outcome<V>>
    where
        V: Clone,
    {
        match &*self.state.lock() {
            State::Loading => None,
            State::Done(v) => Some(Outcome::Value(v.clone())),
            State::Failed(e) => Some(Outcome::Error(e.clone())),
            State::Abandoned => Some(Outcome::Retry),
        }
    }

    /// The async form of [`wait`](Self::wait): registers the task's waker
    /// on the queue the threads park on.
    #[cfg(feature = "async")]
    pub(crate) fn wait_async(&self) -> FlightWait<'_, V> {
        FlightWait {
            flight: self,
            key: crate::wait::WaitKey::default(),
        }
    }

    /// Blocks until the leader publishes.
    pub(crate) fn wait(&self) -> Outcome<V>
    where
        V: Clone,
    {
        loop {
            if let Some(o) = self.outcome() {
                return o;
            }
            self.done.wait_until(|| !self.loading(), None);
        }
    }
}

/// The future of [`Flight::wait_async`]; dropping it removes its waker.
#[cfg(feature = "async")]
pub(crate) struct FlightWait<'a, V> {
    flight: &'a Flight<V>,
    key: crate::wait::WaitKey,
}

#[cfg(feature = "async")]
impl<V: Clone> std::future::Future for FlightWait<'_, V> {
    type Output = Outcome<V>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Outcome<V>> {
        let this = &mut *self;
        let flight = this.flight;
        loop {
            if let Some(o) = flight.outcome() {
                return std::task::Poll::Ready(o);
            }
            if flight
                .done
                .poll_until(&mut this.key, cx, || !flight.loading())
                .is_pending()
            {
                return std::task::Poll::Pending;
            }
        }
    }
}

#[cfg(feature = "async")]
impl<V> Drop for FlightWait<'_, V> {
    fn drop(&mut self) {
        self.flight.done.release(&mut self.key);
    }
}

/// The flights of one shard, keyed like the shard's entries.
pub(crate) struct FlightTable<K, V> {
    table: HashTable<(u64, K, Arc<Flight<V>>)>,
}

impl<K: Eq, V> FlightTable<K, V> {
    pub(crate) fn new() -> Self {
        FlightTable {
            table: HashTable::new(),
        }
    }

    pub(crate) fn find<Q>(&self, hash: u64, key: &Q) -> Option<Arc<Flight<V>>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.table
            .find(hash, |(_, k, _)| k.borrow() == key)
            .map(|(_, _, f)| f.clone())
    }

    /// Registers a new flight for `key` (known to have none).
    pub(crate) fn start(&mut self, hash: u64, key: K) -> Arc<Flight<V>> {
        let flight = Arc::new(Flight::new());
        self.table
            .insert_unique(hash, (hash, key, flight.clone()), |(h, _, _)| *h);
        flight
    }

    /// Unregisters `flight` if it is still the one for `key`; returns
    /// whether it was.
    pub(crate) fn finish<Q>(&mut self, hash: u64, key: &Q, flight: &Arc<Flight<V>>) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        match self.table.find_entry(hash, |(_, k, f)| {
            k.borrow() == key && Arc::ptr_eq(f, flight)
        }) {
            Ok(e) => {
                e.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// Unregisters whatever flight `key` has (an invalidation).
    pub(crate) fn cancel<Q>(&mut self, hash: u64, key: &Q)
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if self.table.is_empty() {
            return;
        }
        if let Ok(e) = self.table.find_entry(hash, |(_, k, _)| k.borrow() == key) {
            e.remove();
        }
    }

    pub(crate) fn clear(&mut self) {
        self.table.clear();
    }
}
