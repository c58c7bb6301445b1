use super::Error;
use crate::arena::Arena;
use crate::DefaultHashBuilder;
use hashbrown::HashTable;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

/// A strict least-recently-used cache for one thread.
///
/// Entries live once, in an arena of slots linked by `u32`
/// indices; a [`hashbrown::HashTable<u32>`] maps hashes to those indices, so
/// the key is stored once and each entry costs its key, its value, two `u32`
/// links, an `Option` tag and about five bytes of table. Every operation is
/// O(1).
///
/// `get`, `get_mut`, `put` and `get_or_insert_with` make an entry the most
/// recently used; `peek`, `contains` and `peek_lru` do not. When a new key
/// arrives at a full cache, the least recently used entry is evicted and
/// returned.
///
/// ```
/// use latchwork::lru::LruCache;
///
/// let mut cache = LruCache::new(2)?;
/// cache.put("a", 1);
/// cache.put("b", 2);
/// assert_eq!(cache.get(&"a"), Some(&1)); // "a" is now most recent
/// assert_eq!(cache.put("c", 3), Some(("b", 2))); // "b" was least recent
/// assert_eq!(cache.iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["c", "a"]);
/// # Ok::<(), latchwork::lru::Error>(())
/// ```
#[derive(Clone)]
pub struct LruCache<K, V, S = DefaultHashBuilder> {
    arena: Arena<(K, V)>,
    table: HashTable<u32>,
    hasher: S,
    capacity: usize,
}

fn checked_capacity(capacity: usize) -> Result<usize, Error> {
    match capacity {
        0 => Err(Error::ZeroCapacity),
        c if c > Arena::<()>::MAX_LEN => Err(Error::CapacityTooLarge {
            requested: c,
            max: Arena::<()>::MAX_LEN,
        }),
        c => Ok(c),
    }
}

/// The hasher closure hashbrown needs when it moves entries: it re-derives
/// each index's hash from the key stored in the arena.
#[inline]
fn rehash<'a, K: Hash, V, S: BuildHasher>(
    arena: &'a Arena<(K, V)>,
    hasher: &'a S,
) -> impl Fn(&u32) -> u64 + 'a {
    move |&i| arena.get(i).map_or(0, |(k, _)| hasher.hash_one(k))
}

impl<K: Hash + Eq, V> LruCache<K, V> {
    /// A cache holding at most `capacity` entries, with the default
    /// ([foldhash](https://docs.rs/foldhash)) hasher.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`] for 0, [`Error::CapacityTooLarge`] above
    /// `u32::MAX - 1`.
    pub fn new(capacity: usize) -> Result<Self, Error> {
        Self::with_hasher(capacity, DefaultHashBuilder::default())
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> LruCache<K, V, S> {
    /// A cache with a caller-chosen hasher, for example
    /// `std::collections::hash_map::RandomState` where keys come from
    /// untrusted clients and DoS resistance matters more than speed.
    ///
    /// # Errors
    /// As [`LruCache::new`].
    pub fn with_hasher(capacity: usize, hasher: S) -> Result<Self, Error> {
        Ok(LruCache {
            arena: Arena::new(),
            table: HashTable::new(),
            hasher,
            capacity: checked_capacity(capacity)?,
        })
    }

    /// Number of entries held.
    #[inline]
    pub fn len(&self) -> usize {
        self.arena.len()
    }

    /// Whether the cache holds no entry.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries the cache holds.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The value for `key`, marking it most recently used.
    #[inline]
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(self.hasher.hash_one(key), key)?;
        self.arena.promote(i).map(|(_, v)| &*v)
    }

    /// A mutable reference to the value for `key`, marking it most recently
    /// used.
    #[inline]
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(self.hasher.hash_one(key), key)?;
        self.arena.promote(i).map(|(_, v)| v)
    }

