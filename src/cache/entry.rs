//! The entry API: read-modify-write of one key under the cache's own
//! guarantee, [`Cache::entry`] and its [`Entry`].
//!
//! A compute ([`Entry::and_compute_with`]) takes the key's flight, the slot
//! single-flight loading already uses (`load.rs`, `flight.rs`): it
//! registers a flight for the key under the shard's write lock, receives
//! the live value (cloned), runs the caller's closure with no lock held,
//! then, under the write lock again, applies the closure's [`Op`] if its
//! flight is still registered. So:
//! - a compute and a load of one key never run at once, nor two computes:
//!   whoever finds the key's flight waits for it and starts over on the
//!   state it left (no update is lost);
//! - a plain write of the key (`insert`, `remove`, `invalidate_all`,
//!   `retain`) never waits for user code: it unregisters the flight, and
//!   the compute, finding its flight gone when it comes to apply, starts
//!   over on the value that write left. The closure is `FnMut` for that
//!   reason: it runs again only when a plain write of the key overtook it;
//! - a closure that panics (or an async compute dropped mid-way) abandons
//!   the flight as a panicking loader does: nothing is applied, the
//!   waiters start over, the key stays usable.
use super::engine::{Cache, INSERTS};
use super::flight::State;
use super::load::{reentered, Lead, Role};
use super::segment::Removals;
use super::RemovalCause;
use crate::clock::Clock;
use std::fmt;
#[cfg(feature = "async")]
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

/// What a compute does with the key: store a value, remove the entry, or
/// leave it as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op<V> {
    /// Store this value (inserted, or replacing the live one, which the
    /// listener hears of as [`RemovalCause::Replaced`]).
    Put(V),
    /// Remove the live entry ([`RemovalCause::Explicit`]); nothing if there
    /// is none.
    Remove,
    /// Change nothing.
    Nop,
}

/// What a compute did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Computed<V> {
    /// The key had no live entry; this value was stored.
    Inserted(V),
    /// The live value was replaced by this one.
    Replaced(V),
    /// The live entry, this value, was removed.
    Removed(V),
    /// The live entry, this value, was left as it was.
    Unchanged(V),
    /// The key had no live entry and still has none.
    StillAbsent,
}

impl<V> Computed<V> {
    /// The value the key holds after the compute, if any.
    pub fn value(&self) -> Option<&V> {
        match self {
            Computed::Inserted(v) | Computed::Replaced(v) | Computed::Unchanged(v) => Some(v),
            Computed::Removed(_) | Computed::StillAbsent => None,
        }
    }

    /// The value after the compute, if any, by value.
    pub fn into_value(self) -> Option<V> {
        match self {
            Computed::Inserted(v) | Computed::Replaced(v) | Computed::Unchanged(v) => Some(v),
            Computed::Removed(_) | Computed::StillAbsent => None,
        }
    }
}

/// One key of a [`Cache`], for an atomic read-modify-write; made by
/// [`Cache::entry`].
///
/// ```
/// use latchwork::cache::{Cache, Computed, Op};
/// use std::thread;
///
/// let cache: Cache<&str, u64> = Cache::new(100)?;
/// thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| {
///             for _ in 0..1_000 {
///                 cache.entry("hits").and_compute_with(|old| Op::Put(old.map_or(1, |n| n + 1)));
///             }
///         });
///     }
/// });
/// assert_eq!(cache.get("hits"), Some(4_000)); // no update lost
/// let done = cache.entry("hits").and_compute_with(|_| Op::Remove);
/// assert_eq!(done, Computed::Removed(4_000));
/// # Ok::<(), latchwork::cache::Error>(())
/// ```
pub struct Entry<'a, K: Hash + Eq, V, S: BuildHasher, C: Clock> {
    cache: &'a Cache<K, V, S, C>,
    key: K,
}

impl<K: Hash + Eq + fmt::Debug, V, S: BuildHasher, C: Clock> fmt::Debug for Entry<'_, K, V, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry").field("key", &self.key).finish()
    }
}

