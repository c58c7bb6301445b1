use super::fifo::Fifo;
use super::window_log::{denied_until, wait_of, window_params};
use super::Error;
use crate::clock::{Clock, MonotonicClamp, SystemClock};
use crate::sync::Mutex;
use std::fmt;
use std::time::Duration;

/// The O(1)-memory sliding-window approximation: a counter for the current
/// fixed window and one for the previous, weighted by overlap.
///
/// Time is cut into fixed windows `[k W, (k + 1) W)` from the clock's
/// origin. At offset `e` into window `k`, with `prev` units admitted in
/// window `k - 1` and `curr` in window `k`, a request of `cost` is admitted
/// iff (in exact integer arithmetic)
///
/// ```text
///   prev x (W - e) + (curr + cost) x W  <=  limit x W
/// ```
///
/// that is, the previous window is assumed to have been spread evenly and
/// only the part still inside the sliding window `(now - W, now]` counts.
/// The test is evaluated in `u128` as `prev x (W - e) <= (limit - curr -
/// cost) x W` (after `curr + cost <= limit`), so no product overflows even
/// for `limit = u64::MAX` and `W = u64::MAX` ns.
///
/// **Error bound.** The estimate is exact when traffic is uniform. It never
/// admits more than `limit` units in one fixed window, hence never more than
/// `2 x limit` in any sliding window of length `W`; the worst case is
/// `limit` units at the very end of one window followed by almost `limit`
/// more early in the next (the weighted count forgets the burst linearly).
/// It may also deny a little early when the previous window's traffic came
/// early. Use [`SlidingWindowLog`](super::SlidingWindowLog) when the limit
/// must be exact.
///
/// State is two counters and a window number behind a mutex (24 bytes).
///
/// A clock reading earlier than the last one seen counts as no time passed
/// (see [`clock`](crate::clock#time-that-goes-backwards)): the counts stay,
/// they are not reset by a window number that went down. A request that
/// could fit only after the clock's last reading (`u64::MAX` ns) is refused
/// with [`Error::EndOfTime`], not told to retry.
///
/// ```
/// use latchwork::clock::ManualClock;
/// use latchwork::ratelimit::SlidingWindowCounter;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let limiter = SlidingWindowCounter::builder()
///     .limit(10)
///     .window(Duration::from_secs(1))
///     .clock(clock.clone())
///     .build()?;
/// assert!(limiter.try_acquire(10).is_ok());
/// // Half-way into the next window, half of the previous one still counts.
/// clock.advance(Duration::from_millis(1500));
/// assert!(limiter.try_acquire(5).is_ok());
/// assert!(limiter.check().is_err());
/// # Ok::<(), latchwork::ratelimit::Error>(())
/// ```
pub struct SlidingWindowCounter<C: Clock = SystemClock> {
    limit: u64,
    window: u64,
    state: Mutex<Counts>,
    /// Clamps clock readings that go backwards (read under `state`'s lock).
    clamp: MonotonicClamp,
    clock: C,
    /// The line of blocked and awaiting callers.
    fifo: Fifo,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    /// Index of the current fixed window (`now / W`).
    index: u64,
    prev: u64,
    curr: u64,
}

/// Builder for [`SlidingWindowCounter`]; see
/// [`SlidingWindowCounter::builder`].
#[derive(Clone, Debug)]
pub struct SlidingWindowCounterBuilder<C = SystemClock> {
    limit: Option<u64>,
    window: Option<Duration>,
    clock: C,
}

impl<C: Clock> SlidingWindowCounterBuilder<C> {
    /// Most units of cost admitted per (estimated) window (required, >= 1).
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
    pub fn clock<C2: Clock>(self, clock: C2) -> SlidingWindowCounterBuilder<C2> {
        SlidingWindowCounterBuilder {
            limit: self.limit,
            window: self.window,
            clock,
        }
    }

    /// Builds the limiter.
    ///
    /// # Errors
    /// [`Error::MissingParameter`], [`Error::ZeroCapacity`] for a zero
    /// `limit`, [`Error::ZeroWindow`].
    pub fn build(self) -> Result<SlidingWindowCounter<C>, Error> {
        let (limit, window) = window_params(self.limit, self.window)?;
        Ok(SlidingWindowCounter {
            limit,
            window,
            state: Mutex::new(Counts::default()),
            clamp: MonotonicClamp::new(),
            clock: self.clock,
            fifo: Fifo::new(),
        })
    }
}

impl SlidingWindowCounter {
    /// A builder; `limit` and `window` are required.
    pub fn builder() -> SlidingWindowCounterBuilder {
        SlidingWindowCounterBuilder {
            limit: None,
            window: None,
            clock: SystemClock,
        }
    }
}

