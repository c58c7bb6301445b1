//! Which entries a shard keeps: TinyLFU's window, admission and
//! eviction, or plain LRU, as more methods of `Segment` (`segment.rs`
//! holds the struct and lays out the three lists these move entries
//! between), with the sketch's sizing.
//!
//! TinyLFU (the W-TinyLFU shape of Einziger, Friedman and Manes): a new
//! entry enters the window. When the window is over its share, its LRU
//! entry becomes a *candidate* for the main region; if the main region has
//! no room, the candidate duels the main region's victim (probation's LRU
//! entry, else protected's) and the one the frequency sketch says is used
//! less often leaves. A hit in probation promotes to protected, whose
//! overflow is demoted back to probation. So one-hit wonders and scans pass
//! through the small window without flushing the frequently used entries.
use super::segment::{Node, Region, Removals, Segment, PROBATION, PROTECTED, WINDOW};
use super::shadow;
use super::sketch::Sketch;
use super::{Policy, RemovalCause};
use crate::sync::atomic::Ordering;
use std::hash::{BuildHasher, Hash};

/// Increments between two halvings of the sketch, per entry of capacity:
/// the sketch's memory. 80 (the previous value) let old keys saturate their
/// 4-bit counters and shut new ones out (0.9% against LRU's 33% on the
/// Corda trace); the TinyLFU paper's 10 forgets too fast for loops. With
/// the adaptive window, 20 and 40 measured alike on the real-trace suite
/// (mean 56.9% and 57.0% over 36 cases; 56.4% at 10; 52.5% for the old
/// policy at 80), but at 30 and 40 hot keys with a TTL were rejected again
/// after expiry (`tests/cache_ttl_churn.rs`), so 20. See `docs/design.md`.
const SAMPLE_PER_ENTRY: u64 = 20;
/// Entries a sketch is first sized for when the capacity does not say (a
/// weigher, or a huge entry bound): it regrows with the entries held.
pub(super) const SKETCH_START: usize = 1024;

/// A sketch for `entries` resident keys.
pub(crate) fn sketch_for(entries: usize, per_entry: usize) -> Sketch {
    Sketch::new(
        entries.saturating_mul(per_entry),
        (entries as u64).saturating_mul(SAMPLE_PER_ENTRY),
    )
}

/// The window's and the protected region's caps for a shard of `capacity`
/// and a window share word: the window's share (at least one entry once the
/// shard holds two), and 80% of the rest protected.
pub(super) fn caps(capacity: u64, word: u64) -> (u64, u64) {
    let window = shadow::window_of(capacity, word);
    let main = capacity - window;
    (window, main - main / 5)
}

impl<K: Hash + Eq, V> Segment<K, V> {
    /// Whether a hit on `node` is worth recording for the policy. Under
    /// TinyLFU a hit on a protected entry that was last recorded fewer than
    /// `skip_window` (the protected region's size) arrivals ago is not:
    /// fewer than that many entries can have arrived above it, so it is
    /// still in the region, and its sketch count is refreshed at least once
    /// per `skip_window` arrivals, some 80 times per halving of the sketch,
    /// which saturates a 4-bit counter anyway. This
    /// saves the buffer write and the replay for the hot keys that take
    /// most hits (the protected region's recency order becomes approximate,
    /// which only decides which entry is demoted to probation, where the
    /// sketch judges it again). Every other hit (window, probation, LRU) is
    /// recorded, so `Policy::Lru` is exact from one thread.
    #[inline]
    pub(crate) fn wants_hit(&self, node: &Node<K, V>) -> bool {
        node.region != Region::Protected || self.tick.wrapping_sub(node.stamp) >= self.skip_window
    }

    #[inline]
    fn stamp(&mut self, i: u32) {
        self.tick = self.tick.wrapping_add(1);
        let tick = self.tick;
        if let Some(n) = self.arena.get_mut(i) {
            n.stamp = tick;
        }
    }

