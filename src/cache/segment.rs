//! One shard's state: the entries, their policy order, their expiry hints
//! and the loads in flight, all guarded by the shard's lock.
//!
//! Entries live once, in an [`Arena`] with three lists, indexed by a
//! `HashTable<u32>` of arena indices:
//!
//! ```text
//!   Policy::TinyLfu                          Policy::Lru
//!   list 0  window     [LRU .. MRU]  ~1%     list 0  [LRU .. MRU]  all
//!   list 1  probation  [LRU .. MRU]  ~20%
//!   list 2  protected  [LRU .. MRU]  ~79%
//! ```
//!
//! Weights: every size here and in `policy.rs` is a weight (1 per entry
//! without a weigher).
//!
//! This file holds the `Segment` struct, its table and arena access,
//! `upsert` and the removals, and the invariant checker. Its `impl` goes
//! on in two more files: `policy.rs` (which entries stay: TinyLFU's
//! window, admission and eviction, or LRU) and `expiry.rs` (deadlines, the
//! timer wheel and the shard's clamped time).
use super::expiry::{Times, NEVER, RESOLUTION};
use super::flight::FlightTable;
use super::policy::{caps, sketch_for, SKETCH_START};
use super::shadow;
use super::sketch::Sketch;
use super::{Policy, RemovalCause};
use crate::arena::Arena;
use crate::clock::AtomicClamp;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Arc;
use crate::wheel::Wheel;
use hashbrown::HashTable;
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

pub(super) const WINDOW: u32 = 0;
pub(super) const PROBATION: u32 = 1;
pub(super) const PROTECTED: u32 = 2;

/// Which list a node is on. (An enum, so `Option<Node>` needs no tag.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Region {
    Window,
    Probation,
    Protected,
}

impl Region {
    #[inline]
    pub(super) fn list(self) -> u32 {
        match self {
            Region::Window => WINDOW,
            Region::Probation => PROBATION,
            Region::Protected => PROTECTED,
        }
    }
}

pub(crate) struct Node<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    pub(super) weight: u32,
    /// The low 32 bits of the key's hash, for the sketch.
    pub(super) hash32: u32,
    /// The segment tick when the entry last moved to the back of the
    /// protected region (see `Segment::wants_hit`).
    pub(super) stamp: u32,
    pub(super) region: Region,
    /// Hit while in the window: the candidate has shown recency, which
    /// breaks a frequency tie in its favour (see `admit`).
    pub(super) window_hit: bool,
}

/// Removed entries, handed to the listener and dropped after the lock is
/// released. The first is held inline: most writes remove at most one.
pub(crate) struct Removals<K, V> {
    first: Option<(K, V, RemovalCause)>,
    rest: Vec<(K, V, RemovalCause)>,
}

