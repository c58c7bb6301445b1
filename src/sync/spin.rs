//! The crate's one spin / yield / park ladder: how a thread waits a short
//! while for another thread before it gives up the core.
//!
//! A [`SpinWait`] counts rungs from 0. Rungs 0 to [`SPIN_LIMIT`] busy-spin
//! `2^rung` spin-loop hints (about a hundred in all: work that lands
//! within a microsecond or so is taken without a system call); the rungs
//! after it, up to [`YIELD_LIMIT`], yield the core to the OS scheduler
//! once each. After
//! that the ladder is *completed*, and what the caller does next depends on
//! what it waits for:
//!
//! - a condition another thread announces (an item pushed, a slot freed):
//!   park on a [`WaitQueue`](super::wait::WaitQueue), whose handshake loses
//!   no wake-up ([`spin_for`](super::wait::spin_for) then
//!   `wait_until`);
//! - another thread's half-done step that nobody announces (a ring slot
//!   claimed but not yet written): [`nap`](SpinWait::nap), a short sleep
//!   per round, which leaves the core to a preempted thread that yielding
//!   alone would keep competing with on an oversubscribed machine.
//!
//! Contended compare-and-swap retries use [`backoff`](SpinWait::backoff),
//! which spins (capped) and never yields: the other thread made progress,
//! only the cache line is hot.
//!
//! ```text
//! rung:   0  1  2  3  4  5  6 | 7  8  9  10 | completed
//!         spin 2^rung hints    | yield once  | park (queue) or nap (20 us)
//! ```
//!
//! parking_lot's `SpinWait` is the model (its spin-then-yield counter, and
//! the park it hands over to); the limits are those crossbeam's `Backoff`
//! uses, which the crate's benchmarks were tuned with.
//!
//! Under loom no rung spins: each is one `yield_now`, and the ladder
//! reports itself completed at once, so the models explore the parking
//! handshakes rather than thousands of equivalent spin interleavings.
use std::time::Duration;

/// Rungs that busy-spin (`2^rung` hints each).
pub(crate) const SPIN_LIMIT: u32 = 6;
/// The last rung; rungs after [`SPIN_LIMIT`] up to it yield.
pub(crate) const YIELD_LIMIT: u32 = 10;
/// One nap of a completed ladder that has no queue to park on (under loom
/// a yield instead).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) const NAP: Duration = Duration::from_micros(20);

/// A spin / yield counter (module doc). Cheap to create: one per wait.
#[derive(Debug, Default)]
pub(crate) struct SpinWait {
    rung: u32,
}

impl SpinWait {
    /// A ladder at its first rung.
    #[inline]
    pub(crate) fn new() -> Self {
        SpinWait { rung: 0 }
    }

    /// Whether every rung has been climbed: time to park or nap.
    #[inline]
    pub(crate) fn is_completed(&self) -> bool {
        cfg!(loom) || self.rung > YIELD_LIMIT
    }

    /// Climbs one rung (spins, then yields); `false`, doing nothing, once
    /// the ladder is completed and the caller should park.
    #[inline]
    pub(crate) fn spin(&mut self) -> bool {
        if self.is_completed() {
            return false;
        }
        if self.rung <= SPIN_LIMIT {
            relax(1 << self.rung);
        } else {
            crate::sync::thread::yield_now();
        }
        self.rung += 1;
        true
    }

    /// Backs off after a lost compare-and-swap: spins `2^rung` hints,
    /// capped at `2^SPIN_LIMIT`, never yields.
    #[inline]
    pub(crate) fn backoff(&mut self) {
        relax(1 << self.rung.min(SPIN_LIMIT));
        if self.rung <= SPIN_LIMIT {
            self.rung += 1;
        }
    }

    /// Waits a round for another thread's unannounced step: the next rung,
    /// or once the ladder is completed a [`NAP`] (module doc).
    #[inline]
    pub(crate) fn nap(&mut self) {
        if self.spin() {
            return;
        }
        #[cfg(not(loom))]
        std::thread::sleep(NAP);
        #[cfg(loom)]
        crate::sync::thread::yield_now();
    }
}

/// `n` spin-loop hints; under loom one yield, whatever `n`.
#[inline]
fn relax(n: u32) {
    #[cfg(not(loom))]
    for _ in 0..n {
        std::hint::spin_loop();
    }
    #[cfg(loom)]
    {
        let _ = n;
        crate::sync::thread::yield_now();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn spins_then_yields_then_completes() {
        let mut s = SpinWait::new();
        let mut rungs = 0;
        while s.spin() {
            rungs += 1;
        }
        assert_eq!(rungs, YIELD_LIMIT + 1);
        assert!(s.is_completed());
        assert!(!s.spin(), "a completed ladder stays completed");
    }

    #[test]
    fn backoff_never_completes_the_ladder() {
        let mut s = SpinWait::new();
        for _ in 0..100 {
            s.backoff();
        }
        assert!(!s.is_completed());
    }

    #[test]
    fn nap_sleeps_only_after_the_ladder() {
        let mut s = SpinWait::new();
        let t = std::time::Instant::now();
        for _ in 0..=YIELD_LIMIT {
            s.nap();
        }
        assert!(s.is_completed());
        s.nap();
        assert!(t.elapsed() >= NAP);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::atomic::{AtomicBool, Ordering};
    use crate::sync::{thread, Arc};

    /// A thread that naps for another thread's flag makes progress under
    /// loom (each rung yields) and sees the flag once it is set.
    #[test]
    fn loom_nap_waits_for_another_thread() {
        loom::model(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let f2 = flag.clone();
            let t = thread::spawn(move || {
                // Release: pairs with the Acquire load below.
                f2.store(true, Ordering::Release);
            });
            let mut s = SpinWait::new();
            // Acquire: pairs with the Release store above.
            while !flag.load(Ordering::Acquire) {
                s.nap();
            }
            t.join().unwrap();
        });
    }
}
