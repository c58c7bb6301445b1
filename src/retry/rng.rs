//! Seedable randomness for jitter, without a dependency.
//!
//! Jitter needs a few uniform draws per retry, not cryptographic quality, and
//! tests need to replay a schedule from a seed. [`SplitMix64`] (Steele, Lea
//! and Flood, 2014) is one `u64` of state and passes BigCrush; users who want
//! another generator implement [`RandomSource`].
use std::fmt;
use std::hash::BuildHasher;

/// A source of uniformly random 64-bit words, used to draw jitter.
///
/// Implement it to plug in another generator (for example a wrapper around
/// `rand::rngs::SmallRng`).
pub trait RandomSource {
    /// The next 64 uniformly random bits.
    fn next_u64(&mut self) -> u64;
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn next_u64(&mut self) -> u64 {
        (**self).next_u64()
    }
}

impl<R: RandomSource + ?Sized> RandomSource for Box<R> {
    fn next_u64(&mut self) -> u64 {
        (**self).next_u64()
    }
}

/// The SplitMix64 generator: tiny, fast, seedable, not cryptographic.
///
/// ```
/// use latchwork::retry::{RandomSource, SplitMix64};
///
/// let mut a = SplitMix64::new(42);
/// let mut b = SplitMix64::new(42);
/// assert_eq!(a.next_u64(), b.next_u64()); // same seed, same stream
/// ```
#[derive(Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose stream is fixed by `seed`.
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// A generator seeded from the process's per-instance random hasher
    /// keys (the same source `HashMap` uses), so two values differ.
    pub fn from_entropy() -> Self {
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x5EED_u64);
        SplitMix64::new(seed)
    }
}

impl fmt::Debug for SplitMix64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The state is the whole future stream; do not print it.
        f.debug_struct("SplitMix64").finish_non_exhaustive()
    }
}

impl RandomSource for SplitMix64 {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A uniform integer in `lo..=hi` (`lo` when `hi <= lo`).
///
/// Multiply-shift (Lemire): the bias is at most `(hi - lo) / 2^64`, far below
/// anything a delay could show.
pub(crate) fn uniform_inclusive(rng: &mut dyn RandomSource, lo: u64, hi: u64) -> u64 {
    if hi <= lo {
        return lo;
    }
    let span = hi - lo;
    let Some(count) = span.checked_add(1) else {
        return rng.next_u64();
    };
    let scaled = (u128::from(rng.next_u64()) * u128::from(count)) >> 64;
    // `scaled < count <= u64::MAX`, so the conversion cannot fail.
    lo + u64::try_from(scaled).unwrap_or(span)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn uniform_stays_in_range_and_hits_both_ends() {
        let mut rng = SplitMix64::new(1);
        let (mut saw_lo, mut saw_hi) = (false, false);
        for _ in 0..10_000 {
            let v = uniform_inclusive(&mut rng, 3, 6);
            assert!((3..=6).contains(&v));
            saw_lo |= v == 3;
            saw_hi |= v == 6;
        }
        assert!(saw_lo && saw_hi);
        assert_eq!(uniform_inclusive(&mut rng, 9, 2), 9);
        let _ = uniform_inclusive(&mut rng, 0, u64::MAX);
    }

    #[test]
    fn entropy_seeds_differ() {
        let mut a = SplitMix64::from_entropy();
        let mut b = SplitMix64::from_entropy();
        assert_ne!(a.next_u64(), b.next_u64());
    }
}
