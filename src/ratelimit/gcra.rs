//! The arithmetic of the generic cell rate algorithm, shared by
//! [`TokenBucket`](super::TokenBucket) and
//! [`KeyedLimiter`](super::KeyedLimiter). Pure functions on integers; the
//! atomics live with the callers.
//!
//! A bucket of `capacity` tokens refilling one token per `interval`
//! nanoseconds is stored as one number, the *theoretical arrival time*
//! (TAT): the clock reading at which the bucket will be full again. With
//! `tau = capacity * interval` and `now` the clock reading,
//!
//! ```text
//!   credit(now)  = tau - max(0, tat - now)          (in nanoseconds)
//!   tokens(now)  = floor(credit / interval)
//!   admit cost c  iff  max(tat, now) + c * interval - now <= tau
//!                then  tat := max(tat, now) + c * interval
//!   otherwise wait      max(tat, now) + c * interval - now - tau  ns
//! ```
//!
//! Any `tat <= now` means "full", so a fresh bucket is `tat = 0` and a
//! bucket whose TAT has passed carries no information: it can be dropped and
//! recreated without changing any decision.
//!
//! **The end of time.** The TAT is a clock reading, so it cannot pass the
//! clock's last one, `u64::MAX`. A cost whose new TAT would lie beyond it
//! can never be admitted (the new TAT only grows as `now` does), so
//! [`Gcra::decide`] refuses it with [`Refusal::EndOfTime`] rather than a
//! wait that no clock can honour; every [`Refusal::Wait`] ends at a reading
//! the clock can reach (`now + wait = new - tau <= u64::MAX`), where the
//! same cost is admitted.
use super::{Error, RateLimitInfo};
use std::time::Duration;

/// Largest supported rate: one token per nanosecond tick.
const MAX_RATE: f64 = 1e9;

/// Why [`Gcra::decide`] refused a cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The cost fits after this many nanoseconds (at least 1), at a reading
    /// the clock can reach.
    Wait(u64),
    /// The cost never fits: its TAT would lie past the clock's last reading.
    EndOfTime,
}

impl Refusal {
    /// The error a check answers: [`Error::RateLimited`] with the wait, or
    /// [`Error::EndOfTime`] naming the refill `interval` it would wait on.
    pub(crate) fn into_error(self) -> Error {
        match self {
            Refusal::Wait(wait) => Error::limited(wait),
            Refusal::EndOfTime => Error::EndOfTime {
                parameter: "interval",
            },
        }
    }
}

/// Emission interval and tolerance of a token bucket, in clock nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Nanoseconds per token: `ceil(1e9 / rate)`, at least 1.
    interval: u64,
    /// Burst capacity in tokens, at least 1.
    capacity: u64,
    /// `capacity * interval`, checked not to overflow.
    tau: u64,
}

impl Gcra {
    /// Validates `rate` (tokens per second) and `burst` (tokens).
    ///
    /// The interval is `1e9 / rate` rounded *up* to a whole nanosecond, so
    /// the effective rate never exceeds the requested one (it is exact when
    /// `1e9 / rate` is a whole number, e.g. any rate that divides 1e9).
    pub(crate) fn new(rate: f64, burst: u64) -> Result<Self, Error> {
        if !rate.is_finite() || rate <= 0.0 {
            return Err(Error::InvalidRate {
                parameter: "rate",
                value: rate,
            });
        }
        let interval = (1e9 / rate).ceil();
        // `u64::MAX as f64` is 2^64; anything at or above it does not fit.
        if rate > MAX_RATE || interval >= u64::MAX as f64 {
            return Err(Error::RateOutOfRange {
                parameter: "rate",
                value: rate,
            });
        }
        Self::from_interval(interval as u64, burst)
    }

    /// `interval` nanoseconds per token (at least 1), `burst` tokens.
    pub(crate) fn from_interval(interval: u64, burst: u64) -> Result<Self, Error> {
        if interval == 0 {
            return Err(Error::ZeroWindow {
                parameter: "interval",
            });
        }
        if burst == 0 {
            return Err(Error::ZeroCapacity { parameter: "burst" });
        }
        let tau = interval.checked_mul(burst).ok_or(Error::CapacityOverflow {
            parameter: "burst",
            value: burst,
        })?;
        Ok(Gcra {
            interval,
            capacity: burst,
            tau,
        })
    }