impl<K: Hash + Eq, V, S: BuildHasher, C: Clock> Cache<K, V, S, C> {
    /// The entry of `key`, for [`Entry::or_insert_with`],
    /// [`Entry::and_compute_with`] and their forms.
    pub fn entry(&self, key: K) -> Entry<'_, K, V, S, C> {
        Entry { cache: self, key }
    }
}

impl<'a, K: Hash + Eq + Clone, V: Clone, S: BuildHasher, C: Clock> Entry<'a, K, V, S, C> {
    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The live value, or the one `init` computes, stored: exactly
    /// [`Cache::get_or_insert_with`] (one `init` per missing key however
    /// many callers ask; it waits for a compute of the key in progress).
    ///
    /// # Panics
    /// As [`Cache::get_or_insert_with`].
    pub fn or_insert_with(self, init: impl FnOnce() -> V) -> V {
        self.cache.get_or_insert_with(self.key, init)
    }

    /// As [`or_insert_with`](Self::or_insert_with) with a fallible `init`;
    /// see [`Cache::try_get_or_insert_with`].
    ///
    /// # Errors
    /// The error `init` (this caller's, or the one it waited on) returned.
    ///
    /// # Panics
    /// As [`Cache::get_or_insert_with`].
    pub fn or_try_insert_with<E>(self, init: impl FnOnce() -> Result<V, E>) -> Result<V, Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        self.cache.try_get_or_insert_with(self.key, init)
    }

    /// The async form of [`or_insert_with`](Self::or_insert_with); see
    /// [`Cache::get_or_insert_async`].
    #[cfg(feature = "async")]
    pub async fn or_insert_with_async(self, init: impl Future<Output = V>) -> V {
        self.cache.get_or_insert_async(self.key, init).await
    }

    /// The async form of [`or_try_insert_with`](Self::or_try_insert_with).
    ///
    /// # Errors
    /// The error `init` (this caller's, or the one it waited on) returned.
    #[cfg(feature = "async")]
    pub async fn or_try_insert_with_async<E>(
        self,
        init: impl Future<Output = Result<V, E>>,
    ) -> Result<V, Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        self.cache.try_get_or_insert_async(self.key, init).await
    }

    /// Reads the live value (`None` if the key has none), and applies what
    /// `f` decides, atomically against every other compute and load of the
    /// key: they wait while `f` runs and see its result. A plain write or
    /// removal of the key that lands while `f` runs is not overwritten:
    /// `f` runs again on the value it left (the only case in which `f` runs
    /// more than once). The listener hears a replaced value as
    /// [`RemovalCause::Replaced`] and a removed one as
    /// [`RemovalCause::Explicit`]. The entry gets the cache's time to live.
    ///
    /// # Panics
    /// If `f` panics, the panic propagates, nothing is applied and the key
    /// stays usable (callers waiting on it start over). `f` must not use
    /// this key of the cache: a loading or computing call for the key from
    /// inside `f` panics (it would wait on itself).
    pub fn and_compute_with(self, mut f: impl FnMut(Option<&V>) -> Op<V>) -> Computed<V> {
        let cache = self.cache;
        let hash = cache.hasher.hash_one(&self.key);
        let idx = cache.shard_index(hash);
        loop {
            let (flight, current) = match cache.role(idx, hash, &self.key, true, true) {
                Role::Wait(other) => {
                    other.wait();
                    continue;
                }
                Role::Lead(flight, current) => (flight, current),
                Role::Reentered => reentered(),
                // Not returned to a caller that leads over a live entry.
                Role::Found(_) => continue,
            };
            let lead = Lead::new(cache, idx, hash, flight);
            let op = f(current.as_ref());
            if let Some(done) = cache.apply(lead, &self.key, current, op) {
                return done;
            }
        }
    }

    /// The async form of [`and_compute_with`](Self::and_compute_with): `f`
    /// is given a clone of the live value and returns a future of the
    /// [`Op`], polled in the caller's task. Dropping the returned future
    /// mid-compute applies nothing and releases the key.
    ///
    /// # Panics
    /// As [`and_compute_with`](Self::and_compute_with).
    #[cfg(feature = "async")]
    pub async fn and_compute_with_async<F, Fut>(self, mut f: F) -> Computed<V>
    where
        F: FnMut(Option<V>) -> Fut,
        Fut: Future<Output = Op<V>>,
    {
        let cache = self.cache;
        let hash = cache.hasher.hash_one(&self.key);
        let idx = cache.shard_index(hash);
        loop {
            let (flight, current) = match cache.role(idx, hash, &self.key, false, true) {
                Role::Wait(other) => {
                    other.wait_async().await;
                    continue;
                }
                Role::Lead(flight, current) => (flight, current),
                Role::Reentered => reentered(),
                // Not returned to a caller that leads over a live entry.
                Role::Found(_) => continue,
            };
            let lead = Lead::new(cache, idx, hash, flight);
            let mut fut = std::pin::pin!(f(current.clone()));
            let op = std::future::poll_fn(|cx| lead.flight.running(|| fut.as_mut().poll(cx))).await;
            if let Some(done) = cache.apply(lead, &self.key, current, op) {
                return done;
            }
        }
    }
}

