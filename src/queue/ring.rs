//! A bounded lock-free MPMC ring with per-slot stamps: crossbeam's
//! `ArrayQueue` algorithm (Vyukov's bounded queue), kept here so that a pop
//! which finds its slot claimed but not yet written *yields* instead of
//! spinning. `ArrayQueue::pop` spins without yielding in that state; with
//! more threads than cores a pusher preempted between its claim and its
//! write then stalls every popper of the level for a whole time slice (the
//! 4-thread collapse measured in `docs/benchmarks.md`).
//!
//! `head` and `tail` are stamps `lap | index`: the low bits index `slots`,
//! the bits from `one_lap` up count laps (wrapping). Each slot's `stamp`:
//!
//! | slot stamp            | state                                      |
//! |-----------------------|--------------------------------------------|
//! | `== t` (a tail value) | empty; the push that moves `tail` from `t` writes it |
//! | `== h + 1` (`h` head) | full; the pop that moves `head` from `h` reads it   |
//! | `== h + one_lap`      | empty again, for the next lap              |
//!
//! # Invariants (what the `unsafe` blocks rely on)
//!
//! 1. **Exclusive write.** Only the thread whose CAS moved `tail` from `t`
//!    writes `slots[index(t)].value`, and only before it stores the stamp
//!    `t + 1`; no pop reads the slot before it sees that stamp (Acquire).
//! 2. **Exclusive read.** Only the thread whose CAS moved `head` from `h`
//!    (having seen stamp `h + 1`, so the value is initialised) reads the
//!    slot, once, moving the value out, and only before it stores the stamp
//!    `h + one_lap`; no push writes the slot before it sees that stamp.
//! 3. **Drop.** A value is initialised exactly between a push's write and
//!    the matching pop's read, so `Drop` pops what is left and nothing else.
use crate::sync::atomic::{fence, AtomicUsize, Ordering};
use crate::sync::UnsafeCell;
use crossbeam_utils::CachePadded;
use std::mem::MaybeUninit;

struct Slot<T> {
    /// See the module's table.
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

pub(crate) struct Ring<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    one_lap: usize,
}

