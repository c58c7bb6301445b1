use super::fifo::Fifo;
use super::gcra::{Gcra, Refusal};
use super::{Error, RateLimitInfo};
use crate::clock::{Clock, SystemClock};
use crate::sync::atomic::{AtomicU64, Ordering};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::time::Duration;

/// A lock-free token bucket: `rate` tokens per second, at most `burst`
/// stored, starting full.
///
/// Refill is continuous: `tokens = min(burst, tokens + elapsed x rate)`. The
/// whole state is one `AtomicU64` (the GCRA theoretical arrival time, see
/// `TokenBucket::tat`), updated by a compare-and-swap loop: no lock and no
/// allocation on the check path. Under any interleaving the admitted cost up
/// to time `t` never exceeds `burst + rate x t`.
///
/// The emission interval `1e9 / rate` is rounded up to a whole nanosecond,
/// so the effective rate ([`rate`](TokenBucket::rate)) never exceeds the one
/// asked for, and equals it whenever `1e9 / rate` is whole.
///
/// The state is a clock reading, so it cannot pass the clock's last one
/// (`u64::MAX` ns, about 584 years after its origin): a cost whose tokens
/// would refill only after it can never be admitted, and is refused with
/// [`Error::EndOfTime`] (naming the refill `interval`), not told to retry.
/// Every [`Error::RateLimited`] wait ends at a reading the clock reaches.
///
/// ```
/// use latchwork::clock::ManualClock;
/// use latchwork::ratelimit::{Error, TokenBucket};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let bucket = TokenBucket::builder().rate(10.0).burst(2).clock(clock.clone()).build()?;
/// assert!(bucket.check().is_ok());
/// assert!(bucket.check().is_ok());
/// // Empty: the next token arrives in 1/10 s.
/// assert_eq!(bucket.check(), Err(Error::RateLimited { retry_after: Duration::from_millis(100) }));
/// clock.advance(Duration::from_millis(100));
/// assert!(bucket.check().is_ok());
/// // A cost above the burst could never succeed: a typed error, not a denial.
/// assert!(matches!(bucket.try_acquire(3), Err(Error::CostExceedsCapacity { .. })));
/// # Ok::<(), Error>(())
/// ```
pub struct TokenBucket<C: Clock = SystemClock> {
    /// The theoretical arrival time (TAT), in clock nanoseconds: the reading
    /// at which the bucket will be full again. One word, no packing:
    ///
    /// | value            | meaning                                    |
    /// |------------------|--------------------------------------------|
    /// | `tat <= now`     | full (`burst` tokens); 0 when fresh        |
    /// | `now < tat`      | `burst - (tat - now) / interval` tokens    |
    /// | `tat - now > tau`| never stored: admission keeps it `<= tau`  |
    tat: CachePadded<AtomicU64>,
    gcra: Gcra,
    clock: C,
    /// The line of blocked and awaiting callers.
    fifo: Fifo,
}

/// Builder for [`TokenBucket`]; see [`TokenBucket::builder`].
#[derive(Clone, Debug)]
pub struct TokenBucketBuilder<C = SystemClock> {
    rate: Option<f64>,
    burst: Option<u64>,
    clock: C,
}

impl TokenBucketBuilder {
    fn new() -> Self {
        TokenBucketBuilder {
            rate: None,
            burst: None,
            clock: SystemClock,
        }
    }
}

impl<C: Clock> TokenBucketBuilder<C> {
    /// Refill rate in tokens per second (required): finite, above 0, at
    /// most 1e9.
    pub fn rate(mut self, tokens_per_second: f64) -> Self {
        self.rate = Some(tokens_per_second);
        self
    }

    /// Capacity in tokens: the largest burst. Default: one second's worth
    /// (`ceil(rate)`, at least 1).
    pub fn burst(mut self, tokens: u64) -> Self {
        self.burst = Some(tokens);
        self
    }

    /// The clock, for example a [`ManualClock`](crate::clock::ManualClock)
    /// in tests.
    pub fn clock<C2: Clock>(self, clock: C2) -> TokenBucketBuilder<C2> {
        TokenBucketBuilder {
            rate: self.rate,
            burst: self.burst,
            clock,
        }
    }

    /// Builds the bucket, full.
    ///
    /// # Errors
    /// [`Error::MissingParameter`] without a rate, [`Error::InvalidRate`],
    /// [`Error::RateOutOfRange`], [`Error::ZeroCapacity`] for a zero burst,
    /// [`Error::CapacityOverflow`].
    pub fn build(self) -> Result<TokenBucket<C>, Error> {
        let gcra = gcra_from(self.rate, self.burst)?;
        Ok(TokenBucket {
            tat: CachePadded::new(AtomicU64::new(0)),
            gcra,
            clock: self.clock,
            fifo: Fifo::new(),
        })
    }
}

