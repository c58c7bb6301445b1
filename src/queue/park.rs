//! Parking for threads that wait on a queue: a sleeper count, a mutex and a
//! condition variable.
//!
//! The handshake that loses no wake-up (modelled in `loom_models`):
//!
//! ```text
//!   waiter (holds `tokens`)            waker
//!   sleepers += 1                      publish (push the item, set the bit)
//!   fence(SeqCst)                      fence(SeqCst)
//!   attempt() -- sees the item?        sleepers > 0 ? lock; notify one
//!   else wait (releases `tokens`)      (claims one: sleepers -= 1, tokens += 1)
//! ```
//!
//! The two fences are ordered one way or the other: either the waiter's
//! `attempt` sees the published item, or the waker sees `sleepers > 0`; it
//! then takes the lock, which the waiter holds until it is inside `wait`, so
//! the notification cannot fall between the check and the wait. Wakers that
//! find no sleeper pay one fence and one load, no lock.
use crate::sync::atomic::{fence, AtomicUsize, Ordering};
use crate::sync::{Condvar, Mutex};
use crossbeam_utils::CachePadded;
use std::time::Duration;

pub(crate) struct Parker {
    /// Threads registered and not yet claimed by a waker. Changed only
    /// under `lock`; read without it by wakers (after their fence).
    sleepers: CachePadded<AtomicUsize>,
    /// Wake-ups issued and not yet consumed: a waker that claims a sleeper
    /// moves one count from `sleepers` to here, so the wakers after it (the
    /// next pushes, before the woken thread runs) find no sleeper and skip
    /// the lock and the system call, as crossbeam-channel's waker list does
    /// by removing the entry it wakes. A thread leaving `wait` consumes a
    /// token if there is one, else it takes its own count out of
    /// `sleepers` (a timeout, or a wake-up meant for another that it
    /// consumed first; the counts stay exact either way).
    tokens: Mutex<usize>,
    cond: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            sleepers: CachePadded::new(AtomicUsize::new(0)),
            tokens: Mutex::new(0),
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
        let guard = self.tokens.lock();
        // Relaxed: the count is only read after the waker's fence, and the
        // fence below orders this increment before `attempt`'s loads.
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let got = attempt();
        if got.is_some() {
            // No waker claimed us: they need the lock, which we held.
            // Relaxed: under the lock.
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
            return got;
        }
        let mut tokens = match timeout {
            None => self.cond.wait(guard).unwrap_or_else(|e| e.into_inner()),
            Some(t) => match self.cond.wait_timeout(guard, t) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            },
        };
        if *tokens > 0 {
            *tokens -= 1;
        } else {
            // Relaxed: under the lock; leaving only makes a later waker skip
            // a needless notification.
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
        }
        drop(tokens);
        got
    }

    /// Under the lock: claims one sleeper, if any, and signals.
    fn wake_one_locked(&self) {
        let mut tokens = self.tokens.lock();
        // Relaxed: under the lock that every writer of the count holds.
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
            *tokens += 1;
            self.cond.notify_one();
        }
    }

    /// Wakes one parked thread, if any, after the caller published work.
    #[inline]
    pub(crate) fn unpark_one(&self) {
        fence(Ordering::SeqCst);
        // Relaxed: ordered by the fence above against the waiter's fence.
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            self.wake_one_locked();
        }
    }

    /// [`unpark_one`](Self::unpark_one) for a caller that has just issued
    /// a `fence(SeqCst)` after publishing.
    #[inline]
    pub(crate) fn unpark_one_fenced(&self) {
        // Relaxed: ordered by the caller's fence against the waiter's.
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            self.wake_one_locked();
        }
    }

    /// Wakes every parked thread (shutdown, a new earliest deadline).
    pub(crate) fn unpark_all(&self) {
        let mut tokens = self.tokens.lock();
        // Relaxed (both): under the lock.
        *tokens += self.sleepers.swap(0, Ordering::Relaxed);
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
