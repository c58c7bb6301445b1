//! Striped statistics counters.
//!
//! A single `AtomicU64` that every thread bumps on every cache hit becomes
//! the bottleneck of the cache it measures. Each thread instead adds to its
//! own cache-padded stripe (chosen by [`thread_stripe`], unique among live
//! threads); readers sum the stripes. A thread whose id fits the stripe
//! count owns its stripe alone and adds with a plain load and store (no
//! locked instruction); threads beyond that share stripes and use
//! `fetch_add`. Sums are exact once writers are quiet and never torn per
//! counter, but a sum taken during writes is a moment-in-flux snapshot, and
//! different counters are not read atomically together.
//!
//! `reset` never writes a stripe: an owner's plain load + store could undo
//! a zeroing store that landed between them. It records each counter's
//! current total in `base` instead, and `sum` reports the total minus the
//! base; an add racing a reset counts either before it or after it.
#![cfg_attr(not(feature = "cache"), allow(dead_code))] // queue alone uses a part
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::thread_stripe;
use crossbeam_utils::CachePadded;

/// `hits / (hits + misses)`, or 0.0 when both are zero: the hit ratio every
/// cache's stats report.
pub(crate) fn ratio(hits: u64, misses: u64) -> f64 {
    match hits.saturating_add(misses) {
        0 => 0.0,
        total => hits as f64 / total as f64,
    }
}

/// `N` counters, striped per thread.
pub(crate) struct StripedCounters<const N: usize> {
    stripes: Box<[CachePadded<[AtomicU64; N]>]>,
    /// Each counter's total at the last `reset` (0 before any).
    base: [AtomicU64; N],
}

impl<const N: usize> StripedCounters<N> {
    pub(crate) fn new() -> Self {
        Self::with_stripes(crate::sync::stripe_count())
    }

