//! A bounded lock-free MPMC ring with per-slot stamps: crossbeam's
//! `ArrayQueue` algorithm (Vyukov's bounded queue), kept here so that a pop
//! which finds its slot claimed but not yet written climbs the kernel's
//! ladder (spin, yield, then short naps: `sync::spin`) instead of
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
use crate::sync::spin::SpinWait;
use crate::sync::UnsafeCell;
use crossbeam_utils::CachePadded;
use std::mem::MaybeUninit;

struct Slot<T> {
    /// See the module's table.
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// `head` and `tail` on one line (padded off the rest): a pop of an empty
/// ring, the probe a priority queue makes of each level above the one it
/// takes from, then reads one line instead of two, and a push or pop of a
/// nearly empty ring reads the other end where it writes its own. A deep
/// ring pays little for it: the empty check of every pop already reads
/// `tail`, so pushers and poppers passed that line back and forth anyway.
struct Ends {
    head: AtomicUsize,
    tail: AtomicUsize,
}

pub(crate) struct Ring<T> {
    ends: CachePadded<Ends>,
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
            ends: CachePadded::new(Ends {
                head: AtomicUsize::new(0),
                tail: AtomicUsize::new(0),
            }),
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
        let mut spin = SpinWait::new();
        // Relaxed: a guess, checked against the slot's stamp and by the CAS.
        let mut tail = self.ends.tail.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[tail & (self.one_lap - 1)];
            // Acquire: pairs with the Release stamp store of the pop that
            // emptied this slot last lap, so its read of the value is done.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                // SeqCst: the claim is what `is_empty` and the occupancy
                // clear look for after their fences.
                match self.ends.tail.compare_exchange_weak(
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
                        spin.backoff();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The slot still holds last lap's value: full, unless a pop
                // has claimed it since.
                fence(Ordering::SeqCst);
                // Relaxed: ordered by the fence.
                let head = self.ends.head.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(value);
                }
                spin.backoff();
                // Relaxed: as above.
                tail = self.ends.tail.load(Ordering::Relaxed);
            } else {
                // A pop claimed the slot and has not released it yet (or our
                // `tail` is stale): wait, yielding, for it may be preempted.
                spin.nap();
                // Relaxed: as above.
                tail = self.ends.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Removes the oldest value, or returns `None` if the ring is empty.
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        // `is_empty` inline (two loads; the loop's empty path costs a
        // fence), keeping `head` as the loop's first guess.
        // SeqCst (both): as in `is_empty`.
        let mut head = self.ends.head.load(Ordering::SeqCst);
        if head == self.ends.tail.load(Ordering::SeqCst) {
            return None;
        }
        let mut spin = SpinWait::new();
        loop {
            let slot = &self.slots[head & (self.one_lap - 1)];
            // Acquire: pairs with the push's Release stamp store, so the
            // value is written.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head + 1 {
                match self.ends.head.compare_exchange_weak(
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
                        spin.backoff();
                    }
                }
            } else if stamp == head {
                fence(Ordering::SeqCst);
                // Relaxed: ordered by the fence.
                let tail = self.ends.tail.load(Ordering::Relaxed);
                if tail == head {
                    return None;
                }
                // A push claimed the slot and is writing it. It may be
                // preempted: the ladder yields, then naps, rather than
                // spins (see the module doc).
                spin.nap();
                // Relaxed: as above.
                head = self.ends.head.load(Ordering::Relaxed);
            } else {
                // Our `head` is stale (another pop took the slot).
                spin.backoff();
                // Relaxed: as above.
                head = self.ends.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Whether no push has claimed a slot that no pop has claimed. `SeqCst`
    /// loads: after a caller's `SeqCst` fence they see every claim made
    /// before the pusher's own fence (the occupancy clear relies on it); and
    /// a push that returned before this call is always seen.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        let head = self.ends.head.load(Ordering::SeqCst);
        let tail = self.ends.tail.load(Ordering::SeqCst);
        head == tail
    }

