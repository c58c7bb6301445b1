//! [`PriorityQueue`]: one FIFO per level and a 64-bit occupancy word.
//!
//! ```text
//!   occupied: 0b...0101        bit l set  => level l may hold items
//!                 | |          bit l clear => no item whose push returned
//!   levels: [0] [1] [2] ...                   before the word was read
//!            FIFO FIFO FIFO    (ring + spill, see `fifo.rs`)
//! ```
//!
//! `push` appends to its level's FIFO, then sets the level's bit unless it
//! is set already (a load, no write, in the steady state). `try_pop` reads
//! the word once and pops from the set levels, most urgent first.
//!
//! Bits are cleared lazily: a set bit over an empty level is only a hint
//! that costs later poppers a probe of that level (two loads), never a
//! wrong answer. A popper that passes over set bits whose levels are empty
//! leaves them set unless there were `STALE_LIMIT` or more of them; then
//! it clears them all with one `fetch_and`. A queue that oscillates between
//! empty and one item on a few levels therefore never writes the word after
//! its first pushes, where an eager clear cost two RMWs, a fence, a re-check
//! and a re-set per pop, and the next push another RMW to set the bit back. The
//! clear itself is the same handshake as before: clear, fence, look at each
//! level again and set back the bits of levels a push slipped into (so no
//! item is stranded behind a clear bit). While such a clear is in flight the
//! word can understate the occupied levels; poppers detect that with two
//! counters (packed in `clears`) read around the word and then probe every
//! level ever pushed to (the `used` word) instead of trusting it. All of this is lock-free apart from a
//! level's spill (taken only when its ring is full); only the blocking
//! `pop`/`pop_timeout` park, and only when the queue is empty.
use super::fifo::Fifo;
use super::level::{Level, LEVELS};
use super::park::{spin_for, Parker};
use super::Error;
use crate::sync::atomic::{fence, AtomicU64, Ordering};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::time::{Duration, Instant};

/// Low half of `clears`: clears in flight.
const IN_FLIGHT: u64 = u32::MAX as u64;
/// Added to `clears` when a clear finishes: one generation up, one in
/// flight down.
const FINISH: u64 = (1 << 32) - 1;

/// A pop that passes over this many stale bits (set, level empty), on its
/// way to an item or to `None`, clears them; fewer are left set. Bounds the
/// probes a pop wastes to `STALE_LIMIT - 1`; four keeps the common "a few
/// levels in use" shape free of clears altogether.
pub(crate) const STALE_LIMIT: u32 = 4;

/// Items each level's lock-free ring holds before the level spills into
/// its locked overflow (see [`PriorityQueue::with_ring_capacity`]).
pub const DEFAULT_RING_CAPACITY: usize = 1024;

/// A concurrent, strictly ordered multi-level priority queue.
///
/// Levels run from 0 (most urgent) to [`LEVELS`]` - 1`; within a level items
/// leave in the order they were pushed. Every method takes `&self`; share it
/// with an `Arc`.
///
/// # Ordering guarantee
///
/// 1. **Priority.** A pop that returns an item of level `L` happens only
///    when every item of a more urgent level (`< L`) whose `push` returned
///    before that pop was called has already been popped. Likewise a pop
///    returns `None` (or parks) only when every item whose `push` returned
///    before the call has been popped.
/// 2. **FIFO within a level.** Items of one level leave in push order: if
///    `push(l, a)` returns before `push(l, b)` is called, `a` is popped
///    before `b`. Concurrent pushes to one level are ordered as the level's
///    FIFO linearizes them.
/// 3. **Exactly once.** Every pushed item is returned by exactly one pop
///    (or dropped with the queue).
///
/// The one relaxation against a linearizable `Mutex<BinaryHeap>`: a push
/// that is *concurrent* with a pop (neither returned before the other was
/// called) may or may not be seen by that pop, even if a less urgent item
/// that the pop returns was pushed later. A pop reads the levels one after
/// another, not as one atomic snapshot; making it atomic would need a
/// global lock or a global sequence number, which is the serialisation this
/// queue exists to avoid. No caller can tell the difference without a
/// clock that orders operations whose calls overlap. `tests/queue_linearizability.rs`
/// checks recorded concurrent histories against exactly this guarantee.
///
/// ```
/// use latchwork::queue::{Level, Priority, PriorityQueue};
///
/// let q = PriorityQueue::new();
/// q.push(Priority::Low, "report");
/// q.push(Priority::Critical, "alert");
/// q.push(Level::new(20)?, "between high and medium");
/// q.push(Priority::Critical, "second alert");
/// assert_eq!(q.try_pop(), Some((Priority::Critical.into(), "alert")));
/// assert_eq!(q.try_pop(), Some((Priority::Critical.into(), "second alert")));
/// assert_eq!(q.try_pop().map(|(_, s)| s), Some("between high and medium"));
/// assert_eq!(q.len(), 1);
/// # Ok::<(), latchwork::queue::Error>(())
/// ```
pub struct PriorityQueue<T> {
    /// Bit `l` = level `l` may be non-empty. Invariant: a bit is cleared
    /// only by `clear_levels`, which sets it again if the level turns out to
    /// be non-empty; so a clear bit outside a clear in flight means the
    /// level held no completed push when the word was read.
    occupied: CachePadded<AtomicU64>,
    /// Clears in flight, packed so a popper reads them in one line:
    ///
    /// ```text
    ///   bits 63..32: generation, +1 when a clear finishes (wraps)
    ///   bits 31..0 : clears begun and not yet finished
    /// ```
    ///
    /// The same value read just before and just after `occupied`, with no
    /// clear in flight, proves no clear overlapped that read.
    clears: CachePadded<AtomicU64>,
    /// Bit `l` = level `l` has ever been pushed to (set once, never
    /// cleared). What a popper probes when a clear in flight makes
    /// `occupied` untrustworthy.
    used: AtomicU64,
    levels: Box<[Fifo<T>]>,
    parker: Parker,
}

