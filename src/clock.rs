//! The one clock abstraction every time-based module uses.
//!
//! A [`Clock`] reports monotonic time as nanoseconds since its origin and can
//! sleep. [`SystemClock`] reads the OS monotonic clock; [`ManualClock`] only
//! moves when a test calls [`ManualClock::advance`] (or when code "sleeps" on
//! it, which advances it instantly), so tests never wait for real time.
//!
//! Time is a [`Duration`] at the API and integer nanoseconds ("ticks")
//! inside, so packed atomic states can hold it.
//!
//! ```
//! use latchwork::clock::{Clock, ManualClock};
//! use std::time::Duration;
//!
//! let clock = ManualClock::new();
//! let handle = clock.clone(); // shares the same time
//! handle.advance(Duration::from_millis(1500));
//! assert_eq!(clock.now(), Duration::from_millis(1500));
//! ```
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Arc;
use std::fmt;
use std::time::Duration;

/// A monotonic time source.
///
/// Implementations must never go backwards. `Clone` is cheap and clones
/// observe the same time.
pub trait Clock: Clone + Send + Sync + fmt::Debug + 'static {
    /// Nanoseconds elapsed since this clock's origin.
    fn now_nanos(&self) -> u64;

    /// Blocks the calling thread for `duration` of this clock's time.
    fn sleep(&self, duration: Duration);

    /// Time elapsed since this clock's origin.
    #[inline]
    fn now(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }
}

/// Converts a duration to clock ticks (nanoseconds), saturating at `u64::MAX`
/// (about 584 years).
#[inline]
pub fn duration_to_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The machine's monotonic clock.
///
/// Reads go through [quanta](https://docs.rs/quanta): the CPU's invariant
/// time-stamp counter scaled to nanoseconds where the CPU has one (a few
/// nanoseconds a read, against 15-25 for `std::time::Instant` on the
/// virtual machines we measured), else the OS monotonic clock. The first
/// read in a process calibrates the counter, which can take up to 200 ms.
/// Readings never go backwards.
///
/// All `SystemClock` values share one process-wide origin, so readings from
/// different values compare.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

/// The process-wide calibrated counter and its reading at first use.
fn process_clock() -> &'static (quanta::Clock, u64) {
    static CLOCK: std::sync::OnceLock<(quanta::Clock, u64)> = std::sync::OnceLock::new();
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        (clock, origin)
    })
}

impl SystemClock {
    /// The system clock.
    pub fn new() -> Self {
        SystemClock
    }
}

impl Clock for SystemClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        // A raw counter read, scaled: no syscall, no shared writes.
        let (clock, origin) = process_clock();
        clock.delta_as_nanos(*origin, clock.raw())
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// A clock that moves only when told to: for tests and simulations.
///
/// Clones share the same time. [`sleep`](Clock::sleep) advances the clock by
/// the requested amount and returns at once, so code that waits "until
/// allowed" runs deterministically and instantly under test.
#[derive(Clone, Debug)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A manual clock at time zero.
    pub fn new() -> Self {
        ManualClock {
            nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves time forward by `by` (saturating).
    pub fn advance(&self, by: Duration) {
        let by = duration_to_nanos(by);
        // Relaxed: the clock value is a single word with no data published
        // alongside it; readers only need some value in modification order,
        // which is monotonic because every update is an increase.
        let _ = self
            .nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// Sets the time to `to` if that is later than the current time; a
    /// manual clock never goes backwards.
    pub fn set(&self, to: Duration) {
        // Relaxed: see `advance`.
        self.nanos
            .fetch_max(duration_to_nanos(to), Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        // Relaxed: see `advance`.
        self.nanos.load(Ordering::Relaxed)
    }

    fn sleep(&self, duration: Duration) {
        self.advance(duration);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new();
        assert_eq!(c.now_nanos(), 0);
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now(), Duration::from_secs(2));
        c.set(Duration::from_secs(1)); // never backwards
        assert_eq!(c.now(), Duration::from_secs(2));
        c.sleep(Duration::from_millis(5));
        assert_eq!(c.now(), Duration::from_millis(2005));
        c.advance(Duration::MAX);
        assert_eq!(c.now_nanos(), u64::MAX);
    }

    #[test]
    fn system_clock_is_monotonic_and_shared() {
        let a = SystemClock.now_nanos();
        let b = SystemClock::new().now_nanos();
        assert!(b >= a);
    }
}
