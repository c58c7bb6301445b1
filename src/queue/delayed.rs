//! Tasks waiting for their time: a map ordered by (due time, id), and the
//! earliest due time in an atomic so that the hot path (a worker between two
//! tasks) checks it with one load and, only if something is due, one clock
//! read.
//!
//! Nothing sleeps on the clock. Due tasks move to the ready queue whenever a
//! worker, `run_pending` or `poll_delayed` observes the clock at or past
//! their time; with a `SystemClock`, idle workers park with a timeout that
//! ends at the earliest due time. A `ManualClock` cannot wake anyone when it
//! is advanced, so tests call `poll_delayed` (or `run_pending`) after
//! advancing it.
use super::task::Job;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Mutex;
use std::collections::BTreeMap;

/// `next_due` when nothing waits.
pub(crate) const NOTHING_DUE: u64 = u64::MAX;

/// The latest due time a job can have: one tick before `NOTHING_DUE`, so a
/// job due at the end of time (`Duration::MAX`) is still seen as waiting,
/// and runs once the clock reads `u64::MAX - 1` nanoseconds.
pub(crate) const LATEST_DUE: u64 = NOTHING_DUE - 1;

pub(crate) struct Delayed {
    jobs: Mutex<BTreeMap<(u64, u64), Job>>,
    /// The smallest due time in `jobs` (clock nanoseconds), or
    /// `NOTHING_DUE`. Written only under the `jobs` lock.
    next_due: AtomicU64,
}

impl Delayed {
    pub(crate) fn new() -> Self {
        Delayed {
            jobs: Mutex::new(BTreeMap::new()),
            next_due: AtomicU64::new(NOTHING_DUE),
        }
    }

    /// The earliest due time, or `NOTHING_DUE`.
    #[inline]
    pub(crate) fn next_due(&self) -> u64 {
        // Acquire: pairs with the Release store in `insert`/`take_due`; a
        // reader that sees a due time finds its job under the lock. A stale
        // value only delays a promotion until the next look, and the waker
        // in `TaskQueue::submit_at` covers parked workers.
        self.next_due.load(Ordering::Acquire)
    }

    /// Adds `job`, due at `due` (at most [`LATEST_DUE`]). Returns whether
    /// it is now the earliest.
    pub(crate) fn insert(&self, due: u64, job: Job) -> bool {
        let due = due.min(LATEST_DUE);
        let mut jobs = self.jobs.lock();
        jobs.insert((due, job.id.0), job);
        let earliest = due < self.next_due.load(Ordering::Relaxed);
        if earliest {
            // Release: see `next_due`. (Relaxed load above: we hold the lock
            // that every writer holds.)
            self.next_due.store(due, Ordering::Release);
        }
        earliest
    }

    /// Removes every job due at or before `now`, in (due time, id) order.
    pub(crate) fn take_due(&self, now: u64) -> Vec<Job> {
        if now < self.next_due() {
            return Vec::new();
        }
        let mut jobs = self.jobs.lock();
        let later = jobs.split_off(&(now.saturating_add(1), 0));
        let due = std::mem::replace(&mut *jobs, later);
        let next = jobs.keys().next().map_or(NOTHING_DUE, |&(t, _)| t);
        // Release: see `next_due`.
        self.next_due.store(next, Ordering::Release);
        due.into_values().collect()
    }

    /// Removes every job, due or not.
    pub(crate) fn take_all(&self) -> Vec<Job> {
        let mut jobs = self.jobs.lock();
        // Release: see `next_due`.
        self.next_due.store(NOTHING_DUE, Ordering::Release);
        std::mem::take(&mut *jobs).into_values().collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.jobs.lock().len()
    }
}
