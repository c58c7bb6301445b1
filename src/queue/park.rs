//! Parking for threads that wait on a queue: a sleeper count, a mutex and a
//! condition variable.
//!
//! The handshake that loses no wake-up (modelled in `loom_models`):
//!
//! ```text
//!   waiter (holds `lock`)              waker
//!   sleepers += 1                      publish (push the item, set the bit)
//!   fence(SeqCst)                      fence(SeqCst)
//!   attempt() -- sees the item?        sleepers > 0 ? lock; notify
//!   else wait (releases `lock`)
//! ```
//!
//! The two fences are ordered one way or the other: either the waiter's
//! `attempt` sees the published item, or the waker sees `sleepers > 0`; it
//! then takes `lock`, which the waiter holds until it is inside `wait`, so
//! the notification cannot fall between the check and the wait. Wakers that
//! find no sleeper pay one fence and one load, no lock.
use crate::sync::atomic::{fence, AtomicUsize, Ordering};
use crate::sync::{Condvar, Mutex};
use crossbeam_utils::CachePadded;
use std::time::Duration;

pub(crate) struct Parker {
    sleepers: CachePadded<AtomicUsize>,
    lock: Mutex<()>,
    cond: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            sleepers: CachePadded::new(AtomicUsize::new(0)),
            lock: Mutex::new(()),
            cond: Condvar::new(),
        }
    }

    /// Registers as a sleeper, calls `attempt`, and if it returns `None`
    /// waits once (at most `timeout`; `None` waits until woken). Returns what
    /// `attempt` returned. Wake-ups may be spurious: callers loop.
    pub(crate) fn park<R>(
        &self,
        timeout: Option<Duration>,
        attempt: impl FnOnce() -> Option<R>,
    ) -> Option<R> {
        let guard = self.lock.lock();
        // Relaxed: the count is only read after the waker's fence, and the
        // fence below orders this increment before `attempt`'s loads.
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let got = attempt();
        let guard = match (&got, timeout) {
            (Some(_), _) => guard,
            (None, None) => self.cond.wait(guard).unwrap_or_else(|e| e.into_inner()),
            (None, Some(t)) => match self.cond.wait_timeout(guard, t) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            },
        };
        // Relaxed: leaving early only makes a later waker skip a needless
        // notification; it publishes nothing.
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        drop(guard);
        got
    }

    /// Wakes one parked thread, if any, after the caller published work.
    #[inline]
    pub(crate) fn unpark_one(&self) {
        fence(Ordering::SeqCst);
        // Relaxed: ordered by the fence above against the waiter's fence.
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            let _g = self.lock.lock();
            self.cond.notify_one();
        }
    }

    /// [`unpark_one`](Self::unpark_one) for a caller that has just issued
    /// a `fence(SeqCst)` after publishing.
    #[inline]
    pub(crate) fn unpark_one_fenced(&self) {
        // Relaxed: ordered by the caller's fence against the waiter's.
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            let _g = self.lock.lock();
            self.cond.notify_one();
        }
    }

    /// Wakes every parked thread (shutdown, a new earliest deadline).
    pub(crate) fn unpark_all(&self) {
        let _g = self.lock.lock();
        self.cond.notify_all();
    }
}

/// Before parking, retries `attempt` for a short while, spinning and then
/// yielding (crossbeam's `Backoff`, as crossbeam-channel's receivers do):
/// work that arrives within a few microseconds is then taken without the
/// park and unpark system calls on both sides. Bounded: after about ten
/// yields it gives up and the caller parks. Under loom it tries nothing
/// (the models check the park handshake itself).
#[inline]
pub(crate) fn spin_for<R>(mut attempt: impl FnMut() -> Option<R>) -> Option<R> {
    #[cfg(not(loom))]
    {
        let backoff = crossbeam_utils::Backoff::new();
        while !backoff.is_completed() {
            backoff.snooze();
            if let Some(got) = attempt() {
                return Some(got);
            }
        }
    }
    #[cfg(loom)]
    let _ = &mut attempt;
    None
}

impl std::fmt::Debug for Parker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parker")
            // Relaxed: a diagnostic snapshot.
            .field("sleepers", &self.sleepers.load(Ordering::Relaxed))
            .finish()
    }
}
