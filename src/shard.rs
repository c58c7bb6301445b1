//! How the sharded structures size and pick their shards, in one place.
//!
//! Many small shards is the default everywhere: a shard's lock word is the
//! one line every user of the shard writes, so spreading threads over more
//! lines is what scales (measured in `docs/benchmarks.md`).

/// Default shards per hardware thread.
const PER_CPU: usize = 32;

/// A power-of-two shard count: `requested` (rounded up), else
/// [`PER_CPU`] x the available parallelism limited to `capacity /
/// min_entries`; never more shards than `capacity` entries. `requested`
/// must not be `Some(0)` (callers report that as their own error).
pub(crate) fn count(
    requested: Option<usize>,
    capacity: Option<usize>,
    min_entries: usize,
) -> usize {
    let wanted = requested.unwrap_or_else(|| {
        let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
        let by_size = capacity.map_or(usize::MAX, |c| c / min_entries.max(1));
        (cpus * PER_CPU).min(by_size)
    });
    let mut n = wanted.max(1).next_power_of_two();
    if let Some(cap) = capacity {
        while n > cap.max(1) {
            n /= 2;
        }
    }
    n
}

/// Capacity of shard `i` of `n` when `total` is split evenly (the first
/// `total % n` shards take one more, so the sum is exactly `total`).
pub(crate) fn capacity_of(total: usize, n: usize, i: usize) -> usize {
    total / n + usize::from(i < total % n)
}

/// The shard for `hash` among `mask + 1`: bits from 32 up, independent of
/// the bits hashbrown uses (the low bits for the bucket, the top 7 for its
/// tag).
#[inline]
pub(crate) fn index(hash: u64, mask: usize) -> usize {
    (hash >> 32) as usize & mask
}