impl<T> Default for PriorityQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> PriorityQueue<T> {
    /// An empty queue with [`LEVELS`] levels, each with a lock-free ring of
    /// [`DEFAULT_RING_CAPACITY`] items (allocated on the level's first push).
    pub fn new() -> Self {
        Self::build(DEFAULT_RING_CAPACITY)
    }

    /// An empty queue whose levels' lock-free rings hold `capacity` items
    /// each. The queue stays unbounded: a level whose ring is full takes
    /// further items into a locked overflow, in order, until it drains. A
    /// larger ring keeps a deep backlog lock-free at the price of memory
    /// (`capacity` slots of `T` plus a word, per level used).
    ///
    /// Returns [`Error::ZeroCapacity`] for `0`.
    ///
    /// ```
    /// use latchwork::queue::{Priority, PriorityQueue};
    ///
    /// let q = PriorityQueue::with_ring_capacity(2)?;
    /// for i in 0..5 {
    ///     q.push(Priority::High, i); // the last three overflow, in order
    /// }
    /// let order: Vec<_> = std::iter::from_fn(|| q.try_pop().map(|(_, v)| v)).collect();
    /// assert_eq!(order, [0, 1, 2, 3, 4]);
    /// # Ok::<(), latchwork::queue::Error>(())
    /// ```
    pub fn with_ring_capacity(capacity: usize) -> Result<Self, Error> {
        if capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        Ok(Self::build(capacity))
    }

    fn build(capacity: usize) -> Self {
        PriorityQueue {
            occupied: CachePadded::new(AtomicU64::new(0)),
            clears: CachePadded::new(AtomicU64::new(0)),
            used: AtomicU64::new(0),
            levels: (0..LEVELS).map(|_| Fifo::new(capacity)).collect(),
            parker: Parker::new(),
        }
    }

    /// Appends `item` at `priority` (a [`Level`] or a [`Priority`](super::Priority))
    /// and wakes one thread parked in [`pop`](Self::pop), if any. Never blocks.
    pub fn push(&self, priority: impl Into<Level>, item: T) {
        let level = priority.into().index();
        let bit = 1u64 << level;
        // Relaxed (both): `used` needs only coherence. A pop that starts
        // after this push returned happens after the fetch_or and reads the
        // bit; a concurrent pop may miss the item anyway.
        if self.used.load(Ordering::Relaxed) & bit == 0 {
            self.used.fetch_or(bit, Ordering::Relaxed);
        }
        self.levels[level].push(item);
        // SeqCst fence: orders the enqueue above before the load of
        // `occupied` below, against the fence in `clear_levels` (between its
        // fetch_and and its second look at the level): either that look
        // sees our item and re-sets the bit, or our load sees the bit clear
        // and we set it. It also serves the park handshake (`Parker`).
        fence(Ordering::SeqCst);
        // Relaxed: ordered by the fence; only decides whether to set.
        if self.occupied.load(Ordering::Relaxed) & bit == 0 {
            // Release: a popper that reads the bit (Acquire) then sees the
            // item in the FIFO.
            self.occupied.fetch_or(bit, Ordering::Release);
            // The park handshake needs the bit itself ordered before the
            // load of the sleeper count.
            self.parker.unpark_one();
        } else {
            self.parker.unpark_one_fenced();
        }
    }

