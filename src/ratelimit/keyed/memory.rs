//! The keyed limiter's bounded memory: sweeping buckets that refilled to
//! full, evicting the ones closest to full under the `max_keys` bound, and
//! the shards' invariant checker. The checks are in `keyed.rs`.

use super::*;

impl<K: Hash + Eq, S: BuildHasher, C: Clock> KeyedLimiter<K, S, C> {
    /// Drops full buckets; with `bound`, evicts down to 7/8 of the share if
    /// still above it. Returns how many entries were dropped.
    pub(super) fn sweep_shard(&self, shard: &mut Shard<K>, now: u64, bound: bool) -> usize {
        let before = shard.map.len();
        // Relaxed: the write lock excludes every CAS on these words, and
        // the lock's acquire ordered all earlier CASes before us.
        shard
            .map
            .retain(|e| !Gcra::is_full(e.tat.load(Ordering::Relaxed), now));
        // Leave room for the insert that triggered us, even in tiny shards.
        let keep = (self.shard_cap - self.shard_cap / 8).min(self.shard_cap - 1);
        if bound && shard.map.len() > keep {
            let excess = shard.map.len() - keep;
            let mut tats: Vec<u64> = shard
                .map
                .iter()
                // Relaxed: as above.
                .map(|e| e.tat.load(Ordering::Relaxed))
                .collect();
            let (_, &mut cut, _) = tats.select_nth_unstable(excess - 1);
            let mut left = excess;
            // Evict the `excess` buckets closest to full (lowest TAT).
            shard.map.retain(|e| {
                // Relaxed: as above.
                let drop = left > 0 && e.tat.load(Ordering::Relaxed) <= cut;
                left -= usize::from(drop);
                !drop
            });
            shard.evictions += (excess - left) as u64;
        }
        shard.next_sweep = (shard.map.len() * 2).max(MIN_SWEEP).min(self.shard_cap);
        before - shard.map.len()
    }

    /// Drops every key whose bucket has refilled to full (equivalent to a
    /// fresh one) and returns how many. Runs automatically as shards grow;
    /// call it to release memory after a burst of one-off keys.
    pub fn sweep(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let mut guard = s.write();
                let now = self.clock.now_nanos();
                self.sweep_shard(&mut guard, now, false)
            })
            .sum()
    }

    /// Keys currently held (full buckets not yet swept included).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().map.len()).sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys whose non-full bucket was evicted under the `max_keys` bound.
    pub fn evictions(&self) -> u64 {
        self.shards.iter().map(|s| s.read().evictions).sum()
    }

    /// Forgets every key (all buckets become full).
    pub fn clear(&self) {
        for s in self.shards.iter() {
            let mut guard = s.write();
            guard.map.clear();
            guard.next_sweep = MIN_SWEEP.min(self.shard_cap);
        }
    }

    /// The most keys held at once (each shard's share x shards).
    pub fn max_keys(&self) -> usize {
        self.shard_cap * self.shards.len()
    }

    /// Checks the shards' invariants, naming the first one broken. For fuzz
    /// targets and model tests; not part of the stable API.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        for (i, s) in self.shards.iter().enumerate() {
            let guard = s.read();
            if guard.map.len() > self.shard_cap {
                return Err("shard over its share of max_keys");
            }
            for e in guard.map.iter() {
                if crate::sync::shard::index(self.hasher.hash_one(&e.key), self.shard_mask) != i {
                    return Err("key in the wrong shard");
                }
            }
        }
        Ok(())
    }
}
