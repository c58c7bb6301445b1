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
//! `pop`/`pop_timeout` park (and `pop_async` registers a waker), and only
//! when the queue is empty.
//!
//! Waiting: threads and tasks wait on one [`WaitQueue`], the crate's one
//! wait mechanism. A push, after its SeqCst fence, loads the waiter count
//! (no lock, no write when nobody waits) and wakes one thread and every
//! pending task; a waiter takes its item inside the queue's handshake, so
//! a future holds no item across a `Pending`. `close` sets a flag and wakes
//! everyone.
use super::error::Closed;
use super::fifo::Fifo;
use super::level::{Level, LEVELS};
use super::Error;
use crate::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use crate::sync::wait::{spin_for, WaitQueue};
use crossbeam_utils::CachePadded;
use std::cell::Cell;
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
///    (or dropped with the queue). A refused push hands its item back.
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
/// # Closing
///
/// [`close`](Self::close) wakes every waiter, thread or task. A push that
/// starts after `close` returned is refused with its item
/// ([`Closed`]); a push that overlaps `close` may be accepted or refused.
/// Pops keep draining what is queued and report the end (`None` from
/// [`pop`](Self::pop) and [`pop_async`](Self::pop_async)) only when the
/// queue is closed and every item whose push returned before the pop was
/// called has been popped: the same rule as guarantee 1, so an item
/// accepted by a push that overlaps both `close` and a pop may land after
/// that pop reported the end, and a later pop takes it. To lose nothing at
/// shutdown, stop the producers, then close, then let the consumers drain.
///
/// ```
/// use latchwork::queue::{Level, Priority, PriorityQueue};
///
/// let q = PriorityQueue::new();
/// q.push(Priority::Low, "report")?;
/// q.push(Priority::Critical, "alert")?;
/// q.push(Level::new(20)?, "between high and medium")?;
/// q.push(Priority::Critical, "second alert")?;
/// assert_eq!(q.try_pop(), Some((Priority::Critical.into(), "alert")));
/// assert_eq!(q.try_pop(), Some((Priority::Critical.into(), "second alert")));
/// assert_eq!(q.try_pop().map(|(_, s)| s), Some("between high and medium"));
/// assert_eq!(q.len(), 1);
/// q.close();
/// assert_eq!(q.push(Priority::High, "late").unwrap_err().into_inner(), "late");
/// assert_eq!(q.pop().map(|(_, s)| s), Some("report")); // drains, then
/// assert_eq!(q.pop(), None); // reports the end
/// # Ok::<(), Box<dyn std::error::Error>>(())
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
    /// Set once by `close`; read by every push (beside `used`: both
    /// read-mostly, off the lines that pops write).
    closed: AtomicBool,
    levels: Box<[Fifo<T>]>,
    /// Where blocking pops park and `pop_async` futures register; padded
    /// off the words above (waiters write its count, pushes read it).
    wait: CachePadded<WaitQueue>,
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
    ///     q.push(Priority::High, i)?; // the last three overflow, in order
    /// }
    /// let order: Vec<_> = std::iter::from_fn(|| q.try_pop().map(|(_, v)| v)).collect();
    /// assert_eq!(order, [0, 1, 2, 3, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
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
            closed: AtomicBool::new(false),
            levels: (0..LEVELS).map(|_| Fifo::new(capacity)).collect(),
            wait: CachePadded::new(WaitQueue::new()),
        }
    }

    /// Appends `item` at `priority` (a [`Level`] or a [`Priority`](super::Priority))
    /// and wakes one thread parked in [`pop`](Self::pop) and every task
    /// awaiting [`pop_async`](Self::pop_async), if any. Never blocks.
    ///
    /// Returns [`Closed`] with the item if the queue is closed (see
    /// [Closing](Self#closing)).
    pub fn push(&self, priority: impl Into<Level>, item: T) -> Result<(), Closed<T>> {
        // Relaxed: a push that starts after `close` returned happens after
        // its store and reads it by coherence; one that overlaps `close`
        // may go either way (the type's docs).
        if self.closed.load(Ordering::Relaxed) {
            return Err(Closed(item));
        }
        let level = priority.into().index();
        let bit = 1u64 << level;
        // Relaxed (both): `used` needs only coherence. A pop that starts
        // after this push returned happens after the fetch_or and reads the
        // bit; a concurrent pop may miss the item anyway.
        if self.used.load(Ordering::Relaxed) & bit == 0 {
            self.used.fetch_or(bit, Ordering::Relaxed);
        }
        self.levels[level].push(item);
        // The enqueue above must be ordered before the load of `occupied`
        // below, against the fence in `clear_levels` (between its fetch_and
        // and its second look at the level): either that look sees our item
        // and re-sets the bit, or our load sees the bit clear and we set
        // it. The same order, against the waiter's fence, is the notifier
        // half of the wait queue's handshake. See `load_after_enqueue`.
        if self.load_after_enqueue(&self.occupied) & bit == 0 {
            // Release: a popper that reads the bit (Acquire) then sees the
            // item in the FIFO.
            self.occupied.fetch_or(bit, Ordering::Release);
            // The wait handshake needs the bit itself ordered before the
            // load of the waiter count: a fence of its own.
            self.wait.notify_one();
        } else {
            self.notify_after_enqueue();
        }
        Ok(())
    }

    /// Loads `word` ordered after the enqueue just made, as a `SeqCst`
    /// fence between them would order it (the store-buffering pattern of
    /// the module doc, against the fence in `clear_levels` or in the wait
    /// queue's waiter).
    ///
    /// Without loom: a `SeqCst` load. The enqueue ended in a `SeqCst`
    /// read-modify-write (the ring's claim of `tail`) or in a `SeqCst`
    /// fence (`Fifo::push_spill`), and in the C++20 model Rust uses a
    /// `SeqCst` fence on the other side that happens before a load reading
    /// an older value than that RMW precedes the RMW in the single total
    /// order, which precedes this `SeqCst` load; so the two sides cannot
    /// both miss each other. On x86 the load is a plain `mov` where the
    /// fence was a locked instruction that waited for the stamp store to
    /// drain (cachegrind and perf: the fence was the costliest step of a
    /// push on a nearly empty queue).
    ///
    /// Under loom: the fence and a `Relaxed` load, because loom models
    /// `SeqCst` accesses as `AcqRel` and would report the pattern as a
    /// race (it models `SeqCst` fences exactly); the models therefore
    /// check the fence form of the same handshake.
    #[inline]
    fn load_after_enqueue(&self, word: &AtomicU64) -> u64 {
        #[cfg(loom)]
        {
            fence(Ordering::SeqCst);
            // Relaxed: ordered by the fence just above.
            word.load(Ordering::Relaxed)
        }
        #[cfg(not(loom))]
        {
            word.load(Ordering::SeqCst)
        }
    }

    /// The wait queue's notify for a push whose enqueue is ordered as
    /// `load_after_enqueue` describes.
    #[inline]
    fn notify_after_enqueue(&self) {
        // Under loom `load_after_enqueue` issued the fence: the notifier
        // half of the handshake is done. Without loom the waiter count is
        // loaded `SeqCst`, after the enqueue's `SeqCst` claim (or fence),
        // for the same reason as there.
        #[cfg(loom)]
        self.wait.notify_one_fenced();
        #[cfg(not(loom))]
        self.wait.notify_one_seqcst();
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
        // Set bits whose level this pop found empty, and how many (a
        // counter: `count_ones` is a dozen instructions without `popcnt`).
        let mut stale = 0u64;
        let mut stale_count = 0u32;
        let mut rest = candidates;
        while rest != 0 {
            let level = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            if let Some(item) = self.levels[level].pop() {
                if stale_count >= STALE_LIMIT {
                    self.clear_levels(stale);
                }
                return Some((Level::from_index(level), item));
            }
            let bit = word & (1 << level);
            stale |= bit;
            stale_count += u32::from(bit != 0);
        }
        if stale_count >= STALE_LIMIT {
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
    /// empty (after a short bounded spin, no busy waiting); a `push` wakes
    /// it. Returns `None` once the queue is [closed](Self::close) and
    /// drained (see [Closing](Self#closing)).
    pub fn pop(&self) -> Option<(Level, T)> {
        if let Some(got) = self.try_pop() {
            return Some(got);
        }
        if !self.is_closed() {
            if let Some(got) = spin_for(|| self.try_pop()) {
                return Some(got);
            }
        }
        let got = Cell::new(None);
        self.wait.wait_until(|| self.attempt(&got), None);
        got.into_inner().or_else(|| self.try_pop())
    }

    /// Like [`pop`](Self::pop), but gives up and returns `None` after
    /// `timeout` of real time without an item. `None` also means closed
    /// and drained; [`is_closed`](Self::is_closed) tells which.
    pub fn pop_timeout(&self, timeout: Duration) -> Option<(Level, T)> {
        if let Some(got) = self.try_pop() {
            return Some(got);
        }
        if timeout.is_zero() {
            return None;
        }
        // A deadline past what `Instant` holds waits without one.
        let deadline = Instant::now().checked_add(timeout);
        let got = Cell::new(None);
        self.wait.wait_until(|| self.attempt(&got), deadline);
        got.into_inner().or_else(|| self.try_pop())
    }

    /// A waiter's condition, run inside the wait queue's handshake: takes
    /// an item into `got` (true), or reports the queue closed (true).
    #[inline]
    fn attempt(&self, got: &Cell<Option<(Level, T)>>) -> bool {
        match self.try_pop() {
            Some(item) => {
                got.set(Some(item));
                true
            }
            None => self.is_closed(),
        }
    }

    /// The async form of [`pop`](Self::pop): the most urgent item, or
    /// `None` once the queue is closed and drained. The task's waker is
    /// registered on the queue the blocking pops park on. Works on any
    /// executor.
    ///
    /// ```
    /// use latchwork::queue::{Priority, PriorityQueue};
    ///
    /// let q = PriorityQueue::new();
    /// q.push(Priority::Low, "report")?;
    /// q.push(Priority::Critical, "alert")?;
    /// q.close();
    /// futures::executor::block_on(async {
    ///     assert_eq!(q.pop_async().await.map(|(_, s)| s), Some("alert"));
    ///     assert_eq!(q.pop_async().await.map(|(_, s)| s), Some("report"));
    ///     assert_eq!(q.pop_async().await, None);
    /// });
    /// # Ok::<(), latchwork::queue::Closed<&str>>(())
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe: an item is taken only in the poll that returns it, so
    /// dropping the future at any await point loses no item (it stays in
    /// the queue for the next pop) and removes the task's waker. A future
    /// dropped after a push woke it swallows nothing: a push wakes every
    /// pending task.
    #[cfg(feature = "async")]
    pub fn pop_async(&self) -> PopFuture<'_, T> {
        PopFuture(crate::sync::waiting::Waiting::new(Pop {
            queue: self,
            got: crate::sync::Mutex::new(None),
        }))
    }

    /// Closes the queue: pushes that start after this returns are refused
    /// with their item, and every waiter, thread or task, is woken; pops
    /// drain what is queued, then report the end (see
    /// [Closing](Self#closing)). Idempotent.
    pub fn close(&self) {
        // SeqCst; the wait queue's fence in `notify` orders it before the
        // load of the waiter count (the notifier half of the handshake).
        self.closed.store(true, Ordering::SeqCst);
        self.wait.notify();
    }

    /// Whether [`close`](Self::close) has been called.
    pub fn is_closed(&self) -> bool {
        // Relaxed: a flag set once; waiters read it after the wait queue's
        // fence, which orders it against `close`.
        self.closed.load(Ordering::Relaxed)
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

    /// The wait queue that `push` notifies, for the task pool's workers.
    pub(crate) fn wait_queue(&self) -> &WaitQueue {
        &self.wait
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
            fifo.check_invariants()
                .map_err(|e| format!("level {l}: {e}"))?;
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

/// The future of [`PriorityQueue::pop_async`]; dropping it removes its
/// waker and loses no item.
#[cfg(feature = "async")]
#[must_use = "futures do nothing unless polled"]
pub struct PopFuture<'a, T>(crate::sync::waiting::Waiting<Pop<'a, T>>);

/// What a [`PopFuture`] waits for: an item, or the close. The item is
/// taken inside the handshake (`ready`) into `got` and returned in that
/// very poll (`take`): nothing is held across a `Pending`. A mutex, not a
/// `Cell`, keeps the future `Sync`; `take` reaches it through `&mut`
/// without locking, and `ready` runs only on the slow path.
#[cfg(feature = "async")]
struct Pop<'a, T> {
    queue: &'a PriorityQueue<T>,
    got: crate::sync::Mutex<Option<(Level, T)>>,
}

#[cfg(feature = "async")]
impl<T> crate::sync::waiting::WaitOn for Pop<'_, T> {
    fn queue(&self) -> &crate::sync::wait::WaitQueue {
        &self.queue.wait
    }
}

#[cfg(feature = "async")]
impl<T> crate::sync::waiting::WaitFor for Pop<'_, T> {
    type Output = Option<(Level, T)>;

    fn take(&mut self) -> Option<Self::Output> {
        if let Some(item) = self.got.get_mut().take().or_else(|| self.queue.try_pop()) {
            return Some(Some(item));
        }
        // Closed: what a push begun before the close left, else the end.
        self.queue.is_closed().then(|| self.queue.try_pop())
    }

    fn ready(&self) -> bool {
        let got = Cell::new(None);
        let ready = self.queue.attempt(&got);
        if let Some(item) = got.into_inner() {
            *self.got.lock() = Some(item);
        }
        ready
    }
}

#[cfg(feature = "async")]
impl<T> std::future::Future for PopFuture<'_, T> {
    type Output = Option<(Level, T)>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

#[cfg(feature = "async")]
impl<T> fmt::Debug for PopFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopFuture").finish_non_exhaustive()
    }
}
