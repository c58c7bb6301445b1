//! [`TokenBucket`]: the lock-free GCRA bucket, its builder and its
//! [`Limiter`] impl; the state word and re-quota protocol are in `cell.rs`.
use super::gcra::Gcra;
use super::limiter::unkeyed_surface;
use super::line::WaitLine;
use super::{Error, Limiter, RateLimitInfo, RateLimitPolicy, Requota};
use crate::clock::{Clock, SystemClock};
use cell::GcraCell;
use std::fmt;
use std::time::Duration;

mod cell;

/// A lock-free token bucket: `rate` tokens per second, at most `limit` (the
/// burst capacity) stored, starting full.
///
/// Refill is continuous: `tokens = min(limit, tokens + elapsed x rate)`. The
/// state is one `AtomicU64` (the GCRA theoretical arrival time), updated by
/// a compare-and-swap loop: no lock and no allocation on the check path.
/// Under any interleaving the admitted cost up to time `t` never exceeds
/// `limit + rate x t`. The quota can change through `&self`
/// ([`set_quota`](Self::set_quota), [`Requota::set_policy`]) while checks
/// run: each check decides under one quota and the state that goes with it
/// (a seqlock'd quota and a re-based state word; see `bucket/cell.rs`).
///
/// It is a [`Limiter`] for every key type (the key is ignored), so code
/// written over the trait takes it as it takes a keyed limiter; the
/// inherent `check`, `try_acquire`, `acquire`, `until_ready` and
/// `wait_time` are the trait's methods with the key `()`.
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
/// let bucket = TokenBucket::builder().rate(10.0).limit(2).clock(clock.clone()).build()?;
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
    /// The theoretical arrival time and the quota it is read under.
    cell: GcraCell,
    clock: C,
    /// The line of blocked and awaiting callers.
    line: WaitLine,
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

    /// The limit: the most tokens the bucket holds, its largest burst.
    /// Default: one second's worth (`ceil(rate)`, at least 1).
    pub fn limit(mut self, tokens: u64) -> Self {
        self.burst = Some(tokens);
        self
    }

    /// The same as [`limit`](Self::limit), under its older name.
    pub fn burst(self, tokens: u64) -> Self {
        self.limit(tokens)
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
    /// [`Error::RateOutOfRange`], [`Error::ZeroCapacity`] for a zero limit,
    /// [`Error::CapacityOverflow`].
    pub fn build(self) -> Result<TokenBucket<C>, Error> {
        let gcra = Gcra::from_builder(self.rate, self.burst)?;
        Ok(TokenBucket {
            cell: GcraCell::new(gcra),
            clock: self.clock,
            line: WaitLine::new(),
        })
    }
}

impl TokenBucket {
    /// A builder; `rate` is required.
    pub fn builder() -> TokenBucketBuilder {
        TokenBucketBuilder::new()
    }

    /// A bucket of `rate` tokens per second holding at most `burst` (its
    /// limit), on the system clock.
    ///
    /// # Errors
    /// As [`TokenBucketBuilder::build`].
    pub fn new(rate: f64, burst: u64) -> Result<Self, Error> {
        Self::builder().rate(rate).burst(burst).build()
    }
}

impl<C: Clock> TokenBucket<C> {
    unkeyed_surface!("tokens");

    /// [`Limiter::throttle`] with the key `()`: takes `cost` tokens if
    /// available now and answers with the [`RateLimitInfo`] for rate-limit
    /// headers; a denial is `Ok` with `allowed: false`.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost` is above the limit;
    /// [`Error::EndOfTime`] if the tokens would refill only after the
    /// clock's last reading.
    pub fn check_info(&self, cost: u64) -> Result<RateLimitInfo, Error> {
        Limiter::<()>::throttle(self, &(), cost)
    }

    /// Changes the rate and the limit (burst) through `&self`, keeping the
    /// bucket's state: a full bucket stays full, otherwise it keeps the
    /// whole tokens it had (at most the new limit) and refills at the new
    /// rate, so a change never hands out a fresh burst. Checks racing the
    /// change decide under the old quota (and are converted with the
    /// state) or under the new one, never a mix.
    ///
    /// # Errors
    /// As [`TokenBucketBuilder::build`]; on error nothing changes.
    pub fn set_quota(&self, rate: f64, burst: u64) -> Result<(), Error> {
        let to = Gcra::new(rate, burst)?;
        self.cell.set(to, &self.clock);
        Ok(())
    }

