//! A hierarchical timer wheel of expiry hints.
//!
//! Time is counted in ticks. Level `L` has 64 slots of `64^L` ticks each, so
//! eleven levels cover every `u64` tick with no overflow list. A timer for
//! tick `t`, while the wheel stands at `elapsed < t`, lives at the level of
//! the highest 6-bit group in which `t` and `elapsed` differ, in the slot
//! that group of `t` selects:
//!
//! ```text
//!   level 2  [ . . . . X . . . ]   64 slots of 4096 ticks
//!   level 1  [ . X . . . . . X ]   64 slots of 64 ticks
//!   level 0  [ . . X X . . . . ]   64 slots of 1 tick
//! ```
//!
//! Advancing finds the next occupied slot of the lowest occupied level (a
//! bitmap per level makes that one `trailing_zeros`); a level-0 slot is due
//! and its timers are delivered, a higher slot is cascaded: its timers are
//! re-placed relative to the slot's start, landing on lower levels. Each
//! timer is touched at most once per level, so advancing costs amortised
//! O(1) per timer delivered plus O(levels) per call, whatever the number of
//! timers not yet due.
//!
//! Timers are hints, not entries: the cache checks each delivered timer
//! against the entry it names, so a timer left behind by an update or a
//! removal (a stale timer) costs only the check. The cache rebuilds the
//! wheel when stale timers outnumber live entries, which keeps memory
//! proportional to the entries held.

const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = SLOTS as u64 - 1;

/// An expiry hint: the arena index of an entry and the tick it expires at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timer {
    pub(crate) index: u32,
    pub(crate) tick: u64,
}

#[derive(Debug)]
struct Level {
    /// Bit `s` set iff slot `s` holds a timer.
    occupied: u64,
    slots: Vec<Vec<Timer>>,
}

impl Level {
    fn new() -> Self {
        Level {
            occupied: 0,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
        }
    }
}

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Wheel {
    /// Every timer for a tick `<= elapsed` has been delivered.
    elapsed: u64,
    /// Allocated on first use: short TTLs never pay for high levels.
    levels: Vec<Level>,
    /// Timers in the slots (not counting `due`).
    timers: usize,
    /// Timers already due, waiting for the caller to handle them.
    due: Vec<Timer>,
}

/// The (level, slot) where a timer for `tick` lives when the wheel stands
/// at `elapsed < tick`.
#[inline]
fn locate(tick: u64, elapsed: u64) -> (usize, usize) {
    let masked = (tick ^ elapsed) | SLOT_MASK;
    let level = ((63 - masked.leading_zeros()) / SLOT_BITS) as usize;
    let slot = ((tick >> (level as u32 * SLOT_BITS)) & SLOT_MASK) as usize;
    (level, slot)
}

impl Wheel {
    pub(crate) fn new(elapsed: u64) -> Self {
        Wheel {
            elapsed,
            levels: Vec::new(),
            timers: 0,
            due: Vec::new(),
        }
    }

