//! The one sleep abstraction of the crate's async waits.
//!
//! The library depends on no runtime, so an async operation that must let
//! time pass (a limiter's [`until_ready`](crate::ratelimit::TokenBucket::until_ready),
//! a retry delay in [`Retry::call_async`](crate::retry::Retry::call_async))
//! takes a [`Sleeper`] from its caller:
//!
//! | sleeper | runtime | for |
//! |---|---|---|
//! | `TokioSleeper` (feature `tokio`) | tokio | services on tokio |
//! | any `Fn(Duration) -> impl Future<Output = ()>` | any | `async_io::Timer::after`, smol, a simulated timer |
//! | [`ClockSleeper`] | none | tests and simulations on a [`ManualClock`](crate::clock::ManualClock) |
//!
//! The sleeper should wait on the same clock the waiting structure reads
//! (the system clock for `TokioSleeper`); a sleeper that returns early
//! only costs a retry, never an admission the structure would refuse.
//!
//! ```
//! use latchwork::sleep::{ClockSleeper, Sleeper};
//! use latchwork::clock::{Clock, ManualClock};
//! use std::time::Duration;
//!
//! let clock = ManualClock::new();
//! let sleeper = ClockSleeper::new(clock.clone());
//! let _ = sleeper.sleep(Duration::from_secs(2)); // advances the manual clock
//! assert_eq!(clock.now(), Duration::from_secs(2));
//! ```
use crate::clock::Clock;
#[cfg(feature = "tokio")]
use std::fmt;
use std::future::{Future, Ready};
use std::time::Duration;

/// Makes the futures an async wait sleeps on.
///
/// Implemented for every `Fn(Duration) -> F` where `F: Future<Output =
/// ()>`, so a closure such as `|d| tokio::time::sleep(d)` is a sleeper.
pub trait Sleeper {
    /// The future of one sleep.
    type Sleep: Future<Output = ()>;

    /// A future that completes once `duration` has passed (or earlier: the
    /// caller then rechecks and sleeps again).
    fn sleep(&self, duration: Duration) -> Self::Sleep;
}

impl<F, Fut> Sleeper for F
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = ()>,
{
    type Sleep = Fut;

    fn sleep(&self, duration: Duration) -> Fut {
        self(duration)
    }
}

/// A runtime-free sleeper on a crate [`Clock`]: each sleep calls
/// [`Clock::sleep`] and returns a completed future. On a
/// [`ManualClock`](crate::clock::ManualClock) that advances simulated time,
/// so async waits run deterministically in tests; on the
/// [`SystemClock`](crate::clock::SystemClock) it blocks the polling thread,
/// which suits only a `block_on` caller, never a runtime worker.
#[derive(Clone, Debug, Default)]
pub struct ClockSleeper<C> {
    clock: C,
}

impl<C: Clock> ClockSleeper<C> {
    /// A sleeper on `clock`.
    pub fn new(clock: C) -> Self {
        ClockSleeper { clock }
    }

    /// The clock it sleeps on.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

impl<C: Clock> Sleeper for ClockSleeper<C> {
    type Sleep = Ready<()>;

    fn sleep(&self, duration: Duration) -> Ready<()> {
        self.clock.sleep(duration);
        std::future::ready(())
    }
}

/// A sleeper on tokio's timer (`tokio::time::sleep`); must be polled inside
/// a tokio runtime with the time driver enabled. Feature `tokio`.
#[cfg(feature = "tokio")]
#[derive(Clone, Copy, Default)]
pub struct TokioSleeper;

#[cfg(feature = "tokio")]
impl Sleeper for TokioSleeper {
    type Sleep = tokio::time::Sleep;

    fn sleep(&self, duration: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(duration)
    }
}

#[cfg(feature = "tokio")]
impl fmt::Debug for TokioSleeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokioSleeper")
    }
}