    /// Whole tokens available now.
    pub fn available(&self) -> u64 {
        let now = self.clock.now_nanos();
        let snap = self.cell.snapshot();
        snap.gcra.available(snap.tat, now)
    }

    /// The limit (burst capacity) in tokens, under its older name: the
    /// same as [`Requota::limit`].
    pub fn capacity(&self) -> u64 {
        self.cell.snapshot().gcra.capacity()
    }

    /// The effective refill rate in tokens per second (`1e9 / interval`).
    pub fn rate(&self) -> f64 {
        1e9 / self.cell.snapshot().gcra.interval() as f64
    }

    /// Time to refill one token: `1 / rate`, rounded up to a nanosecond.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.cell.snapshot().gcra.interval())
    }

    /// The bucket's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

impl<C: Clock> Requota for TokenBucket<C> {
    fn policy(&self) -> RateLimitPolicy {
        RateLimitPolicy::of_gcra(&self.cell.snapshot().gcra)
    }

    /// As [`set_quota`](TokenBucket::set_quota), with the rate given as
    /// `limit` tokens per `window`.
    fn set_policy(&self, policy: RateLimitPolicy) -> Result<(), Error> {
        let to = policy.to_gcra()?;
        self.cell.set(to, &self.clock);
        Ok(())
    }
}

/// Every key shares the one bucket.
impl<K: ?Sized, C: Clock> Limiter<K> for TokenBucket<C> {
    #[inline]
    fn throttle(&self, _key: &K, cost: u64) -> Result<RateLimitInfo, Error> {
        let now = self.clock.now_nanos();
        if cost == 0 {
            let snap = self.cell.snapshot();
            return Ok(snap.gcra.admitted(snap.tat.max(now), now));
        }
        let (gcra, charged) = self.cell.charge(now, cost)?;
        gcra.answer(now, charged)
    }

    /// The provided method's decision without the headers' values (a
    /// division): the hot path of `check`.
    #[inline]
    fn try_acquire(&self, _key: &K, cost: u64) -> Result<(), Error> {
        if cost == 0 {
            return Ok(());
        }
        let now = self.clock.now_nanos();
        let (_, charged) = self.cell.charge(now, cost)?;
        charged
            .map(drop)
            .map_err(|(_, refusal)| refusal.into_error())
    }

    fn probe(&self, _key: &K, cost: u64) -> Result<RateLimitInfo, Error> {
        let now = self.clock.now_nanos();
        let snap = self.cell.snapshot();
        snap.gcra.probe(snap.tat, now, cost)
    }

    fn sleep(&self, duration: Duration) {
        self.clock.sleep(duration);
    }

    fn wait_line(&self) -> Option<&WaitLine> {
        Some(&self.line)
    }
}

impl<C: Clock> fmt::Debug for TokenBucket<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snap = self.cell.snapshot();
        f.debug_struct("TokenBucket")
            .field("rate", &(1e9 / snap.gcra.interval() as f64))
            .field("limit", &snap.gcra.capacity())
            .field(
                "available",
                &snap.gcra.available(snap.tat, self.clock.now_nanos()),
            )
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

    /// A re-quota races two checks on a bucket of 2 at 1/s (clock at 10 s),
    /// moving it to 2 at 2/s: each check decides under one quota and the
    /// state that goes with it, so every interleaving ends as a sequential
    /// order does (both admitted, the next token 0.5 s away). A check
    /// decided under the old quota after the change would leave it 1 s
    /// away.
    #[test]
    fn requota_vs_checks_is_linearizable() {
        loom::model(|| {
            let clock = ManualClock::new();
            clock.set(Duration::from_secs(10));
            let bucket = Arc::new(
                TokenBucket::builder()
                    .rate(1.0)
                    .limit(2)
                    .clock(clock)
                    .build()
                    .unwrap(),
            );
            let b = Arc::clone(&bucket);
            let h = thread::spawn(move || b.set_quota(2.0, 2).unwrap());
            let admitted = (0..2).filter(|_| bucket.check().is_ok()).count();
            h.join().unwrap();
            assert_eq!(admitted, 2);
            assert_eq!(bucket.wait_time(1), Ok(Duration::from_millis(500)));
        });
    }
}
