//! The one interface of every rate limiter: [`Limiter`] (answers at once),
//! [`AsyncLimiter`] (its async form, implemented by every `Limiter` and by
//! the Redis limiter) and [`Requota`] (the quota both report and change),
//! with the waiting and the `Err`-style conveniences written once, here.
use super::line::{self, WaitLine};
use super::{Error, RateLimitInfo, RateLimitPolicy};
use std::future::Future;
use std::time::Duration;

/// The quota side of a limiter, shared by [`Limiter`] and [`AsyncLimiter`]:
/// what the limiter allows ([`policy`](Self::policy), [`limit`](Self::limit))
/// and a change of it through `&self`.
///
/// These are the documented names of the quantities: the **limit** is a
/// bucket's burst capacity or a window's count (the older
/// `TokenBucket::capacity` and the builders' `.burst(..)` are the same
/// number), and the **policy** adds the window over which the limit
/// applies, as the `RateLimit-Policy` header states it.
pub trait Requota {
    /// The quota in force: `limit` units per `window` (see
    /// [`RateLimitPolicy`] for what the window is for a token bucket).
    fn policy(&self) -> RateLimitPolicy;

    /// Changes the quota through `&self`, keeping what was admitted: a
    /// token bucket keeps the whole tokens it had (at most the new limit; a
    /// full bucket stays full), a window keeps the units it holds, so no
    /// change hands out a fresh burst. Checks running meanwhile see either
    /// the old quota with the old state or the new quota with the converted
    /// state, never a mix.
    ///
    /// # Errors
    /// What the limiter's builder would answer for the same quota (for
    /// example [`Error::CapacityOverflow`] when a bucket's `limit x
    /// interval` passes `u64::MAX` nanoseconds); on error nothing changes.
    fn set_policy(&self, policy: RateLimitPolicy) -> Result<(), Error>;

    /// The most units of cost the limiter admits at once: a bucket's burst
    /// capacity, a window's limit. The `limit` of every [`RateLimitInfo`].
    fn limit(&self) -> u64 {
        self.policy().limit()
    }
}

/// A rate limiter that answers at once: the token buckets, the sliding
/// windows, the keyed limiter (per key) and the blocking Redis limiter.
///
/// `K` is the key a request is limited by. Keyed limiters implement
/// `Limiter<Q>` for the key types they can look up (a
/// `KeyedLimiter<String>` both `Limiter<str>` and `Limiter<String>`);
/// unkeyed ones implement `Limiter<K>` for **every** `K` and ignore it. So
/// middleware that extracts a key from each request (a client id, an IP) is
/// written once over `L: Limiter<K>` (or [`AsyncLimiter<K>`]) and takes a
/// global bucket, a per-client limiter or a shared Redis limiter unchanged:
/// swapping the limiter never means changing the key extractor. (An
/// associated `Key` type with `()` for unkeyed limiters would force every
/// caller of a global limiter to produce a `()` and would tie each keyed
/// limiter to one borrowed form of its key.) A concrete unkeyed limiter is
/// called with `&()`.
///
/// # The one convention
/// [`throttle`](Self::throttle) is the central method: a **denial is an
/// answer**, `Ok(info)` with `info.allowed == false` and a `retry_after`;
/// `Err` means the request could not be judged or can never pass: a cost
/// above the limit ([`Error::CostExceedsCapacity`]), tokens that would come
/// only after the clock's last reading ([`Error::EndOfTime`]) or, for a
/// shared store, a backend failure. The same answer fills the rate-limit
/// headers (`RateLimitInfo::write_headers` with the `http` feature).
/// [`try_acquire`](Self::try_acquire) and [`check`](Self::check) turn a
/// denial into `Err(`[`Error::RateLimited`]`)` for callers that want `?`;
/// they are conveniences on top of `throttle`.
///
/// ```
/// use latchwork::clock::ManualClock;
/// use latchwork::ratelimit::{KeyedLimiter, Limiter, TokenBucket};
///
/// /// One handler for every limiter: per client or global alike.
/// fn admit<L: Limiter<str>>(limiter: &L, client: &str) -> bool {
///     match limiter.throttle(client, 1) {
///         Ok(info) => info.allowed, // a denial is an answer: a 429
///         Err(_) => false,          // could never pass, or the store failed: a 5xx
///     }
/// }
///
/// let global = TokenBucket::builder().rate(1.0).limit(2).clock(ManualClock::new()).build()?;
/// let per_client = KeyedLimiter::<String>::builder()
///     .rate(1.0)
///     .limit(1)
///     .clock(ManualClock::new())
///     .build()?;
/// assert!(admit(&global, "alice") && admit(&global, "bob"));
/// assert!(!admit(&global, "carol"));
/// assert!(admit(&per_client, "alice") && admit(&per_client, "bob"));
/// assert!(!admit(&per_client, "alice"));
/// # Ok::<(), latchwork::ratelimit::Error>(())
/// ```
pub trait Limiter<K: ?Sized = ()>: Requota {
    /// Takes `cost` units from `key`'s allowance if they fit now, and
    /// answers where it stands after: a denial is `Ok` with `allowed:
    /// false` and the `retry_after` after which the same request fits (if
    /// nothing else is admitted meanwhile). `cost == 0` takes nothing and
    /// reports the state.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost > limit`;
    /// [`Error::EndOfTime`] if it could fit only after the clock's last
    /// reading; a store's errors for a shared limiter.
    fn throttle(&self, key: &K, cost: u64) -> Result<RateLimitInfo, Error>;