    /// Removes the most urgent item (the oldest of its level), or returns
    /// `None` if the queue is empty. Never blocks. See the type's docs for
    /// the exact guarantee.
    pub fn try_pop(&self) -> Option<(Level, T)> {
        // Acquire (all three): the first read of `clears` cannot see the
        // finish of a clear whose re-set our read of `occupied` misses (the
        // finish is released after the re-set); the second read sees the
        // start of any clear whose fetch_and our read of `occupied` observed
        // (the start is sequenced before that fetch_and, and Acquire on
        // `occupied` synchronises with it). So equal reads with nothing in
        // flight mean no clear overlapped the read of the word.
        let before = self.clears.load(Ordering::Acquire);
        let word = self.occupied.load(Ordering::Acquire);
        let after = self.clears.load(Ordering::Acquire);
        let trusted = before == after && before & IN_FLIGHT == 0;
        // Untrusted: probe every level ever pushed to instead.
        // Relaxed: see `push`.
        let candidates = if trusted {
            word
        } else {
            self.used.load(Ordering::Relaxed)
        };
        // Set bits whose level this pop found empty.
        let mut stale = 0u64;
        let mut rest = candidates;
        while rest != 0 {
            let level = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            if let Some(item) = self.levels[level].pop() {
                if stale.count_ones() >= STALE_LIMIT {
                    self.clear_levels(stale);
                }
                return Some((Level::from_index(level), item));
            }
            stale |= word & (1 << level);
        }
        if stale.count_ones() >= STALE_LIMIT {
            self.clear_levels(stale);
        }
        None
    }

    /// Clears the bits in `mask` after finding their levels empty, then
    /// restores those of levels a push raced into.
    #[cold]
    fn clear_levels(&self, mask: u64) {
        // Relaxed: the fetch_and below (Release) publishes this start to
        // any popper that observes the clear.
        self.clears.fetch_add(1, Ordering::Relaxed);
        // Release: see above; poppers read `occupied` with Acquire.
        self.occupied.fetch_and(!mask, Ordering::Release);
        // SeqCst fence: pairs with the fence in `push` (see there).
        fence(Ordering::SeqCst);
        let mut back = 0u64;
        let mut rest = mask;
        while rest != 0 {
            let level = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            if !self.levels[level].is_empty() {
                back |= 1 << level;
            }
        }
        if back != 0 {
            // Release: as in `push`.
            self.occupied.fetch_or(back, Ordering::Release);
        }
        // Release: publishes the re-set to a popper whose Acquire load of
        // `clears` sees this finish. Adds one generation, removes one in
        // flight.
        self.clears.fetch_add(FINISH, Ordering::Release);
    }

    /// Removes the most urgent item, parking the thread while the queue is
    /// empty (no spinning); a `push` wakes it.
    pub fn pop(&self) -> (Level, T) {
        loop {
            if let Some(got) = self.try_pop().or_else(|| spin_for(|| self.try_pop())) {
                return got;
            }
            if let Some(got) = self.parker.park(None, || self.try_pop()) {
                return got;
            }
        }
    }

    /// Like [`pop`](Self::pop), but gives up and returns `None` after
    /// `timeout` of real time without an item.
    pub fn pop_timeout(&self, timeout: Duration) -> Option<(Level, T)> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(got) = self.try_pop() {
                return Some(got);
            }
            let left = match deadline {
                Some(d) => d.checked_duration_since(Instant::now())?,
                None => Duration::MAX,
            };
            if left.is_zero() {
                return None;
            }
            if let Some(got) = self.parker.park(Some(left), || self.try_pop()) {
                return Some(got);
            }
        }
    }

    /// Items in the queue. Exact when no push or pop runs concurrently;
    /// otherwise a snapshot that may be off by the operations in flight.
    pub fn len(&self) -> usize {
        self.levels.iter().map(|l| l.len()).sum()
    }

    /// Items at `level` (same caveat as [`len`](Self::len)).
    pub fn level_len(&self, level: impl Into<Level>) -> usize {
        self.levels[level.into().index()].len()
    }

    /// Whether the queue holds no item (same caveat as [`len`](Self::len)).
    pub fn is_empty(&self) -> bool {
        self.levels.iter().all(|l| l.is_empty())
    }

    /// The parking lot that `push` wakes, for the task pool's workers.
    pub(crate) fn parker(&self) -> &Parker {
        &self.parker
    }

    /// Checks the structural invariants once the queue is quiescent: every
    /// non-empty level has its bit set, no clear is in flight, and each
    /// level's overflow is flagged. For tests and fuzz targets.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        // Acquire: quiescent; pairs with the pushes' release.
        let word = self.occupied.load(Ordering::Acquire);
        // Acquire: quiescent; pairs with the clears' release.
        if self.clears.load(Ordering::Acquire) & IN_FLIGHT != 0 {
            return Err("a clear is still in flight".into());
        }
        for (l, fifo) in self.levels.iter().enumerate() {
            if !fifo.is_empty() && word & (1 << l) == 0 {
                return Err(format!("level {l} holds items but its bit is clear"));
            }
            fifo.validate().map_err(|e| format!("level {l}: {e}"))?;
        }
        Ok(())
    }
}

impl<T> fmt::Debug for PriorityQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PriorityQueue")
            .field("len", &self.len())
            // Relaxed: a diagnostic snapshot.
            .field(
                "occupied",
                &format_args!("{:#x}", self.occupied.load(Ordering::Relaxed)),
            )
            .finish_non_exhaustive()
    }
}
