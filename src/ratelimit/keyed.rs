//! [`KeyedLimiter`]: one GCRA bucket per key in sharded hash tables, and its
//! [`Limiter`] impl; the builder is in `keyed/builder.rs`.
use super::gcra::{self, Gcra, Refusal, View};
use super::{Error, Limiter, RateLimitInfo, RateLimitPolicy, Requota};
use crate::clock::{Clock, SystemClock};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Mutex, RwLock};
use crate::DefaultHashBuilder;
use crossbeam_utils::CachePadded;
use hashbrown::HashTable;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::time::Duration;

mod builder;
mod memory;

/// Fewest entries a shard grows to before its first sweep.
const MIN_SWEEP: usize = 16;

/// One token bucket per key, shared by `&self` across threads, in bounded
/// memory.
///
/// Every key gets a GCRA bucket with the same rate and limit (see
/// [`TokenBucket`](super::TokenBucket)): one `AtomicU64` stored inline
/// beside the key in a `hashbrown::HashTable`. Keys are spread by hash over
/// power-of-two shards, each behind a reader-writer lock:
///
/// - a check on a known key takes its shard's **read** lock and updates the
///   bucket with a CAS, so checks on different keys, and on the same key,
///   never wait for an exclusive lock;
/// - the first check on a new key takes the shard's write lock to insert it.
///
/// **Memory.** A bucket that has refilled to full (`tat <= now`) carries no
/// information: dropping it and recreating it later changes no decision.
/// Whenever a shard has doubled since its last sweep, the insert that finds
/// it so first drops its full buckets (amortised O(1) per insert), so a
/// service that sees each key once does not grow without bound. Each shard
/// holds at most its share of `max_keys`: when sweeping leaves a shard above
/// 7/8 of its share, the buckets closest to full are evicted down to 7/8
/// (an evicted key starts again with a full bucket, so under that pressure
/// a client can be admitted more than its rate; [`evictions`] counts it).
/// An entry is the key plus 8 bytes of state plus hashbrown's control byte,
/// at hashbrown's load factor; `tests/ratelimit_memory.rs` measures it.
///
/// As for the [`TokenBucket`](super::TokenBucket), a cost whose tokens
/// would refill only after the clock's last reading (`u64::MAX` ns) is
/// refused with [`Error::EndOfTime`], not told to retry.
///
/// The clock is read *inside* the shard lock, after any sweep that removed
/// the key, so a recreated bucket never sees an earlier time than the sweep
/// that judged the old one full: removal never loses admission accounting.
///
/// It is a [`Limiter<Q>`](Limiter) for every `Q` its keys borrow as (a
/// `KeyedLimiter<String>` is a `Limiter<str>` and a `Limiter<String>`); the
/// inherent `check`, `try_acquire`, `check_info`, `acquire`,
/// `until_key_ready` and `wait_time` are the trait's methods. The quota
/// changes through `&self` ([`set_quota`](Self::set_quota),
/// [`Requota::set_policy`]): each shard holds its copy beside its keys and
/// converts them under its write lock, so a check (under the read lock)
/// decides under one quota and the state that goes with it.
///
/// [`evictions`]: KeyedLimiter::evictions
///
/// ```
/// use latchwork::clock::ManualClock;
/// use latchwork::ratelimit::KeyedLimiter;
///
/// let limiter = KeyedLimiter::builder().rate(1.0).limit(2).clock(ManualClock::new()).build()?;
/// assert!(limiter.check("alice").is_ok());
/// assert!(limiter.check("alice").is_ok());
/// assert!(limiter.check("alice").is_err()); // alice is out of tokens
/// assert!(limiter.check("bob").is_ok()); // bob has his own bucket
/// assert_eq!(limiter.len(), 2);
/// # Ok::<(), latchwork::ratelimit::Error>(())
/// ```
pub struct KeyedLimiter<K, S = DefaultHashBuilder, C: Clock = SystemClock> {
    shards: Box<[CachePadded<RwLock<Shard<K>>>]>,
    shard_mask: usize,
    /// Most entries one shard may hold (its share of `max_keys`).
    shard_cap: usize,
    /// The quota, as reported; the lock serialises re-quotas. Checks read
    /// each shard's own copy.
    quota: Mutex<Gcra>,
    hasher: S,
    clock: C,
}