// SAFETY: the ring hands each value from exactly one pushing thread to
// exactly one popping thread (invariants 1 and 2), so sharing it needs only
// `T: Send`, as for a channel.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; `&Ring` gives no access to a `&T`.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// An empty ring of `capacity` slots (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let one_lap = (capacity + 1).next_power_of_two();
        Ring {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots: (0..capacity)
                .map(|i| Slot {
                    stamp: AtomicUsize::new(i),
                    value: UnsafeCell::new(MaybeUninit::uninit()),
                })
                .collect(),
            one_lap,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The stamp after `stamp`: the next index, or index 0 of the next lap.
    #[inline]
    fn next(&self, stamp: usize) -> usize {
        let index = stamp & (self.one_lap - 1);
        if index + 1 < self.slots.len() {
            stamp + 1
        } else {
            (stamp & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// Appends `value`, or hands it back if the ring is full.
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<(), T> {
        let backoff = Backoff::new();
        // Relaxed: a guess, checked against the slot's stamp and by the CAS.
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[tail & (self.one_lap - 1)];
            // Acquire: pairs with the Release stamp store of the pop that
            // emptied this slot last lap, so its read of the value is done.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                // SeqCst: the claim is what `is_empty` and the occupancy
                // clear look for after their fences.
                match self.tail.compare_exchange_weak(
                    tail,
                    self.next(tail),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: invariant 1: our CAS moved `tail` from
                        // `tail`, and the stamp says the slot is empty.
                        slot.value
                            .with_mut(|p| unsafe { p.write(MaybeUninit::new(value)) });
                        // Release: publishes the value to the pop that
                        // sees this stamp (Acquire).
                        slot.stamp.store(tail + 1, Ordering::Release);
                        return Ok(());
                    }
                    Err(t) => {
                        tail = t;
                        backoff.spin();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The slot still holds last lap's value: full, unless a pop
                // has claimed it since.
                fence(Ordering::SeqCst);
                // Relaxed: ordered by the fence.
                let head = self.head.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(value);
                }
                backoff.spin();
                // Relaxed: as above.
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // A pop claimed the slot and has not released it yet (or our
                // `tail` is stale): wait, yielding, for it may be preempted.
                wait_for_other(&backoff);
                // Relaxed: as above.
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Removes the oldest value, or returns `None` if the ring is empty.
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        if self.is_empty() {
            // Two loads; the loop's empty path costs a fence.
            return None;
        }
        let backoff = Backoff::new();
        // Relaxed: a guess, checked against the slot's stamp and by the CAS.
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[head & (self.one_lap - 1)];
            // Acquire: pairs with the push's Release stamp store, so the
            // value is written.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head + 1 {
                match self.head.compare_exchange_weak(
                    head,
                    self.next(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: invariant 2: our CAS moved `head` from
                        // `head`, and the stamp says the push wrote it.
                        let value = slot.value.with(|p| unsafe { p.read().assume_init() });
                        // Release: hands the emptied slot to the next lap's
                        // push (Acquire), after our read.
                        slot.stamp
                            .store(head.wrapping_add(self.one_lap), Ordering::Release);
                        return Some(value);
                    }
                    Err(h) => {
                        head = h;
                        backoff.spin();
                    }
                }
            } else if stamp == head {
                fence(Ordering::SeqCst);
                // Relaxed: ordered by the fence.
                let tail = self.tail.load(Ordering::Relaxed);
                if tail == head {
                    return None;
                }
                // A push claimed the slot and is writing it. It may be
                // preempted: yield, then sleep, rather than spin (see the
                // module doc).
                wait_for_other(&backoff);
                // Relaxed: as above.
                head = self.head.load(Ordering::Relaxed);
            } else {
                // Our `head` is stale (another pop took the slot).
                backoff.spin();
                // Relaxed: as above.
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Whether no push has claimed a slot that no pop has claimed. `SeqCst`
    /// loads: after a caller's `SeqCst` fence they see every claim made
    /// before the pusher's own fence (the occupancy clear relies on it); and
    /// a push that returned before this call is always seen.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        head == tail
    }

    /// Values held (a snapshot when other threads are at work).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) == tail {
                let (hi, ti) = (head & (self.one_lap - 1), tail & (self.one_lap - 1));
                return if hi < ti {
                    ti - hi
                } else if hi > ti {
                    self.capacity() - hi + ti
                } else if tail == head {
                    0
                } else {
                    self.capacity()
                };
            }
        }
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Invariant 3: what is left is exactly what pops would return.
        if std::mem::needs_drop::<T>() {
            while self.pop().is_some() {}
        }
    }
}

/// Waits for another thread to finish a step it has begun (a claimed slot
/// not yet written or released): spin, then yield, then sleep a little.
/// Yielding alone is not enough when the machine is oversubscribed: the
/// waiters stay runnable and compete with the preempted thread they wait
/// for; a short sleep leaves it the core.
#[inline]
fn wait_for_other(backoff: &Backoff) {
    #[cfg(not(loom))]
    if backoff.is_completed() {
        std::thread::sleep(std::time::Duration::from_micros(20));
        return;
    }
    backoff.snooze();
}

/// Spin-then-yield waiting: crossbeam's `Backoff`, or under loom a yield
/// per step so that the model makes progress.
#[cfg(not(loom))]
use crossbeam_utils::Backoff;

#[cfg(loom)]
struct Backoff;

#[cfg(loom)]
impl Backoff {
    fn new() -> Self {
        Backoff
    }
    fn spin(&self) {
        crate::sync::spin_loop();
    }
    fn snooze(&self) {
        crate::sync::spin_loop();
    }
}
