//! How the sharded structures size and pick their shards, in one place.
//!
//! The shard count depends on the capacity only, never on the machine: a
//! cache of a given capacity has the same shards, so the same hit ratio,
//! on 2 cores and on 64. Every shard holds at least [`MIN_ENTRIES`]
//! entries (a shard of one entry makes the cache direct-mapped).

/// The fewest entries a shard may hold, whatever the caller asks.
pub(crate) const MIN_ENTRIES: u64 = 32;
/// Entries per shard the default aims at: enough that sharding costs the
/// policies almost nothing in hit ratio (see `docs/benchmarks.md`).
pub(crate) const DEFAULT_ENTRIES: u64 = 512;
/// The default shard count at most (caches of 32k entries and more).
pub(crate) const DEFAULT_MAX: usize = 64;
/// The most shards a caller may ask for.
pub(crate) const MAX: usize = 1 << 16;

/// Why a shard count was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CountError {
    Zero,
    TooMany { requested: usize, max: usize },
}

/// A power-of-two shard count for `capacity` entries (`None`: unbounded).
/// `requested` is rounded up to a power of two, then halved until every
/// shard holds at least [`MIN_ENTRIES`]; by default, shards of about
/// [`DEFAULT_ENTRIES`], at most [`DEFAULT_MAX`].
pub(crate) fn count(requested: Option<usize>, capacity: Option<u64>) -> Result<usize, CountError> {
    let limit_by = |per: u64| -> usize {
        capacity.map_or(usize::MAX, |c| {
            usize::try_from((c / per).max(1)).unwrap_or(usize::MAX)
        })
    };
    let n = match requested {
        Some(0) => return Err(CountError::Zero),
        Some(r) if r > MAX => {
            return Err(CountError::TooMany {
                requested: r,
                max: MAX,
            })
        }
        Some(r) => floor_pow2(r.next_power_of_two().min(limit_by(MIN_ENTRIES))),
        None => floor_pow2(DEFAULT_MAX.min(limit_by(DEFAULT_ENTRIES))),
    };
    Ok(n.max(1))
}

/// The largest power of two `<= n` (1 for 0).
fn floor_pow2(n: usize) -> usize {
    match n {
        0 => 1,
        n => 1 << (usize::BITS - 1 - n.leading_zeros()),
    }
}

/// Capacity of shard `i` of `n` when `total` is split evenly (the first
/// `total % n` shards take one more, so the sum is exactly `total`).
// The cache splits its capacity.
pub(crate) fn capacity_of(total: u64, n: usize, i: usize) -> u64 {
    let n = n as u64;
    total / n + u64::from((i as u64) < total % n)
}

/// The shard for `hash` among `mask + 1`: the top bits of bits 32.. of the
/// hash, re-mixed by a multiply. The bits hashbrown uses inside a shard
/// (the low bits for the bucket) and the low 32 bits the frequency sketch
/// uses stay independent of the choice. The re-mix matters: a fast hasher's
/// high bits for a run of consecutive integer keys (block ids, row ids)
/// can fall into a few shards only, which leaves the others idle (and, in
/// a bounded cache, overloads the few); the multiply spreads every bit of
/// the high half over the index.
#[inline]
pub(crate) fn index(hash: u64, mask: usize) -> usize {
    let h = (hash >> 32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 32) as usize & mask
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(count(None, Some(64)), Ok(1));
        assert_eq!(count(None, Some(10_000)), Ok(16));
        assert_eq!(count(None, Some(u64::MAX)), Ok(DEFAULT_MAX));
        assert_eq!(count(None, None), Ok(DEFAULT_MAX));
        assert_eq!(count(Some(64), Some(64)), Ok(2));
        assert_eq!(count(Some(3), Some(10_000)), Ok(4));
        assert_eq!(count(Some(0), Some(10)), Err(CountError::Zero));
        assert_eq!(
            count(Some(usize::MAX), Some(10)),
            Err(CountError::TooMany {
                requested: usize::MAX,
                max: MAX
            })
        );
        assert_eq!(count(Some(MAX), None), Ok(MAX));
        assert_eq!((0..16).map(|i| capacity_of(100, 16, i)).sum::<u64>(), 100);
    }

    #[test]
    fn hashes_differing_only_in_their_top_bits_still_spread() {
        // A run of keys whose hashes differ only in bits 52..: the shard
        // must not be read off bits that never change.
        let mut seen = [0u32; 16];
        for k in 0..1_024u64 {
            seen[index(k << 52, 15)] += 1;
        }
        assert!(seen.iter().all(|&n| n >= 32), "{seen:?}");
    }
}