    /// What [`throttle`](Self::throttle) would answer now, taking nothing:
    /// `allowed` says whether `cost` fits, `remaining` counts the units
    /// before any is taken.
    ///
    /// # Errors
    /// As [`throttle`](Self::throttle).
    fn probe(&self, key: &K, cost: u64) -> Result<RateLimitInfo, Error>;

    /// Blocks the calling thread for `duration` of the limiter's own time:
    /// what [`acquire`](Self::acquire) sleeps on between tries (the
    /// limiter's [`Clock`](crate::clock::Clock), so a
    /// [`ManualClock`](crate::clock::ManualClock) advances instead).
    fn sleep(&self, duration: Duration);

    /// The line that makes waiters on this limiter first come, first
    /// served, if it keeps one: [`acquire`](Self::acquire) and
    /// `AsyncLimiter::until_ready` then queue on it, threads and tasks in
    /// one line. `None` (the default; the keyed limiter, whose per-key
    /// lines would cost memory per key) lets each waiter retry on its own.
    fn wait_line(&self) -> Option<&WaitLine> {
        None
    }

    /// [`throttle`](Self::throttle) in the `Err` convention: `Ok(())` when
    /// admitted, `Err(`[`Error::RateLimited`]`)` with the wait when denied.
    ///
    /// # Errors
    /// [`Error::RateLimited`], or what `throttle` fails with.
    fn try_acquire(&self, key: &K, cost: u64) -> Result<(), Error> {
        self.throttle(key, cost)?.into_result().map(drop)
    }

    /// One unit: `try_acquire(key, 1)`.
    ///
    /// # Errors
    /// As [`try_acquire`](Self::try_acquire).
    fn check(&self, key: &K) -> Result<(), Error> {
        self.try_acquire(key, 1)
    }

    /// Takes `cost` units, sleeping (see [`sleep`](Self::sleep)) until they
    /// fit, first come first served on limiters with a
    /// [`wait_line`](Self::wait_line).
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] at once; [`Error::EndOfTime`] (at
    /// once, or when the clock gets there); a store's errors.
    fn acquire(&self, key: &K, cost: u64) -> Result<(), Error> {
        line::acquire(
            self.wait_line(),
            || self.try_acquire(key, cost),
            |d| self.sleep(d),
        )
    }

    /// How long until `cost` units would fit (zero if now), taking none:
    /// for callers that schedule their own retries.
    ///
    /// # Errors
    /// As [`throttle`](Self::throttle).
    fn wait_time(&self, key: &K, cost: u64) -> Result<Duration, Error> {
        Ok(self.probe(key, cost)?.retry_after.unwrap_or(Duration::ZERO))
    }
}

