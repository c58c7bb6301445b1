//! [`SlidingWindowCounter`]: the O(1)-memory sliding window, its builder
//! and its [`Limiter`] impl.
use super::limiter::unkeyed_surface;
use super::line::WaitLine;
use super::window::{denied_until, nanos_u128, window_params};
use super::{Error, Limiter, RateLimitInfo, RateLimitPolicy, Requota};
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
/// It is a [`Limiter`] for every key type (the key is ignored): the
/// inherent `check`, `try_acquire`, `acquire`, `until_ready` and
/// `wait_time` are the trait's methods with the key `()`. A re-quota
/// ([`Requota::set_policy`]) keeps both counts: they carry over to the
/// fixed windows of a new length, and units admitted under a higher limit
/// count against a lower one.
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
    /// The counts and the quota, under one lock.
    state: Mutex<Counts>,
    /// Clamps clock readings that go backwards (read under `state`'s lock).
    clamp: MonotonicClamp,
    clock: C,
    /// The line of blocked and awaiting callers.
    line: WaitLine,
}

#[derive(Clone, Copy, Debug)]
struct Counts {
    /// Index of the current fixed window (`now / W`).
    index: u64,
    prev: u64,
    curr: u64,
    /// Most units per (estimated) window, at least 1.
    limit: u64,
    /// `W`, the window in clock nanoseconds, at least 1.
    window: u64,
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
            state: Mutex::new(Counts {
                index: 0,
                prev: 0,
                curr: 0,
                limit,
                window,
            }),
            clamp: MonotonicClamp::new(),
            clock: self.clock,
            line: WaitLine::new(),
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
    unkeyed_surface!("units");

    /// Units that could be admitted now.
    pub fn available(&self) -> u64 {
        let mut st = self.state.lock();
        let now = self.clamp.now(&self.clock);
        st.roll(now);
        st.available(now)
    }

    /// The limit per window: the same as [`Requota::limit`].
    pub fn limit(&self) -> u64 {
        self.state.lock().limit
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.state.lock().window)
    }

    /// The counts rolled to the clock's reading, and that reading.
    fn rolled(&self) -> (crate::sync::MutexGuard<'_, Counts>, u64) {
        let mut st = self.state.lock();
        let now = self.clamp.now(&self.clock);
        st.roll(now);
        (st, now)
    }
}

impl Counts {
    fn check_cost(&self, cost: u64) -> Result<(), Error> {
        Error::check_cost(cost, self.limit)
    }

    fn roll(&mut self, now: u64) {
        let index = now / self.window;
        if index == self.index {
            return;
        }
        self.prev = if index == self.index + 1 {
            self.curr
        } else {
            0
        };
        self.curr = 0;
        self.index = index;
    }

    /// Largest `c` with `prev (W - e) <= (limit - curr - c) W`.
    fn available(&self, now: u64) -> u64 {
        let (w, e) = (u128::from(self.window), u128::from(now % self.window));
        // Each product is at most (2^64 - 1)^2; their sum could overflow
        // (see `decide`).
        let free = u128::from(self.limit.saturating_sub(self.curr)) * w;
        let room = free.saturating_sub(u128::from(self.prev) * (w - e)) / w;
        // `room <= limit - curr`.
        room as u64
    }

    /// `Ok` if `cost` fits at `now` (counts rolled to `now`), else the
    /// denial: the wait until it would, or [`Error::EndOfTime`] (see
    /// [`denied_until`]). `cost == 0` always fits.
    fn decide(&self, now: u64, cost: u64) -> Result<(), Error> {
        if cost == 0 {
            return Ok(());
        }
        let w = u128::from(self.window);
        let e = u128::from(now % self.window);
        let limit = u128::from(self.limit);
        let (prev, curr, cost) = (
            u128::from(self.prev),
            u128::from(self.curr),
            u128::from(cost),
        );
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

    /// The answer at `now` (counts rolled to `now`). The count is whole
    /// again once both windows that hold units have passed: the end of the
    /// next fixed window while this one holds any, else of this one.
    fn info(&self, now: u64, retry_after: Option<Duration>) -> RateLimitInfo {
        let (w, e) = (u128::from(self.window), u128::from(now % self.window));
        let reset = if self.curr > 0 {
            2 * w - e
        } else if self.prev > 0 {
            w - e
        } else {
            0
        };
        RateLimitInfo {
            allowed: retry_after.is_none(),
            limit: self.limit,
            remaining: self.available(now),
            retry_after,
            reset_after: nanos_u128(reset),
        }
    }
}

impl<C: Clock> Requota for SlidingWindowCounter<C> {
    fn policy(&self) -> RateLimitPolicy {
        let st = self.state.lock();
        RateLimitPolicy::of_window(st.limit, st.window)
    }

    /// Keeps both counts: they carry over to the fixed windows of the new
    /// length (the current window's count stays current), and units
    /// admitted under a higher limit count against a lower one.
    fn set_policy(&self, policy: RateLimitPolicy) -> Result<(), Error> {
        let (mut st, now) = self.rolled();
        st.limit = policy.limit();
        st.window = policy.window_nanos();
        st.index = now / st.window;
        Ok(())
    }
}

/// Every key shares the one pair of counts.
impl<K: ?Sized, C: Clock> Limiter<K> for SlidingWindowCounter<C> {
    fn throttle(&self, _key: &K, cost: u64) -> Result<RateLimitInfo, Error> {
        let (mut st, now) = self.rolled();
        st.check_cost(cost)?;
        match st.decide(now, cost) {
            Ok(()) => {
                // `decide` checked `curr + cost <= limit`.
                st.curr += cost;
                Ok(st.info(now, None))
            }
            Err(Error::RateLimited { retry_after }) => Ok(st.info(now, Some(retry_after))),
            Err(e) => Err(e),
        }
    }

    fn probe(&self, _key: &K, cost: u64) -> Result<RateLimitInfo, Error> {
        let (st, now) = self.rolled();
        st.check_cost(cost)?;
        match st.decide(now, cost) {
            Ok(()) => Ok(st.info(now, None)),
            Err(Error::RateLimited { retry_after }) => Ok(st.info(now, Some(retry_after))),
            Err(e) => Err(e),
        }
    }

    fn sleep(&self, duration: Duration) {
        self.clock.sleep(duration);
    }

    fn wait_line(&self) -> Option<&WaitLine> {
        Some(&self.line)
    }
}

impl<C: Clock> fmt::Debug for SlidingWindowCounter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policy = self.policy();
        f.debug_struct("SlidingWindowCounter")
            .field("limit", &policy.limit())
            .field("window", &policy.window())
            .finish_non_exhaustive()
    }
}
