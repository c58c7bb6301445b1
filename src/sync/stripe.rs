//! Per-thread stripes: which stripe a thread writes ([`thread_stripe`]),
//! how many stripes a striped structure has ([`count`]: the statistics
//! counters, the frequency counter), and the one reading of the machine's
//! parallelism ([`available_cpus`]) those and the worker pools' defaults
//! start from.
//!
//! Unlike the shard count (`shard.rs`, capacity only), the stripe count
//! follows the machine: stripes exist to give each running thread its own
//! cache line, and hold no entries whose hit ratio could depend on it.

/// A small number identifying the calling thread among the live threads of
/// the process: ids are handed out lowest-first and returned when a thread
/// exits, so no two live threads share one. Striped counters use it to give
/// each thread a stripe of its own. Under loom every thread reports
/// `usize::MAX` (the models then exercise the shared-stripe path).
///
/// During thread-local teardown (a thread-local's `Drop` that bumps a
/// counter after this thread's id was returned) the thread also reports
/// [`SHARED_STRIPE`]: it then counts on the shared stripe with an RMW,
/// instead of panicking in `LocalKey::with` (which would abort the process,
/// as a panic in a TLS destructor cannot unwind).
#[cfg(not(loom))]
#[inline]
pub(crate) fn thread_stripe() -> usize {
    STRIPE.try_with(|s| s.0).unwrap_or(SHARED_STRIPE)
}

/// The id every thread without a stripe of its own reports: larger than
/// any stripe count, so callers clamp it to their shared stripe.
pub(crate) const SHARED_STRIPE: usize = usize::MAX;

#[cfg(not(loom))]
struct StripeId(usize);

#[cfg(not(loom))]
static FREE_STRIPES: std::sync::Mutex<(usize, Vec<usize>)> = std::sync::Mutex::new((0, Vec::new()));

#[cfg(not(loom))]
std::thread_local! {
    static STRIPE: StripeId = {
        let mut ids = FREE_STRIPES.lock().unwrap_or_else(|e| e.into_inner());
        let id = match ids.1.pop() {
            Some(id) => id,
            None => {
                ids.0 += 1;
                ids.0 - 1
            }
        };
        StripeId(id)
    };
}

#[cfg(not(loom))]
impl Drop for StripeId {
    fn drop(&mut self) {
        // The mutex orders this thread's last counter writes before the next
        // owner of the id reads them.
        let mut ids = FREE_STRIPES.lock().unwrap_or_else(|e| e.into_inner());
        ids.1.push(self.0);
        // Keep handing out the smallest ids first.
        ids.1.sort_unstable_by(|a, b| b.cmp(a));
    }
}

#[cfg(loom)]
#[inline]
pub(crate) fn thread_stripe() -> usize {
    SHARED_STRIPE
}

/// The hardware threads this process may run on (at least 1): the one call
/// of `std::thread::available_parallelism` in the crate. `fallback` when
/// the platform cannot tell.
pub(crate) fn available_cpus(fallback: usize) -> usize {
    std::thread::available_parallelism().map_or(fallback.max(1), |n| n.get())
}

/// How many stripes a striped structure has: private stripes for twice the
/// hardware threads (4 to 256 of them), plus one shared by every thread
/// whose [`thread_stripe`] does not fit.
pub(crate) fn count() -> usize {
    available_cpus(4).saturating_mul(2).clamp(4, 256) + 1
}
