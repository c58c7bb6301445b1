use super::bucket::limited;
use super::fifo::Fifo;
use super::Error;
use crate::clock::{duration_to_nanos, Clock, MonotonicClamp, SystemClock};
use crate::sync::Mutex;
use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

/// An exact sliding-window limiter: at most `limit` units of cost in any
/// window of length `window`.
///
/// A unit admitted at time `s` counts against every request at time `t`
/// with `t - s < window`. The limiter keeps one entry per admitted request
/// (its timestamp and its cost) in a ring buffer, oldest first, so a request
/// of any cost takes 16 bytes: the ring never holds more than `limit`
/// entries (every entry is at least one unit), and memory is bounded by
/// `16 x limit` bytes however many requests arrive and whatever they cost.
/// Storage grows on demand. Checks take a mutex; each is O(1) amortised
/// plus, for a denial, O(entries that must leave).
///
/// A clock reading earlier than the last one seen counts as no time passed
/// (see [`clock`](crate::clock#time-that-goes-backwards)): the log keeps
/// its entries, so a clock stepping back never admits more than `limit`.
/// Units admitted less than `window` before the clock's last reading
/// (`u64::MAX` ns) never leave: a request that waits on them is refused
/// with [`Error::EndOfTime`], not told to retry.
///
/// ```
/// use latchwork::clock::ManualClock;
/// use latchwork::ratelimit::SlidingWindowLog;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let log = SlidingWindowLog::builder()
///     .limit(2)
///     .window(Duration::from_secs(1))
///     .clock(clock.clone())
///     .build()?;
/// assert!(log.check().is_ok());
/// clock.advance(Duration::from_millis(400));
/// assert!(log.check().is_ok());
/// // The first request leaves the window 1 s after it was made.
/// assert_eq!(log.check().unwrap_err().retry_after(), Some(Duration::from_millis(600)));
/// clock.advance(Duration::from_millis(600));
/// assert!(log.check().is_ok());
/// # Ok::<(), latchwork::ratelimit::Error>(())
/// ```
pub struct SlidingWindowLog<C: Clock = SystemClock> {
    limit: u64,
    window: u64,
    ring: Mutex<Ring>,
    /// Clamps clock readings that go backwards (read under `ring`'s lock).
    clamp: MonotonicClamp,
    clock: C,
    /// The line of blocked and awaiting callers.
    fifo: Fifo,
}

/// One admitted request: when, and how many units.
#[derive(Clone, Copy, Debug)]
struct Entry {
    stamp: u64,
    cost: u64,
}

/// Admitted requests, oldest at the front, in clock order.
///
/// `entries.len() <= units <= limit`; storage grows (doubling, capped at
/// `limit`) only when the ring is full.
#[derive(Debug, Default)]
struct Ring {
    entries: VecDeque<Entry>,
    /// Sum of the entries' costs.
    units: u64,
}

impl Ring {
    fn expire(&mut self, now: u64, window: u64) {
        while let Some(e) = self.entries.front() {
            if now.saturating_sub(e.stamp) < window {
                break;
            }
            self.units -= e.cost;
            self.entries.pop_front();
        }
    }

    fn push(&mut self, stamp: u64, cost: u64, limit: u64) {
        self.units += cost;
        if let Some(last) = self.entries.back_mut() {
            if last.stamp == stamp {
                // Same instant: one entry (keeps the ring small under bursts).
                last.cost += cost;
                return;
            }
        }
        let len = self.entries.len();
        if len == self.entries.capacity() {
            // Grow by doubling but never beyond `limit` entries (validated
            // in `build` to fit memory as a `usize`).
            let cap = usize::try_from(limit).unwrap_or(usize::MAX);
            let want = len.saturating_mul(2).max(4).min(cap);
            self.entries.reserve_exact(want.saturating_sub(len).max(1));
        }
        self.entries.push_back(Entry { stamp, cost });
    }
}

/// Builder for [`SlidingWindowLog`]; see [`SlidingWindowLog::builder`].
#[derive(Clone, Debug)]
pub struct SlidingWindowLogBuilder<C = SystemClock> {
    limit: Option<u64>,
    window: Option<Duration>,
    clock: C,
}