    /// `stripes - 1` private stripes and one shared.
    pub(crate) fn with_stripes(stripes: usize) -> Self {
        let stripes = stripes.max(1);
        StripedCounters {
            stripes: (0..stripes)
                .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            base: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    #[inline]
    pub(crate) fn add(&self, counter: usize, n: u64) {
        self.add_as(thread_stripe(), counter, n);
    }

    /// `add` as the thread with stripe id `id` (loom models pick the id, as
    /// every loom thread otherwise reports the shared stripe).
    #[inline]
    fn add_as(&self, id: usize, counter: usize, n: u64) {
        // Ids are unique among live threads; the last stripe is shared by
        // every thread whose id does not fit, so those must use an RMW.
        let last = self.stripes.len() - 1;
        let cell = &self.stripes[id.min(last)][counter];
        if id < last {
            // Sole writer of this stripe (a later owner of the id is ordered
            // after us by the id registry's mutex), so load + store loses no
            // increment. Relaxed: a statistic publishes no other data.
            cell.store(
                cell.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Relaxed,
            );
        } else {
            // Relaxed: as above; the RMW keeps every increment on the shared
            // stripe.
            cell.fetch_add(n, Ordering::Relaxed);
        }
    }

    #[inline]
    pub(crate) fn incr(&self, counter: usize) {
        self.add(counter, 1);
    }

    /// The sum of every stripe, ignoring the base.
    fn total(&self, counter: usize) -> u64 {
        self.stripes
            .iter()
            // Relaxed: see `add`.
            .map(|s| s[counter].load(Ordering::Relaxed))
            .fold(0u64, u64::wrapping_add)
    }

    pub(crate) fn sum(&self, counter: usize) -> u64 {
        // Acquire: pairs with the Release store in `reset` that wrote this
        // base, so the stripe loads below see at least what that reset
        // summed (coherence): the difference never goes below zero.
        let base = self.base[counter].load(Ordering::Acquire);
        self.total(counter).wrapping_sub(base)
    }

    /// Starts every counter again from zero. Adds racing the reset count
    /// either before it or after it; none is lost or resurrected.
    pub(crate) fn reset(&self) {
        for (c, base) in self.base.iter().enumerate() {
            // Release: see `sum`.
            base.store(self.total(c), Ordering::Release);
        }
    }
}

impl<const N: usize> std::fmt::Debug for StripedCounters<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sums: Vec<u64> = (0..N).map(|i| self.sum(i)).collect();
        f.debug_tuple("StripedCounters").field(&sums).finish()
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::{thread, Arc};

    /// Concurrent increments are never lost, even on one shared stripe.
    #[test]
    fn increments_are_not_lost() {
        loom::model(|| {
            let c = Arc::new(StripedCounters::<2>::with_stripes(1));
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let c = c.clone();
                    thread::spawn(move || {
                        c.incr(0);
                        c.add(1, 2);
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!((c.sum(0), c.sum(1)), (2, 4));
        });
    }

    /// A reset racing an owner's plain load + store is never undone: the
    /// sum afterwards counts the add or not, but never what came before
    /// the reset.
    #[test]
    fn reset_racing_a_private_add_is_not_undone() {
        loom::model(|| {
            // Two stripes: id 0 is private (plain load + store).
            let c = Arc::new(StripedCounters::<1>::with_stripes(2));
            c.add_as(0, 0, 5);
            let adder = {
                let c = c.clone();
                thread::spawn(move || c.add_as(0, 0, 1))
            };
            c.reset();
            let after_reset = c.sum(0);
            assert!(after_reset <= 1, "reset undone: {after_reset}");
            adder.join().unwrap();
            let end = c.sum(0);
            assert!(end <= 1, "reset undone: {end}");
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn reset_then_add_counts_from_zero() {
        let c = StripedCounters::<2>::with_stripes(3);
        c.add_as(0, 0, 5);
        c.add_as(usize::MAX, 1, 7);
        c.reset();
        assert_eq!((c.sum(0), c.sum(1)), (0, 0));
        c.add_as(0, 0, 2);
        c.add_as(1, 1, 3);
        assert_eq!((c.sum(0), c.sum(1)), (2, 3));
    }

    /// The interleaving the loom model explores, replayed by hand: load,
    /// reset, store. The old zeroing reset reported 6 here.
    #[test]
    fn reset_between_an_owners_load_and_store_is_not_undone() {
        let c = StripedCounters::<1>::with_stripes(2);
        c.add_as(0, 0, 5);
        // Relaxed: single-threaded test.
        let loaded = c.stripes[0][0].load(Ordering::Relaxed);
        c.reset();
        c.stripes[0][0].store(loaded + 1, Ordering::Relaxed);
        assert_eq!(c.sum(0), 1);
    }

    /// A thread-local whose `Drop` counts after the thread's stripe id was
    /// returned (TLS teardown) falls back to the shared stripe instead of
    /// panicking in `LocalKey::with` (which aborts the process).
    #[test]
    fn counting_from_a_thread_local_destructor_does_not_panic() {
        use std::sync::Arc;
        struct CountsOnDrop(Arc<StripedCounters<1>>);
        impl Drop for CountsOnDrop {
            fn drop(&mut self) {
                self.0.incr(0);
            }
        }
        thread_local! {
            static LATE: std::cell::RefCell<Option<CountsOnDrop>> =
                const { std::cell::RefCell::new(None) };
        }
        let c = Arc::new(StripedCounters::<1>::with_stripes(4));
        let c2 = Arc::clone(&c);
        std::thread::spawn(move || {
            // Register LATE first, then take a stripe id: TLS destructors
            // run in reverse order of registration on most platforms, and
            // either order must work.
            LATE.with(|l| *l.borrow_mut() = Some(CountsOnDrop(Arc::clone(&c2))));
            c2.incr(0);
        })
        .join()
        .expect("a TLS destructor that counts must not panic");
        assert_eq!(c.sum(0), 2);
    }
}