    /// Timers held (in slots or due), stale ones included.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.timers + self.due.len()
    }

    #[inline]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Adds a timer. One for a tick already passed (`<= elapsed`) goes
    /// straight to the due list, for the next [`Wheel::pop_due`], whether
    /// or not time moves again. (Parked in the next tick's slot, it would
    /// wait for an advance past `elapsed`: a cache that rebuilds its wheel
    /// while its time stands still, as after a clock's step back, would
    /// hold entries that already expired until time moved on, and with a
    /// clock that stays put, forever.)
    pub(crate) fn insert(&mut self, timer: Timer) {
        if timer.tick <= self.elapsed {
            self.due.push(timer);
            return;
        }
        let (level, slot) = locate(timer.tick, self.elapsed);
        while self.levels.len() <= level {
            self.levels.push(Level::new());
        }
        let lvl = &mut self.levels[level];
        lvl.slots[slot].push(timer);
        lvl.occupied |= 1 << slot;
        self.timers += 1;
    }

    /// The next occupied slot: (level, slot, tick at which it starts).
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        for (level, lvl) in self.levels.iter().enumerate() {
            let shift = level as u32 * SLOT_BITS;
            let pos = (self.elapsed >> shift) & SLOT_MASK;
            // Every timer sits in a slot strictly after the current one:
            // at level 0 because its tick is later, higher up because its
            // tick differs from `elapsed` in that level's digit.
            let ahead = if pos == SLOT_MASK {
                0
            } else {
                lvl.occupied & (u64::MAX << (pos + 1))
            };
            if ahead != 0 {
                let slot = ahead.trailing_zeros() as u64;
                let window = shift + SLOT_BITS;
                let base = if window >= 64 {
                    0
                } else {
                    self.elapsed & !((1u64 << window) - 1)
                };
                return Some((level, slot as usize, base + (slot << shift)));
            }
        }
        None
    }

    /// Advances to `now`, moving every timer for a tick `<= now` onto the
    /// due list. This is bookkeeping only (a level-0 slot moves whole; a
    /// higher slot is re-placed timer by timer): the caller's expensive work
    /// per timer (removing an entry, dropping its value, notifying) happens
    /// in [`Wheel::pop_due`], as much of it per call as the caller budgets.
    pub(crate) fn advance(&mut self, now: u64) {
        if now <= self.elapsed {
            return;
        }
        while let Some((level, slot, start)) = self.next_slot() {
            if start > now {
                break;
            }
            self.elapsed = start;
            let lvl = &mut self.levels[level];
            lvl.occupied &= !(1 << slot);
            let mut bucket = std::mem::take(&mut lvl.slots[slot]);
            self.timers -= bucket.len();
            if level == 0 {
                // Every timer in a level-0 slot is for exactly its tick.
                if self.due.is_empty() {
                    std::mem::swap(&mut self.due, &mut bucket);
                } else {
                    self.due.append(&mut bucket);
                }
            } else {
                for timer in bucket.drain(..) {
                    if timer.tick <= start {
                        self.due.push(timer);
                    } else {
                        self.insert(timer);
                    }
                }
            }
            // Give the bucket's allocation back for reuse.
            let lvl = &mut self.levels[level];
            if lvl.slots[slot].capacity() == 0 {
                lvl.slots[slot] = bucket;
            }
        }
        self.elapsed = now;
    }

    /// A timer whose tick has passed, if any is waiting.
    #[inline]
    pub(crate) fn pop_due(&mut self) -> Option<Timer> {
        self.due.pop()
    }

    /// Timers whose tick has passed and that wait for [`Wheel::pop_due`].
    #[cfg(test)]
    pub(crate) fn due_len(&self) -> usize {
        self.due.len()
    }

    /// Drops every timer and moves to `elapsed`; keeps level allocations.
    pub(crate) fn clear(&mut self, elapsed: u64) {
        for lvl in &mut self.levels {
            for s in &mut lvl.slots {
                s.clear();
            }
            lvl.occupied = 0;
        }
        self.timers = 0;
        self.due.clear();
        self.elapsed = elapsed;
    }

    /// Heap bytes held by the slots.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.levels
            .iter()
            .map(|l| {
                l.slots.capacity() * std::mem::size_of::<Vec<Timer>>()
                    + l.slots
                        .iter()
                        .map(|s| s.capacity() * std::mem::size_of::<Timer>())
                        .sum::<usize>()
            })
            .sum::<usize>()
            + self.due.capacity() * std::mem::size_of::<Timer>()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn delivers_in_tick_order_across_levels() {
        let mut w = Wheel::new(0);
        for (i, t) in [5u64, 70, 64, 4_100, 1 << 40, 63, 1]
            .into_iter()
            .enumerate()
        {
            w.insert(Timer {
                index: i as u32,
                tick: t,
            });
        }
        let mut got = vec![];
        w.advance(100);
        while let Some(t) = w.pop_due() {
            got.push(t.tick);
        }
        got.sort_unstable();
        assert_eq!(got, [1, 5, 63, 64, 70]);
        w.advance(1 << 41);
        let mut late = vec![];
        while let Some(t) = w.pop_due() {
            late.push(t.tick);
        }
        late.sort_unstable();
        assert_eq!(late, [4_100, 1 << 40]);
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn a_timer_for_a_passed_tick_is_due_without_an_advance() {
        let mut w = Wheel::new(0);
        w.advance(1_000);
        for (index, tick) in [(1, 1_000), (2, 3), (3, 1_001)] {
            w.insert(Timer { index, tick });
        }
        assert_eq!((w.len(), w.due_len()), (3, 2));
        // Time stands still (a rebuild, a clock that stepped back): the
        // passed ones are delivered anyway, the future one is not.
        w.advance(1_000);
        let mut got = vec![];
        while let Some(t) = w.pop_due() {
            got.push(t.index);
        }
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        w.advance(1_001);
        assert_eq!(w.pop_due().map(|t| t.index), Some(3));
        assert_eq!(w.len(), 0);
    }

    proptest! {
        /// Against a plain list: after every advance, exactly the timers
        /// with tick <= now have been delivered, each once.
        #[test]
        fn matches_brute_force(
            steps in prop::collection::vec((0u64..5_000, prop::collection::vec(0u64..300_000, 0..8)), 1..60),
            start in 0u64..1_000_000,
        ) {
            let mut w = Wheel::new(start);
            let mut pending: Vec<Timer> = vec![];
            let mut now = start;
            let mut next = 0u32;
            for (dt, offsets) in steps {
                for off in offsets {
                    let t = Timer { index: next, tick: now + 1 + off };
                    next += 1;
                    w.insert(t);
                    pending.push(t);
                }
                now += dt;
                let mut got = vec![];
                w.advance(now);
                while let Some(t) = w.pop_due() {
                    got.push(t);
                }
                let mut want: Vec<Timer> = pending.iter().copied().filter(|t| t.tick <= now).collect();
                pending.retain(|t| t.tick > now);
                got.sort_by_key(|t| t.index);
                want.sort_by_key(|t| t.index);
                prop_assert_eq!(got, want);
                prop_assert_eq!(w.len(), pending.len());
            }
        }
    }
}