/// The async form of [`Limiter`]: what a tower layer or any async handler
/// is written over.
///
/// Every [`Limiter`] is an `AsyncLimiter` (a blanket impl: its answer is
/// ready at once, and `until_ready` (feature `async`) queues on its
/// [`wait_line`](Limiter::wait_line)); the Redis limiter (feature `redis`)
/// implements it directly, one round trip per
/// [`throttle_async`](Self::throttle_async). Same key rule and the same one
/// convention as [`Limiter`]: a denial is `Ok` with `allowed: false`.
///
/// A blocking limiter's async form still blocks while it answers: fine for
/// the in-process limiters (no I/O), not for `BlockingRedisLimiter` on a
/// runtime's worker thread (use `RedisLimiter` there).
///
/// ```
/// use latchwork::clock::ManualClock;
/// use latchwork::ratelimit::{AsyncLimiter, TokenBucket};
///
/// async fn handle<L: AsyncLimiter<str>>(limiter: &L, client: &str) -> u16 {
///     match limiter.throttle_async(client, 1).await {
///         Ok(info) if info.allowed => 200,
///         Ok(_) => 429,
///         Err(_) => 503,
///     }
/// }
///
/// let bucket = TokenBucket::builder().rate(1.0).limit(1).clock(ManualClock::new()).build()?;
/// let status = futures::executor::block_on(async {
///     (handle(&bucket, "a").await, handle(&bucket, "b").await)
/// });
/// assert_eq!(status, (200, 429));
/// # Ok::<(), latchwork::ratelimit::Error>(())
/// ```
pub trait AsyncLimiter<K: ?Sized = ()>: Requota {
    /// The async form of [`Limiter::throttle`]: takes `cost` units from
    /// `key`'s allowance if they fit now; a denial is `Ok` with `allowed:
    /// false`.
    ///
    /// # Errors
    /// As [`Limiter::throttle`].
    ///
    /// # Cancel safety
    /// An in-process limiter's future is ready at once. A shared store's
    /// request, once sent, may be charged even if the future is dropped
    /// before its answer.
    fn throttle_async(
        &self,
        key: &K,
        cost: u64,
    ) -> impl Future<Output = Result<RateLimitInfo, Error>> + Send;

    /// The answer of [`throttle_async`](Self::throttle_async) at once, if
    /// this limiter can give it without waiting: `Some` for every
    /// in-process limiter (it is [`Limiter::throttle`]), `None` (the
    /// default) for a shared store, whose answer needs a round trip. Lets
    /// middleware decide within the call, without setting up a future.
    fn throttle_now(&self, key: &K, cost: u64) -> Option<Result<RateLimitInfo, Error>> {
        let _ = (key, cost);
        None
    }

