//! The FIFO behind each priority level: a bounded lock-free ring for the
//! common case and an unbounded locked spill for what does not fit.
//!
//! ```text
//!   push ──► spilling? ──no──► ring (one CAS) ──full──────────────┐
//!               │yes                                            │
//!               └──────────────► spill (Mutex<VecDeque>) ◄──────┘
//!   pop  ──► ring ──empty──► spilling? ──yes──► spill (under its lock)
//! ```
//!
//! The ring (`ring.rs`, crossbeam's `ArrayQueue` algorithm), allocated on
//! the level's first push: one CAS per push or pop and a plain stamp store,
//! against the two read-modify-writes per operation of `SegQueue` (its CAS
//! and the slot's state `fetch_or`) or a mutex (lock and unlock). When the ring is full, a
//! push sets `spilling` under the spill's lock and appends there; while
//! `spilling` is set every push goes to the spill, so spilled items stay
//! behind the ring's and ahead of later pushes, and a pop takes from the
//! ring first. A pop that finds the ring empty takes the spill's oldest
//! item under its lock and moves the next ones into the ring (as many as
//! fit), so the pops after it are lock-free again while a producer keeps
//! the spill going (a task pool whose submitter outruns its workers lived
//! in the spill's lock before). A pop that finds the ring and the spill
//! empty, having moved nothing, clears `spilling` under the same lock, and
//! pushes return to the ring.
//!
//! FIFO across the two halves: if `push(a)` returned before `push(b)` was
//! called and `a` went to the spill, then `b`'s load of `spilling` happens
//! after `a`'s store of it, so it reads `true` (or a later `false`, written
//! only once the spill, `a` included, has been emptied); `b` queues behind
//! `a` or `a` is already gone. Items move from the spill to the ring only
//! while `spilling` stays set (the refill), so a pop that finds the ring
//! empty and then `spilling` clear has seen every item whose push returned
//! before it was called.
//!
//! The ring is this crate's code on the `sync` shim, so under `--cfg loom`
//! the models explore it too, with the flag, the spill and the occupancy
//! and park handshakes around it.
use super::ring::Ring;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::Mutex;
use crossbeam_utils::CachePadded;
use std::collections::VecDeque;

pub(crate) struct Fifo<T> {
    ring: LazyRing<T>,
    /// Set while `spill` may hold items; see the module doc. Written only
    /// under `spill`'s lock.
    ///
    /// | `spilling` | `spill`   | pushes go to |
    /// |------------|-----------|--------------|
    /// | false      | empty     | the ring     |
    /// | true       | any       | the spill    |
    spilling: CachePadded<AtomicBool>,
    spill: Mutex<VecDeque<T>>,
}