impl<C: Clock> SlidingWindowCounter<C> {
    /// Admits `cost` units if the weighted count allows. `cost == 0` always
    /// succeeds.
    ///
    /// # Errors
    /// [`Error::RateLimited`] with the time until the weighted count admits
    /// `cost` (if nothing else is admitted meanwhile);
    /// [`Error::CostExceedsCapacity`] if `cost > limit`;
    /// [`Error::EndOfTime`] if that time is after the clock's last reading.
    pub fn try_acquire(&self, cost: u64) -> Result<(), Error> {
        self.check_cost(cost)?;
        if cost == 0 {
            return Ok(());
        }
        let mut st = self.state.lock();
        let now = self.clamp.now(&self.clock);
        self.roll(&mut st, now);
        self.decide(&st, now, cost)?;
        // `decide` checked `curr + cost <= limit`.
        st.curr += cost;
        Ok(())
    }

    /// Admits one unit: `try_acquire(1)`.
    ///
    /// # Errors
    /// [`Error::RateLimited`]; [`Error::EndOfTime`] as for
    /// [`try_acquire`](Self::try_acquire).
    pub fn check(&self) -> Result<(), Error> {
        self.try_acquire(1)
    }

    /// Admits `cost` units, sleeping on the clock until they fit.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost > limit`;
    /// [`Error::EndOfTime`] (at once, or when the clock gets there) if they
    /// would fit only after the clock's last reading.
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
        let mut st = self.state.lock();
        let now = self.clamp.now(&self.clock);
        self.roll(&mut st, now);
        wait_of(self.decide(&st, now, cost))
    }

    /// Units that could be admitted now.
    pub fn available(&self) -> u64 {
        let mut st = self.state.lock();
        let now = self.clamp.now(&self.clock);
        self.roll(&mut st, now);
        let (w, e) = (u128::from(self.window), u128::from(now % self.window));
        // Largest c with prev (W - e) <= (limit - curr - c) W; each product
        // is at most (2^64 - 1)^2, their sum could overflow (see `decide`).
        let free = u128::from(self.limit.saturating_sub(st.curr)) * w;
        let room = free.saturating_sub(u128::from(st.prev) * (w - e)) / w;
        // `room <= limit - curr`.
        room as u64
    }

    /// The limit per window.
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

    fn roll(&self, st: &mut Counts, now: u64) {
        let index = now / self.window;
        if index == st.index {
            return;
        }
        st.prev = if index == st.index + 1 { st.curr } else { 0 };
        st.curr = 0;
        st.index = index;
    }

    /// `Ok` if `cost` fits at `now` (counts rolled to `now`), else the
    /// denial: the wait until it would, or [`Error::EndOfTime`] (see
    /// [`denied_until`]).
    fn decide(&self, st: &Counts, now: u64, cost: u64) -> Result<(), Error> {
        let w = u128::from(self.window);
        let e = u128::from(now % self.window);
        let limit = u128::from(self.limit);
        let (prev, curr, cost) = (u128::from(st.prev), u128::from(st.curr), u128::from(cost));
        // The module's test `prev (W - e) + (curr + cost) W <= limit W`,
        // rearranged so that no term exceeds (2^64 - 1)^2: the sum itself
        // overflows u128 for a limit and a window near `u64::MAX` (a panic
        // in debug builds, a wrapped sum that admitted in release).
        let fits_this_window = curr + cost <= limit;
        if fits_this_window && prev * (w - e) <= (limit - curr - cost) * w {
            return Ok(());
        }
        // The weighted count only falls as time passes (it is continuous at
        // window boundaries), so the wait is the first offset that fits:
        // first later in this window, else in the next (prev := curr),
        // else at the start of the one after (both counts zero).
        // Smallest offset e' with p (W - e') <= room W, if it is < W.
        let first_fit = |p: u128, room: u128| -> Option<u128> {
            if p == 0 {
                return Some(0);
            }
            let need = w - (room * w / p).min(w);
            (need < w).then_some(need)
        };
        let to_next = w - e;
        let wait = if fits_this_window {
            match first_fit(prev, limit - curr - cost) {
                Some(at) => at - e,
                None => to_next + first_fit(curr, limit - cost).unwrap_or(w),
            }
        } else {
            to_next + first_fit(curr, limit - cost).unwrap_or(w)
        };
        // `wait <= 2 W`, so `now + wait` is exact in u128; past `u64::MAX`
        // the clock never gets there.
        Err(denied_until(now, u128::from(now) + wait))
    }
}

impl<C: Clock> fmt::Debug for SlidingWindowCounter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlidingWindowCounter")
            .field("limit", &self.limit)
            .field("window", &self.window())
            .finish_non_exhaustive()
    }
}