    /// Waits until `cost` units are admitted, sleeping on `sleeper` (the
    /// crate's one [`Sleeper`](crate::sleep::Sleeper) abstraction; it
    /// should wait on the limiter's clock) for each denial's
    /// `retry_after`. On a limiter with a [`wait_line`](Limiter::wait_line)
    /// waiters are admitted first come, first served, threads in
    /// [`Limiter::acquire`] included: only the head of the line tries.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`]; [`Error::EndOfTime`]; a store's
    /// errors.
    ///
    /// # Cancel safety
    /// For the in-process limiters: cancel safe. Nothing is consumed until
    /// the poll that returns `Ok(())`; a dropped wait leaves the line at
    /// once and, if it was at the head, hands the turn on. For a shared
    /// store: as [`throttle_async`](Self::throttle_async).
    #[cfg(feature = "async")]
    fn until_ready<S: crate::sleep::Sleeper>(
        &self,
        key: &K,
        cost: u64,
        sleeper: &S,
    ) -> impl Future<Output = Result<(), Error>> {
        async move {
            loop {
                match self.throttle_async(key, cost).await?.into_result() {
                    Ok(_) => return Ok(()),
                    Err(Error::RateLimited { retry_after }) => sleeper.sleep(retry_after).await,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

impl<K: ?Sized, L: Limiter<K>> AsyncLimiter<K> for L {
    fn throttle_async(
        &self,
        key: &K,
        cost: u64,
    ) -> impl Future<Output = Result<RateLimitInfo, Error>> + Send {
        std::future::ready(self.throttle(key, cost))
    }

    fn throttle_now(&self, key: &K, cost: u64) -> Option<Result<RateLimitInfo, Error>> {
        Some(self.throttle(key, cost))
    }

    #[cfg(feature = "async")]
    fn until_ready<S: crate::sleep::Sleeper>(
        &self,
        key: &K,
        cost: u64,
        sleeper: &S,
    ) -> impl Future<Output = Result<(), Error>> {
        line::until_ready(
            self.wait_line(),
            move || self.try_acquire(key, cost),
            sleeper,
        )
    }
}

/// The inherent methods every unkeyed limiter has had since before the
/// trait (`try_acquire(cost)`, `check()`, `acquire(cost)`,
/// `until_ready(cost, sleeper)`, `wait_time(cost)`), written once as thin
/// calls of the [`Limiter`] methods with the key `()`. Expanded inside
/// `impl<C: Clock> Type<C>` blocks.
macro_rules! unkeyed_surface {
    ($unit:literal) => {
        #[doc = concat!("Takes `cost` ", $unit, " if they fit now: ")]
        #[doc = "[`Limiter::try_acquire`](crate::ratelimit::Limiter::try_acquire)"]
        #[doc = "(a denial is `Err(RateLimited)`; [`Limiter::throttle`](crate::ratelimit::Limiter::throttle)"]
        #[doc = "answers it as `Ok` with the headers' values). `cost == 0` always succeeds."]
        ///
        /// # Errors
        /// [`Error::RateLimited`] with the time until `cost` fits;
        /// [`Error::CostExceedsCapacity`] if `cost` is above the limit;
        /// [`Error::EndOfTime`] if it would fit only after the clock's last
        /// reading.
        #[inline]
        pub fn try_acquire(&self, cost: u64) -> Result<(), Error> {
            $crate::ratelimit::Limiter::<()>::try_acquire(self, &(), cost)
        }

        #[doc = concat!("Takes one of the ", $unit, ": `try_acquire(1)`.")]
        ///
        /// # Errors
        /// As [`try_acquire`](Self::try_acquire).
        #[inline]
        pub fn check(&self) -> Result<(), Error> {
            $crate::ratelimit::Limiter::<()>::check(self, &())
        }

        #[doc = concat!("Takes `cost` ", $unit, ", sleeping on the limiter's clock until they fit,")]
        /// first come, first served with every other waiter (see
        /// [`Limiter::acquire`](crate::ratelimit::Limiter::acquire)).
        ///
        /// # Errors
        /// [`Error::CostExceedsCapacity`] if `cost` is above the limit;
        /// [`Error::EndOfTime`] (at once, or when the clock gets there).
        pub fn acquire(&self, cost: u64) -> Result<(), Error> {
            $crate::ratelimit::Limiter::<()>::acquire(self, &(), cost)
        }

        #[doc = concat!("The async form of [`acquire`](Self::acquire): waits until `cost` ", $unit)]
        /// are admitted, sleeping on `sleeper` (it should wait on this
        /// limiter's clock); threads and tasks wait in one first come,
        /// first served line. See
        /// [`AsyncLimiter::until_ready`](crate::ratelimit::AsyncLimiter::until_ready).
        ///
        /// # Errors
        /// As [`acquire`](Self::acquire).
        ///
        /// # Cancel safety
        /// Cancel safe: nothing is consumed until the poll that returns
        /// `Ok(())`; a dropped wait leaves the line at once and, if it was
        /// at the head, hands the turn to the next waiter.
        #[cfg(feature = "async")]
        pub async fn until_ready<S: $crate::sleep::Sleeper>(
            &self,
            cost: u64,
            sleeper: &S,
        ) -> Result<(), Error> {
            $crate::ratelimit::AsyncLimiter::<()>::until_ready(self, &(), cost, sleeper).await
        }

        #[doc = concat!("How long until `cost` ", $unit, " would fit (zero if now), taking none.")]
        ///
        /// # Errors
        /// [`Error::CostExceedsCapacity`] if `cost` is above the limit;
        /// [`Error::EndOfTime`] if that is after the clock's last reading.
        pub fn wait_time(&self, cost: u64) -> Result<Duration, Error> {
            $crate::ratelimit::Limiter::<()>::wait_time(self, &(), cost)
        }
    };
}
pub(crate) use unkeyed_surface;
