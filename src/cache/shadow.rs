//! The adaptive window: how much of a TinyLFU cache is its recency
//! window, chosen by shadow caches that judge the candidates side by side.
//!
//! W-TinyLFU splits each shard into a small LRU *window* that every new
//! entry enters and a frequency-gated *main* region. The best split depends
//! on the traffic: frequency-heavy traffic (Zipf, loops, scans) wants a
//! window of about 1%, recency-heavy traffic (database buffers, session
//! reads, the Corda trace) wants a fifth to two thirds, and real traffic
//! moves between the two. A fixed 1% window collapses on recency-heavy
//! traces (0.9% against LRU's 33% on Corda's vault service).
//!
//! A hill climber (Caffeine's approach, and this cache's before) tries one
//! window after another on the cache's own hit ratio and needs a long
//! sample per try, so a cache that sees few requests per entry (a large
//! cache, a short trace) ends before the climber reaches the window its
//! traffic wants, and it cannot see across a plateau of the hit-ratio
//! curve. [`Shadows`] instead replays a hash-sampled slice of the keys
//! through a few small W-TinyLFU caches of key hashes only, each with a
//! fixed window share and admission margin ([`VARIANTS`]: three windows
//! with the default margin of one, and the smallest window with none, which
//! wins on frequency-skewed traffic without loops), and the cache follows
//! the one that would have hit most (miniature simulation, after Waldspurger,
//! Saemundsson, Ahmad and Park, "Cache Modeling and Optimization using
//! Miniature Simulations", USENIX ATC 2017).
//!
//! **The decision.** Every shadow sees the same requests, so two shadows'
//! hit counts differ only on the requests where one hit and the other
//! missed. For each ordered pair the shadows keep a count of those
//! requests, decayed by [`DECAY`] at the end of each epoch (a shadow's
//! capacity in replayed requests), a horizon of some twenty epochs. At
//! each epoch's end the cache moves to the shadow whose lead over the one
//! it follows is largest, if that lead is more than [`Z`] standard
//! deviations of a sign test on the disagreeing requests (leads within
//! the noise leave the window still: stable traffic rests). The first
//! epoch only fills the shadows.
//!
//! **Sampling.** A request is replayed when a 24-bit slice of its hash
//! (mixed apart from the bits that pick the shard, the table bucket and the
//! sketch counters) falls below the rate, so a key is in or out for good and
//! each shadow is the cache scaled down: rate x capacity entries, at most
//! [`SHADOW_ENTRIES`]; caches that small are replayed whole. The shadows
//! share one frequency sketch (their request streams are the same), sized
//! and aged as a segment's, and apply `Segment::admit`'s rule with unit
//! weights.
//!
//! **Cost.** A `get` outside the sample pays one multiply and compare.
//! A sampled one try-locks the shadows after its shard's lock is released
//! (a busy shadow drops the sample) and replays the request in each. The
//! choice is published as a share word that each shard applies at its
//! next write. From one thread the whole decision is a function of the
//! request sequence and the hasher's seed.
use super::policy::sketch_for;
use super::sketch::Sketch;
use crate::arena::Arena;
use hashbrown::HashTable;

/// The window shares the shadows hold, the first followed from the start:
/// far enough apart to see across the plateaus of a hit-ratio curve. On
/// the real-trace suite a fixed window chosen per trace from these does
/// within 0.1 point of one chosen from nine shares.
pub(crate) const SHARES: [f64; 3] = [0.01, 0.2, 0.65];

/// What a shadow tries: a window share and the admission margin (see
/// [`admits`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Variant {
    pub(crate) share: f64,
    pub(crate) margin: u8,
}

/// The variants the shadows hold, the first followed from the start.
pub(crate) const VARIANTS: [Variant; 4] = [
    Variant {
        share: SHARES[0],
        margin: 1,
    },
    Variant {
        share: SHARES[0],
        margin: 0,
    },
    Variant {
        share: SHARES[1],
        margin: 1,
    },
    Variant {
        share: SHARES[2],
        margin: 1,
    },
];

