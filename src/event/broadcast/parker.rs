//! Parking for broadcast waiters: a waiter count so that the common case
//! (nobody waiting) costs a notifier one load, and a mutex + condvar for
//! the rare case.
//!
//! No lost wake-up: a waiter increments `waiters`, issues a SeqCst fence
//! and checks its condition, all under the mutex; a notifier makes its
//! change, issues a SeqCst fence and loads `waiters`. The two fences are
//! ordered one way or the other: either the notifier sees the waiter and
//! notifies under the mutex (which the waiter holds from its check until
//! it sleeps), or the waiter's check sees the change. (Fences rather than
//! SeqCst accesses alone: loom models SeqCst accesses as AcqRel, but
//! models SeqCst fences.)
use crate::sync::atomic::{fence, AtomicUsize, Ordering};
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
        // The notifier half of the handshake in the module doc.
        fence(Ordering::SeqCst);
        // Relaxed: ordered by the fence above.
        if self.waiters.load(Ordering::Relaxed) != 0 {
            let _g = self.lock.lock();
            self.cv.notify_all();
        }
    }

    /// Blocks until `ready()` holds (true) or `deadline` passes (false).
    /// `ready` runs after a SeqCst fence; its loads may be Acquire.
    pub(super) fn wait_until(&self, ready: impl Fn() -> bool, deadline: Option<Instant>) -> bool {
        let mut guard = self.lock.lock();
        // Relaxed + fence: the waiter half of the handshake in the module
        // doc (the mutex orders it against this waiter's decrement).
        self.waiters.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
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
