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
//! # Time that goes backwards
//! The trait asks for monotonic readings, but a user's clock may step back
//! (a wall clock corrected by NTP, a test double, a bug). Every time-based
//! type of the crate (the sliding windows, the batcher, retry deadlines,
//! delayed tasks, the cache's expiry) treats a reading earlier than the
//! last one it saw as *no time passed*, then lets time pass again from
//! there at the clock's pace (the [`Monotonic`] wrapper; the types use the
//! same clamp inside, the cache a lock-free form of it per shard), and
//! never forgets state because of it. So a clock that jumped a year ahead
//! and was then corrected costs at most the time it stood ahead: a cached
//! entry of 10 s expires some 10 s (of the clock's pace) after the
//! correction, not a year later. A clock that jumps forward is believed:
//! windows expire, buckets refill, cached entries expire. The token
//! bucket and the keyed limiter need no clamp: their state is a "full again at" time, and
//! a reading that goes back only makes them stricter until it catches up.
//!
//! A clock that stops at `u64::MAX` nanoseconds (the end of time, about
//! 584 years) stays there: no limiter admits more than its limit (a token
//! bucket admits nothing more once its "full again at" time would pass
//! `u64::MAX`), and a task due at the end of time still runs there.
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
use crate::sync::{Arc, Mutex};
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

/// Turns raw clock readings into readings that never go backwards: a step
/// back counts as no time passed, and time passes again from there at the
/// clock's own pace. The one implementation of the crate's
/// time-goes-backwards policy (see the module doc).
///
/// It keeps the last raw reading and an offset, the total of every step
/// back seen so far, and reports `raw + offset`; for a well-behaved clock
/// the offset stays 0 and readings pass through unchanged. (Clamping to a
/// high-water mark alone would also never go back, but a clock that jumped
/// a year ahead and was corrected would then stand still for a year.)
#[derive(Debug)]
pub(crate) struct MonotonicClamp(Mutex<ClampState>);

#[derive(Debug, Default, Clone, Copy)]
struct ClampState {
    /// The last raw reading.
    last: u64,
    /// The sum of every step back seen.
    offset: u64,
}

impl Default for MonotonicClamp {
    fn default() -> Self {
        Self::new()
    }
}

impl MonotonicClamp {
    pub(crate) fn new() -> Self {
        MonotonicClamp(Mutex::new(ClampState::default()))
    }

    /// Reads `clock`, clamped: never below any reading returned before.
    ///
    /// The clock is read under the clamp's lock, so readings of a clock
    /// that is monotonic across threads arrive in order; reading first and
    /// clamping after would let two threads' readings cross and count the
    /// gap as a step back, skewing time forward a little at every crossing.
    #[inline]
    pub(crate) fn now<C: Clock>(&self, clock: &C) -> u64 {
        let mut st = self.0.lock();
        st.step(clock.now_nanos())
    }
}

impl ClampState {
    #[inline]
    fn step(&mut self, raw: u64) -> u64 {
        if raw < self.last {
            self.offset = self.offset.saturating_add(self.last - raw);
        }
        self.last = raw;
        raw.saturating_add(self.offset)
    }
}

/// [`MonotonicClamp`]'s policy without a lock, for state whose writers are
/// serialised already and whose readers run at once: the cache's shards
/// (writers hold the shard's write lock, readers its read lock).
///
/// Readings are `raw + offset`, never below `floor`, the latest reading a
/// writer acted on (or a reader raised it to). A reading that falls below
/// the floor is a step back: the offset grows so that it reads as the
/// floor, *no time passed*, and time passes again from there at the clock's
/// pace. (`floor` plays `ClampState::last` plus the offset.) A common read
/// costs two loads and the clock read.
#[cfg(feature = "cache")]
#[derive(Debug)]
pub(crate) struct AtomicClamp {
    /// The latest reading acted on: never goes back.
    floor: AtomicU64,
    /// The total of every step back seen; only grows.
    offset: AtomicU64,
}

#[cfg(feature = "cache")]
impl AtomicClamp {
    /// A clamp whose first reading is at least `now`.
    pub(crate) fn new(now: u64) -> Self {
        AtomicClamp {
            floor: AtomicU64::new(now),
            offset: AtomicU64::new(0),
        }
    }

    /// The reading of a writer, which raises the floor to it; `None` (the
    /// writer needs no time) gives the floor and changes nothing.
    ///
    /// Writers must be serialised with each other and with readers (the
    /// shard's write lock), and `raw` must be read once the caller holds
    /// that exclusion: a reading taken before waiting for the lock can be
    /// older than the floor another writer set meanwhile, and would count
    /// the wait as a step back (skewing time forward at every crossing).
    #[inline]
    pub(crate) fn write(&self, raw: Option<u64>) -> u64 {
        // Relaxed: writers are serialised by the caller's lock, whose
        // release/acquire also orders these against every reader.
        let floor = self.floor.load(Ordering::Relaxed);
        let Some(raw) = raw else {
            return floor;
        };
        let now = raw.saturating_add(self.offset.load(Ordering::Relaxed));
        if now >= floor {
            // Release: pairs with the Acquire in `read` (see there).
            self.floor.store(now, Ordering::Release);
            now
        } else {
            // Stepped back: no time passed; time passes again from here.
            self.offset.store(floor - raw, Ordering::Relaxed);
            floor
        }
    }

