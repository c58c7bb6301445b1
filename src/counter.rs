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
}

impl<const N: usize> StripedCounters<N> {
    pub(crate) fn new() -> Self {
        // Room for twice the hardware threads, plus the shared stripe.
        let n = std::thread::available_parallelism()
            .map_or(4, |n| n.get())
            .saturating_mul(2)
            .clamp(4, 256)
            + 1;
        Self::with_stripes(n)
    }

    /// `stripes - 1` private stripes and one shared.
    pub(crate) fn with_stripes(stripes: usize) -> Self {
        let stripes = stripes.max(1);
        StripedCounters {
            stripes: (0..stripes)
                .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
        }
    }

    #[inline]
    pub(crate) fn add(&self, counter: usize, n: u64) {
        let id = thread_stripe();
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

    pub(crate) fn sum(&self, counter: usize) -> u64 {
        self.stripes
            .iter()
            // Relaxed: see `add`.
            .map(|s| s[counter].load(Ordering::Relaxed))
            .fold(0u64, u64::wrapping_add)
    }

    pub(crate) fn reset(&self) {
        for s in self.stripes.iter() {
            for c in s.iter() {
                // Relaxed: see `add`.
                c.store(0, Ordering::Relaxed);
            }
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
}