impl<K, V> Removals<K, V> {
    pub(crate) fn new() -> Self {
        Removals {
            first: None,
            rest: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, key: K, value: V, cause: RemovalCause) {
        if self.first.is_none() {
            self.first = Some((key, value, cause));
        } else {
            self.rest.push((key, value, cause));
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub(crate) fn into_iter(self) -> impl Iterator<Item = (K, V, RemovalCause)> {
        self.first.into_iter().chain(self.rest)
    }
}

/// The sizes of a segment, fixed at build time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Total weight this shard holds at most; `u64::MAX` for unbounded.
    pub(crate) capacity: u64,
    /// Most entries the arena grows to.
    pub(crate) max_entries: usize,
    /// Sketch words per entry of capacity (a power of two, 1 to 8).
    pub(crate) sketch_per_entry: usize,
}

pub(crate) struct Segment<K, V> {
    table: HashTable<u32>,
    pub(super) arena: Arena<Node<K, V>>,
    /// Indexed like the arena; empty until the cache uses expiry.
    pub(super) times: Vec<Times>,
    /// Indexed like the arena; each entry's last write time, with the
    /// refresh mark (see `refresh.rs`). Empty without a refresh period.
    pub(super) written: Vec<AtomicU64>,
    pub(super) wheel: Wheel,
    pub(super) sketch: Option<Sketch>,
    pub(super) policy: Policy,
    pub(super) limits: Limits,
    pub(super) window_cap: u64,
    pub(super) protected_cap: u64,
    /// The window share word (see `shadow::to_word`) the caps follow.
    pub(super) window_word: u64,
    /// The word the cache's window shadows publish (TinyLFU with a bound
    /// only); checked at each eviction. Relaxed: a self-contained value,
    /// and a write that sees the old one a little longer is harmless.
    pub(super) shared_window: Option<Arc<AtomicU64>>,
    /// Counts arrivals: inserts and promotions from probation (wrapping).
    pub(super) tick: u32,
    /// A hit on a protected entry moved fewer than this many ticks ago is
    /// not recorded (see `wants_hit`); 0 records every hit.
    pub(super) skip_window: u32,
    /// Total weight held, and the window's and protected region's part.
    pub(super) weight: u64,
    pub(super) window_w: u64,
    pub(super) protected_w: u64,
    pub(crate) flights: FlightTable<K, V>,
    /// The shard's time: clock readings clamped by the crate's one policy
    /// for a clock that steps back (no time passed, then time passes again
    /// at the clock's pace; see `crate::clock`), so an entry once seen
    /// expired is never live again, and a corrected jump ahead costs no
    /// more than the time it stood ahead. Deadlines and the wheel count in
    /// this time. Raised under the write lock, and by a reader that finds
    /// an entry expired (rare); read on every expiry check.
    pub(super) floor: AtomicClamp,
}

impl<K: Hash + Eq, V> Segment<K, V> {
    pub(crate) fn new(policy: Policy, limits: Limits, now: u64) -> Self {
        let bounded = limits.capacity != u64::MAX;
        let window_word = shadow::to_word(shadow::VARIANTS[0]);
        let (window_cap, protected_cap) = match policy {
            Policy::TinyLfu if bounded => caps(limits.capacity, window_word),
            _ => (u64::MAX, 0),
        };
        let sketch = (policy == Policy::TinyLfu && bounded).then(|| {
            let entries = limits.max_entries.min(SKETCH_START);
            sketch_for(entries, limits.sketch_per_entry)
        });
        Segment {
            table: HashTable::new(),
            arena: Arena::with_lists(3),
            times: Vec::new(),
            written: Vec::new(),
            wheel: Wheel::new(now / RESOLUTION),
            sketch,
            policy,
            limits,
            window_cap,
            protected_cap,
            window_word,
            shared_window: None,
            tick: 0,
            skip_window: match policy {
                // The protected region's size, in entries (weights aside).
                Policy::TinyLfu if bounded => {
                    u32::try_from(protected_cap.min(limits.max_entries as u64)).unwrap_or(u32::MAX)
                }
                _ => 0,
            },
            weight: 0,
            window_w: 0,
            protected_w: 0,
            flights: FlightTable::new(),
            floor: AtomicClamp::new(now),
        }
    }

    /// Follows the window share the cache's shadows publish in `word`.
    pub(crate) fn with_window(mut self, word: Arc<AtomicU64>) -> Self {
        self.shared_window = Some(word);
        self
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.arena.len()
    }

    #[inline]
    pub(crate) fn weight(&self) -> u64 {
        self.weight
    }

    #[inline]
    pub(crate) fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let arena = &self.arena;
        self.table
            .find(hash, |&i| {
                arena.get(i).is_some_and(|n| n.key.borrow() == key)
            })
            .copied()
    }

    /// Every held entry with its arena index, expired ones included.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u32, &Node<K, V>)> + '_ {
        self.arena.occupied()
    }

    #[inline]
    pub(crate) fn node(&self, i: u32) -> Option<&Node<K, V>> {
        self.arena.get(i)
    }

    /// The deadline cell of entry `i`, if this segment tracks deadlines.
    #[inline]
    pub(crate) fn times(&self, i: u32) -> Option<&Times> {
        self.times.get(i as usize)
    }