/// Validates a builder's rate and burst (shared with the keyed limiter).
pub(crate) fn gcra_from(rate: Option<f64>, burst: Option<u64>) -> Result<Gcra, Error> {
    let rate = rate.ok_or(Error::MissingParameter { parameter: "rate" })?;
    let burst = match burst {
        Some(b) => b,
        // A NaN or out-of-range rate is reported by `Gcra::new` below.
        None if rate.is_finite() && rate > 0.0 => (rate.ceil() as u64).max(1),
        None => 1,
    };
    Gcra::new(rate, burst)
}

pub(crate) fn limited(wait_nanos: u64) -> Error {
    Error::RateLimited {
        retry_after: Duration::from_nanos(wait_nanos),
    }
}

impl TokenBucket {
    /// A builder; `rate` is required.
    pub fn builder() -> TokenBucketBuilder {
        TokenBucketBuilder::new()
    }

    /// A bucket of `rate` tokens per second holding at most `burst`, on the
    /// system clock.
    ///
    /// # Errors
    /// As [`TokenBucketBuilder::build`].
    pub fn new(rate: f64, burst: u64) -> Result<Self, Error> {
        Self::builder().rate(rate).burst(burst).build()
    }
}

impl<C: Clock> TokenBucket<C> {
    /// Takes `cost` tokens if they are available now.
    ///
    /// `cost == 0` always succeeds and changes nothing.
    ///
    /// # Errors
    /// [`Error::RateLimited`] with the time until `cost` tokens will be
    /// available; [`Error::CostExceedsCapacity`] if `cost > burst`;
    /// [`Error::EndOfTime`] if they would be available only after the
    /// clock's last reading.
    #[inline]
    pub fn try_acquire(&self, cost: u64) -> Result<(), Error> {
        self.gcra.check_cost(cost)?;
        if cost == 0 {
            return Ok(());
        }
        let now = self.clock.now_nanos();
        self.charge(now, cost)
            .map(|_| ())
            .map_err(|(_, refusal)| refusal.into_error())
    }

    /// Takes `cost` tokens if available now, like
    /// [`try_acquire`](Self::try_acquire), and answers with the
    /// [`RateLimitInfo`] for rate-limit headers: a denial is
    /// `Ok` with `allowed: false`, as from the Redis-backed limiter.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost > burst`;
    /// [`Error::EndOfTime`] as for [`try_acquire`](Self::try_acquire).
    pub fn check_info(&self, cost: u64) -> Result<RateLimitInfo, Error> {
        self.gcra.check_cost(cost)?;
        let now = self.clock.now_nanos();
        if cost == 0 {
            // Relaxed: a snapshot; see `charge`.
            let tat = self.tat.load(Ordering::Relaxed);
            return Ok(self.gcra.admitted(tat.max(now), now));
        }
        match self.charge(now, cost) {
            Ok(new) => Ok(self.gcra.admitted(new, now)),
            Err((tat, Refusal::Wait(wait))) => Ok(self.gcra.denied(tat, now, wait)),
            Err((_, never)) => Err(never.into_error()),
        }
    }