/// TinyLFU's filter: whether a candidate of estimated frequency `fc` (its
/// own request included) replaces a victim of `fv`. The candidate needs
/// a lead of more than `margin` (see `Segment::admit` for why the default
/// is one), or a tie and a hit while in the window.
#[inline]
pub(crate) fn admits(fc: u8, fv: u8, window_hit: bool, margin: u8) -> bool {
    fc > fv.saturating_add(margin) || (fc >= fv && window_hit)
}
/// The most entries a shadow holds; the sampling rate scales a larger
/// cache down to this.
const SHADOW_ENTRIES: u64 = 384;
/// The fewest replayed requests per epoch.
const EPOCH_MIN: u64 = 256;
/// Each epoch's end multiplies the pairwise counts by this.
const DECAY: f64 = 0.95;
/// A lead must be this many standard deviations of its sign test.
const Z: f64 = 2.0;

const WINDOW: u32 = 0;
const PROBATION: u32 = 1;
const PROTECTED: u32 = 2;

/// A key in a shadow: its hash, where it sits, and whether it was hit in
/// the window (the admission tie rule of `Segment::admit`).
struct Slot {
    /// The key's 32-bit hash (the sketch's), its identity here: among a
    /// shadow's few hundred keys a collision is a rounding error.
    hash: u32,
    list: u8,
    window_hit: bool,
}

