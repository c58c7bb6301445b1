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
//! TinyLFU (the W-TinyLFU shape of Einziger, Friedman and Manes): a new
//! entry enters the window. When the window is over its share, its LRU
//! entry becomes a *candidate* for the main region; if the main region has
//! no room, the candidate duels the main region's victim (probation's LRU
//! entry, else protected's) and the one the frequency sketch says is used
//! less often leaves. A hit in probation promotes to protected, whose
//! overflow is demoted back to probation. So one-hit wonders and scans pass
//! through the small window without flushing the frequently used entries.
//!
//! Weights: every size below is a weight (1 per entry without a weigher).
//!
//! Expiry: a deadline per entry (in `times`, allocated only once a cache
//! uses expiry) and a hint per deadline in the crate's timer wheel. Timers
//! are checked against the entry when they fire, so updates never search
//! the wheel; a time-to-idle refresh only moves the deadline later, and the
//! early timer re-arms itself when it fires.
use super::climber;
use super::flight::FlightTable;
use super::sketch::Sketch;
use super::{Policy, RemovalCause};
use crate::arena::Arena;
use crate::clock::AtomicClamp;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Arc;
use crate::wheel::{Timer, Wheel};
use hashbrown::HashTable;
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

/// No deadline.
pub(crate) const NEVER: u64 = u64::MAX;
/// Nanoseconds per wheel tick.
pub(crate) const RESOLUTION: u64 = 1_000_000;
/// Timers a single call handles at most (expired entries removed or timers
/// re-armed), so that a mass expiry is reclaimed over many calls instead of
/// stalling one.
pub(crate) const EXPIRE_BUDGET: usize = 64;

const WINDOW: u32 = 0;
const PROBATION: u32 = 1;
const PROTECTED: u32 = 2;

/// Which list a node is on. (An enum, so `Option<Node>` needs no tag.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Region {
    Window,
    Probation,
    Protected,
}