    /// The CAS loop: the new TAT if admitted, else the TAT seen and why not.
    #[inline]
    fn charge(&self, now: u64, cost: u64) -> Result<u64, (u64, Refusal)> {
        // Relaxed: the TAT publishes no other data. Admission depends only
        // on this one word, and the CAS (an RMW) sees the latest value in
        // its modification order, so no two threads spend the same credit.
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let new = self.gcra.decide(tat, now, cost).map_err(|w| (tat, w))?;
            // Relaxed: see the load above.
            match self
                .tat
                .compare_exchange_weak(tat, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(new),
                Err(actual) => tat = actual,
            }
        }
    }

    /// Changes the rate and burst, keeping the bucket's state: a full
    /// bucket stays full, otherwise it keeps the whole tokens it had (at
    /// most the new burst) and refills at the new rate, so a change never
    /// hands out a fresh burst. `&mut self`: no check can race the change.
    ///
    /// # Errors
    /// As [`TokenBucketBuilder::build`]; on error nothing changes.
    pub fn set_quota(&mut self, rate: f64, burst: u64) -> Result<(), Error> {
        let to = Gcra::new(rate, burst)?;
        let now = self.clock.now_nanos();
        // Relaxed: `&mut self` excludes every other access.
        let tat = self.tat.load(Ordering::Relaxed);
        self.tat
            .store(self.gcra.convert(tat, now, &to), Ordering::Relaxed);
        self.gcra = to;
        Ok(())
    }

    /// Takes one token if available: `try_acquire(1)`.
    ///
    /// # Errors
    /// [`Error::RateLimited`] with the time until a token will be available;
    /// [`Error::EndOfTime`] as for [`try_acquire`](Self::try_acquire).
    #[inline]
    pub fn check(&self) -> Result<(), Error> {
        self.try_acquire(1)
    }

    /// Takes `cost` tokens, sleeping on the bucket's clock until they are
    /// available.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost > burst`;
    /// [`Error::EndOfTime`] (at once, or when the clock gets there) if the
    /// tokens would be available only after the clock's last reading.
    pub fn acquire(&self, cost: u64) -> Result<(), Error> {
        self.fifo.acquire(|| self.try_acquire(cost), &self.clock)
    }

    /// The async form of [`acquire`](Self::acquire): waits until `cost`
    /// tokens are admitted, sleeping on `sleeper` (the crate's one
    /// [`Sleeper`](crate::sleep::Sleeper) abstraction; it should wait on
    /// this limiter's clock). Waiters on one limiter are admitted first
    /// come, first served, threads in [`acquire`](Self::acquire) included:
    /// only the head of the line tries, and a newcomer queues behind it.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost > burst`;
    /// [`Error::EndOfTime`] as for [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    /// Cancel safe: nothing is consumed until the poll that returns
    /// `Ok(())`, so dropping the future at any await point takes no
    /// tokens; it leaves the line at once and, if it was at the head,
    /// hands the turn to the next waiter, so it holds nobody up.
    #[cfg(feature = "async")]
    pub async fn until_ready<S: crate::sleep::Sleeper>(
        &self,
        cost: u64,
        sleeper: &S,
    ) -> Result<(), Error> {
        self.fifo
            .until_ready(|| self.try_acquire(cost), sleeper)
            .await
    }

    /// How long until `cost` tokens are available (zero if now), without
    /// taking any: for callers that sleep on their own (async) runtime.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost > burst`;
    /// [`Error::EndOfTime`] if that is after the clock's last reading.
    pub fn wait_time(&self, cost: u64) -> Result<Duration, Error> {
        self.gcra.check_cost(cost)?;
        let now = self.clock.now_nanos();
        // Relaxed: a snapshot; see `try_acquire`.
        let tat = self.tat.load(Ordering::Relaxed);
        match self.gcra.decide(tat, now, cost) {
            Ok(_) => Ok(Duration::ZERO),
            Err(refusal) => refusal.into_wait(),
        }
    }

    /// Whole tokens available now.
    pub fn available(&self) -> u64 {
        let now = self.clock.now_nanos();
        // Relaxed: a snapshot; see `try_acquire`.
        self.gcra.available(self.tat.load(Ordering::Relaxed), now)
    }

    /// The burst capacity in tokens.
    pub fn capacity(&self) -> u64 {
        self.gcra.capacity()
    }

    /// The effective refill rate in tokens per second (`1e9 / interval`).
    pub fn rate(&self) -> f64 {
        1e9 / self.gcra.interval() as f64
    }

    /// Time to refill one token: `1 / rate`, rounded up to a nanosecond.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.gcra.interval())
    }

    /// The bucket's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

impl<C: Clock> fmt::Debug for TokenBucket<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBucket")
            .field("rate", &self.rate())
            .field("capacity", &self.capacity())
            .field("available", &self.available())
            .finish()
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::clock::ManualClock;
    use crate::sync::{thread, Arc};

    /// No refill (the clock stands still): among three concurrent unit
    /// acquires on a bucket of two, exactly two succeed.
    #[test]
    fn exactly_capacity_succeed() {
        loom::model(|| {
            let bucket = Arc::new(
                TokenBucket::builder()
                    .rate(1.0)
                    .burst(2)
                    .clock(ManualClock::new())
                    .build()
                    .unwrap(),
            );
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let b = Arc::clone(&bucket);
                    thread::spawn(move || u64::from(b.check().is_ok()))
                })
                .collect();
            let mine = u64::from(bucket.check().is_ok());
            let total: u64 = mine + hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>();
            assert_eq!(total, 2);
            assert_eq!(bucket.available(), 0);
        });
    }

    /// With refill racing the acquires, admitted cost stays within
    /// `burst + elapsed / interval`.
    #[test]
    fn refill_race_stays_within_bound() {
        loom::model(|| {
            let clock = ManualClock::new();
            let bucket = Arc::new(
                TokenBucket::builder()
                    .rate(1e8) // 10 ns per token
                    .burst(1)
                    .clock(clock.clone())
                    .build()
                    .unwrap(),
            );
            let b = Arc::clone(&bucket);
            let h =
                thread::spawn(move || u64::from(b.check().is_ok()) + u64::from(b.check().is_ok()));
            clock.advance(Duration::from_nanos(10));
            let mine = u64::from(bucket.check().is_ok());
            let total = mine + h.join().unwrap();
            assert!(total <= 2, "admitted {total} > burst 1 + 1 refilled");
            assert!(total >= 1);
        });
    }
}
