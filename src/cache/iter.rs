//! Iteration over the live entries, shard by shard: [`Cache::iter`].
//!
//! Each shard is read under its read lock once, its live entries cloned
//! into a buffer, and the lock released before the first of them is
//! yielded: the view of one shard is consistent (one moment of it), the
//! shards are visited one after another (no cache-wide lock, so writes to
//! other shards go on meanwhile), and the caller's loop body runs with no
//! lock held (it may use the cache). Iteration is not a use: it changes
//! neither the policy's order, nor the idle timers, nor the stats.
use super::engine::Cache;
use crate::clock::Clock;
use std::fmt;
use std::hash::{BuildHasher, Hash};

/// An iterator over clones of a cache's live entries; see [`Cache::iter`].
pub struct Iter<'a, K, V, S, C> {
    cache: &'a Cache<K, V, S, C>,
    next_shard: usize,
    buffer: std::vec::IntoIter<(K, V)>,
}

impl<K: Hash + Eq, V, S: BuildHasher, C: Clock> Cache<K, V, S, C> {
    /// Clones of the live entries, in no particular order: each shard's
    /// entries as of one moment, shard after shard (see the module doc of
    /// `iter.rs`: a consistent view per shard, no global lock, no lock held
    /// while the caller's loop runs). An entry written to a shard not yet
    /// visited may or may not be seen.
    ///
    /// ```
    /// use latchwork::cache::Cache;
    /// let cache = Cache::new(100)?;
    /// for i in 0..10u64 {
    ///     cache.insert(i, i * i);
    /// }
    /// let mut all: Vec<(u64, u64)> = cache.iter().collect();
    /// all.sort();
    /// assert_eq!(all[3], (3, 9));
    /// assert_eq!(all.len(), 10);
    /// # Ok::<(), latchwork::cache::Error>(())
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V, S, C>
    where
        K: Clone,
        V: Clone,
    {
        Iter {
            cache: self,
            next_shard: 0,
            buffer: Vec::new().into_iter(),
        }
    }

    /// Removes every live entry for which `doomed` returns true, reported
    /// as [`RemovalCause::Explicit`](super::RemovalCause::Explicit): the
    /// complement of [`retain`](Self::retain), with the same rules (shard
    /// by shard, `doomed` runs under the shard's lock and must not use the
    /// cache; expired entries are reclaimed without being shown to it).
    pub fn invalidate_entries_if(&self, mut doomed: impl FnMut(&K, &V) -> bool) {
        self.retain(|k, v| !doomed(k, v));
    }
}

impl<K: Hash + Eq + Clone, V: Clone, S: BuildHasher, C: Clock> Iterator for Iter<'_, K, V, S, C> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(kv) = self.buffer.next() {
                return Some(kv);
            }
            let shard = self.cache.shards.get(self.next_shard)?;
            self.next_shard += 1;
            let seg = shard.seg.read();
            let now = seg.floored(|| self.cache.clock.now_nanos());
            let live: Vec<(K, V)> = seg
                .entries()
                .filter(|&(i, _)| seg.live(i, || now))
                .map(|(_, n)| (n.key.clone(), n.value.clone()))
                .collect();
            drop(seg);
            self.buffer = live.into_iter();
        }
    }
}

impl<K, V, S, C> fmt::Debug for Iter<'_, K, V, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("next_shard", &self.next_shard)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}