    /// A quota from the parts of one that [`from_interval`](Self::from_interval)
    /// accepted before (`interval, capacity >= 1`, their product fits).
    #[inline]
    pub(crate) fn from_valid_parts(interval: u64, capacity: u64) -> Self {
        debug_assert!(interval >= 1 && capacity >= 1);
        debug_assert!(interval.checked_mul(capacity).is_some());
        Gcra {
            interval,
            capacity,
            // Fits: checked when these parts were first accepted.
            tau: interval.wrapping_mul(capacity),
        }
    }

    #[inline]
    pub(crate) fn interval(&self) -> u64 {
        self.interval
    }

    #[inline]
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// `capacity x interval`: the time an empty bucket takes to refill.
    #[inline]
    pub(crate) fn tau(&self) -> u64 {
        self.tau
    }

    /// Rejects costs that could never be admitted.
    #[inline]
    pub(crate) fn check_cost(&self, cost: u64) -> Result<(), Error> {
        Error::check_cost(cost, self.capacity)
    }

    /// The new TAT if `cost` is admitted at `now`, else why not: the
    /// nanoseconds to wait, or never (see the module's docs on the end of
    /// time). `cost` must have passed [`check_cost`](Self::check_cost), so
    /// `cost * interval <= tau` cannot overflow.
    #[inline]
    pub(crate) fn decide(&self, tat: u64, now: u64, cost: u64) -> Result<u64, Refusal> {
        let base = tat.max(now);
        // Overflows only ~584 years after the clock's origin. A saturated
        // TAT would admit everything once the clock itself reaches
        // `u64::MAX` (a clock that stopped at the end of time), and the new
        // TAT never shrinks as `now` grows, so an overflow is final.
        let Some(new) = base.checked_add(cost * self.interval) else {
            return Err(Refusal::EndOfTime);
        };
        let ahead = new - now; // new >= base >= now
        if ahead <= self.tau {
            Ok(new)
        } else {
            // Admitted at `now + wait = new - tau <= u64::MAX`: then
            // `tat >= new - tau` (else `ahead <= tau` now), so the new TAT
            // is `new` again, `tau` ahead.
            Err(Refusal::Wait(ahead - self.tau))
        }
    }

    /// Whole tokens available at `now`: what [`decide`](Self::decide)
    /// admits, so near the end of time only those whose TAT still fits.
    #[inline]
    pub(crate) fn available(&self, tat: u64, now: u64) -> u64 {
        let debt = tat.saturating_sub(now);
        let room = u64::MAX - tat.max(now);
        self.tau.saturating_sub(debt).min(room) / self.interval
    }

    /// The answer for a request admitted at `now`, leaving TAT `new`.
    pub(crate) fn admitted(&self, new: u64, now: u64) -> RateLimitInfo {
        RateLimitInfo {
            allowed: true,
            limit: self.capacity,
            remaining: self.available(new, now),
            retry_after: None,
            reset_after: Duration::from_nanos(new.saturating_sub(now)),
        }
    }

    /// The answer for a request denied at `now` (TAT `tat` unchanged) that
    /// would fit after `wait` nanoseconds.
    pub(crate) fn denied(&self, tat: u64, now: u64, wait: u64) -> RateLimitInfo {
        RateLimitInfo {
            allowed: false,
            limit: self.capacity,
            remaining: self.available(tat, now),
            retry_after: Some(Duration::from_nanos(wait)),
            reset_after: Duration::from_nanos(tat.saturating_sub(now)),
        }
    }

    /// The answer of a check at `now` from the outcome of a charge: the new
    /// TAT if admitted, else the TAT seen and why not. A refusal that no
    /// wait fixes is [`Error::EndOfTime`].
    pub(crate) fn answer(
        &self,
        now: u64,
        charged: Result<u64, (u64, Refusal)>,
    ) -> Result<RateLimitInfo, Error> {
        match charged {
            Ok(new) => Ok(self.admitted(new, now)),
            Err((tat, Refusal::Wait(wait))) => Ok(self.denied(tat, now, wait)),
            Err((_, never)) => Err(never.into_error()),
        }
    }

    /// The answer to "could `cost` tokens be taken now?", taking none:
    /// `remaining` counts the tokens before any is taken.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`]; [`Error::EndOfTime`] for tokens that
    /// would refill only after the clock's last reading.
    pub(crate) fn probe(&self, tat: u64, now: u64, cost: u64) -> Result<RateLimitInfo, Error> {
        self.check_cost(cost)?;
        match self.decide(tat, now, cost) {
            Ok(_) => Ok(RateLimitInfo {
                allowed: true,
                retry_after: None,
                ..self.denied(tat, now, 0)
            }),
            Err(Refusal::Wait(wait)) => Ok(self.denied(tat, now, wait)),
            Err(never) => Err(never.into_error()),
        }
    }