impl Region {
    #[inline]
    fn list(self) -> u32 {
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
    weight: u32,
    /// The low 32 bits of the key's hash, for the sketch.
    hash32: u32,
    /// The segment tick when the entry last moved to the back of the
    /// protected region (see `Segment::wants_hit`).
    stamp: u32,
    region: Region,
    /// Hit while in the window: the candidate has shown recency, which
    /// breaks a frequency tie in its favour (see `admit`).
    window_hit: bool,
}

/// An entry's deadlines, in clock nanoseconds.
pub(crate) struct Times {
    /// When the entry expires; `NEVER` for no expiry. Time-to-idle moves it
    /// under the shard's *read* lock, hence atomic. Relaxed everywhere: the
    /// deadline is a self-contained value and readers tolerate a refresh
    /// racing another (the later store wins, both are "now + tti").
    pub(crate) deadline: AtomicU64,
    /// The cap a time-to-idle refresh may not pass (time-to-live, or the
    /// per-entry TTL); `NEVER` for none.
    pub(crate) hard: u64,
}

impl Times {
    fn none() -> Times {
        Times {
            deadline: AtomicU64::new(NEVER),
            hard: NEVER,
        }
    }
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
const SKETCH_START: usize = 1024;

pub(crate) struct Segment<K, V> {
    table: HashTable<u32>,
    arena: Arena<Node<K, V>>,
    /// Indexed like the arena; empty until the cache uses expiry.
    times: Vec<Times>,
    wheel: Wheel,
    sketch: Option<Sketch>,
    policy: Policy,
    limits: Limits,
    window_cap: u64,
    protected_cap: u64,
    /// The window share word (see `climber::to_word`) the caps follow.
    window_word: u64,
    /// The word the cache's window climber publishes (TinyLFU with a bound
    /// only); checked at each eviction. Relaxed: a self-contained value,
    /// and a write that sees the old one a little longer is harmless.
    shared_window: Option<Arc<AtomicU64>>,
    /// New keys inserted (wrapping): paces the window climber.
    inserted: u32,
    /// Counts arrivals: inserts and promotions from probation (wrapping).
    tick: u32,
    /// A hit on a protected entry moved fewer than this many ticks ago is
    /// not recorded (see `wants_hit`); 0 records every hit.
    skip_window: u32,
    /// Total weight held, and the window's and protected region's part.
    weight: u64,
    window_w: u64,
    protected_w: u64,
    pub(crate) flights: FlightTable<K, V>,
    /// The shard's time: clock readings clamped by the crate's one policy
    /// for a clock that steps back (no time passed, then time passes again
    /// at the clock's pace; see `crate::clock`), so an entry once seen
    /// expired is never live again, and a corrected jump ahead costs no
    /// more than the time it stood ahead. Deadlines and the wheel count in
    /// this time. Raised under the write lock, and by a reader that finds
    /// an entry expired (rare); read on every expiry check.
    floor: AtomicClamp,
}

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
fn caps(capacity: u64, word: u64) -> (u64, u64) {
    let window = climber::window_of(capacity, word);
    let main = capacity - window;
    (window, main - main / 5)
}

#[inline]
fn tick_of(deadline: u64) -> u64 {
    // Round up: a timer never fires before its entry has expired.
    deadline / RESOLUTION + u64::from(deadline % RESOLUTION != 0)
}

impl<K: Hash + Eq, V> Segment<K, V> {
    pub(crate) fn new(policy: Policy, limits: Limits, now: u64) -> Self {
        let bounded = limits.capacity != u64::MAX;
        let window_word = climber::to_word(climber::START);
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
            wheel: Wheel::new(now / RESOLUTION),
            sketch,
            policy,
            limits,
            window_cap,
            protected_cap,
            window_word,
            shared_window: None,
            inserted: 0,
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

    /// Follows the window share the cache's climber publishes in `word`.
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

    /// The shard's time for a write section (see `floor`), under the write
    /// lock: `now` yields the clock reading, taken here, once the lock is
    /// held (`None` when nothing expires: the time is then unchanged).
    #[inline]
    pub(crate) fn clamp_now(&self, now: impl FnOnce() -> Option<u64>) -> u64 {
        self.floor.write(now())
    }

    /// The shard's time for a reader (see `floor`), under the read lock:
    /// `raw` reads the clock.
    #[inline]
    pub(crate) fn floored(&self, raw: impl FnOnce() -> u64) -> u64 {
        self.floor.read(raw)
    }

    /// Raises the shard's time to `now` (a reader that saw an entry expire).
    #[inline]
    pub(crate) fn raise_floor(&self, now: u64) {
        self.floor.raise(now);
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

    #[inline]
    pub(crate) fn node(&self, i: u32) -> Option<&Node<K, V>> {
        self.arena.get(i)
    }

    /// The deadline cell of entry `i`, if this segment tracks deadlines.
    #[inline]
    pub(crate) fn times(&self, i: u32) -> Option<&Times> {
        self.times.get(i as usize)
    }

    /// Whether entry `i` is live at `now` (`now` is only read when the
    /// entry has a deadline, through `now`).
    #[inline]
    pub(crate) fn live(&self, i: u32, now: impl FnOnce() -> u64) -> bool {
        match self.times.get(i as usize) {
            // Relaxed: see `Times::deadline`.
            Some(t) => {
                let d = t.deadline.load(Ordering::Relaxed);
                d == NEVER || now() < d
            }
            None => true,
        }
    }

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

    /// Counts a new key and says whether the window climber is due a look
    /// (every 64 new keys of this shard).
    #[inline]
    pub(crate) fn climb_due(&mut self) -> bool {
        self.inserted = self.inserted.wrapping_add(1);
        self.inserted % 64 == 0
    }

    /// Moves the window/main split to the share `word` (from the window
    /// climber; see `climber.rs`): entries cross between the window and the
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

    /// Advances expiry to `now` and handles at most `budget` due timers:
    /// removes the entries that expired (into `out`), re-arms timers whose
    /// entry was refreshed, drops stale ones.
    pub(crate) fn expire<S: BuildHasher>(
        &mut self,
        now: u64,
        budget: usize,
        hasher: &S,
        out: &mut Removals<K, V>,
    ) {
        if self.times.is_empty() {
            return;
        }
        self.wheel.advance(now / RESOLUTION);
        for _ in 0..budget {
            let Some(t) = self.wheel.pop_due() else {
                break;
            };
            if self.arena.get(t.index).is_none() {
                continue; // stale: the entry is gone
            }
            // Relaxed: see `Times::deadline`; we hold the write lock.
            let d = self.times[t.index as usize]
                .deadline
                .load(Ordering::Relaxed);
            if d <= now {
                self.remove_index(t.index, hasher, RemovalCause::Expired, out);
            } else if d != NEVER {
                self.wheel.insert(Timer {
                    index: t.index,
                    tick: tick_of(d),
                });
            }
        }
        self.compact_timers();
    }

    /// Expired entries that are still held (their timers are due but were
    /// not handled yet, or are not due in the wheel's resolution).
    pub(crate) fn pending_expiry(&self) -> usize {
        self.wheel.due_len()
    }

    /// Rebuilds the wheel from the live entries once stale hints (left by
    /// removals and evictions) pass a quarter of them, so hint memory stays
    /// within 1.25 timers per entry; the rebuild's O(entries) cost is
    /// amortised over the quarter of entries' worth of removals before it.
    /// The timers of entries already expired go back on the due list (see
    /// `Wheel::insert`), so the next writes reclaim them even if time has
    /// not moved since.
    fn compact_timers(&mut self) {
        if self.wheel.len() <= self.arena.len() + self.arena.len() / 4 + 64 {
            return;
        }
        let elapsed = self.wheel.elapsed();
        self.wheel.clear(elapsed);
        for (index, _) in self.arena.occupied() {
            let d = self.times[index as usize].deadline.load(Ordering::Relaxed);
            if d != NEVER {
                self.wheel.insert(Timer {
                    index,
                    tick: tick_of(d),
                });
            }
        }
    }

    /// Starts tracking deadlines (on the first entry that has one).
    fn enable_times(&mut self) {
        if self.times.is_empty() {
            self.times
                .resize_with(self.arena.slot_count().max(4), Times::none);
        }
    }

    /// Sets entry `i`'s deadlines and arms its timer.
    fn set_times(&mut self, i: u32, deadline: u64, hard: u64) {
        if deadline == NEVER && self.times.is_empty() {
            return;
        }
        self.enable_times();
        let idx = i as usize;
        if idx >= self.times.len() {
            let len = (idx + 1)
                .max(self.times.len() * 2)
                .min(self.arena.slot_count().max(idx + 1));
            self.times.resize_with(len, Times::none);
        }
        let t = &mut self.times[idx];
        let old = t.deadline.load(Ordering::Relaxed);
        t.deadline.store(deadline, Ordering::Relaxed);
        t.hard = hard;
        // A later deadline keeps the pending earlier timer, which re-arms
        // itself when it fires; only an earlier one needs a new timer.
        if deadline != NEVER && (old == NEVER || tick_of(deadline) < tick_of(old)) {
            self.wheel.insert(Timer {
                index: i,
                tick: tick_of(deadline),
            });
        }
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

    fn set_times_fresh(&mut self, i: u32, deadline: u64, hard: u64) {
        let t = &mut self.times[i as usize];
        t.deadline.store(deadline, Ordering::Relaxed);
        t.hard = hard;
        if deadline != NEVER {
            self.wheel.insert(Timer {
                index: i,
                tick: tick_of(deadline),
            });
        }
    }

    /// Restores the size bounds after entry `keep` arrived or grew.
    fn evict<S: BuildHasher>(&mut self, keep: u32, hasher: &S, out: &mut Removals<K, V>) {
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
        // A tie goes to the candidate only if it was hit while in the
        // window (it has shown recency the victim, the main region's least
        // recent entry, has not); otherwise the victim stays. On a loop or a
        // flat popularity no candidate is hit in the window, so the main
        // region is kept instead of churned; a hot key that expired and
        // came back is hit in the window at once, so it is not rejected
        // over and over by a victim whose counter is as saturated as its
        // own (`tests/cache_ttl_churn.rs`). Deterministic, unlike Caffeine's
        // random admission of warm losers: the sketch's hash comes from the
        // cache's seeded hasher, so an attacker cannot aim collisions at a
        // victim, and random admission measured lower on the loop trace.
        fc > fv || (fc == fv && cn.window_hit)
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

    /// Removes every expired entry now, whatever the budget.
    pub(crate) fn expire_all<S: BuildHasher>(
        &mut self,
        now: u64,
        hasher: &S,
        out: &mut Removals<K, V>,
    ) {
        if self.times.is_empty() {
            return;
        }
        self.expire(now, usize::MAX, hasher, out);
        // Entries expired within the tick in progress have timers not yet
        // due at the wheel's resolution.
        self.retain(now, hasher, |_, _| true, RemovalCause::Expired, out);
    }

    /// The time-to-idle refresh of entry `i` (called under the read lock).
    #[inline]
    pub(crate) fn touch(&self, i: u32, now: u64, tti: u64) {
        if let Some(t) = self.times.get(i as usize) {
            let d = now.saturating_add(tti).min(t.hard);
            // Relaxed: see `Times::deadline`.
            t.deadline.store(d, Ordering::Relaxed);
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
        self.arena.check()?;
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
        for (_, n) in arena.occupied() {
            let _ = n;
        }
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