    /// Values held (a snapshot when other threads are at work).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.ends.tail.load(Ordering::SeqCst);
            let head = self.ends.head.load(Ordering::SeqCst);
            if self.ends.tail.load(Ordering::SeqCst) == tail {
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

/// Tests of the unsafe slot protocol, small enough for Miri
/// (`cargo +nightly miri test --lib miri_`): non-`Copy` values that own a
/// box and count their drops, pushed and popped across laps of a
/// ring whose capacity is not a power of two, left in rings that are then
/// dropped, and raced by two threads. Miri checks the `MaybeUninit` writes
/// and reads, the data races and the leaks; the counters check that every
/// value is dropped exactly once and the stamps match the module's table.
#[cfg(all(test, not(loom)))]
mod miri_tests {
    use super::Ring;
    use crate::sync::atomic::{AtomicUsize, Ordering};
    use crate::sync::Arc;
    use std::thread;

    /// One drop counter per value id.
    struct Drops(Vec<AtomicUsize>);

    impl Drops {
        fn new(n: usize) -> Arc<Self> {
            Arc::new(Drops((0..n).map(|_| AtomicUsize::new(0)).collect()))
        }

        /// Panics unless every id was dropped exactly once.
        fn assert_each_once(&self) {
            for (id, d) in self.0.iter().enumerate() {
                // Relaxed: read after the threads that dropped were joined.
                let n = d.load(Ordering::Relaxed);
                assert_eq!(n, 1, "value {id} dropped {n} times");
            }
        }
    }

    /// A value that owns heap memory and counts its drop.
    struct Counted {
        id: usize,
        /// `id` again, boxed: a torn or uninitialised value shows here.
        boxed: Box<usize>,
        drops: Arc<Drops>,
    }

    impl Counted {
        fn new(id: usize, drops: &Arc<Drops>) -> Self {
            Counted {
                id,
                boxed: Box::new(id),
                drops: Arc::clone(drops),
            }
        }
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            assert_eq!(*self.boxed, self.id, "torn value");
            // Relaxed: a counter, read after a join.
            self.drops.0[self.id].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Checks a quiescent ring against the module's stamp table: from
    /// `head`, `len` full slots (stamp = position + 1) reach `tail`, then
    /// the empty ones (stamp = position) complete one lap.
    fn check_stamps<T>(ring: &Ring<T>) {
        // Relaxed: no other thread is at work.
        let head = ring.ends.head.load(Ordering::Relaxed);
        let tail = ring.ends.tail.load(Ordering::Relaxed);
        let len = ring.len();
        let mut pos = head;
        for i in 0..ring.capacity() {
            if i == len {
                assert_eq!(pos, tail, "{len} full slots from head {head} miss tail");
            }
            let full = i < len;
            let slot = &ring.slots[pos & (ring.one_lap - 1)];
            let stamp = slot.stamp.load(Ordering::Relaxed);
            let want = if full { pos + 1 } else { pos };
            assert_eq!(stamp, want, "position {pos:#x} (full: {full})");
            pos = ring.next(pos);
        }
        assert_eq!(ring.is_empty(), len == 0);
    }

    /// Push to full (the rejected value comes back whole and is pushed
    /// again later), pop two, repeat, over several laps of a 3-slot ring
    /// (`one_lap` 4, so `next` skips an index each lap): FIFO order, and
    /// each value dropped once.
    #[test]
    fn miri_single_thread_laps_with_drops() {
        const N: usize = 14;
        let drops = Drops::new(N);
        let ring = Ring::new(3);
        let (mut created, mut popped) = (0, 0);
        let mut pending: Option<Counted> = None;
        while popped < N {
            // Fill until the ring hands a value back or every id is in.
            loop {
                let v = match pending.take() {
                    Some(v) => v,
                    None if created < N => {
                        created += 1;
                        Counted::new(created - 1, &drops)
                    }
                    None => break,
                };
                let id = v.id;
                if let Err(back) = ring.push(v) {
                    assert_eq!(back.id, id, "a full ring hands back the value pushed");
                    assert_eq!(ring.len(), 3);
                    pending = Some(back);
                    break;
                }
            }
            check_stamps(&ring);
            for _ in 0..2 {
                if let Some(v) = ring.pop() {
                    assert_eq!(v.id, popped);
                    popped += 1;
                }
            }
            check_stamps(&ring);
        }
        assert!(pending.is_none());
        assert!(ring.pop().is_none());
        check_stamps(&ring);
        drop(ring);
        drops.assert_each_once();
    }

    /// Rings dropped while holding 0 to `capacity` values, after the head
    /// has been turned by every offset (so the values wrap the end of the
    /// slot array): `Drop` drops exactly the values left, each once.
    #[test]
    fn miri_drop_of_a_ring_holding_values() {
        for capacity in [1usize, 3] {
            for turn in 0..=capacity {
                for fill in 0..=capacity {
                    let drops = Drops::new(turn + fill);
                    let ring = Ring::new(capacity);
                    for id in 0..turn {
                        assert!(ring.push(Counted::new(id, &drops)).is_ok());
                        assert_eq!(ring.pop().map(|v| v.id), Some(id));
                    }
                    for id in turn..turn + fill {
                        assert!(ring.push(Counted::new(id, &drops)).is_ok());
                    }
                    assert_eq!(ring.len(), fill);
                    check_stamps(&ring);
                    drop(ring);
                    drops.assert_each_once();
                }
            }
        }
    }

    /// One producer thread and the main thread popping, on a 2-slot ring:
    /// every value arrives once, whole and in order, and pushes wait on a
    /// full ring while the popper empties it.
    #[test]
    fn miri_producer_and_consumer_threads() {
        const N: usize = 8;
        let drops = Drops::new(N);
        let ring = Arc::new(Ring::new(2));
        let producer = {
            let (ring, drops) = (Arc::clone(&ring), Arc::clone(&drops));
            thread::spawn(move || {
                for id in 0..N {
                    let mut v = Counted::new(id, &drops);
                    while let Err(back) = ring.push(v) {
                        v = back;
                        thread::yield_now();
                    }
                }
            })
        };
        let mut next = 0;
        while next < N {
            match ring.pop() {
                Some(v) => {
                    assert_eq!(v.id, next);
                    next += 1;
                }
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert!(ring.pop().is_none());
        check_stamps(&ring);
        drop(ring);
        drops.assert_each_once();
    }

    /// Two threads that both push and pop on a 2-slot ring, leaving what
    /// they did not pop for the ring's `Drop`: each value is popped or
    /// dropped by the ring, exactly once.
    #[test]
    fn miri_two_threads_push_and_pop_then_drop() {
        const PER_THREAD: usize = 4;
        let drops = Drops::new(2 * PER_THREAD);
        let ring = Arc::new(Ring::new(2));
        let work = |t: usize, ring: Arc<Ring<Counted>>, drops: Arc<Drops>| {
            let mut popped = 0;
            for i in 0..PER_THREAD {
                let mut v = Counted::new(t * PER_THREAD + i, &drops);
                // A full ring: pop one to make room, then retry.
                while let Err(back) = ring.push(v) {
                    v = back;
                    popped += usize::from(ring.pop().is_some());
                }
                if i % 2 == 1 {
                    popped += usize::from(ring.pop().is_some());
                }
            }
            popped
        };
        let other = {
            let (ring, drops) = (Arc::clone(&ring), Arc::clone(&drops));
            thread::spawn(move || work(1, ring, drops))
        };
        let mine = work(0, Arc::clone(&ring), Arc::clone(&drops));
        let theirs = other.join().unwrap();
        let ring = Arc::into_inner(ring).expect("the other thread is joined");
        check_stamps(&ring);
        assert_eq!(mine + theirs + ring.len(), 2 * PER_THREAD);
        drop(ring);
        drops.assert_each_once();
    }
}