    /// The reading of a reader (concurrent with other readers, never with
    /// a writer); `raw` reads the clock, after the floor and offset.
    #[inline]
    pub(crate) fn read(&self, raw: impl FnOnce() -> u64) -> u64 {
        // Acquire: pairs with the Release of whoever set the floor (`write`,
        // `raise`), so that their offset load and clock read happen before
        // ours: a clock that is monotonic across threads then gives
        // `raw + offset >= floor` here unless it really stepped back, and
        // a reader never takes a race for a step back.
        let floor = self.floor.load(Ordering::Acquire);
        // Relaxed: ordered by the Acquire above; the offset only grows.
        let offset = self.offset.load(Ordering::Relaxed);
        let raw = raw();
        let now = raw.saturating_add(offset);
        if now >= floor {
            now
        } else {
            // Stepped back and no writer has seen it yet: as in `write`.
            // fetch_max: readers racing here agree on the largest offset,
            // the one of the earliest reading after the step.
            self.offset.fetch_max(floor - raw, Ordering::Relaxed);
            floor
        }
    }

    /// Raises the floor to `now` (a reading from [`AtomicClamp::read`]): a
    /// reader that acted on it (saw an entry expire) makes sure no later
    /// reading goes below it.
    #[inline]
    pub(crate) fn raise(&self, now: u64) {
        // Release: see `read`.
        self.floor.fetch_max(now, Ordering::Release);
    }

    /// The latest reading acted on.
    #[inline]
    pub(crate) fn floor(&self) -> u64 {
        // Relaxed: a snapshot, for a writer under the lock (see `write`).
        self.floor.load(Ordering::Relaxed)
    }
}

/// A clock wrapper that never goes backwards: a reading of `inner` earlier
/// than the last one counts as no time passed, and time moves on from
/// there at `inner`'s pace (the readings are then ahead of `inner`'s by
/// the total it stepped back).
///
/// The crate's time-based types clamp on their own; wrap a clock in
/// `Monotonic` to give the same guarantee to code of your own. Clones share
/// the clamp (the last reading and the total stepped back).
///
/// ```
/// use latchwork::clock::{Clock, Monotonic};
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// // A clock whose readings a test sets freely, backwards included.
/// #[derive(Clone, Debug, Default)]
/// struct Jumpy(Arc<AtomicU64>);
/// impl Clock for Jumpy {
///     fn now_nanos(&self) -> u64 { self.0.load(Ordering::Relaxed) }
///     fn sleep(&self, _: Duration) {}
/// }
///
/// let raw = Jumpy::default();
/// let clock = Monotonic::new(raw.clone());
/// raw.0.store(10, Ordering::Relaxed);
/// assert_eq!(clock.now_nanos(), 10);
/// raw.0.store(9, Ordering::Relaxed); // one nanosecond back
/// assert_eq!(clock.now_nanos(), 10); // reads as no time passed
/// raw.0.store(12, Ordering::Relaxed); // three nanoseconds pass
/// assert_eq!(clock.now_nanos(), 13);
/// ```
#[derive(Clone, Debug)]
pub struct Monotonic<C> {
    inner: C,
    clamp: Arc<MonotonicClamp>,
}

impl<C: Clock> Monotonic<C> {
    /// Wraps `inner`.
    pub fn new(inner: C) -> Self {
        Monotonic {
            inner,
            clamp: Arc::new(MonotonicClamp::new()),
        }
    }

    /// The wrapped clock.
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

impl<C: Clock> Clock for Monotonic<C> {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.clamp.now(&self.inner)
    }

    fn sleep(&self, duration: Duration) {
        self.inner.sleep(duration);
    }
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
    fn clamp_counts_a_step_back_as_no_time_passed() {
        let mut c = ClampState::default();
        assert_eq!(c.step(5), 5);
        assert_eq!(c.step(4), 5); // back 1
        assert_eq!(c.step(6), 7); // then time passes again
        assert_eq!(c.step(0), 7); // back to the origin
        assert_eq!(c.step(u64::MAX), u64::MAX); // saturates at the end of time
        assert_eq!(c.step(3), u64::MAX);
    }

    #[cfg(feature = "cache")]
    #[test]
    fn atomic_clamp_follows_the_same_policy() {
        let c = AtomicClamp::new(5);
        assert_eq!(c.write(Some(3)), 5); // below the start: no time passed
        assert_eq!(c.write(Some(4)), 6); // then time passes at the pace
        assert_eq!(c.write(None), 6); // a writer that needs no time
        assert_eq!(c.read(|| 10), 12);
        // A jump ahead a writer acted on, then the correction.
        assert_eq!(c.write(Some(1_000)), 1_002);
        assert_eq!(c.read(|| 11), 1_002); // a reader sees the step first
        assert_eq!(c.read(|| 12), 1_003);
        assert_eq!(c.write(Some(13)), 1_004);
        c.raise(2_000); // a reader acted on a later reading
        assert_eq!(c.read(|| 14), 2_000);
        assert_eq!(c.write(Some(15)), 2_001);
        assert_eq!(c.write(Some(u64::MAX)), u64::MAX);
        assert_eq!(c.write(Some(0)), u64::MAX);
        assert_eq!(c.read(|| 1), u64::MAX);
    }

    #[test]
    fn system_clock_is_monotonic_and_shared() {
        let a = SystemClock.now_nanos();
        let b = SystemClock::new().now_nanos();
        assert!(b >= a);
    }
}