    /// The answer to "could one token be taken now?", taking none:
    /// `remaining` counts the tokens before any is taken. A token that
    /// never comes (the end of time) answers the longest wait there is.
    pub(crate) fn peek(&self, tat: u64, now: u64) -> RateLimitInfo {
        match self.decide(tat, now, 1) {
            Ok(_) => RateLimitInfo {
                allowed: true,
                retry_after: None,
                ..self.denied(tat, now, 0)
            },
            Err(Refusal::Wait(wait)) => self.denied(tat, now, wait),
            Err(Refusal::EndOfTime) => self.denied(tat, now, u64::MAX),
        }
    }

    /// The TAT after giving back `cost` tokens at `now`: never fuller than
    /// full.
    pub(crate) fn refund(&self, tat: u64, now: u64, cost: u64) -> u64 {
        let back = cost.min(self.capacity) * self.interval; // <= tau
        tat.saturating_sub(back).max(now.min(tat))
    }

    /// Re-expresses `tat` (under `self`) under the quota `to` at `now`, so
    /// a quota change leaks no burst: a full bucket stays full; otherwise the
    /// key keeps the whole tokens it had, at most `to`'s burst (the fraction
    /// of a token in flight is dropped, the conservative side), and refills
    /// at `to`'s rate from there.
    pub(crate) fn convert(&self, tat: u64, now: u64, to: &Gcra) -> u64 {
        if Self::is_full(tat, now) || self == to {
            return tat;
        }
        let whole = self.available(tat, now).min(to.capacity);
        // `whole <= to.capacity`, so the product is at most `to.tau`.
        now.saturating_add(to.tau - whole * to.interval)
    }

    /// Whether a bucket with this TAT is full at `now`, i.e. equivalent to a
    /// fresh one.
    #[inline]
    pub(crate) fn is_full(tat: u64, now: u64) -> bool {
        tat <= now
    }
}

impl Gcra {
    /// A builder's rate and burst, validated (the bucket's and the keyed
    /// limiter's builders).
    pub(crate) fn from_builder(rate: Option<f64>, burst: Option<u64>) -> Result<Gcra, Error> {
        let rate = rate.ok_or(Error::MissingParameter { parameter: "rate" })?;
        let burst = match burst {
            Some(b) => b,
            // A NaN or out-of-range rate is reported by `Gcra::new` below.
            None if rate.is_finite() && rate > 0.0 => (rate.ceil() as u64).max(1),
            None => 1,
        };
        Gcra::new(rate, burst)
    }
}

/// What one round of [`charge`] decides under: the quota, the word a CAS
/// must find, the TAT that word stands for, and the bias between them (the
/// stored word is `tat + bias`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct View {
    pub(crate) gcra: Gcra,
    pub(crate) word: u64,
    pub(crate) tat: u64,
    pub(crate) bias: u64,
}

