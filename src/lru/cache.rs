use super::Error;
use crate::DefaultHashBuilder;
use hashbrown::HashTable;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

mod iter;

pub use iter::Iter;

/// A strict least-recently-used cache for one thread.
///
/// Entries live once, densely, in one `Vec` (no hole, no free list, no
/// `Option` tag) and form a ring through two `u32` index links; a
/// [`hashbrown::HashTable<u32>`] maps hashes to those indices, so the key is
/// stored once and each entry costs its key, its value, two `u32` links and
/// about five bytes of table. Every operation is O(1).
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
    ring: Ring<K, V>,
    table: HashTable<u32>,
    hasher: S,
    capacity: usize,
}

/// The most entries a cache can hold: indices are `u32`.
const MAX_LEN: usize = u32::MAX as usize - 1;

fn checked_capacity(capacity: usize) -> Result<usize, Error> {
    match capacity {
        0 => Err(Error::ZeroCapacity),
        c if c > MAX_LEN => Err(Error::CapacityTooLarge {
            requested: c,
            max: MAX_LEN,
        }),
        c => Ok(c),
    }
}

/// One cached pair and its ring links.
#[derive(Clone)]
struct Entry<K, V> {
    key: K,
    value: V,
    /// Towards the least recently used end (from the head: the tail).
    prev: u32,
    /// Towards the most recently used end (from the tail: the head).
    next: u32,
}

/// The recency order: every entry of `entries` on one circular list, the
/// least recently used at `head`, the most recently used just before it
/// (`entries[head].prev`).
///
/// ```text
///   head = [LRU] -> [ ] -> ... -> [MRU] -> back to [LRU]
/// ```
///
/// No sentinel: the ring is closed through the entries themselves, which
/// buys the LRU its cheapest operations. A new key at a full cache reuses
/// the head's entry in place and *rotates* the ring (`head = head.next`),
/// which makes that entry the most recent without touching a link; a hit
/// on the least recent entry is the same rotation. The head's entry is
/// written on every other promotion (its `prev` closes the ring), so it
/// stays in cache the way a sentinel would.
///
/// Invariants (checked by [`LruCache::check_invariants`]): following
/// `next` from `head` visits every entry exactly once and returns to
/// `head`; `prev` mirrors `next`; `head` is meaningful only when
/// `entries` is not empty. Removing an entry moves the last entry into its
/// index (`swap_remove`), which the cache follows in its index.
#[derive(Clone)]
struct Ring<K, V> {
    entries: Vec<Entry<K, V>>,
    head: u32,
}

impl<K, V> Ring<K, V> {
    #[inline]
    fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    fn get(&self, i: u32) -> Option<&Entry<K, V>> {
        self.entries.get(i as usize)
    }

    /// The least recently used entry's index.
    #[inline]
    fn lru(&self) -> Option<u32> {
        (!self.entries.is_empty()).then_some(self.head)
    }

    /// Makes entry `i` the most recently used and returns it; `None` (and
    /// no change) for an unknown index.
    #[inline]
    fn promote(&mut self, i: u32) -> Option<&mut Entry<K, V>> {
        let head = self.head;
        let e = self.entries.get(i as usize)?;
        let (prev, next) = (e.prev, e.next);
        if i == head {
            // The least recent becomes the most recent: a rotation.
            self.head = next;
        } else if next != head {
            // Neither end: unlink, then relink between the tail and head.
            let tail = self.entries.get(head as usize)?.prev;
            self.entries[prev as usize].next = next;
            self.entries[next as usize].prev = prev;
            self.entries[tail as usize].next = i;
            self.entries[head as usize].prev = i;
            let e = &mut self.entries[i as usize];
            e.prev = tail;
            e.next = head;
        }
        // (`next == head`: `i` is already the most recent.)
        self.entries.get_mut(i as usize)
    }

    /// Appends a new most recently used entry; the caller keeps
    /// `len < MAX_LEN` and bounds growth to `limit` entries.
    fn push(&mut self, key: K, value: V, limit: usize) -> u32 {
        let i = self.entries.len() as u32;
        let (prev, next) = match self.lru() {
            None => {
                self.head = i;
                (i, i)
            }
            Some(head) => {
                let tail = self.entries[head as usize].prev;
                self.entries[tail as usize].next = i;
                self.entries[head as usize].prev = i;
                (tail, head)
            }
        };
        if self.entries.len() == self.entries.capacity() {
            // Double, but never past `limit`.
            let used = self.entries.len();
            let room = limit.saturating_sub(used);
            self.entries.reserve_exact(used.min(room).max(1));
        }
        self.entries.push(Entry {
            key,
            value,
            prev,
            next,
        });
        i
    }

