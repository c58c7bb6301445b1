//! Parking for broadcast waiters: a waiter count so that the common case
//! (nobody waiting) costs a notifier one load, and a mutex + condvar for
//! the rare case.
//!
//! No lost wake-up: a waiter increments `waiters` (SeqCst) and then checks
//! its condition (SeqCst loads) under the mutex; a notifier makes its change
//! (SeqCst store) and then loads `waiters` (SeqCst). Either the notifier
//! sees the waiter and notifies under the mutex (which the waiter holds
//! from its check until it sleeps), or the waiter's check sees the change.
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Condvar, Mutex};
use std::time::Instant;

pub(super) struct Parker {
    waiters: AtomicUsize,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Parker {
    pub(super) fn new() -> Self {
        Parker {
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(()),
            cv: Condvar::new(),
        }
    }

    /// Wakes every waiter, if there is one.
    #[inline]
    pub(super) fn notify(&self) {
        // SeqCst: the notifier half of the handshake in the module doc.
        if self.waiters.load(Ordering::SeqCst) != 0 {
            let _g = self.lock.lock();
            self.cv.notify_all();
        }
    }

    /// Blocks until `ready()` holds (true) or `deadline` passes (false).
    /// `ready` must read the state it depends on with SeqCst loads.
    pub(super) fn wait_until(&self, ready: impl Fn() -> bool, deadline: Option<Instant>) -> bool {
        let mut guard = self.lock.lock();
        // SeqCst: the waiter half of the handshake in the module doc.
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let ok = loop {
            if ready() {
                break true;
            }
            match deadline {
                None => guard = self.cv.wait(guard).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break false;
                    }
                    guard = match self.cv.wait_timeout(guard, d - now) {
                        Ok((g, _)) => g,
                        Err(e) => e.into_inner().0,
                    };
                }
            }
        };
        // Relaxed: a stale non-zero count only costs a notifier a needless
        // lock; the mutex orders it before this waiter's next increment.
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        drop(guard);
        ok
    }
}

impl std::fmt::Debug for Parker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parker")
            // Relaxed: a diagnostic snapshot.
            .field("waiters", &self.waiters.load(Ordering::Relaxed))
            .finish()
    }
}