impl<C: Clock> SlidingWindowLogBuilder<C> {
    /// Most units of cost admitted in any window (required, at least 1).
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The window length (required, above zero).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = Some(window);
        self
    }

    /// The clock.
    pub fn clock<C2: Clock>(self, clock: C2) -> SlidingWindowLogBuilder<C2> {
        SlidingWindowLogBuilder {
            limit: self.limit,
            window: self.window,
            clock,
        }
    }

    /// Builds the limiter.
    ///
    /// # Errors
    /// [`Error::MissingParameter`], [`Error::ZeroCapacity`] for a zero
    /// `limit`, [`Error::CapacityOverflow`] for a `limit` that does not fit
    /// memory (`usize`), [`Error::ZeroWindow`].
    pub fn build(self) -> Result<SlidingWindowLog<C>, Error> {
        let (limit, window) = window_params(self.limit, self.window)?;
        let entry = std::mem::size_of::<Entry>();
        if usize::try_from(limit).map_or(true, |l| l > isize::MAX as usize / entry) {
            return Err(Error::CapacityOverflow {
                parameter: "limit",
                value: limit,
            });
        }
        Ok(SlidingWindowLog {
            limit,
            window,
            ring: Mutex::new(Ring::default()),
            clamp: MonotonicClamp::new(),
            clock: self.clock,
            fifo: Fifo::new(),
        })
    }
}

/// The denial of a request that fits once the clock reads `at` (`> now`;
/// `u128`, so a time past the clock's range is exact):
/// [`Error::RateLimited`] with the wait, or [`Error::EndOfTime`] if `at`
/// lies beyond the clock's last reading, `u64::MAX`. A saturated wait there
/// would be zero or unreachable, and a blocking `acquire` would loop on it
/// without progress.
pub(crate) fn denied_until(now: u64, at: u128) -> Error {
    match u64::try_from(at) {
        Ok(at) => {
            debug_assert!(at > now, "a denial must wait: {at} <= {now}");
            limited(at.saturating_sub(now).max(1))
        }
        Err(_) => Error::EndOfTime {
            parameter: "window",
        },
    }
}

/// `wait_time`'s answer from a decision: zero, the denial's wait, or the
/// error that no wait fixes.
pub(crate) fn wait_of(decision: Result<(), Error>) -> Result<Duration, Error> {
    match decision {
        Ok(()) => Ok(Duration::ZERO),
        Err(Error::RateLimited { retry_after }) => Ok(retry_after),
        Err(e) => Err(e),
    }
}

/// Validates the `limit` and `window` of a window limiter.
pub(crate) fn window_params(
    limit: Option<u64>,
    window: Option<Duration>,
) -> Result<(u64, u64), Error> {
    let limit = limit.ok_or(Error::MissingParameter { parameter: "limit" })?;
    let window = window.ok_or(Error::MissingParameter {
        parameter: "window",
    })?;
    if limit == 0 {
        return Err(Error::ZeroCapacity { parameter: "limit" });
    }
    let window = duration_to_nanos(window);
    if window == 0 {
        return Err(Error::ZeroWindow {
            parameter: "window",
        });
    }
    Ok((limit, window))
}

impl SlidingWindowLog {
    /// A builder; `limit` and `window` are required.
    pub fn builder() -> SlidingWindowLogBuilder {
        SlidingWindowLogBuilder {
            limit: None,
            window: None,
            clock: SystemClock,
        }
    }
}

impl<C: Clock> SlidingWindowLog<C> {
    /// Admits `cost` units if the last `window` holds at most
    /// `limit - cost` units. `cost == 0` always succeeds.
    ///
    /// # Errors
    /// [`Error::RateLimited`] with the time until enough units leave the
    /// window; [`Error::CostExceedsCapacity`] if `cost > limit`;
    /// [`Error::EndOfTime`] if they leave only after the clock's last
    /// reading.
    pub fn try_acquire(&self, cost: u64) -> Result<(), Error> {
        self.check_cost(cost)?;
        if cost == 0 {
            return Ok(());
        }
        let mut ring = self.ring.lock();
        // Read under the lock, so stamps enter the ring in clock order.
        let now = self.now();
        self.decide(&mut ring, now, cost)?;
        ring.push(now, cost, self.limit);
        Ok(())
    }

    /// Admits one unit: `try_acquire(1)`.
    ///
    /// # Errors
    /// [`Error::RateLimited`] with the time until a unit leaves the window;
    /// [`Error::EndOfTime`] as for [`try_acquire`](Self::try_acquire).
    pub fn check(&self) -> Result<(), Error> {
        self.try_acquire(1)
    }