struct Entry<K> {
    key: K,
    /// The key's GCRA theoretical arrival time; see `TokenBucket::tat`.
    tat: AtomicU64,
}

struct Shard<K> {
    map: HashTable<Entry<K>>,
    /// The quota every TAT in `map` is under (the limiter's, except while a
    /// re-quota is converting the shards one by one).
    gcra: Gcra,
    /// Length at which the next insert sweeps the shard first.
    next_sweep: usize,
    evictions: u64,
}

/// Builder for [`KeyedLimiter`]; see [`KeyedLimiter::builder`].
pub struct KeyedLimiterBuilder<K, S = DefaultHashBuilder, C = SystemClock> {
    rate: Option<f64>,
    burst: Option<u64>,
    max_keys: usize,
    shards: Option<usize>,
    hasher: S,
    clock: C,
    key: PhantomData<fn() -> K>,
}

impl<K, S: fmt::Debug, C: fmt::Debug> fmt::Debug for KeyedLimiterBuilder<K, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLimiterBuilder")
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .field("max_keys", &self.max_keys)
            .field("shards", &self.shards)
            .field("hasher", &self.hasher)
            .field("clock", &self.clock)
            .finish()
    }
}

impl<K: Hash + Eq> KeyedLimiter<K> {
    /// A builder; `rate` is required.
    pub fn builder() -> KeyedLimiterBuilder<K> {
        KeyedLimiterBuilder {
            rate: None,
            burst: None,
            max_keys: 1 << 20,
            shards: None,
            hasher: DefaultHashBuilder::default(),
            clock: SystemClock,
            key: PhantomData,
        }
    }
}

impl<K: Hash + Eq, S: BuildHasher, C: Clock> KeyedLimiter<K, S, C> {
    #[inline]
    fn shard(&self, hash: u64) -> &RwLock<Shard<K>> {
        // hashbrown indexes with the low bits and tags with the top 7; take
        // the shard from bits above 32 so the three stay independent.
        &self.shards[crate::sync::shard::index(hash, self.shard_mask)]
    }

