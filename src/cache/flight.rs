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
//! - A waiter checks the state under the flight's mutex before it sleeps,
//!   and the leader stores the outcome under the same mutex before it
//!   notifies, so no wake-up is lost.
//! - An error reaches every waiter and is not stored in the cache.
//! - A leader that panics (or, for a future, is dropped) marks the flight
//!   `Abandoned` from a drop guard; waiters then start over, and one of them
//!   becomes the next leader: no key is left stuck.
//! - A removal of the key, `retain` or `invalidate_all` unregisters the
//!   flight, so a load that began before the invalidation is not stored
//!   after it (its waiters still receive the value they asked for).
use crate::sync::{Condvar, Mutex};
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

pub(crate) struct Flight<V> {
    state: Mutex<State<V>>,
    done: Condvar,
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
            done: Condvar::new(),
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
        self.done.notify_all();
    }

    /// Blocks until the leader publishes.
    pub(crate) fn wait(&self) -> Outcome<V>
    where
        V: Clone,
    {
        let mut state = self.state.lock();
        loop {
            match &*state {
                State::Loading => {}
                State::Done(v) => return Outcome::Value(v.clone()),
                State::Failed(e) => return Outcome::Error(e.clone()),
                State::Abandoned => return Outcome::Retry,
            }
            state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
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
