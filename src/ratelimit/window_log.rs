use super::bucket::limited;
use super::{retry_until_admitted, Error};
use crate::clock::{duration_to_nanos, Clock, SystemClock};
use crate::sync::Mutex;
use std::fmt;
use std::time::Duration;

/// An exact sliding-window limiter: at most `limit` units of cost in any
/// window of length `window`.
///
/// A unit admitted at time `s` counts against every request at time `t`
/// with `t - s < window`. The limiter keeps the timestamp of each counted
/// unit in a ring buffer of at most `limit` slots (grown on demand, never
/// beyond `limit`), so memory is bounded by `8 x limit` bytes however many
/// requests arrive. Checks take a mutex; each is O(1) amortised plus O(cost).
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
    clock: C,
}

/// Timestamps of counted units, oldest at `head`, in clock order.
///
/// `slots` grows (rotated so `head == 0`) until it holds `limit` entries,
/// then wraps; `len <= slots.len() <= limit`.
#[derive(Debug, Default)]
struct Ring {
    slots: Vec<u64>,
    head: usize,
    len: usize,
}

impl Ring {
    #[inline]
    fn get(&self, i: usize) -> u64 {
        self.slots[(self.head + i) % self.slots.len()]
    }

    fn expire(&mut self, now: u64, window: u64) {
        while self.len > 0 && now - self.slots[self.head] >= window {
            self.head = (self.head + 1) % self.slots.len();
            self.len -= 1;
        }
    }

    fn push(&mut self, stamp: u64, limit: usize) {
        if self.len == self.slots.len() {
            // Full storage but under the limit: unwrap to head 0 and grow.
            self.slots.rotate_left(self.head);
            self.head = 0;
            let want = (self.slots.len() * 2).max(4).min(limit) - self.slots.len();
            self.slots.reserve_exact(want);
            self.slots.push(stamp);
        } else {
            let i = (self.head + self.len) % self.slots.len();
            self.slots[i] = stamp;
        }
        self.len += 1;
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
        if usize::try_from(limit).map_or(true, |l| l > isize::MAX as usize / 8) {
            return Err(Error::CapacityOverflow {
                parameter: "limit",
                value: limit,
            });
        }
        Ok(SlidingWindowLog {
            limit,
            window,
            ring: Mutex::new(Ring::default()),
            clock: self.clock,
        })
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
    /// window; [`Error::CostExceedsCapacity`] if `cost > limit`.
    pub fn try_acquire(&self, cost: u64) -> Result<(), Error> {
        self.check_cost(cost)?;
        if cost == 0 {
            return Ok(());
        }
        let mut ring = self.ring.lock();
        // Read under the lock, so stamps enter the ring in clock order.
        let now = self.clock.now_nanos();
        match self.decide(&mut ring, now, cost) {
            Ok(()) => {
                for _ in 0..cost {
                    ring.push(now, self.limit as usize);
                }
                Ok(())
            }
            Err(wait) => Err(limited(wait)),
        }
    }

    /// Admits one unit: `try_acquire(1)`.
    ///
    /// # Errors
    /// [`Error::RateLimited`] with the time until a unit leaves the window.
    pub fn check(&self) -> Result<(), Error> {
        self.try_acquire(1)
    }

    /// Admits `cost` units, sleeping on the clock until they fit.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost > limit`.
    pub fn acquire(&self, cost: u64) -> Result<(), Error> {
        retry_until_admitted(|| self.try_acquire(cost), &self.clock)
    }

    /// How long until `cost` units would be admitted (zero if now).
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost > limit`.
    pub fn wait_time(&self, cost: u64) -> Result<Duration, Error> {
        self.check_cost(cost)?;
        if cost == 0 {
            return Ok(Duration::ZERO);
        }
        let mut ring = self.ring.lock();
        let now = self.clock.now_nanos();
        Ok(Duration::from_nanos(
            self.decide(&mut ring, now, cost).err().unwrap_or(0),
        ))
    }

    /// Units that could be admitted now.
    pub fn available(&self) -> u64 {
        let mut ring = self.ring.lock();
        let now = self.clock.now_nanos();
        ring.expire(now, self.window);
        self.limit - ring.len as u64
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

    /// `Ok` if `cost` fits at `now`, else the nanoseconds until it does.
    fn decide(&self, ring: &mut Ring, now: u64, cost: u64) -> Result<(), u64> {
        ring.expire(now, self.window);
        let over = (ring.len as u64 + cost).saturating_sub(self.limit);
        if over == 0 {
            return Ok(());
        }
        // The `over` oldest units must leave; the last of them, at index
        // `over - 1`, leaves at its stamp + window (> now: it is live).
        Err(ring.get(over as usize - 1).saturating_add(self.window) - now)
    }

    /// Checks the ring's invariants, naming the first one broken. For fuzz
    /// targets and model tests; not part of the stable API.
    #[doc(hidden)]
    pub fn validate(&self) -> Result<(), &'static str> {
        let ring = self.ring.lock();
        if ring.len > ring.slots.len() {
            return Err("ring holds more than its storage");
        }
        if ring.slots.len() as u64 > self.limit {
            return Err("ring storage beyond the limit");
        }
        if ring.head >= ring.slots.len().max(1) {
            return Err("ring head out of bounds");
        }
        if (1..ring.len).any(|i| ring.get(i - 1) > ring.get(i)) {
            return Err("ring out of clock order");
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