/// The GCRA's one CAS loop, for the bucket's cell and the keyed limiter's
/// entries: `read` gives the view a round decides under (it is handed the
/// word the last failed CAS found, starting from `seen`); a round that
/// admits stores `new + bias` if the word is still `view.word`, else the
/// next round starts. Answers the quota decided under, and the new TAT or
/// the TAT seen and why not.
///
/// Relaxed CAS: the word publishes no other data. Whether a `view` still
/// holds is said by the word alone (a caller whose quota can change makes
/// every re-quota store a word no view has seen, as the bucket's cell
/// does), and the RMW reads the latest value, so no two checks spend the
/// same credit.
///
/// # Errors
/// What `read` returns (a cost above the quota it read).
#[inline]
#[allow(clippy::type_complexity)]
pub(crate) fn charge<E>(
    word: &crate::sync::atomic::AtomicU64,
    seen: u64,
    now: u64,
    cost: u64,
    mut read: impl FnMut(u64) -> Result<View, E>,
) -> Result<(Gcra, Result<u64, (u64, Refusal)>), E> {
    use crate::sync::atomic::Ordering;
    let mut seen = seen;
    loop {
        let view = read(seen)?;
        let new = match view.gcra.decide(view.tat, now, cost) {
            Ok(new) => new,
            Err(refusal) => return Ok((view.gcra, Err((view.tat, refusal)))),
        };
        // Relaxed: see the function's doc.
        match word.compare_exchange_weak(
            view.word,
            new.wrapping_add(view.bias),
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Ok((view.gcra, Ok(new))),
            Err(actual) => seen = actual,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn interval_rounds_up() {
        assert_eq!(Gcra::new(3.0, 1).map(|g| g.interval), Ok(333_333_334));
        assert_eq!(Gcra::new(1000.0, 1).map(|g| g.interval), Ok(1_000_000));
        assert_eq!(Gcra::new(1e9, 1).map(|g| g.interval), Ok(1));
        assert!(Gcra::new(2e9, 1).is_err());
        assert!(Gcra::new(1e-11, 1).is_err());
        assert!(Gcra::new(1.0, u64::MAX).is_err());
    }

    #[test]
    fn decide_matches_the_formula() {
        let g = Gcra::from_interval(10, 3).unwrap();
        assert_eq!(g.decide(0, 100, 3), Ok(130));
        assert_eq!(g.decide(130, 100, 1), Err(Refusal::Wait(10)));
        assert_eq!(g.decide(130, 110, 1), Ok(140));
        assert_eq!(g.available(130, 100), 0);
        assert_eq!(g.available(130, 125), 2);
        assert_eq!(g.available(0, 125), 3);
    }

    #[test]
    fn a_clock_stopped_at_the_end_of_time_admits_nothing_more() {
        let g = Gcra::from_interval(10, 3).unwrap();
        let mut tat = 0;
        let mut admitted = 0;
        for now in [u64::MAX - 25, u64::MAX, u64::MAX, u64::MAX, u64::MAX] {
            if let Ok(t) = g.decide(tat, now, 1) {
                tat = t;
                admitted += 1;
            }
        }
        // One before the end; at `u64::MAX` itself any TAT overflows.
        assert_eq!(admitted, 1);
        assert_eq!(g.decide(tat, u64::MAX, 1), Err(Refusal::EndOfTime));
    }

    #[test]
    fn every_wait_ends_at_a_reading_the_clock_reaches() {
        let g = Gcra::from_interval(10, 1).unwrap();
        let now = u64::MAX - 20;
        let tat = g.decide(0, now, 1).unwrap();
        assert_eq!(tat, u64::MAX - 10);
        // The next token refills at `u64::MAX - 10`, leaving the TAT at the
        // last reading: a real wait, then admitted.
        assert_eq!(g.decide(tat, now, 1), Err(Refusal::Wait(10)));
        assert_eq!(g.decide(tat, now + 10, 1), Ok(u64::MAX));
        // The one after would need a TAT past the end: never, at any reading.
        for at in [now + 10, u64::MAX - 1, u64::MAX] {
            assert_eq!(g.decide(u64::MAX, at, 1), Err(Refusal::EndOfTime));
        }
        assert_eq!(g.available(u64::MAX, now + 10), 0);
        assert_eq!(g.available(0, u64::MAX), 0);
        assert_eq!(g.available(0, u64::MAX - 10), 1);
        assert_eq!(g.available(0, u64::MAX - 9), 0);
        assert_eq!(
            Refusal::EndOfTime.into_error(),
            Error::EndOfTime {
                parameter: "interval"
            }
        );
    }

    #[test]
    fn info_refund_and_convert() {
        let g = Gcra::from_interval(10, 3).unwrap();
        let a = g.admitted(130, 100);
        assert_eq!((a.remaining, a.reset_after), (0, Duration::from_nanos(30)));
        let d = g.denied(130, 100, 10);
        assert_eq!(d.retry_after, Some(Duration::from_nanos(10)));
        assert!(g.peek(120, 100).allowed);
        assert_eq!(g.peek(130, 100).retry_after, Some(Duration::from_nanos(10)));
        assert_eq!(g.refund(130, 100, 1), 120);
        assert_eq!(g.refund(130, 100, 3), 100);
        assert_eq!(g.refund(50, 100, 1), 50); // already full: unchanged

        // Empty under 3 x 10 ns: empty under 6 x 20 ns, no leaked burst.
        let big = Gcra::from_interval(20, 6).unwrap();
        assert_eq!(g.convert(130, 100, &big), 100 + 120);
        // One whole token kept (plus a fraction dropped).
        assert_eq!(g.convert(115, 100, &big), 100 + 120 - 20);
        // Shrinking caps the kept tokens at the new burst.
        let small = Gcra::from_interval(10, 1).unwrap();
        assert_eq!(g.convert(110, 100, &small), 100);
        // Full stays full.
        assert_eq!(g.convert(90, 100, &big), 90);
    }
}
