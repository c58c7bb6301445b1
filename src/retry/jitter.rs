use super::Error;
use crate::clock::duration_to_nanos;
use std::time::Duration;

/// How a delay from the schedule is randomised, so that clients which failed
/// together do not retry together (the thundering herd).
///
/// `d` is the schedule's delay for this retry, `cap` the schedule's
/// `max_delay`, `base` its base delay. No kind ever returns more than `cap`.
///
/// | kind | delay drawn uniformly from |
/// |---|---|
/// | `None` | exactly `d` |
/// | `Full` | `[0, d]` |
/// | `Equal` | `d/2 + [0, d/2]`, i.e. `[d/2, d]` |
/// | `Decorrelated` | `[base, min(cap, 3 x previous)]`; the first "previous" is `base` |
/// | `Proportional(f)` | `[d(1-f), min(cap, d(1+f))]`, `f` in `0.0..=1.0` |
///
/// `Full` spreads load best; `Equal` keeps at least half the wait;
/// `Decorrelated` (from the AWS architecture blog) ignores the schedule's
/// shape and grows from the previous delay instead (so with a zero base it
/// stays at zero).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Jitter {
    /// No randomness: the schedule's delay as is.
    #[default]
    None,
    /// Uniform in `[0, d]`.
    Full,
    /// Half the delay fixed, half random: uniform in `[d/2, d]`.
    Equal,
    /// Uniform in `[base, previous x 3]`, capped.
    Decorrelated,
    /// `d` times a uniform factor in `[1-f, 1+f]`, capped.
    Proportional(f64),
}

impl Jitter {
    pub(crate) fn validate(self) -> Result<Self, Error> {
        match self {
            // `contains` is false for NaN.
            Jitter::Proportional(f) if !(0.0..=1.0).contains(&f) => Err(Error::InvalidJitter(f)),
            j => Ok(j),
        }
    }

    /// The closed interval this jitter draws from, for a schedule delay
    /// `nominal` (at most `cap`), the previous jittered delay `previous`
    /// (`base` before the first retry), and the schedule's `base` and `cap`.
    pub fn interval(
        self,
        nominal: Duration,
        previous: Duration,
        base: Duration,
        cap: Duration,
    ) -> (Duration, Duration) {
        let (lo, hi) = self.interval_nanos(
            duration_to_nanos(nominal),
            duration_to_nanos(previous),
            duration_to_nanos(base),
            duration_to_nanos(cap),
        );
        (Duration::from_nanos(lo), Duration::from_nanos(hi))
    }

    pub(crate) fn interval_nanos(self, nominal: u64, prev: u64, base: u64, cap: u64) -> (u64, u64) {
        let d = nominal.min(cap);
        match self {
            Jitter::None => (d, d),
            Jitter::Full => (0, d),
            Jitter::Equal => (d / 2, d),
            Jitter::Decorrelated => {
                let lo = base.min(cap);
                (lo, prev.saturating_mul(3).min(cap).max(lo))
            }
            Jitter::Proportional(f) => {
                // Float products saturate when cast; the min/max keep the
                // interval around `d` despite rounding above 2^53 ns.
                let lo = ((d as f64) * (1.0 - f)) as u64;
                let hi = ((d as f64) * (1.0 + f)) as u64;
                (lo.min(d), hi.max(d).min(cap))
            }
        }
    }
}