    /// The value for `key` without changing the recency order.
    #[inline]
    pub fn peek<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(self.hasher.hash_one(key), key)?;
        self.arena.get(i).map(|(_, v)| v)
    }

    /// Whether `key` is cached, without changing the recency order.
    #[inline]
    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(self.hasher.hash_one(key), key).is_some()
    }

    /// Inserts `key -> value` as the most recently used entry and returns the
    /// pair that left the cache because of it, if any: the previous pair for
    /// the same key when `key` was present (the value is updated), or the
    /// evicted least recently used pair when a new key arrived at a full
    /// cache.
    #[inline]
    pub fn put(&mut self, key: K, value: V) -> Option<(K, V)> {
        let hash = self.hasher.hash_one(&key);
        self.put_hashed(hash, key, value)
    }

    /// The value for `key`, computed by `make` and inserted (possibly
    /// evicting the least recently used entry) when absent. Marks the entry
    /// most recently used either way.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &V {
        let hash = self.hasher.hash_one(&key);
        let i = match self.find(hash, &key) {
            Some(i) => {
                self.arena.move_to_back(i);
                i
            }
            None => self.insert_new(hash, key, make()).0,
        };
        // The index was just found or inserted, so the slot is occupied.
        match self.arena.get(i) {
            Some((_, v)) => v,
            None => unreachable_slot(),
        }
    }

    /// Removes `key`, returning its value.
    #[inline]
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key`, returning the stored pair.
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let arena = &self.arena;
        let entry = self
            .table
            .find_entry(hash, |&i| {
                arena.get(i).is_some_and(|(k, _)| k.borrow() == key)
            })
            .ok()?;
        let (i, _) = entry.remove();
        self.arena.remove(i)
    }

    /// Removes and returns the least recently used pair.
    pub fn pop_lru(&mut self) -> Option<(K, V)> {
        let i = self.arena.front()?;
        self.remove_index(i)
    }

    /// The least recently used pair, without changing the order.
    pub fn peek_lru(&self) -> Option<(&K, &V)> {
        self.arena
            .front()
            .and_then(|i| self.arena.get(i))
            .map(|(k, v)| (k, v))
    }

    /// Changes the capacity, evicting least recently used entries until the
    /// cache fits, and returns how many were evicted.
    ///
    /// # Errors
    /// As [`LruCache::new`]; the cache is unchanged on error.
    pub fn resize(&mut self, capacity: usize) -> Result<usize, Error> {
        self.capacity = checked_capacity(capacity)?;
        let mut evicted = 0;
        while self.len() > self.capacity {
            self.pop_lru();
            evicted += 1;
        }
        Ok(evicted)
    }

    /// Removes every entry and releases the memory they held.
    pub fn clear(&mut self) {
        self.table = HashTable::new();
        self.arena.clear();
    }

    /// Iterates from the most to the least recently used pair, without
    /// changing the order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            inner: self.arena.iter_rev(),
        }
    }

    /// Heap bytes held by the arena and the hash index (not by what keys and
    /// values point to).
    pub fn heap_bytes(&self) -> usize {
        self.arena.heap_bytes() + self.table.allocation_size()
    }

    /// Checks the arena and index invariants; for tests and fuzz targets.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        self.arena.check()?;
        if self.table.len() != self.arena.len() {
            return Err(format!(
                "index holds {} entries, arena {}",
                self.table.len(),
                self.arena.len()
            ));
        }
        if self.len() > self.capacity {
            return Err(format!(
                "len {} exceeds capacity {}",
                self.len(),
                self.capacity
            ));
        }
        for (_, (k, _)) in self.arena.iter_rev() {
            let hash = self.hasher.hash_one(k);
            let found = self.find(hash, k).and_then(|i| self.arena.get(i));
            if !found.is_some_and(|(fk, _)| std::ptr::eq(fk, k)) {
                return Err("an arena entry is not reachable through the index".into());
            }
        }
        Ok(())
    }

    // ---- crate-internal API on precomputed hashes (used by the sharded cache)

    #[inline]
    pub(crate) fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let arena = &self.arena;
        self.table
            .find(hash, |&i| {
                arena.get(i).is_some_and(|(k, _)| k.borrow() == key)
            })
            .copied()
    }

    /// Removes node `i`, returning its pair.
    pub(crate) fn remove_index(&mut self, i: u32) -> Option<(K, V)> {
        self.unindex(i);
        self.arena.remove(i)
    }

    pub(crate) fn put_hashed(&mut self, hash: u64, key: K, value: V) -> Option<(K, V)> {
        match self.upsert(hash, key, value).1 {
            Upsert::Inserted => None,
            Upsert::Updated(pair) | Upsert::Evicted(pair) => Some(pair),
        }
    }

    /// Inserts or updates, returning the entry's index and which pair (if
    /// any) left and why.
    pub(crate) fn upsert(&mut self, hash: u64, key: K, value: V) -> (u32, Upsert<K, V>) {
        if let Some(i) = self.find(hash, &key) {
            return match self.arena.replace(i, (key, value)) {
                Some(old) => (i, Upsert::Updated(old)),
                None => (i, Upsert::Inserted),
            };
        }
        match self.insert_new(hash, key, value) {
            (i, Some(evicted)) => (i, Upsert::Evicted(evicted)),
            (i, None) => (i, Upsert::Inserted),
        }
    }

    /// Inserts a key known to be absent; returns its index and the evicted
    /// pair, if the cache was full.
    fn insert_new(&mut self, hash: u64, key: K, value: V) -> (u32, Option<(K, V)>) {
        if self.len() >= self.capacity {
            if let Some(lru) = self.arena.front() {
                // Reuse the LRU slot in place: no free-list round trip.
                self.unindex(lru);
                let evicted = self.arena.replace(lru, (key, value));
                self.index(hash, lru);
                return (lru, evicted);
            }
        }
        let i = self.arena.push_back((key, value), self.capacity);
        self.index(hash, i);
        (i, None)
    }

    #[inline]
    fn index(&mut self, hash: u64, i: u32) {
        let (arena, hasher) = (&self.arena, &self.hasher);
        self.table.insert_unique(hash, i, rehash(arena, hasher));
    }

    /// Removes index entry `i` from the table (its key is still in the arena).
    fn unindex(&mut self, i: u32) {
        let Some((k, _)) = self.arena.get(i) else {
            return;
        };
        let hash = self.hasher.hash_one(k);
        if let Ok(entry) = self.table.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
    }
}

/// What an insert displaced.
pub(crate) enum Upsert<K, V> {
    /// A new key took a free slot.
    Inserted,
    /// The key was present; this is its previous pair.
    Updated((K, V)),
    /// A new key arrived at a full cache; this least recently used pair left.
    Evicted((K, V)),
}

#[cold]
fn unreachable_slot() -> ! {
    // Only reachable if the arena broke its own invariant; `check_invariants`
    // and the model tests guard against that.
    unreachable!("latchwork: LRU index points at an empty arena slot")
}

impl<K, V, S> fmt::Debug for LruCache<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LruCache")
            .field("len", &self.arena.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Iterator over an [`LruCache`] from the most to the least recently used
/// pair; see [`LruCache::iter`].
pub struct Iter<'a, K, V> {
    inner: crate::arena::RevIter<'a, (K, V)>,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(_, (k, v))| (k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

impl<K, V> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

impl<'a, K: Hash + Eq, V, S: BuildHasher> IntoIterator for &'a LruCache<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}
