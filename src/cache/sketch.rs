//! A 4-bit count-min sketch with periodic halving: the frequency history
//! behind [`Policy::TinyLfu`](super::Policy::TinyLfu)'s admission filter.
//!
//! The table is a power-of-two number of `u64` words, each holding sixteen
//! 4-bit counters, grouped in blocks of four words. A key's 32-bit hash picks
//! one block; row `r` of the sketch is word `r` of that block, and the
//! counter within the word is chosen by another four bits of the hash, so a
//! key touches one 32-byte block (one cache line) for all four rows. Its
//! estimate is the minimum of its four counters, which never undercounts
//! what was added since the last halving except through saturation at 15.
//!
//! Aging: after `sample` increments every counter is halved, so the sketch
//! follows a changing popularity instead of remembering the first hour for
//! ever. The TinyLFU paper suggests a sample of W = 10 x capacity; the
//! segment chooses the period (20 x capacity, measured on the real-trace
//! and synthetic suites: see `SAMPLE_PER_ENTRY` in `policy.rs`) and a
//! wider table than one word per entry for small caches.
//!
//! The sketch lives in a shard's segment and is only touched under the
//! shard's write lock (hits reach it through the read-buffer replay), so it
//! needs no atomics.

/// Counters per word.
const PER_WORD: u32 = 16;
/// The largest table, in words (256 MiB would be 2^25 words; this is 64 MiB).
const MAX_WORDS: usize = 1 << 23;
/// Halves every 4-bit counter of a word at once.
const HALF_MASK: u64 = 0x7777_7777_7777_7777;

#[derive(Clone, Debug)]
pub(crate) struct Sketch {
    table: Vec<u64>,
    /// Number of blocks - 1 (blocks are four words).
    block_mask: u32,
    /// Increments since the last halving.
    additions: u64,
    /// Halve when `additions` reaches this.
    sample: u64,
}

/// A 32-bit hash, re-mixed so that the bits picking the block, the rows'
/// counters and the shard (which the caller took from other bits) are
/// independent.
#[inline]
fn spread(hash: u32) -> u64 {
    let h = u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 29)
}

impl Sketch {
    /// A sketch of about `words` words (a power of two, at least one block)
    /// that halves after `sample` increments.
    pub(crate) fn new(words: usize, sample: u64) -> Self {
        let words = words.clamp(4, MAX_WORDS).next_power_of_two();
        Sketch {
            table: vec![0; words],
            block_mask: (words / 4 - 1) as u32,
            additions: 0,
            sample: sample.max(1),
        }
    }

    /// Words in the table.
    #[inline]
    pub(crate) fn words(&self) -> usize {
        self.table.len()
    }

    /// The block of `h`: its first word index. One bounds check per call
    /// covers the four rows.
    #[inline]
    fn block(&self, h: u64) -> usize {
        ((h >> 32) as u32 & self.block_mask) as usize * 4
    }

    /// The bit shift of row `row`'s counter within its word, for `h`.
    #[inline]
    fn shift(h: u64, row: u32) -> u32 {
        (((h >> (row * 4)) & u64::from(PER_WORD - 1)) as u32) * 4
    }

    /// The estimated number of recent accesses of the key hashing to `hash`,
    /// 0 to 15.
    #[inline]
    pub(crate) fn frequency(&self, hash: u32) -> u8 {
        let h = spread(hash);
        let b = self.block(h);
        let Some(block) = self.table.get(b..b + 4) else {
            return 0;
        };
        let mut min = 15u64;
        for (row, w) in (0u32..).zip(block) {
            min = min.min((w >> Self::shift(h, row)) & 15);
        }
        min as u8
    }

    /// Records one access of the key hashing to `hash`.
    #[inline]
    pub(crate) fn increment(&mut self, hash: u32) {
        let h = spread(hash);
        let b = self.block(h);
        let Some(block) = self.table.get_mut(b..b + 4) else {
            return;
        };
        let mut added = false;
        for (row, w) in (0u32..).zip(block.iter_mut()) {
            let s = Self::shift(h, row);
            if (*w >> s) & 15 < 15 {
                *w += 1 << s;
                added = true;
            }
        }
        if added {
            self.additions += 1;
            if self.additions >= self.sample {
                self.halve();
            }
        }
    }

    /// Halves every counter (the aging step).
    fn halve(&mut self) {
        for w in &mut self.table {
            *w = (*w >> 1) & HALF_MASK;
        }
        self.additions /= 2;
    }

    /// Forgets every count.
    pub(crate) fn clear(&mut self) {
        self.table.iter_mut().for_each(|w| *w = 0);
        self.additions = 0;
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.table.capacity() * 8
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain reference: four rows of byte counters at the same positions.
    struct Reference {
        rows: Vec<[u8; 16]>,
        block_mask: u32,
        additions: u64,
        sample: u64,
    }

    impl Reference {
        fn new(words: usize, sample: u64) -> Self {
            Reference {
                rows: vec![[0; 16]; words],
                block_mask: (words / 4 - 1) as u32,
                additions: 0,
                sample,
            }
        }
        fn pos(&self, hash: u32, row: u32) -> (usize, usize) {
            let h = spread(hash);
            let block = (h >> 32) as u32 & self.block_mask;
            ((block * 4 + row) as usize, ((h >> (row * 4)) & 15) as usize)
        }
        fn frequency(&self, hash: u32) -> u8 {
            (0..4)
                .map(|r| {
                    let (w, n) = self.pos(hash, r);
                    self.rows[w][n]
                })
                .min()
                .unwrap()
        }
        fn increment(&mut self, hash: u32) {
            let mut added = false;
            for r in 0..4 {
                let (w, n) = self.pos(hash, r);
                if self.rows[w][n] < 15 {
                    self.rows[w][n] += 1;
                    added = true;
                }
            }
            if added {
                self.additions += 1;
                if self.additions >= self.sample {
                    for row in &mut self.rows {
                        row.iter_mut().for_each(|c| *c /= 2);
                    }
                    self.additions /= 2;
                }
            }
        }
    }

    #[test]
    fn counts_saturate_and_age() {
        let mut s = Sketch::new(64, 640);
        for _ in 0..20 {
            s.increment(7);
        }
        assert_eq!(s.frequency(7), 15);
        assert!(s.frequency(8) <= 1, "an unrelated key stays near zero");
        for k in 100..(100 + s.sample as u32) {
            s.increment(k);
        }
        assert!(s.frequency(7) < 15, "halving ages the hot key");
    }

    proptest! {
        /// Against byte counters at the same positions: every estimate
        /// equal, through saturation and halving.
        #[test]
        fn matches_reference(ops in prop::collection::vec((0u32..200, any::<bool>()), 1..3_000)) {
            let mut s = Sketch::new(16, 160);
            let mut r = Reference::new(16, 160);
            for (k, inc) in ops {
                if inc {
                    s.increment(k);
                    r.increment(k);
                }
                prop_assert_eq!(s.frequency(k), r.frequency(k));
            }
        }
    }
}
