//! When a shard's entries expire: their deadlines, the timer wheel that
//! holds a hint per deadline, and the shard's clamped time, as more
//! methods of `Segment` (`segment.rs` holds the struct; the cache's
//! writes call `expire` under the shard's lock, a bounded amount at a
//! time, and `run_pending_tasks` calls `expire_all`).
//!
//! Expiry: a deadline per entry (in `times`, allocated only once a cache
//! uses expiry) and a hint per deadline in the crate's timer wheel. Timers
//! are checked against the entry when they fire, so updates never search
//! the wheel; a time-to-idle refresh only moves the deadline later, and the
//! early timer re-arms itself when it fires.
use super::segment::{Removals, Segment};
use super::RemovalCause;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::wheel::Timer;
use std::hash::{BuildHasher, Hash};

/// No deadline.
pub(crate) const NEVER: u64 = u64::MAX;
/// Nanoseconds per wheel tick.
pub(crate) const RESOLUTION: u64 = 1_000_000;
/// Timers a single call handles at most (expired entries removed or timers
/// re-armed), so that a mass expiry is reclaimed over many calls instead of
/// stalling one.
pub(crate) const EXPIRE_BUDGET: usize = 64;

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
    pub(super) fn none() -> Times {
        Times {
            deadline: AtomicU64::new(NEVER),
            hard: NEVER,
        }
    }
}

#[inline]
fn tick_of(deadline: u64) -> u64 {
    // Round up: a timer never fires before its entry has expired.
    deadline / RESOLUTION + u64::from(deadline % RESOLUTION != 0)
}

impl<K: Hash + Eq, V> Segment<K, V> {
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
    pub(super) fn enable_times(&mut self) {
        if self.times.is_empty() {
            self.times
                .resize_with(self.arena.slot_count().max(4), Times::none);
        }
    }

    /// Sets entry `i`'s deadlines and arms its timer.
    pub(super) fn set_times(&mut self, i: u32, deadline: u64, hard: u64) {
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

    pub(super) fn set_times_fresh(&mut self, i: u32, deadline: u64, hard: u64) {
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
}
