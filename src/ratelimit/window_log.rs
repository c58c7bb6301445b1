//! [`SlidingWindowLog`]: the exact sliding window, its builder and its
//! [`Limiter`] impl, and the window helpers the counter shares.
use super::limiter::unkeyed_surface;
use super::line::WaitLine;
use super::window::{denied_until, nanos_u128, window_params};
use super::{Error, Limiter, RateLimitInfo, RateLimitPolicy, Requota};
use crate::clock::{Clock, MonotonicClamp, SystemClock};
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
/// It is a [`Limiter`] for every key type (the key is ignored): the
/// inherent `check`, `try_acquire`, `acquire`, `until_ready` and
/// `wait_time` are the trait's methods with the key `()`. A re-quota
/// ([`Requota::set_policy`]) keeps the log: a shorter window lets entries
/// leave sooner, a lower limit counts the units already admitted against
/// it until they leave.
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
    /// The log and its quota, under one lock.
    log: Mutex<Log>,
    /// Clamps clock readings that go backwards (read under `log`'s lock).
    clamp: MonotonicClamp,
    clock: C,
    /// The line of blocked and awaiting callers.
    line: WaitLine,
}

/// One admitted request: when, and how many units.
#[derive(Clone, Copy, Debug)]
struct Entry {
    stamp: u64,
    cost: u64,
}

/// Admitted requests, oldest at the front, in clock order, and the quota.
///
/// `entries.len() <= units <= max(limit, carried)`; storage grows
/// (doubling, capped at `limit`) only when the ring is full.
#[derive(Debug)]
struct Log {
    entries: VecDeque<Entry>,
    /// Sum of the entries' costs.
    units: u64,
    /// Most units admitted in any window (at least 1).
    limit: u64,
    /// The window length in clock nanoseconds (at least 1).
    window: u64,
    /// Units held when a re-quota lowered the limit below them: admitted
    /// under the old limit, they may exceed the new one until they leave.
    carried: u64,
}

impl Log {
    fn new(limit: u64, window: u64) -> Self {
        Log {
            entries: VecDeque::new(),
            units: 0,
            limit,
            window,
            carried: 0,
        }
    }

    fn expire(&mut self, now: u64) {
        while let Some(e) = self.entries.front() {
            if now.saturating_sub(e.stamp) < self.window {
                break;
            }
            self.units -= e.cost;
            self.entries.pop_front();
        }
    }

    fn check_cost(&self, cost: u64) -> Result<(), Error> {
        Error::check_cost(cost, self.limit)
    }

    /// `Ok` if `cost` fits at `now` (expiring what left the window first),
    /// else the denial (see [`denied_until`]).
    fn decide(&mut self, now: u64, cost: u64) -> Result<(), Error> {
        self.expire(now);
        // `units` may exceed `limit` after a re-quota lowered it.
        let over = self.units.saturating_add(cost).saturating_sub(self.limit);
        if over == 0 || cost == 0 {
            return Ok(());
        }
        // The oldest `over` units must leave; the entry holding the last of
        // them leaves at its stamp + window (> now: it is live), which may
        // lie past `u64::MAX`: then it never leaves.
        let window = u128::from(self.window);
        let mut leaving = 0u64;
        for e in &self.entries {
            leaving += e.cost;
            if leaving >= over {
                return Err(denied_until(now, u128::from(e.stamp) + window));
            }
        }
        // Unreachable while `units` is the entries' sum and `cost <= limit`;
        // a full window is the safe answer.
        Err(denied_until(now, u128::from(now) + window))
    }

    /// The answer at `now` (entries expired to `now`).
    fn info(&self, now: u64, retry_after: Option<Duration>) -> RateLimitInfo {
        // The newest entry leaves last, `window` after it was admitted.
        let reset = self.entries.back().map_or(0, |e| {
            (u128::from(e.stamp) + u128::from(self.window)).saturating_sub(u128::from(now))
        });
        RateLimitInfo {
            allowed: retry_after.is_none(),
            limit: self.limit,
            remaining: self.limit.saturating_sub(self.units),
            retry_after,
            reset_after: nanos_u128(reset),
        }
    }

    fn push(&mut self, stamp: u64, cost: u64) {
        let limit = self.limit;
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
        check_log_memory(limit)?;
        Ok(SlidingWindowLog {
            log: Mutex::new(Log::new(limit, window)),
            clamp: MonotonicClamp::new(),
            clock: self.clock,
            line: WaitLine::new(),
        })
    }
}

