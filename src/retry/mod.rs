//! Retrying fallible operations without starting a retry storm.
//!
//! - [`Backoff`]: the delay before each retry (exponential, constant or
//!   linear, capped), randomised by a [`Jitter`] kind drawn from an
//!   injectable, seedable [`RandomSource`].
//! - [`Retry`]: a policy (attempts, total deadline, which errors to retry,
//!   a notify hook, retry-after hints) that runs blocking code with
//!   [`Retry::call`] or futures on any runtime with [`Retry::call_async`],
//!   sleeping through the crate's [`Clock`](crate::clock::Clock).
//! - [`RetryBudget`]: a lock-free token pool shared by all the callers of a
//!   downstream. Retries spend tokens and successes refill them, so when
//!   the downstream fails for everyone, retries stop instead of multiplying
//!   its load.
//!
//! ```text
//!  attempt 1 --fail--> [classify] --> [attempts left?] --> [delay = jitter(backoff(n))]
//!                                    --> max(delay, retry-after) --> min(delay, deadline - now)
//!                                    --> [budget pays?] --> notify --> sleep --> attempt n+1
//!  any "no" ends the call with RetryError { last error, attempts, elapsed, reason }
//! ```
//!
//! ```
//! use latchwork::clock::ManualClock;
//! use latchwork::retry::{Backoff, Jitter, Retry, RetryBudget};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! let budget = Arc::new(RetryBudget::new()); // 500 tokens, 5 per retry
//! let policy = Retry::builder()
//!     .backoff(
//!         Backoff::exponential(Duration::from_millis(100))
//!             .max_delay(Duration::from_secs(5))
//!             .jitter(Jitter::Full)
//!             .build()?,
//!     )
//!     .max_attempts(5)
//!     .max_elapsed(Duration::from_secs(10))
//!     .budget(budget.clone())
//!     .clock(ManualClock::new()) // tests: sleeping advances the clock
//!     .seed(7)
//!     .build()?;
//!
//! let mut failures_left = 2;
//! let value = policy.call(|| {
//!     failures_left -= 1;
//!     if failures_left >= 0 { Err("503") } else { Ok("done") }
//! });
//! assert_eq!(value, Ok("done"));
//! assert_eq!(budget.available(), 500 - 2 * 5 + 1);
//! # Ok::<(), latchwork::retry::Error>(())
//! ```
mod backoff;
mod budget;
mod error;
mod jitter;
mod policy;
mod rng;

pub use backoff::{Backoff, BackoffBuilder, Delays, DEFAULT_MAX_DELAY};
pub use budget::{
    RetryBudget, RetryBudgetBuilder, DEFAULT_CAPACITY, DEFAULT_RETRY_COST, DEFAULT_SUCCESS_REFUND,
    DEFAULT_TIMEOUT_COST,
};
pub use error::{Error, GiveUp, RetryError};
pub use jitter::Jitter;
#[cfg(feature = "tower")]
pub(crate) use policy::Run;
pub use policy::{Retry, RetryAfter, RetryBuilder, DEFAULT_MAX_ATTEMPTS};
pub use rng::{RandomSource, SplitMix64};