/// The table hash of a slot's 32-bit hash, spread over the 64 bits the
/// table's buckets and tags are taken from.
#[inline]
fn table_hash(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// One shadow cache: the segment's policy over key hashes, unit weights.
struct Shadow {
    arena: Arena<Slot>,
    table: HashTable<u32>,
    capacity: usize,
    window_cap: usize,
    protected_cap: usize,
    window: usize,
    protected: usize,
    margin: u8,
}

impl Shadow {
    fn new(capacity: usize, v: Variant) -> Self {
        let (window_cap, protected_cap) = super::policy::caps(capacity as u64, to_word(v));
        Shadow {
            margin: v.margin,
            arena: Arena::with_lists(3),
            table: HashTable::new(),
            capacity,
            window_cap: window_cap as usize,
            protected_cap: protected_cap as usize,
            window: 0,
            protected: 0,
        }
    }

    fn find(&self, hash: u32) -> Option<u32> {
        let arena = &self.arena;
        self.table
            .find(table_hash(hash), |&i| {
                arena.get(i).is_some_and(|s| s.hash == hash)
            })
            .copied()
    }

    fn set_list(&mut self, i: u32, list: u32) {
        let Some(s) = self.arena.get_mut(i) else {
            return;
        };
        let old = u32::from(std::mem::replace(&mut s.list, list as u8));
        match old {
            WINDOW => self.window -= 1,
            PROTECTED => self.protected -= 1,
            _ => {}
        }
        match list {
            WINDOW => self.window += 1,
            PROTECTED => self.protected += 1,
            _ => {}
        }
        self.arena.move_to_back_of(list, i);
    }

    fn remove(&mut self, i: u32) {
        let Some(s) = self.arena.remove(i) else {
            return;
        };
        match u32::from(s.list) {
            WINDOW => self.window -= 1,
            PROTECTED => self.protected -= 1,
            _ => {}
        }
        if let Ok(e) = self.table.find_entry(table_hash(s.hash), |&j| j == i) {
            e.remove();
        }
    }

    /// Replays one request (the sketch already counted it); true on a hit.
    fn access(&mut self, hash: u32, sketch: &Sketch) -> bool {
        if let Some(i) = self.find(hash) {
            match self.arena.get(i).map(|s| u32::from(s.list)) {
                Some(WINDOW) => {
                    if let Some(s) = self.arena.get_mut(i) {
                        s.window_hit = true;
                    }
                    self.arena.move_to_back_of(WINDOW, i);
                }
                Some(PROBATION) => {
                    self.set_list(i, PROTECTED);
                    while self.protected > self.protected_cap {
                        let Some(j) = self.arena.front_of(PROTECTED) else {
                            break;
                        };
                        self.set_list(j, PROBATION);
                    }
                }
                _ => self.arena.move_to_back_of(PROTECTED, i),
            }
            return true;
        }
        let i = self.arena.push_back_to(
            WINDOW,
            Slot {
                hash,
                list: WINDOW as u8,
                window_hit: false,
            },
            usize::MAX,
        );
        self.window += 1;
        let arena = &self.arena;
        self.table.insert_unique(table_hash(hash), i, |&j| {
            arena.get(j).map_or(0, |s| table_hash(s.hash))
        });
        while self.window > self.window_cap {
            let Some(c) = self.arena.front_of(WINDOW) else {
                break;
            };
            self.set_list(c, PROBATION);
            if self.arena.len() - self.window <= self.capacity - self.window_cap {
                continue;
            }
            let victim = self
                .arena
                .front_of(PROBATION)
                .filter(|&v| v != c)
                .or_else(|| self.arena.front_of(PROTECTED));
            let Some(v) = victim.filter(|&v| v != c) else {
                continue;
            };
            let (Some(cs), Some(vs)) = (self.arena.get(c), self.arena.get(v)) else {
                continue;
            };
            let (fc, fv) = (sketch.frequency(cs.hash), sketch.frequency(vs.hash));
            if admits(fc, fv, cs.window_hit, self.margin) {
                self.remove(v);
            } else {
                self.remove(c);
            }
        }
        false
    }
}

/// The shadows of one cache and the share they choose; see the module doc.
pub(crate) struct Shadows {
    shadows: Vec<Shadow>,
    sketch: Sketch,
    /// Requests whose 24-bit sample slice is below this are replayed.
    threshold: u32,
    /// Replayed requests per epoch.
    epoch: u64,
    seen: u64,
    /// The shadow the cache follows.
    chosen: usize,
    /// Decayed counts, per ordered pair of shadows `(i, j)` at
    /// `i * SHARES.len() + j`, of the requests where `i` hit and `j` missed.
    beats: Vec<f64>,
    /// Set when the chosen shadow changed since the last `take_choice`.
    moved: bool,
}

impl Shadows {
    /// Shadows for a cache of `capacity` entries (or weight units),
    /// following `SHARES[0]` until they learn better.
    pub(crate) fn new(capacity: u64) -> Self {
        let capacity = capacity.max(1);
        let entries = capacity.min(SHADOW_ENTRIES);
        let threshold = if capacity <= SHADOW_ENTRIES {
            u32::MAX
        } else {
            // Below 2^24: `entries / capacity` of the slices.
            ((u128::from(entries) << 24) / u128::from(capacity)).max(1) as u32
        };
        let n = VARIANTS.len();
        let entries = entries as usize;
        Shadows {
            shadows: VARIANTS.iter().map(|&v| Shadow::new(entries, v)).collect(),
            sketch: sketch_for(entries, 2),
            threshold,
            epoch: (entries as u64).max(EPOCH_MIN),
            seen: 0,
            chosen: 0,
            beats: vec![0.0; n * n],
            moved: false,
        }
    }

    /// The sampling threshold, for [`sampled`].
    pub(crate) fn threshold(&self) -> u32 {
        self.threshold
    }

    /// Replays a sampled request for `hash`.
    pub(crate) fn record(&mut self, hash: u64) {
        let hash = hash as u32;
        self.sketch.increment(hash);
        let n = VARIANTS.len();
        let mut hits = 0u32;
        for (i, s) in self.shadows.iter_mut().enumerate() {
            hits |= u32::from(s.access(hash, &self.sketch)) << i;
        }
        // Most requests hit in every shadow or in none: nothing to count.
        if hits != 0 && hits != (1 << n) - 1 {
            for i in (0..n).filter(|i| hits >> i & 1 == 1) {
                for j in (0..n).filter(|j| hits >> j & 1 == 0) {
                    self.beats[i * n + j] += 1.0;
                }
            }
        }
        self.seen += 1;
        if self.seen % self.epoch == 0 {
            self.judge();
        }
    }

    /// The end of an epoch: follow the shadow with the largest clear lead
    /// over the followed one, if any; then decay the counts.
    fn judge(&mut self) {
        let n = self.shadows.len();
        let c = self.chosen;
        // The first epoch fills the shadows: their misses then say nothing
        // about their windows.
        if self.seen > self.epoch {
            let mut best: Option<(usize, f64)> = None;
            for j in 0..n {
                let (w, l) = (self.beats[j * n + c], self.beats[c * n + j]);
                let lead = w - l;
                if lead > Z * (w + l).sqrt() && best.is_none_or(|(_, b)| lead > b) {
                    best = Some((j, lead));
                }
            }
            if let Some((j, _)) = best {
                self.chosen = j;
                self.moved = true;
            }
        }
        self.beats.iter_mut().for_each(|x| *x *= DECAY);
    }

    /// The variant to follow, once after each change of choice.
    pub(crate) fn take_choice(&mut self) -> Option<Variant> {
        std::mem::take(&mut self.moved).then(|| VARIANTS[self.chosen])
    }

    /// Follows what `old` follows (new shadows of a resized cache).
    pub(crate) fn follow(&mut self, old: &Shadows) {
        self.chosen = old.chosen;
    }

    /// The share followed now.
    #[cfg(feature = "serde")]
    pub(crate) fn share(&self) -> f64 {
        VARIANTS[self.chosen].share
    }

    /// Follows the first shadow whose share is nearest to `share` (a warm
    /// restart's saved window); returns its variant.
    #[cfg(feature = "serde")]
    pub(crate) fn resume(&mut self, share: f64) -> Variant {
        if share.is_finite() {
            let dist = |j: usize| (VARIANTS[j].share - share).abs();
            self.chosen = (0..VARIANTS.len())
                .min_by(|&a, &b| dist(a).total_cmp(&dist(b)))
                .unwrap_or(0);
        }
        VARIANTS[self.chosen]
    }
}

/// Whether a request for `hash` is in the shadows' sample (`threshold`
/// from [`Shadows::threshold`]): one multiply and compare, inlined into
/// the read path.
#[inline(always)]
pub(crate) fn sampled(hash: u64, threshold: u32) -> bool {
    // The 24-bit slice, mixed away from the shard's, the table's and the
    // sketch's bits.
    ((hash.wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 40) as u32) < threshold
}

/// Where a variant's margin sits in its word.
const MARGIN_SHIFT: u32 = 32;
/// The share's bits of a word.
const SHARE_MASK: u64 = (1 << MARGIN_SHIFT) - 1;

/// A variant as the word shards read: the window share in fixed point
/// (parts per 2^20) in the low bits, the admission margin above.
#[inline]
pub(crate) fn to_word(v: Variant) -> u64 {
    let share = (v.share.clamp(0.0, 1.0) * f64::from(1u32 << 20)).round() as u64;
    share | (u64::from(v.margin) << MARGIN_SHIFT)
}

/// The admission margin of a word.
#[inline]
pub(crate) fn margin_of(word: u64) -> u8 {
    (word >> MARGIN_SHIFT) as u8
}

/// The window of a shard of `capacity` for a word.
#[inline]
pub(crate) fn window_of(capacity: u64, word: u64) -> u64 {
    let w = (u128::from(capacity) * u128::from(word & SHARE_MASK)) >> 20;
    let w = u64::try_from(w).unwrap_or(capacity);
    // At least one entry once the shard holds two, as the fixed window had.
    if capacity >= 2 {
        w.clamp(1, capacity - 1)
    } else {
        0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{BuildHasher, BuildHasherDefault};

    fn hash(k: u64) -> u64 {
        BuildHasherDefault::<DefaultHasher>::default().hash_one(k)
    }

    /// Replays `keys`; returns the shares the shadows chose, in order.
    fn replay(s: &mut Shadows, keys: impl IntoIterator<Item = u64>) -> Vec<Variant> {
        let mut moves = Vec::new();
        for k in keys {
            let h = hash(k);
            if sampled(h, s.threshold()) {
                s.record(h);
                moves.extend(s.take_choice());
            }
        }
        moves
    }

    /// Key `i` asked for at `i` and again `gap` requests later, then never.
    fn recency(n: u64, gap: u64) -> Vec<u64> {
        let mut out = vec![u64::MAX; n as usize];
        let mut next = 0;
        for i in 0..n as usize {
            if out[i] != u64::MAX {
                continue;
            }
            out[i] = next;
            if let Some(slot) = out.get_mut(i + gap as usize) {
                if *slot == u64::MAX {
                    *slot = next;
                }
            }
            next += 1;
        }
        out
    }

    #[test]
    fn a_recency_phase_moves_to_a_large_window() {
        // Reuse at a third of the capacity: a 1% window earns nothing.
        let cap = 600;
        let mut s = Shadows::new(cap);
        let moves = replay(&mut s, recency(cap * 40, cap / 3));
        assert!(
            moves.first().is_some_and(|m| m.share >= 0.2),
            "moves: {moves:?}"
        );
        assert!(VARIANTS[s.chosen].share >= 0.2);
    }

    #[test]
    fn a_loop_keeps_the_small_window() {
        // A loop over 1.5x the capacity: frequency keeps two thirds, a
        // larger window only loses.
        let cap = 600;
        let mut s = Shadows::new(cap);
        let moves = replay(&mut s, (0..cap * 60).map(|i| i % (cap * 3 / 2)));
        assert!(moves.is_empty(), "moves: {moves:?}");
        assert_eq!(s.chosen, 0);
    }

    #[test]
    fn stable_traffic_rests() {
        // Skewed, stationary: after settling, the choice does not wander.
        let cap = 500;
        let mut s = Shadows::new(cap);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            // About Zipf(1) over 50,000 keys.
            (50_000f64.powf(u) as u64).saturating_sub(1)
        };
        replay(&mut s, (0..cap * 20).map(|_| next()));
        let later = replay(&mut s, (0..cap * 200).map(|_| next()));
        assert!(later.len() <= 2, "moves once settled: {later:?}");
    }

    #[test]
    fn the_phases_of_a_trace_are_followed_both_ways() {
        let cap = 600;
        let mut s = Shadows::new(cap);
        replay(&mut s, recency(cap * 40, cap / 3));
        assert!(VARIANTS[s.chosen].share >= 0.2, "recency: a large window");
        replay(&mut s, (0..cap * 80).map(|i| (1 << 40) + i % (cap * 3 / 2)));
        assert_eq!(s.chosen, 0, "loop: back to the small window");
    }

    #[test]
    fn large_caches_replay_a_slice_of_the_keys() {
        let s = Shadows::new(1_000_000);
        let n = 1_000_000u64;
        let picked = (0..n).filter(|&k| sampled(hash(k), s.threshold())).count() as f64;
        let want = n as f64 * SHADOW_ENTRIES as f64 / 1e6;
        assert!(
            (picked - want).abs() < want * 0.1,
            "{picked} of {n}, want {want}"
        );
        assert_eq!(s.shadows[0].capacity, SHADOW_ENTRIES as usize);
        // Small caches replay every request.
        let small = Shadows::new(100);
        assert!((0..1_000).all(|k| sampled(hash(k), small.threshold())));
        // Huge and degenerate capacities still sample something.
        assert!(Shadows::new(u64::MAX).threshold() >= 1);
        assert_eq!(Shadows::new(0).shadows[0].capacity, 1);
    }

    #[test]
    fn a_shadow_holds_its_capacity() {
        for cap in [1usize, 2, 3, 10, 100] {
            for &v in &VARIANTS {
                let mut sh = Shadow::new(cap, v);
                let sketch = sketch_for(cap, 8);
                for k in 0..(cap as u64 * 10) {
                    sh.access(hash(k % (cap as u64 * 3)) as u32, &sketch);
                    assert!(sh.arena.len() <= cap, "cap {cap} {v:?}");
                    assert!(sh.window <= sh.window_cap.max(1));
                    assert!(sh.protected <= sh.protected_cap);
                }
            }
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn resume_follows_the_nearest_share() {
        let mut s = Shadows::new(1_000);
        assert_eq!(s.resume(0.6).share, SHARES[2]);
        assert_eq!(s.resume(0.0), VARIANTS[0]);
        assert_eq!(s.resume(f64::NAN), VARIANTS[0]);
        assert_eq!(s.share(), SHARES[0]);
    }

    #[test]
    fn windows_stay_inside_the_shard() {
        let w = |share| to_word(Variant { share, margin: 1 });
        assert_eq!(window_of(0, w(0.5)), 0);
        assert_eq!(window_of(1, w(0.5)), 0);
        assert_eq!(window_of(100, w(0.0)), 1);
        assert_eq!(window_of(100, w(1.0)), 99);
        assert_eq!(window_of(1_000, w(0.25)), 250);
        assert_eq!(margin_of(w(0.25)), 1);
        assert_eq!(margin_of(to_word(VARIANTS[1])), 0);
        let big = window_of(u64::MAX, w(0.99));
        assert!(big > u64::MAX / 100 * 98 && big < u64::MAX);
    }
}