    /// Inserts or updates `key`. `deadline`/`hard` are the entry's
    /// deadlines (`NEVER` for none). Removals go to `out`. Returns the
    /// entry's index if it is held after the call.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn upsert<S: BuildHasher>(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        weight: u32,
        deadline: u64,
        hard: u64,
        hasher: &S,
        out: &mut Removals<K, V>,
    ) -> Option<u32> {
        // One probe: the entry is found, or its vacant bucket is held for
        // the insert below.
        let arena = &self.arena;
        let vacant = match self.table.entry(
            hash,
            |&i| arena.get(i).is_some_and(|n| n.key == key),
            |&j| arena.get(j).map_or(0, |n| hasher.hash_one(&n.key)),
        ) {
            hashbrown::hash_table::Entry::Occupied(e) => Err(*e.get()),
            hashbrown::hash_table::Entry::Vacant(v) => Ok(v),
        };
        let vacant = match vacant {
            Ok(v) => v,
            Err(i) => {
                let node = self.arena.get_mut(i)?;
                let old = std::mem::replace(&mut node.value, value);
                let old_w = std::mem::replace(&mut node.weight, weight);
                let region = node.region;
                let (old_w, new_w) = (u64::from(old_w), u64::from(weight));
                self.weight = self.weight - old_w + new_w;
                match region {
                    Region::Window if self.policy == Policy::TinyLfu => {
                        self.window_w = self.window_w - old_w + new_w;
                    }
                    Region::Protected => self.protected_w = self.protected_w - old_w + new_w,
                    _ => {}
                }
                // An old value that had expired by this write's time (the
                // floor, which the write's `clamp_now` set) left by expiry,
                // whether or not its timer came due yet.
                let expired = self.times.get(i as usize).is_some_and(|t| {
                    // Relaxed: see `Times::deadline`; we hold the write lock.
                    let d = t.deadline.load(Ordering::Relaxed);
                    d != NEVER && d <= self.floor.floor()
                });
                let cause = if expired {
                    RemovalCause::Expired
                } else {
                    RemovalCause::Replaced
                };
                out.push(key, old, cause);
                self.set_times(i, deadline, hard);
                self.on_hit(i);
                self.evict(i, hasher, out);
                return self.arena.get(i).map(|_| i);
            }
        };
        let hash32 = hash as u32;
        if let Some(s) = &mut self.sketch {
            // Regrow with the entries held (counts start over: they cannot
            // be re-spread without the keys). Doubling keeps this rare.
            let per = self.limits.sketch_per_entry;
            let len = self.arena.len();
            if len * per >= s.words() && len < self.limits.max_entries {
                *s = sketch_for((len * 2).min(self.limits.max_entries), per);
            }
            s.increment(hash32);
        }
        let region = Region::Window;
        let i = self.arena.push_back_to(
            WINDOW,
            Node {
                key,
                value,
                weight,
                hash32,
                stamp: self.tick,
                region,
                window_hit: false,
            },
            self.limits.max_entries,
        );
        let w = u64::from(weight);
        self.tick = self.tick.wrapping_add(1);
        self.weight += w;
        if self.policy == Policy::TinyLfu {
            self.window_w += w;
        }
        vacant.insert(i);
        if !self.times.is_empty() || deadline != NEVER {
            if self.times.is_empty() {
                self.enable_times();
            }
            if (i as usize) >= self.times.len() {
                self.times.resize_with(self.arena.slot_count(), Times::none);
            }
            // A fresh slot: its old timers (if any) are stale.
            self.times[i as usize]
                .deadline
                .store(NEVER, Ordering::Relaxed);
            self.set_times_fresh(i, deadline, hard);
        }
        self.evict(i, hasher, out);
        self.arena.get(i).map(|_| i)
    }

    /// Removes entry `i` with `cause` into `out`.
    pub(crate) fn remove_index<S: BuildHasher>(
        &mut self,
        i: u32,
        hasher: &S,
        cause: RemovalCause,
        out: &mut Removals<K, V>,
    ) {
        let Some(node) = self.arena.get(i) else {
            return;
        };
        let hash = hasher.hash_one(&node.key);
        if let Ok(entry) = self.table.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
        if let Some(node) = self.arena.remove(i) {
            let w = u64::from(node.weight);
            self.weight -= w;
            match node.region {
                Region::Window if self.policy == Policy::TinyLfu => self.window_w -= w,
                Region::Protected => self.protected_w -= w,
                _ => {}
            }
            if let Some(t) = self.times.get(i as usize) {
                t.deadline.store(NEVER, Ordering::Relaxed);
            }
            out.push(node.key, node.value, cause);
        }
    }

    /// Removes every entry for which `keep` is false, with `cause`; expired
    /// entries go as `Expired` without being shown to `keep`.
    pub(crate) fn retain<S: BuildHasher>(
        &mut self,
        now: u64,
        hasher: &S,
        mut keep: impl FnMut(&K, &V) -> bool,
        cause: RemovalCause,
        out: &mut Removals<K, V>,
    ) {
        let doomed: Vec<(u32, RemovalCause)> = self
            .arena
            .occupied()
            .filter_map(|(i, n)| {
                let expired = self.times.get(i as usize).is_some_and(|t| {
                    let d = t.deadline.load(Ordering::Relaxed);
                    d != NEVER && d <= now
                });
                if expired {
                    Some((i, RemovalCause::Expired))
                } else {
                    (!keep(&n.key, &n.value)).then_some((i, cause))
                }
            })
            .collect();
        for (i, c) in doomed {
            self.remove_index(i, hasher, c, out);
        }
    }

    /// Heap bytes held by the table, arena, deadlines, wheel and sketch.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.table.capacity() * (std::mem::size_of::<u32>() + 1)
            + self.arena.heap_bytes()
            + self.times.capacity() * std::mem::size_of::<Times>()
            + self.wheel.heap_bytes()
            + self.sketch.as_ref().map_or(0, Sketch::heap_bytes)
    }

    /// Checks the invariants: arena lists, index, region weights, bounds.
    pub(crate) fn check<S: BuildHasher>(&self, hasher: &S) -> Result<(), String> {
        self.arena.check_invariants()?;
        if self.table.len() != self.arena.len() {
            return Err(format!(
                "index holds {} entries, arena {}",
                self.table.len(),
                self.arena.len()
            ));
        }
        let (mut total, mut window, mut protected) = (0u64, 0u64, 0u64);
        for (i, n) in self.arena.occupied() {
            let w = u64::from(n.weight);
            total += w;
            match n.region {
                Region::Window => window += w,
                Region::Protected => protected += w,
                Region::Probation => {}
            }
            if self.find(hasher.hash_one(&n.key), &n.key) != Some(i) {
                return Err(format!("entry {i} is not reachable through the index"));
            }
            if n.hash32 != hasher.hash_one(&n.key) as u32 {
                return Err(format!("entry {i} holds a wrong hash"));
            }
        }
        if self.policy == Policy::Lru {
            window = 0;
        }
        if (total, window, protected) != (self.weight, self.window_w, self.protected_w) {
            return Err(format!(
                "weights (total, window, protected) are {:?}, recorded {:?}",
                (total, window, protected),
                (self.weight, self.window_w, self.protected_w)
            ));
        }
        if self.weight > self.limits.capacity && self.arena.len() > 1 {
            return Err(format!(
                "weight {} over capacity {} with {} entries",
                self.weight,
                self.limits.capacity,
                self.arena.len()
            ));
        }
        Ok(())
    }

    /// Removes every entry (cause `cause`) and forgets the sketch.
    pub(crate) fn clear(&mut self, cause: RemovalCause, out: &mut Removals<K, V>) {
        let arena = std::mem::replace(&mut self.arena, Arena::with_lists(3));
        self.table.clear();
        let mut arena = arena;
        let indices: Vec<u32> = arena.occupied().map(|(i, _)| i).collect();
        for i in indices {
            if let Some(n) = arena.remove(i) {
                out.push(n.key, n.value, cause);
            }
        }
        self.times.clear();
        self.times.shrink_to_fit();
        let elapsed = self.wheel.elapsed();
        self.wheel.clear(elapsed);
        if let Some(s) = &mut self.sketch {
            s.clear();
        }
        self.weight = 0;
        self.window_w = 0;
        self.protected_w = 0;
    }
}