    /// Puts `key -> value` into the least recently used entry `head` (as
    /// [`lru`](Self::lru) returned it), makes it the most recent (a
    /// rotation) and returns its old pair.
    #[inline]
    fn recycle_lru(&mut self, head: u32, key: K, value: V) -> (K, V) {
        let e = &mut self.entries[head as usize];
        self.head = e.next;
        (
            std::mem::replace(&mut e.key, key),
            std::mem::replace(&mut e.value, value),
        )
    }

    /// Unlinks entry `i` and moves the last entry into its index; returns
    /// the pair and, when an entry moved, its old index.
    fn remove(&mut self, i: u32) -> Option<((K, V), Option<u32>)> {
        let e = self.entries.get(i as usize)?;
        let (prev, next) = (e.prev, e.next);
        if next == i {
            // The only entry.
            let e = self.entries.pop()?;
            return Some(((e.key, e.value), None));
        }
        self.entries[prev as usize].next = next;
        self.entries[next as usize].prev = prev;
        if self.head == i {
            self.head = next;
        }
        let last = (self.entries.len() - 1) as u32;
        let e = self.entries.swap_remove(i as usize);
        if i == last {
            return Some(((e.key, e.value), None));
        }
        // The former last entry now lives at `i`: repoint its neighbours.
        // A link to itself (it is the only entry left) follows it to `i`.
        let moved = &self.entries[i as usize];
        let follow = |j: u32| if j == last { i } else { j };
        let (mp, mn) = (follow(moved.prev), follow(moved.next));
        self.entries[mp as usize].next = i;
        self.entries[mn as usize].prev = i;
        if self.head == last {
            self.head = i;
        }
        Some(((e.key, e.value), Some(last)))
    }

    fn clear(&mut self) {
        self.entries = Vec::new();
    }
}

