use super::rng::{uniform_inclusive, RandomSource, SplitMix64};
use super::{Error, Jitter};
use crate::clock::duration_to_nanos;
use std::time::Duration;

/// The cap used when none is given: 60 s, or the base delay if that is
/// longer.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    Exponential { factor: f64 },
    Constant,
    Linear { step: u64 },
}

/// A validated backoff schedule: the delay before each retry.
///
/// Retry `n` (1-based: the wait after the `n`th failed attempt) has the
/// nominal delay
/// - exponential: `base x factor^(n-1)`,
/// - constant: `base`,
/// - linear: `base + step x (n-1)`,
///
/// each capped at `max_delay`, then randomised by the [`Jitter`] kind.
/// [`delays`](Backoff::delays) yields them as an endless iterator.
///
/// ```
/// use latchwork::retry::{Backoff, Jitter};
/// use std::time::Duration;
///
/// let backoff = Backoff::exponential(Duration::from_secs(1))
///     .factor(2.0)
///     .max_delay(Duration::from_secs(5))
///     .build()?;
/// let secs: Vec<u64> = backoff.delays_seeded(0).take(5).map(|d| d.as_secs()).collect();
/// assert_eq!(secs, [1, 2, 4, 5, 5]);
///
/// // With full jitter each delay is uniform in [0, nominal].
/// let jittered = Backoff::exponential(Duration::from_secs(1)).jitter(Jitter::Full).build()?;
/// assert!(jittered.delays_seeded(7).take(3).zip([1, 2, 4]).all(|(d, n)| d.as_secs() <= n));
/// # Ok::<(), latchwork::retry::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    shape: Shape,
    /// Base delay in nanoseconds.
    base: u64,
    /// Cap in nanoseconds, `>= base`.
    cap: u64,
    jitter: Jitter,
}

impl Default for Backoff {
    /// Exponential from 100 ms, factor 2, capped at 20 s, full jitter.
    fn default() -> Self {
        Backoff {
            shape: Shape::Exponential { factor: 2.0 },
            base: 100_000_000,
            cap: 20_000_000_000,
            jitter: Jitter::Full,
        }
    }
}

impl Backoff {
    /// An exponential schedule from `base`; the factor defaults to 2.
    pub fn exponential(base: Duration) -> BackoffBuilder {
        BackoffBuilder::new(Kind::Exponential, base)
    }

    /// The same delay before every retry.
    pub fn constant(delay: Duration) -> BackoffBuilder {
        BackoffBuilder::new(Kind::Constant, delay)
    }

    /// A schedule growing by `step` per retry from `base`; the step
    /// defaults to `base` (so `base, 2 base, 3 base, ...`).
    pub fn linear(base: Duration) -> BackoffBuilder {
        BackoffBuilder::new(Kind::Linear, base)
    }

    /// The base delay (the first retry's nominal delay).
    pub fn base(&self) -> Duration {
        Duration::from_nanos(self.base)
    }

    /// The cap no delay exceeds.
    pub fn max_delay(&self) -> Duration {
        Duration::from_nanos(self.cap)
    }

    /// The jitter kind.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The delay before retry `retry` (1-based; 0 is read as 1) before
    /// jitter, capped at [`max_delay`](Backoff::max_delay).
    pub fn nominal(&self, retry: u32) -> Duration {
        Duration::from_nanos(self.nominal_nanos(retry))
    }

    fn nominal_nanos(&self, retry: u32) -> u64 {
        let k = retry.max(1) - 1;
        let raw = match self.shape {
            Shape::Constant => self.base,
            Shape::Linear { step } => self.base.saturating_add(step.saturating_mul(u64::from(k))),
            Shape::Exponential { factor } => {
                if self.base == 0 {
                    0
                } else {
                    let exp = i32::try_from(k).unwrap_or(i32::MAX);
                    let v = (self.base as f64) * factor.powi(exp);
                    // `factor >= 1` and `base > 0`, so `v` is finite or +inf,
                    // never NaN; anything at or past the cap is the cap.
                    if v >= self.cap as f64 {
                        self.cap
                    } else {
                        v as u64
                    }
                }
            }
        };
        raw.min(self.cap)
    }