    /// Moves the window/main split to the share `word` (from the window's
    /// shadows; see `shadow.rs`): entries cross between the window and the
    /// main region, none is evicted here.
    pub(crate) fn set_window(&mut self, word: u64) {
        if word == self.window_word
            || self.policy != Policy::TinyLfu
            || self.limits.capacity == u64::MAX
        {
            return;
        }
        self.window_word = word;
        let (window_cap, protected_cap) = caps(self.limits.capacity, word);
        self.window_cap = window_cap;
        self.protected_cap = protected_cap;
        self.skip_window =
            u32::try_from(protected_cap.min(self.limits.max_entries as u64)).unwrap_or(u32::MAX);
        // A smaller window: its oldest entries join probation (no duel: they
        // were held, and the main region judges them when it overflows).
        while self.window_w > self.window_cap {
            let Some(i) = self.arena.front_of(WINDOW) else {
                break;
            };
            self.set_region(i, Region::Probation);
        }
        // A larger window: the main region's least valued entries (probation's
        // oldest, then protected's) move to the window's old end, where they
        // are the next candidates.
        let main_cap = self.limits.capacity - self.window_cap;
        while self.weight - self.window_w > main_cap {
            let Some(i) = self
                .arena
                .front_of(PROBATION)
                .or_else(|| self.arena.front_of(PROTECTED))
            else {
                break;
            };
            self.set_region(i, Region::Window);
            self.arena.move_to_front_of(WINDOW, i);
        }
        while self.protected_w > self.protected_cap {
            let Some(j) = self.arena.front_of(PROTECTED) else {
                break;
            };
            self.set_region(j, Region::Probation);
        }
    }

    /// Replays a recorded hit on entry `i`: sketch and recency order.
    #[inline]
    pub(crate) fn on_hit(&mut self, i: u32) {
        let Some(node) = self.arena.get_mut(i) else {
            return;
        };
        let (hash32, region, w) = (node.hash32, node.region, u64::from(node.weight));
        if let Some(s) = &mut self.sketch {
            s.increment(hash32);
        }
        match (self.policy, region) {
            (Policy::Lru, _) => self.arena.move_to_back_of(WINDOW, i),
            (_, Region::Window) => {
                node.window_hit = true;
                self.arena.move_to_back_of(WINDOW, i);
            }
            (_, Region::Protected) => {
                // Re-stamped but the tick not advanced: only arrivals
                // (inserts, promotions from probation) age the stamps, so a
                // working set that fits stops recording hits altogether.
                self.arena.move_to_back_of(PROTECTED, i);
                let tick = self.tick;
                if let Some(n) = self.arena.get_mut(i) {
                    n.stamp = tick;
                }
            }
            (_, Region::Probation) => {
                node.region = Region::Protected;
                self.arena.move_to_back_of(PROTECTED, i);
                self.stamp(i);
                self.protected_w += w;
                while self.protected_w > self.protected_cap {
                    let Some(j) = self.arena.front_of(PROTECTED) else {
                        break;
                    };
                    if j == i && self.protected_w == w {
                        break; // one heavy entry alone in protected
                    }
                    self.set_region(j, Region::Probation);
                }
            }
        }
    }

    /// Moves node `i` to the back of `region`'s list, keeping the region
    /// weights right.
    fn set_region(&mut self, i: u32, region: Region) {
        let Some(node) = self.arena.get_mut(i) else {
            return;
        };
        let (old, w) = (node.region, u64::from(node.weight));
        node.region = region;
        match old {
            Region::Window => self.window_w -= w,
            Region::Protected => self.protected_w -= w,
            Region::Probation => {}
        }
        match region {
            Region::Window => self.window_w += w,
            Region::Protected => self.protected_w += w,
            Region::Probation => {}
        }
        self.arena.move_to_back_of(region.list(), i);
    }