/// [`Error::CapacityOverflow`] for a `limit` whose log would not fit
/// memory (`usize`).
fn check_log_memory(limit: u64) -> Result<(), Error> {
    let entry = std::mem::size_of::<Entry>();
    if usize::try_from(limit).map_or(true, |l| l > isize::MAX as usize / entry) {
        return Err(Error::CapacityOverflow {
            parameter: "limit",
            value: limit,
        });
    }
    Ok(())
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
    unkeyed_surface!("units");

    /// Units that could be admitted now.
    pub fn available(&self) -> u64 {
        let mut ring = self.log.lock();
        let now = self.now();
        ring.expire(now);
        ring.limit.saturating_sub(ring.units)
    }

    /// The most units admitted in any window: the same as
    /// [`Requota::limit`].
    pub fn limit(&self) -> u64 {
        self.log.lock().limit
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.log.lock().window)
    }

    /// The clock reading, clamped so it never goes backwards; call with
    /// the log's lock held.
    #[inline]
    fn now(&self) -> u64 {
        self.clamp.now(&self.clock)
    }

    /// Checks the ring's invariants, naming the first one broken. For fuzz
    /// targets and model tests; not part of the stable API.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        let ring = self.log.lock();
        let bound = ring.limit.max(ring.carried);
        if ring.entries.iter().map(|e| e.cost).sum::<u64>() != ring.units {
            return Err("ring units differ from the entries' costs");
        }
        if ring.units > bound {
            return Err("ring holds more units than the limit");
        }
        if ring.entries.iter().any(|e| e.cost == 0) {
            return Err("ring holds an entry of zero cost");
        }
        if ring.entries.capacity() as u64 > bound.max(4) {
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

impl<C: Clock> Requota for SlidingWindowLog<C> {
    fn policy(&self) -> RateLimitPolicy {
        let ring = self.log.lock();
        RateLimitPolicy::of_window(ring.limit, ring.window)
    }

    /// Keeps the log: a shorter window lets entries leave sooner; units
    /// admitted under a higher limit count against a lower one until they
    /// leave, and storage shrinks towards the new limit.
    ///
    /// # Errors
    /// [`Error::CapacityOverflow`] for a limit whose log would not fit
    /// memory.
    fn set_policy(&self, policy: RateLimitPolicy) -> Result<(), Error> {
        check_log_memory(policy.limit())?;
        let mut ring = self.log.lock();
        ring.limit = policy.limit();
        ring.window = policy.window_nanos();
        ring.carried = if ring.units > ring.limit {
            ring.units
        } else {
            0
        };
        // `check_invariants`'s bound; at most the old storage.
        let keep = ring.limit.max(ring.carried).max(4);
        ring.entries
            .shrink_to(usize::try_from(keep).unwrap_or(usize::MAX));
        Ok(())
    }
}

/// Every key shares the one log.
impl<K: ?Sized, C: Clock> Limiter<K> for SlidingWindowLog<C> {
    fn throttle(&self, _key: &K, cost: u64) -> Result<RateLimitInfo, Error> {
        let mut ring = self.log.lock();
        ring.check_cost(cost)?;
        // Read under the lock, so stamps enter the ring in clock order.
        let now = self.now();
        match ring.decide(now, cost) {
            Ok(()) => {
                if cost > 0 {
                    ring.push(now, cost);
                }
                Ok(ring.info(now, None))
            }
            Err(Error::RateLimited { retry_after }) => Ok(ring.info(now, Some(retry_after))),
            Err(e) => Err(e),
        }
    }

    fn probe(&self, _key: &K, cost: u64) -> Result<RateLimitInfo, Error> {
        let mut ring = self.log.lock();
        ring.check_cost(cost)?;
        let now = self.now();
        match ring.decide(now, cost) {
            Ok(()) => Ok(ring.info(now, None)),
            Err(Error::RateLimited { retry_after }) => Ok(ring.info(now, Some(retry_after))),
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

impl<C: Clock> fmt::Debug for SlidingWindowLog<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policy = self.policy();
        f.debug_struct("SlidingWindowLog")
            .field("limit", &policy.limit())
            .field("window", &policy.window())
            .finish_non_exhaustive()
    }
}