impl<T> Fifo<T> {
    /// An empty FIFO whose ring holds `capacity` items (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        Fifo {
            ring: LazyRing::new(capacity),
            spilling: CachePadded::new(AtomicBool::new(false)),
            spill: Mutex::new(VecDeque::new()),
        }
    }

    /// Appends `item`.
    #[inline]
    pub(crate) fn push(&self, item: T) {
        // Acquire: pairs with the Release store in `push_spill`/`pop_spill`
        // (the FIFO argument above rests on coherence of this one flag; the
        // spill's contents are read under its lock).
        let item = if !self.spilling.load(Ordering::Acquire) {
            match self.ring.push(item) {
                Ok(()) => return,
                Err(full) => full,
            }
        } else {
            item
        };
        self.push_spill(item);
    }

    #[cold]
    fn push_spill(&self, item: T) {
        let mut spill = self.spill.lock();
        // Set even if a pop cleared it while we waited for the lock: our
        // item then goes behind ring items pushed meanwhile, all of them
        // concurrent with this push. SeqCst RMW, not a Release store: it
        // publishes the switch to pushes that load it (Acquire) and, as the
        // ring's `SeqCst` claim does on the other path, it is the `SeqCst`
        // operation the queue's push orders its later loads after
        // (`PriorityQueue::load_after_enqueue`): what the occupancy clear
        // and a waiter look at after their fences is this flag, and a pop
        // that sees it takes the lock we hold until the item is in.
        self.spilling.swap(true, Ordering::SeqCst);
        spill.push_back(item);
    }

    /// Removes the oldest item, or `None` if there is none.
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        if let Some(item) = self.ring.pop() {
            return Some(item);
        }
        // Acquire: pairs with the Release store in `push_spill`; read after
        // the ring (see the module doc for why that order suffices).
        if self.spilling.load(Ordering::Acquire) {
            return self.pop_spill();
        }
        None
    }

    #[cold]
    fn pop_spill(&self) -> Option<T> {
        let mut spill = self.spill.lock();
        // The ring first: it holds the older items (a push that found the
        // ring full may have been overtaken by pops that freed room, and
        // later pushes that read `spilling` before it was set are concurrent
        // with every spilled push).
        if let Some(item) = self.ring.pop() {
            return Some(item);
        }
        let item = spill.pop_front();
        // Refill: the ring is empty (but for pushes that read `spilling`
        // before it was set, concurrent with every spilled push), so the
        // oldest spilled items move into it, in order, and the pops after
        // this one take them lock-free instead of each taking this lock.
        // Pushes keep going to the spill (`spilling` stays set), behind
        // them: FIFO holds. `spilling` is cleared only by a pop that found
        // the ring and the spill empty and moved nothing, so a pop that
        // reads it clear (after finding the ring empty) has still seen
        // every item whose push returned before it was called, and the
        // occupancy clear's `is_empty` never misses a moved item (moved
        // items keep the flag set until they are gone).
        let mut moved = false;
        while let Some(next) = spill.pop_front() {
            match self.ring.push(next) {
                Ok(()) => moved = true,
                Err(back) => {
                    spill.push_front(back);
                    break;
                }
            }
        }
        if spill.is_empty() && !moved {
            // Release: pushes that read `false` go to the ring; nothing is
            // left behind in the spill or moved ahead of them.
            self.spilling.store(false, Ordering::Release);
        }
        item
    }

    /// Whether the FIFO holds no item, erring towards `false`: used by the
    /// occupancy word's clear, where `false` only costs a re-set bit. The
    /// ring's check reads its head and tail, so after the caller's `SeqCst`
    /// fence it sees any push that claimed a slot before the pusher's own
    /// fence.
    ///
    /// `spilling` may stay set with nothing left (the refill in `pop_spill`
    /// leaves it for a later pop to clear): then the spill is looked at
    /// under its lock, and the ring after taking it, so a refill that
    /// moved items is seen whole.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        // Acquire: as in `pop`.
        if !self.spilling.load(Ordering::Acquire) {
            return self.ring.is_empty();
        }
        self.spill_is_empty()
    }

    #[cold]
    fn spill_is_empty(&self) -> bool {
        let spill = self.spill.lock();
        spill.is_empty() && self.ring.is_empty()
    }

    /// Items held (a snapshot when other threads are at work).
    pub(crate) fn len(&self) -> usize {
        // Acquire: as in `pop`.
        let spilled = if self.spilling.load(Ordering::Acquire) {
            self.spill.lock().len()
        } else {
            0
        };
        self.ring.len() + spilled
    }

    /// The FIFO's invariant, for a quiescent queue: a non-empty spill has
    /// `spilling` set.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let spill = self.spill.lock();
        // Relaxed: under the lock every writer of the flag holds.
        if !spill.is_empty() && !self.spilling.load(Ordering::Relaxed) {
            return Err(format!(
                "{} items in the spill but `spilling` is clear",
                spill.len()
            ));
        }
        if self.ring.len() > self.ring.capacity() {
            return Err("ring holds more than its capacity".into());
        }
        Ok(())
    }
}

/// The bounded ring (`ring.rs`), allocated on the level's first push so
/// that the 60-odd levels a queue never uses cost nothing. Under loom it is
/// allocated at once (the shim has no `OnceLock`), with at most
/// `LOOM_RING_CAP` slots so that each model builds 64 small rings; the
/// models push fewer items than that to one level unless they ask for a
/// smaller ring.
#[cfg(loom)]
const LOOM_RING_CAP: usize = 4;

struct LazyRing<T> {
    #[cfg(not(loom))]
    ring: std::sync::OnceLock<Ring<T>>,
    #[cfg(loom)]
    ring: Ring<T>,
    capacity: usize,
}

impl<T> LazyRing<T> {
    fn new(capacity: usize) -> Self {
        LazyRing {
            #[cfg(not(loom))]
            ring: std::sync::OnceLock::new(),
            #[cfg(loom)]
            ring: Ring::new(capacity.min(LOOM_RING_CAP)),
            capacity: capacity.max(1),
        }
    }
    #[inline]
    fn get(&self) -> Option<&Ring<T>> {
        #[cfg(not(loom))]
        return self.ring.get();
        #[cfg(loom)]
        return Some(&self.ring);
    }
    #[inline]
    fn push(&self, item: T) -> Result<(), T> {
        #[cfg(not(loom))]
        let ring = self.ring.get_or_init(|| Ring::new(self.capacity));
        #[cfg(loom)]
        let ring = &self.ring;
        ring.push(item)
    }
    #[inline]
    fn pop(&self) -> Option<T> {
        self.get()?.pop()
    }
    #[inline]
    fn is_empty(&self) -> bool {
        self.get().is_none_or(|r| r.is_empty())
    }
    fn len(&self) -> usize {
        self.get().map_or(0, |r| r.len())
    }
    fn capacity(&self) -> usize {
        self.capacity
    }
}