    /// Takes `cost` tokens from `key`'s bucket if available now; a new key
    /// starts with a full bucket. `cost == 0` always succeeds and stores
    /// nothing. [`Limiter::try_acquire`]: a denial is `Err`.
    ///
    /// # Errors
    /// [`Error::RateLimited`] with the time until `key` has `cost` tokens;
    /// [`Error::CostExceedsCapacity`] if `cost` is above the limit;
    /// [`Error::EndOfTime`] if they would refill only after the clock's last
    /// reading.
    #[inline]
    pub fn try_acquire<Q>(&self, key: &Q, cost: u64) -> Result<(), Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        Limiter::<Q>::try_acquire(self, key, cost)
    }

    /// [`Limiter::throttle`]: takes `cost` tokens from `key`'s bucket if
    /// available now and answers with the [`RateLimitInfo`] for rate-limit
    /// headers; a denial is `Ok` with `allowed: false`, exactly as the
    /// Redis-backed limiter answers.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost` is above the limit;
    /// [`Error::EndOfTime`] as for [`try_acquire`](Self::try_acquire).
    pub fn check_info<Q>(&self, key: &Q, cost: u64) -> Result<RateLimitInfo, Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        Limiter::<Q>::throttle(self, key, cost)
    }

    /// The [`RateLimitInfo`] of "could `key` take one token now?", taking
    /// none (`remaining` counts the tokens before any is taken). A token
    /// that would refill only after the clock's last reading answers a
    /// denial with the longest `retry_after` there is, `u64::MAX` ns
    /// ([`check_info`](Self::check_info) and [`Limiter::probe`] answer
    /// [`Error::EndOfTime`]).
    pub fn peek_info<Q>(&self, key: &Q) -> RateLimitInfo
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (gcra, tat, now) = self.snapshot(key);
        gcra.peek(tat, now)
    }

    /// Gives `cost` tokens back to `key`'s bucket (a request that was
    /// admitted but not served), never filling it above the limit; an
    /// unknown key is full already. Returns the key's state after.
    pub fn refund<Q>(&self, key: &Q, cost: u64) -> RateLimitInfo
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let guard = self.shard(hash).read();
        let gcra = guard.gcra;
        let now = self.clock.now_nanos();
        let tat = match guard.map.find(hash, |e| e.key.borrow() == key) {
            // Relaxed: as in `charge`; the RMW sees the latest TAT.
            Some(e) => match e
                .tat
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                    Some(gcra.refund(t, now, cost))
                }) {
                Ok(old) | Err(old) => gcra.refund(old, now, cost),
            },
            None => 0,
        };
        gcra.admitted(tat.max(now), now)
    }

    /// Forgets `key`: its bucket is full again.
    pub fn reset<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let mut guard = self.shard(hash).write();
        if let Ok(e) = guard.map.find_entry(hash, |e| e.key.borrow() == key) {
            e.remove();
        }
    }

    /// Changes the rate and the limit (burst) of every key through `&self`,
    /// keeping each key's state: a full bucket stays full, any other keeps
    /// the whole tokens it had (at most the new limit) and refills at the
    /// new rate, so the change hands no client a fresh burst.
    ///
    /// Each shard is converted under its write lock, its keys and its copy
    /// of the quota together, so a check (under the shard's read lock)
    /// decides under one quota and the state that goes with it. Shards are
    /// converted one after the other: while the change runs, keys in shards
    /// not yet reached answer under the old quota.
    ///
    /// # Errors
    /// As [`KeyedLimiterBuilder::build`]; on error nothing changes.
    pub fn set_quota(&self, rate: f64, burst: u64) -> Result<(), Error> {
        self.set_gcra(Gcra::new(rate, burst)?);
        Ok(())
    }

    fn set_gcra(&self, to: Gcra) {
        let mut quota = self.quota.lock();
        for s in self.shards.iter() {
            let mut guard = s.write();
            let from = guard.gcra;
            // Under the lock, as every check reads it.
            let now = self.clock.now_nanos();
            for e in guard.map.iter() {
                // Relaxed: the write lock excludes every CAS on these words,
                // and its acquire ordered the earlier ones before us.
                let tat = e.tat.load(Ordering::Relaxed);
                e.tat.store(from.convert(tat, now, &to), Ordering::Relaxed);
            }
            guard.gcra = to;
        }
        *quota = to;
    }

    /// Charges `cost` to `key`, inserting it if new: the quota and the
    /// clock reading it was decided at, and the new TAT or the TAT seen and
    /// why not. `cost` is checked against the shard's quota, and non-zero.
    #[inline]
    #[allow(clippy::type_complexity)]
    fn take<Q>(&self, key: &Q, cost: u64) -> Result<(Gcra, u64, Result<u64, (u64, Refusal)>), Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash);
        {
            let guard = shard.read();
            guard.gcra.check_cost(cost)?;
            if let Some(e) = guard.map.find(hash, |e| e.key.borrow() == key) {
                // Under the lock: see the type's docs.
                let now = self.clock.now_nanos();
                return Ok((
                    guard.gcra,
                    now,
                    Self::charge(&guard.gcra, &e.tat, now, cost),
                ));
            }
        }
        let mut guard = shard.write();
        let gcra = guard.gcra;
        gcra.check_cost(cost)?;
        let now = self.clock.now_nanos();
        if let Some(e) = guard.map.find(hash, |e| e.key.borrow() == key) {
            return Ok((gcra, now, Self::charge(&gcra, &e.tat, now, cost)));
        }
        // A new key is a full bucket (TAT 0).
        let tat = match gcra.decide(0, now, cost) {
            Ok(tat) => tat,
            Err(refusal) => return Ok((gcra, now, Err((0, refusal)))),
        };
        if guard.map.len() >= guard.next_sweep {
            self.sweep_shard(&mut guard, now, true);
        }
        guard.map.insert_unique(
            hash,
            Entry {
                key: key.to_owned(),
                tat: AtomicU64::new(tat),
            },
            |e| self.hasher.hash_one(&e.key),
        );
        Ok((gcra, now, Ok(tat)))
    }

    /// Takes one token from `key`'s bucket: `try_acquire(key, 1)`.
    ///
    /// # Errors
    /// [`Error::RateLimited`] with the time until `key` has a token;
    /// [`Error::EndOfTime`] as for [`try_acquire`](Self::try_acquire).
    #[inline]
    pub fn check<Q>(&self, key: &Q) -> Result<(), Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        Limiter::<Q>::check(self, key)
    }

    /// Takes `cost` tokens from `key`'s bucket, sleeping on the clock until
    /// they are available ([`Limiter::acquire`]).
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost` is above the limit;
    /// [`Error::EndOfTime`] (at once, or when the clock gets there) if the
    /// tokens would refill only after the clock's last reading.
    pub fn acquire<Q>(&self, key: &Q, cost: u64) -> Result<(), Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        Limiter::<Q>::acquire(self, key, cost)
    }

    /// The async form of [`acquire`](Self::acquire): waits until `key`'s
    /// bucket admits `cost` tokens, sleeping on `sleeper` (the crate's one
    /// [`Sleeper`](crate::sleep::Sleeper) abstraction; it should wait on
    /// this limiter's clock); [`AsyncLimiter::until_ready`](super::AsyncLimiter::until_ready).
    /// Waiters on one key retry after each denial's retry-after; unlike the
    /// single-bucket limiters they are not queued first come, first served
    /// (a per-key line would cost memory per key).
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost` is above the limit;
    /// [`Error::EndOfTime`] as for [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    /// Cancel safe: nothing is consumed until the poll that returns
    /// `Ok(())`; a dropped wait takes no tokens and holds nobody up.
    #[cfg(feature = "async")]
    pub async fn until_key_ready<Q, Sl>(
        &self,
        key: &Q,
        cost: u64,
        sleeper: &Sl,
    ) -> Result<(), Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
        Sl: crate::sleep::Sleeper,
    {
        super::AsyncLimiter::<Q>::until_ready(self, key, cost, sleeper).await
    }

    /// How long until `key` has `cost` tokens (zero if now), taking none:
    /// [`Limiter::wait_time`].
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost` is above the limit;
    /// [`Error::EndOfTime`] if that is after the clock's last reading.
    pub fn wait_time<Q>(&self, key: &Q, cost: u64) -> Result<Duration, Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let info = self.probe_key(key, cost)?;
        Ok(info.retry_after.unwrap_or(Duration::ZERO))
    }

    /// Whole tokens in `key`'s bucket now (the limit for an unknown key).
    pub fn available<Q>(&self, key: &Q) -> u64
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (gcra, tat, now) = self.snapshot(key);
        gcra.available(tat, now)
    }

    /// [`Limiter::probe`], for any key the map can look up.
    fn probe_key<Q>(&self, key: &Q, cost: u64) -> Result<RateLimitInfo, Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (gcra, tat, now) = self.snapshot(key);
        gcra.probe(tat, now, cost)
    }

    /// `key`'s quota, TAT (0 for an unknown key: full) and the clock
    /// reading, all under the shard's read lock.
    fn snapshot<Q>(&self, key: &Q) -> (Gcra, u64, u64)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let guard = self.shard(hash).read();
        let now = self.clock.now_nanos();
        let tat = guard
            .map
            .find(hash, |e| e.key.borrow() == key)
            // Relaxed: a snapshot; see `charge`.
            .map_or(0, |e| e.tat.load(Ordering::Relaxed));
        (guard.gcra, tat, now)
    }

    #[inline]
    fn charge(gcra: &Gcra, tat: &AtomicU64, now: u64, cost: u64) -> Result<u64, (u64, Refusal)> {
        // Relaxed: the TAT publishes no other data; the CAS alone keeps
        // concurrent checks from spending the same credit. Removal of the
        // entry and re-quotas are ordered by the shard lock, not by this
        // word, so the quota is fixed for the loop and the word is the TAT.
        let seen = tat.load(Ordering::Relaxed);
        let view = |word| {
            Ok::<_, std::convert::Infallible>(View {
                gcra: *gcra,
                word,
                tat: word,
                bias: 0,
            })
        };
        match gcra::charge(tat, seen, now, cost, view) {
            Ok((_, decided)) => decided,
            Err(never) => match never {},
        }
    }

    /// The limit (burst capacity) of each bucket, under its older name:
    /// the same as [`Requota::limit`].
    pub fn capacity(&self) -> u64 {
        self.quota.lock().capacity()
    }

    /// Effective refill rate per key, tokens per second.
    pub fn rate(&self) -> f64 {
        1e9 / self.quota.lock().interval() as f64
    }
}

impl<K: Hash + Eq, S: BuildHasher, C: Clock> Requota for KeyedLimiter<K, S, C> {
    fn policy(&self) -> RateLimitPolicy {
        RateLimitPolicy::of_gcra(&self.quota.lock())
    }

    /// As [`set_quota`](KeyedLimiter::set_quota), with the rate given as
    /// `limit` tokens per `window`.
    fn set_policy(&self, policy: RateLimitPolicy) -> Result<(), Error> {
        self.set_gcra(policy.to_gcra()?);
        Ok(())
    }
}

/// One bucket per key, looked up by any form `Q` the keys borrow as.
impl<K, Q, S, C> Limiter<Q> for KeyedLimiter<K, S, C>
where
    K: Hash + Eq + Borrow<Q>,
    Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    S: BuildHasher,
    C: Clock,
{
    #[inline]
    fn throttle(&self, key: &Q, cost: u64) -> Result<RateLimitInfo, Error> {
        if cost == 0 {
            let (gcra, tat, now) = self.snapshot(key);
            return Ok(gcra.admitted(tat.max(now), now));
        }
        let (gcra, now, charged) = self.take(key, cost)?;
        gcra.answer(now, charged)
    }

    /// The provided method's decision without the headers' values (a
    /// division): the hot path of `check`. `cost == 0` stores nothing.
    #[inline]
    fn try_acquire(&self, key: &Q, cost: u64) -> Result<(), Error> {
        if cost == 0 {
            return Ok(());
        }
        let (_, _, charged) = self.take(key, cost)?;
        charged
            .map(drop)
            .map_err(|(_, refusal)| refusal.into_error())
    }

    fn probe(&self, key: &Q, cost: u64) -> Result<RateLimitInfo, Error> {
        self.probe_key(key, cost)
    }

    fn sleep(&self, duration: Duration) {
        self.clock.sleep(duration);
    }
}

impl<K, S, C: Clock> fmt::Debug for KeyedLimiter<K, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quota = *self.quota.lock();
        f.debug_struct("KeyedLimiter")
            .field("rate", &(1e9 / quota.interval() as f64))
            .field("limit", &quota.capacity())
            .field("shards", &self.shards.len())
            .field("shard_cap", &self.shard_cap)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, loom))]
mod loom_models;