    /// The jittered delays before retries 1, 2, 3, ... drawn from `rng`.
    /// The iterator never ends; bound it with `take` or a policy.
    pub fn delays<R: RandomSource>(&self, rng: R) -> Delays<R> {
        Delays {
            backoff: self.clone(),
            state: DelayState::new(self),
            rng,
        }
    }

    /// [`delays`](Backoff::delays) with a [`SplitMix64`] seeded by `seed`:
    /// the same seed gives the same delays.
    pub fn delays_seeded(&self, seed: u64) -> Delays<SplitMix64> {
        self.delays(SplitMix64::new(seed))
    }
}

/// Per-run position in a schedule: which retry comes next and the previous
/// jittered delay (for decorrelated jitter).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DelayState {
    retry: u32,
    prev: u64,
}

impl DelayState {
    pub(crate) fn new(backoff: &Backoff) -> Self {
        DelayState {
            retry: 0,
            prev: backoff.base,
        }
    }

    /// The delay before the next retry. Draws from `rng` only when the
    /// jitter kind is random, so unjittered schedules consume nothing.
    pub(crate) fn next(&mut self, b: &Backoff, rng: &mut dyn RandomSource) -> Duration {
        self.retry = self.retry.saturating_add(1);
        let nominal = b.nominal_nanos(self.retry);
        let (lo, hi) = b.jitter.interval_nanos(nominal, self.prev, b.base, b.cap);
        let d = uniform_inclusive(rng, lo, hi);
        self.prev = d;
        Duration::from_nanos(d)
    }
}

/// The endless iterator of jittered delays returned by [`Backoff::delays`].
#[derive(Clone, Debug)]
pub struct Delays<R> {
    backoff: Backoff,
    state: DelayState,
    rng: R,
}

impl<R: RandomSource> Iterator for Delays<R> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.state.next(&self.backoff, &mut self.rng))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Exponential,
    Constant,
    Linear,
}

/// Builds a [`Backoff`]; start from [`Backoff::exponential`],
/// [`Backoff::constant`] or [`Backoff::linear`].
#[derive(Clone, Debug)]
pub struct BackoffBuilder {
    kind: Kind,
    base: Duration,
    factor: f64,
    step: Option<Duration>,
    max_delay: Option<Duration>,
    jitter: Jitter,
}

impl BackoffBuilder {
    fn new(kind: Kind, base: Duration) -> Self {
        BackoffBuilder {
            kind,
            base,
            factor: 2.0,
            step: None,
            max_delay: None,
            jitter: Jitter::None,
        }
    }

    /// The growth factor of an exponential schedule (default 2); must be
    /// finite and at least 1. Ignored by constant and linear schedules.
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// The increment of a linear schedule (default: the base). Ignored by
    /// the other shapes.
    pub fn step(mut self, step: Duration) -> Self {
        self.step = Some(step);
        self
    }

    /// The cap on every delay, jitter included; must be at least the base.
    /// Defaults to [`DEFAULT_MAX_DELAY`], or the base if that is longer.
    pub fn max_delay(mut self, max: Duration) -> Self {
        self.max_delay = Some(max);
        self
    }

    /// The jitter kind (default [`Jitter::None`]).
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Validates the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidFactor`] for an exponential factor that is NaN,
    /// infinite or below 1; [`Error::BaseAboveMax`] when the base exceeds
    /// an explicit `max_delay`; [`Error::InvalidJitter`] for a proportional
    /// factor outside `0.0..=1.0`.
    pub fn build(self) -> Result<Backoff, Error> {
        let max = self.max_delay.unwrap_or(DEFAULT_MAX_DELAY.max(self.base));
        if self.base > max {
            return Err(Error::BaseAboveMax {
                base: self.base,
                max,
            });
        }
        let shape = match self.kind {
            Kind::Constant => Shape::Constant,
            Kind::Linear => Shape::Linear {
                step: duration_to_nanos(self.step.unwrap_or(self.base)),
            },
            Kind::Exponential => {
                if !(self.factor.is_finite() && self.factor >= 1.0) {
                    return Err(Error::InvalidFactor(self.factor));
                }
                Shape::Exponential {
                    factor: self.factor,
                }
            }
        };
        Ok(Backoff {
            shape,
            base: duration_to_nanos(self.base),
            cap: duration_to_nanos(max),
            jitter: self.jitter.validate()?,
        })
    }
}