    /// Admits `cost` units, sleeping on the clock until they fit.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost > limit`;
    /// [`Error::EndOfTime`] (at once, or when the clock gets there) if the
    /// units would fit only after the clock's last reading.
    pub fn acquire(&self, cost: u64) -> Result<(), Error> {
        self.fifo.acquire(|| self.try_acquire(cost), &self.clock)
    }
    /// The async form of [`acquire`](Self::acquire): waits until `cost`
    /// units are admitted, sleeping on `sleeper` (the crate's one
    /// [`Sleeper`](crate::sleep::Sleeper) abstraction; it should wait on
    /// this limiter's clock). Waiters on one limiter are admitted first
    /// come, first served, threads in [`acquire`](Self::acquire) included:
    /// only the head of the line tries, and a newcomer queues behind it.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost > limit`;
    /// [`Error::EndOfTime`] as for [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    /// Cancel safe: nothing is consumed until the poll that returns
    /// `Ok(())`, so dropping the future at any await point takes no
    /// units; it leaves the line at once and, if it was at the head,
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

    /// How long until `cost` units would be admitted (zero if now).
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost > limit`;
    /// [`Error::EndOfTime`] if that is after the clock's last reading.
    pub fn wait_time(&self, cost: u64) -> Result<Duration, Error> {
        self.check_cost(cost)?;
        if cost == 0 {
            return Ok(Duration::ZERO);
        }
        let mut ring = self.ring.lock();
        let now = self.now();
        wait_of(self.decide(&mut ring, now, cost))
    }

    /// Units that could be admitted now.
    pub fn available(&self) -> u64 {
        let mut ring = self.ring.lock();
        let now = self.now();
        ring.expire(now, self.window);
        self.limit - ring.units
    }

    /// The most units admitted in any window.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window)
    }

    fn check_cost(&self, cost: u64) -> Result<(), Error> {
        if cost > self.limit {
            return Err(Error::CostExceedsCapacity {
                cost,
                capacity: self.limit,
            });
        }
        Ok(())
    }

    /// The clock reading, clamped so it never goes backwards; call with
    /// the ring's lock held.
    #[inline]
    fn now(&self) -> u64 {
        self.clamp.now(&self.clock)
    }

    /// `Ok` if `cost` fits at `now`, else the denial (see [`denied_until`]).
    fn decide(&self, ring: &mut Ring, now: u64, cost: u64) -> Result<(), Error> {
        ring.expire(now, self.window);
        // `units <= limit`, so this cannot underflow.
        let over = cost.saturating_sub(self.limit - ring.units);
        if over == 0 {
            return Ok(());
        }
        // The oldest `over` units must leave; the entry holding the last of
        // them leaves at its stamp + window (> now: it is live), which may
        // lie past `u64::MAX`: then it never leaves.
        let window = u128::from(self.window);
        let mut leaving = 0u64;
        for e in &ring.entries {
            leaving += e.cost;
            if leaving >= over {
                return Err(denied_until(now, u128::from(e.stamp) + window));
            }
        }
        // Unreachable while `units` is the entries' sum and `cost <= limit`;
        // a full window is the safe answer.
        Err(denied_until(now, u128::from(now) + window))
    }

    /// Checks the ring's invariants, naming the first one broken. For fuzz
    /// targets and model tests; not part of the stable API.
    #[doc(hidden)]
    pub fn validate(&self) -> Result<(), &'static str> {
        let ring = self.ring.lock();
        if ring.entries.iter().map(|e| e.cost).sum::<u64>() != ring.units {
            return Err("ring units differ from the entries' costs");
        }
        if ring.units > self.limit {
            return Err("ring holds more units than the limit");
        }
        if ring.entries.iter().any(|e| e.cost == 0) {
            return Err("ring holds an entry of zero cost");
        }
        if ring.entries.capacity() as u64 > self.limit.max(4) {
            return Err("ring storage beyond the limit");
        }
        let mut it = ring.entries.iter().map(|e| e.stamp);
        if let Some(mut prev) = it.next() {
            for s in it {
                if s <= prev {
                    return Err("ring out of clock order");
                }
                prev = s;
            }
        }
        Ok(())
    }
}

impl<C: Clock> fmt::Debug for SlidingWindowLog<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlidingWindowLog")
            .field("limit", &self.limit)
            .field("window", &self.window())
            .finish_non_exhaustive()
    }
}
