use std::fmt;
use std::time::Duration;

/// Why a backoff schedule, retry policy or retry budget could not be built.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// An exponential factor that is NaN, infinite or below 1 (zero and
    /// negative factors included): delays must not shrink or vanish.
    InvalidFactor(f64),
    /// The base delay exceeds the cap (`max_delay`).
    BaseAboveMax {
        /// The base delay asked for.
        base: Duration,
        /// The cap asked for.
        max: Duration,
    },
    /// A proportional jitter factor that is NaN or outside `0.0..=1.0`.
    InvalidJitter(f64),
    /// `max_attempts(0)`: a policy must make at least one attempt.
    ZeroMaxAttempts,
    /// A retry budget with capacity 0 could never allow a retry.
    ZeroCapacity,
    /// A retry or timeout cost larger than the budget's capacity: that kind
    /// of retry could never be paid for.
    CostAboveCapacity {
        /// The cost asked for.
        cost: u64,
        /// The budget's capacity.
        capacity: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidFactor(x) => write!(
                f,
                "backoff factor must be a finite number >= 1.0, got {x}"
            ),
            Error::BaseAboveMax { base, max } => write!(
                f,
                "backoff base delay {base:?} exceeds max_delay {max:?}; raise max_delay or lower the base"
            ),
            Error::InvalidJitter(x) => write!(
                f,
                "proportional jitter factor must be within 0.0..=1.0, got {x}"
            ),
            Error::ZeroMaxAttempts => {
                f.write_str("max_attempts must be at least 1 (the first call counts), got 0")
            }
            Error::ZeroCapacity => f.write_str("retry budget capacity must be at least 1, got 0"),
            Error::CostAboveCapacity { cost, capacity } => write!(
                f,
                "retry cost {cost} exceeds the budget capacity {capacity}, so no such retry could ever be paid for"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Why a retry policy stopped retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUp {
    /// The classifier (`when`) said the error is not worth retrying.
    NotRetryable,
    /// Every allowed attempt failed.
    AttemptsExhausted,
    /// The total deadline (`max_elapsed`) was reached.
    DeadlineExceeded,
    /// The shared [`RetryBudget`](super::RetryBudget) had too few tokens: the
    /// downstream is failing for many callers, so this one stopped adding
    /// load.
    BudgetExhausted,
}

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GiveUp::NotRetryable => "the error is not retryable",
            GiveUp::AttemptsExhausted => "all attempts failed",
            GiveUp::DeadlineExceeded => "the retry deadline was reached",
            GiveUp::BudgetExhausted => {
                "the shared retry budget is exhausted (retries refused to protect the downstream)"
            }
        })
    }
}

/// The error of a retried operation that did not succeed: the last error,
/// how many attempts were made, how long it took and why retrying stopped.
///
/// The last error is the [`source`](std::error::Error::source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryError<E> {
    pub(crate) last: E,
    pub(crate) attempts: u32,
    pub(crate) elapsed: Duration,
    pub(crate) reason: GiveUp,
}

impl<E> RetryError<E> {
    /// The error of the last attempt.
    pub fn last_error(&self) -> &E {
        &self.last
    }

    /// Takes the error of the last attempt.
    pub fn into_last_error(self) -> E {
        self.last
    }

    /// Attempts made, the first call included (1 when the first error was
    /// not retryable).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Time from the first attempt to giving up, on the policy's clock.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Why retrying stopped.
    pub fn reason(&self) -> GiveUp {
        self.reason
    }
}

impl<E> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.attempts == 1 { "" } else { "s" };
        write!(
            f,
            "gave up after {} attempt{s} in {:?}: {}",
            self.attempts, self.elapsed, self.reason
        )
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.last)
    }
}
