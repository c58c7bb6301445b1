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
//! - A flight is the kernel's one-shot cell (`sync::once`): a waiter (a
//!   parked thread or a task's waker) waits on its wait queue, the crate's
//!   one wait mechanism; the leader stores the outcome, then notifies the
//!   queue, whose handshake loses no wake-up. The blocking and the async
//!   loaders run this one protocol (`sync::waiting`).
//! - An error reaches every waiter and is not stored in the cache.
//! - The leader holds a drop guard from the moment it registers the flight
//!   until it publishes: a panic anywhere in between (the loader, the
//!   weigher, `V::clone`, the key's `Hash` or `Eq` in the store) or, for a
//!   future, a drop mid-load marks the flight `Abandoned`; waiters then
//!   start over, and one of them becomes the next leader: no key is left
//!   stuck.
//! - Flights leave the table by identity (`Arc::ptr_eq`), never by key
//!   equality, so a key whose `Eq` is never true or not consistent cannot
//!   leave a finished flight behind: a registered flight is always loading.
//! - A removal of the key, `retain` or `invalidate_all` unregisters the
//!   flight, so a load that began before the invalidation is not stored
//!   after it (its waiters still receive the value they asked for).
//! - Re-entrance. A flight records the thread its loader is running on (a
//!   blocking leader's for the whole load; an async leader's while its
//!   future is being polled). A caller that finds a loading flight whose
//!   loader runs on its own thread can only be that loader asking for its
//!   own key: it would wait on itself forever, so it panics instead.
use crate::sync::once::{Get, OneShot};
use crate::sync::thread::{self, ThreadId};
use crate::sync::waiting::Waiting;
// std's `Arc` even under loom: errors cross the public API as
// `std::sync::Arc<E>` (and need `Arc<dyn Any>` downcasts, which loom's
// `Arc` lacks); the flight's wait protocol is the kernel's one-shot cell
// (a loom `Mutex` and wait queue), which the models do explore.
use hashbrown::HashTable;
use std::any::Any;
use std::borrow::Borrow;
use std::sync::Arc;

/// A loader error, shared by every caller of one load.
pub(crate) type SharedError = Arc<dyn Any + Send + Sync>;

/// How a load ended, as every waiter reads it.
#[derive(Clone)]
pub(crate) enum State<V> {
    Done(V),
    Failed(SharedError),
    /// The leader gave up; start over.
    Abandoned,
}

/// One load's outcome and its waiters: the kernel's one-shot cell, read by
/// cloning, which keeps while loading the thread the loader runs on right
/// now, if any (see the module doc on re-entrance).
pub(crate) struct Flight<V> {
    cell: Cell<V>,
}

type Cell<V> = OneShot<State<V>, Option<ThreadId>>;

/// The future of [`Flight::wait_async`]: the kernel's one future.
#[cfg(feature = "async")]
pub(crate) type FlightWait<'a, V> = Waiting<Get<&'a Cell<V>, State<V>, Option<ThreadId>>>;

/// The calling thread, as flights record it.
pub(crate) fn current_thread() -> ThreadId {
    thread::current().id()
}

impl<V> Flight<V> {
    /// A loading flight whose loader runs on `on` (a blocking leader's
    /// thread), or on no thread yet (an async leader, recorded per poll).
    pub(crate) fn new(on: Option<ThreadId>) -> Self {
        Flight {
            cell: OneShot::new(on),
        }
    }

    /// Whether the flight is loading with its loader running on `me`: a
    /// caller on `me` waiting for it would wait on itself.
    pub(crate) fn runs_on(&self, me: ThreadId) -> bool {
        self.cell.with_pending(|on| *on == Some(me)) == Some(true)
    }

    /// Runs `poll` (one poll of an async leader's loader) with the flight
    /// recording that its loader runs on this thread; the record is cleared
    /// when `poll` returns or unwinds.
    #[cfg(feature = "async")]
    pub(crate) fn running<R>(&self, poll: impl FnOnce() -> R) -> R {
        struct Polled<'a, V>(&'a Flight<V>);
        impl<V> Drop for Polled<'_, V> {
            fn drop(&mut self) {
                self.0.set_running(None);
            }
        }
        self.set_running(Some(current_thread()));
        let _polled = Polled(self);
        poll()
    }

    #[cfg(feature = "async")]
    fn set_running(&self, thread: Option<ThreadId>) {
        self.cell.with_pending(|on| *on = thread);
    }

    /// Publishes the outcome and wakes every waiter. Only the first call has
    /// an effect.
    pub(crate) fn finish(&self, outcome: State<V>) {
        self.cell.resolve(outcome);
    }

    /// The async form of [`wait`](Self::wait): the kernel's one future,
    /// which registers the task's waker on the queue the threads park on
    /// and removes it when dropped.
    #[cfg(feature = "async")]
    pub(crate) fn wait_async(&self) -> FlightWait<'_, V>
    where
        V: Clone,
    {
        Waiting::new(Get::new(&self.cell))
    }

    /// Blocks until the leader publishes.
    pub(crate) fn wait(&self) -> State<V>
    where
        V: Clone,
    {
        Waiting::new(Get::new(&self.cell)).block()
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

    /// Registers a new flight for `key` (known to have none), whose
    /// loader runs on `on` (see [`Flight::new`]).
    pub(crate) fn start(&mut self, hash: u64, key: K, on: Option<ThreadId>) -> Arc<Flight<V>> {
        let flight = Arc::new(Flight::new(on));
        self.table
            .insert_unique(hash, (hash, key, flight.clone()), |(h, _, _)| *h);
        flight
    }

    /// Unregisters `flight` if it is still registered (no invalidation took
    /// it out); returns whether it was. By identity, not by key: runs no
    /// user code (a key whose `Eq` panics, is never true or is not
    /// consistent cannot leave its flight behind), and `hash` is the one
    /// the flight was registered under.
    pub(crate) fn finish(&mut self, hash: u64, flight: &Arc<Flight<V>>) -> bool {
        match self
            .table
            .find_entry(hash, |(_, _, f)| Arc::ptr_eq(f, flight))
        {
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