    /// Restores the size bounds after entry `keep` arrived or grew.
    pub(super) fn evict<S: BuildHasher>(
        &mut self,
        keep: u32,
        hasher: &S,
        out: &mut Removals<K, V>,
    ) {
        if let Some(word) = &self.shared_window {
            // Relaxed: see `shared_window`.
            let word = word.load(Ordering::Relaxed);
            self.set_window(word);
        }
        let cap = self.limits.capacity;
        if self.policy == Policy::TinyLfu && cap != u64::MAX {
            // Window overflow: each candidate enters the main region or
            // duels its victim.
            while self.window_w > self.window_cap {
                let Some(c) = self.arena.front_of(WINDOW) else {
                    break;
                };
                self.set_region(c, Region::Probation);
                let main_cap = cap - self.window_cap;
                while self.weight - self.window_w > main_cap {
                    let victim = self
                        .arena
                        .front_of(PROBATION)
                        .filter(|&v| v != c)
                        .or_else(|| self.arena.front_of(PROTECTED));
                    let Some(v) = victim.filter(|&v| v != c) else {
                        break;
                    };
                    if self.admit(c, v) {
                        self.remove_index(v, hasher, RemovalCause::Size, out);
                    } else {
                        self.remove_index(c, hasher, RemovalCause::Size, out);
                        break;
                    }
                }
            }
        }
        // The plain bound (LRU; and any weight TinyLFU's regions left over,
        // such as an entry heavier than its region): oldest first, the
        // arriving entry last.
        while self.weight > cap {
            let victim = [PROBATION, PROTECTED, WINDOW]
                .into_iter()
                .filter_map(|l| self.arena.front_of(l))
                .find(|&v| v != keep)
                .or_else(|| (self.arena.len() > 1).then_some(keep));
            let Some(v) = victim else {
                break; // `keep` alone is over the shard's share
            };
            self.remove_index(v, hasher, RemovalCause::Size, out);
        }
    }

    /// Evicts this segment's policy victim (for the cache-wide weight bound);
    /// false when the segment is empty.
    pub(crate) fn evict_one<S: BuildHasher>(
        &mut self,
        hasher: &S,
        out: &mut Removals<K, V>,
    ) -> bool {
        let victim = [PROBATION, PROTECTED, WINDOW]
            .into_iter()
            .find_map(|l| self.arena.front_of(l));
        match victim {
            Some(v) => {
                self.remove_index(v, hasher, RemovalCause::Size, out);
                true
            }
            None => false,
        }
    }

    /// TinyLFU's filter: whether candidate `c` should replace victim `v`.
    fn admit(&self, c: u32, v: u32) -> bool {
        let (Some(s), Some(cn), Some(vn)) = (&self.sketch, self.arena.get(c), self.arena.get(v))
        else {
            return true;
        };
        let (fc, fv) = (s.frequency(cn.hash32), s.frequency(vn.hash32));
        // The candidate's count includes the request that brought it in;
        // the victim's next request is still to come. So a candidate needs
        // a margin of one to be judged more frequent: without it a loop
        // over more keys than fit admits every candidate against the
        // victim, the loop's next key, and degenerates to LRU (0 hits);
        // the old sketch hid this only by saturating every counter at 15.
        // A candidate hit while in the window has shown recency that the
        // victim (the main region's least recent entry) has not, and wins
        // at equal counts: a hot key that expired and came back is hit in
        // the window at once, so a victim whose counter is as saturated as
        // its own no longer rejects it over and over
        // (`tests/cache_ttl_churn.rs`). Deterministic, unlike Caffeine's
        // random admission of warm losers: the sketch's hash comes from the
        // cache's seeded hasher, so an attacker cannot aim collisions at a
        // victim. The margin is the shadows' choice (see `shadow.rs`): one
        // by default, none where their margin-0 shadow hits more (a
        // frequency-skewed stream with no loop in it).
        shadow::admits(fc, fv, cn.window_hit, shadow::margin_of(self.window_word))
    }
}