impl<K: Hash + Eq, V, S: BuildHasher, C: Clock> Cache<K, V, S, C> {
    /// A compute's last step: under the shard's write lock, if the flight
    /// is still registered, apply `op` to the entry `current` described;
    /// `None` if a plain write of the key unregistered the flight meanwhile
    /// (the caller starts over). Waiting loaders receive a stored value;
    /// every other waiter starts over.
    fn apply(
        &self,
        lead: Lead<'_, K, V, S, C>,
        key: &K,
        current: Option<V>,
        op: Op<V>,
    ) -> Option<Computed<V>>
    where
        K: Clone,
        V: Clone,
    {
        // User code (the weigher, `V::clone`, the key's `Clone`) runs
        // before the lock and while `lead` still guards the flight.
        let put = match &op {
            Op::Put(v) => Some((key.clone(), v.clone(), v.clone(), self.weigh(key, v))),
            _ => None,
        };
        let heavy = put.as_ref().is_some_and(|(_, _, _, w)| {
            self.config
                .max_capacity
                .is_some_and(|cap| u64::from(*w) > cap)
        });
        let mut out = Removals::new();
        let idx = lead.idx;
        let now = self.write_now();
        let mut seg = self.shards[idx].write();
        if !seg.flights.finish(lead.hash, &lead.flight) {
            drop(seg);
            lead.publish(State::Abandoned);
            return None;
        }
        let now = seg.clamp_now(now);
        let before = seg.weight();
        let (done, outcome) = match (op, put, current) {
            (Op::Put(v), Some((k, stored, shared, weight)), current) => {
                let done = match current {
                    Some(_) => Computed::Replaced(v),
                    None => Computed::Inserted(v),
                };
                if heavy {
                    // Too heavy to hold: the old value must not be served
                    // any more, and the new one leaves at once.
                    if let Some(i) = seg.find(lead.hash, key) {
                        seg.remove_index(i, &self.hasher, RemovalCause::Replaced, &mut out);
                    }
                    out.push(k, stored, RemovalCause::Size);
                } else {
                    let ttl = self.config.ttl;
                    self.store_in(&mut seg, now, lead.hash, k, stored, weight, ttl, &mut out);
                }
                (done, State::Done(shared))
            }
            (Op::Remove, _, Some(old)) => {
                if let Some(i) = seg.find(lead.hash, key) {
                    seg.remove_index(i, &self.hasher, RemovalCause::Explicit, &mut out);
                }
                (Computed::Removed(old), State::Abandoned)
            }
            (_, _, Some(old)) => (Computed::Unchanged(old), State::Abandoned),
            (_, _, None) => (Computed::StillAbsent, State::Abandoned),
        };
        let after = seg.weight();
        drop(seg);
        lead.publish(outcome);
        if matches!(done, Computed::Inserted(_) | Computed::Replaced(_)) {
            self.stats.incr(INSERTS);
        }
        self.account(idx, before, after);
        self.notify(out);
        Some(done)
    }
}