/// The hasher closure hashbrown needs when it moves entries: it re-derives
/// each index's hash from the key stored in the ring.
#[inline]
fn rehash<'a, K: Hash, V, S: BuildHasher>(
    ring: &'a Ring<K, V>,
    hasher: &'a S,
) -> impl Fn(&u32) -> u64 + 'a {
    move |&i| ring.get(i).map_or(0, |e| hasher.hash_one(&e.key))
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
            ring: Ring {
                entries: Vec::new(),
                head: 0,
            },
            table: HashTable::new(),
            hasher,
            capacity: checked_capacity(capacity)?,
        })
    }

    /// Number of entries held.
    #[inline]
    pub fn len(&self) -> usize {
        self.ring.len()
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
        self.ring.promote(i).map(|e| &e.value)
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
        self.ring.promote(i).map(|e| &mut e.value)
    }

    /// The value for `key` without changing the recency order.
    #[inline]
    pub fn peek<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(self.hasher.hash_one(key), key)?;
        self.ring.get(i).map(|e| &e.value)
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
        if let Some(i) = self.find(hash, &key) {
            let e = self.ring.promote(i)?;
            return Some((
                std::mem::replace(&mut e.key, key),
                std::mem::replace(&mut e.value, value),
            ));
        }
        self.insert_new(hash, key, value).1
    }

    /// The value for `key`, computed by `make` and inserted (possibly
    /// evicting the least recently used entry) when absent. Marks the entry
    /// most recently used either way.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &V {
        let hash = self.hasher.hash_one(&key);
        let i = match self.find(hash, &key) {
            Some(i) => i,
            None => self.insert_new(hash, key, make()).0,
        };
        // The index was just found (promote it) or inserted (already the
        // most recent, so promote changes nothing).
        match self.ring.promote(i) {
            Some(e) => &e.value,
            None => unreachable_entry(),
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
        let ring = &self.ring;
        let entry = self
            .table
            .find_entry(hash, |&i| {
                ring.get(i).is_some_and(|e| e.key.borrow() == key)
            })
            .ok()?;
        let (i, _) = entry.remove();
        self.remove_unindexed(i)
    }

    /// Removes and returns the least recently used pair.
    pub fn pop_lru(&mut self) -> Option<(K, V)> {
        let i = self.ring.lru()?;
        self.unindex(i);
        self.remove_unindexed(i)
    }

    /// The least recently used pair, without changing the order.
    pub fn peek_lru(&self) -> Option<(&K, &V)> {
        let e = self.ring.get(self.ring.lru()?)?;
        Some((&e.key, &e.value))
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
        if self.ring.entries.capacity() > self.capacity {
            self.ring.entries.shrink_to(self.capacity);
        }
        Ok(evicted)
    }

    /// Removes every entry and releases the memory they held.
    pub fn clear(&mut self) {
        self.table = HashTable::new();
        self.ring.clear();
    }

    /// Iterates from the most to the least recently used pair, without
    /// changing the order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        let entries = &self.ring.entries[..];
        Iter {
            at: self
                .ring
                .lru()
                .and_then(|h| entries.get(h as usize))
                .map_or(0, |e| e.prev),
            left: entries.len(),
            entries,
        }
    }

    /// Heap bytes held by the entries and the hash index (not by what keys
    /// and values point to).
    pub fn heap_bytes(&self) -> usize {
        self.ring.entries.capacity() * std::mem::size_of::<Entry<K, V>>()
            + self.table.allocation_size()
    }

    /// Checks the ring and index invariants; for tests and fuzz targets.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let entries = &self.ring.entries;
        let n = entries.len();
        if n > 0 {
            let mut seen = vec![false; n];
            let mut at = self.ring.head;
            for _ in 0..n {
                let e = entries.get(at as usize).ok_or("link out of bounds")?;
                if std::mem::replace(&mut seen[at as usize], true) {
                    return Err(format!("entry {at} is on the ring twice"));
                }
                if entries.get(e.next as usize).map(|x| x.prev) != Some(at) {
                    return Err(format!("prev of {} does not mirror next of {at}", e.next));
                }
                at = e.next;
            }
            if at != self.ring.head {
                return Err("the ring does not close at its head".into());
            }
        }
        if self.table.len() != n {
            return Err(format!(
                "index holds {} entries, ring {n}",
                self.table.len()
            ));
        }
        if n > self.capacity {
            return Err(format!("len {n} exceeds capacity {}", self.capacity));
        }
        for (i, e) in entries.iter().enumerate() {
            if self.find(self.hasher.hash_one(&e.key), &e.key) != Some(i as u32) {
                return Err(format!("entry {i} is not reachable through the index"));
            }
        }
        Ok(())
    }

    #[inline]
    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let ring = &self.ring;
        self.table
            .find(hash, |&i| {
                ring.get(i).is_some_and(|e| e.key.borrow() == key)
            })
            .copied()
    }

    /// Inserts a key known to be absent; returns its index and the evicted
    /// pair, if the cache was full.
    fn insert_new(&mut self, hash: u64, key: K, value: V) -> (u32, Option<(K, V)>) {
        if self.len() >= self.capacity {
            if let Some(lru) = self.ring.lru() {
                // Reuse the LRU entry in place: unindex its old key first.
                self.unindex(lru);
                let evicted = self.ring.recycle_lru(lru, key, value);
                self.index(hash, lru);
                return (lru, Some(evicted));
            }
        }
        let i = self.ring.push(key, value, self.capacity);
        self.index(hash, i);
        (i, None)
    }

    /// Removes entry `i`, already out of the index, from the ring, and
    /// repoints the index at the entry that moved into its place.
    fn remove_unindexed(&mut self, i: u32) -> Option<(K, V)> {
        let (pair, moved) = self.ring.remove(i)?;
        if let Some(from) = moved {
            if let Some(e) = self.ring.get(i) {
                let hash = self.hasher.hash_one(&e.key);
                if let Ok(mut entry) = self.table.find_entry(hash, |&j| j == from) {
                    *entry.get_mut() = i;
                }
            }
        }
        Some(pair)
    }

    #[inline]
    fn index(&mut self, hash: u64, i: u32) {
        let (ring, hasher) = (&self.ring, &self.hasher);
        self.table.insert_unique(hash, i, rehash(ring, hasher));
    }

    /// Removes index entry `i` from the table (its key is still in the ring).
    #[inline]
    fn unindex(&mut self, i: u32) {
        let Some(e) = self.ring.get(i) else {
            return;
        };
        let hash = self.hasher.hash_one(&e.key);
        if let Ok(entry) = self.table.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
    }
}

#[cold]
fn unreachable_entry() -> ! {
    // Only reachable if the ring broke its own invariant; `check_invariants`
    // and the model tests guard against that.
    unreachable!("latchwork: LRU index points past the ring")
}

impl<K, V, S> fmt::Debug for LruCache<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LruCache")
            .field("len", &self.ring.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}
