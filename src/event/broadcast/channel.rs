//! Senders, receivers and the shared state that ties them to the ring.
use super::ring::{Read, Ring};
use crate::event::Error;
use crate::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::sync::Arc;
use crate::wait::WaitKey;
use crate::wait::WaitQueue as Parker;
use crossbeam_utils::CachePadded;
use std::fmt;
#[cfg(feature = "async")]
use std::future::Future;
#[cfg(feature = "async")]
use std::pin::Pin;
#[cfg(feature = "async")]
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// What a `Backpressure` registry entry holds when no receiver uses it.
const FREE: u64 = u64::MAX;

/// The largest ring a channel may have, in slots (2^24, about 16.8
/// million). A ring is allocated whole when the channel is built (a slot is
/// 16 bytes plus the message), so a larger request would commit gigabytes
/// up front; within this bound the slots are still reserved fallibly, so a
/// ring the process cannot hold is [`Error::CapacityTooLarge`], not an
/// out-of-memory abort.
pub const MAX_CAPACITY: usize = 1 << 24;

/// The most receivers a `Backpressure` channel may be built for (2^16):
/// each takes a cache-padded cursor that a producer scans when the ring is
/// full, so the registry is 8 MiB at this maximum.
pub const MAX_RECEIVERS: usize = 1 << 16;

/// What happens when a receiver falls a full ring behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// Producers never wait for receivers: the oldest message is replaced,
    /// and a lagging receiver's next call returns `Lagged(n)` with the
    /// number it missed, then continues from the oldest message retained
    /// (as `tokio::sync::broadcast`).
    #[default]
    Overwrite,
    /// Producers wait until the slowest receiver has taken the message
    /// they would replace (LMAX Disruptor gating): nobody misses anything,
    /// and one stalled receiver stalls every producer.
    Backpressure,
}

/// Builds a broadcast channel: `Builder::new(1024).policy(..).build()`.
#[derive(Clone, Debug)]
pub struct Builder {
    capacity: usize,
    policy: Policy,
    max_receivers: usize,
}

impl Builder {
    /// A builder for a ring of at least `capacity` slots (rounded up to a
    /// power of two), `Overwrite` policy, at most 64 receivers under
    /// `Backpressure`.
    pub fn new(capacity: usize) -> Self {
        Builder {
            capacity,
            policy: Policy::Overwrite,
            max_receivers: 64,
        }
    }

    /// The slow-receiver policy.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// How many receivers a `Backpressure` channel can have at once (each
    /// has a cursor that producers scan when the ring is full), from 1 to
    /// [`MAX_RECEIVERS`]. `Overwrite` channels have unlimited receivers and
    /// do not use it, but a value outside that range is still refused by
    /// [`build`](Self::build), whatever the policy: it is a mistake either
    /// way, and switching the policy later should not reveal it.
    ///
    /// ```
    /// use latchwork::event::{broadcast::Builder, Error};
    /// assert_eq!(Builder::new(8).max_receivers(0).build::<u8>().err(), Some(Error::ZeroMaxReceivers));
    /// ```
    pub fn max_receivers(mut self, max: usize) -> Self {
        self.max_receivers = max;
        self
    }

    /// The channel and its first receiver.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`]; [`Error::CapacityTooLarge`] for a capacity
    /// above [`MAX_CAPACITY`] or a ring this process cannot allocate (the
    /// slots are reserved fallibly, so an oversized ring is an error, not
    /// an out-of-memory abort); [`Error::ZeroMaxReceivers`] and
    /// [`Error::MaxReceiversTooLarge`] for a `max_receivers` outside
    /// `1..=MAX_RECEIVERS`, under either policy.
    pub fn build<T>(self) -> Result<(Sender<T>, Receiver<T>), Error> {
        if self.capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        if self.max_receivers == 0 {
            return Err(Error::ZeroMaxReceivers);
        }
        if self.max_receivers > MAX_RECEIVERS {
            return Err(Error::MaxReceiversTooLarge {
                requested: self.max_receivers,
                max: MAX_RECEIVERS,
            });
        }
        let too_large = Error::CapacityTooLarge {
            requested: self.capacity,
        };
        let cap = self
            .capacity
            .checked_next_power_of_two()
            .filter(|&c| c <= MAX_CAPACITY)
            .ok_or(too_large.clone())?;
        let registry = match self.policy {
            Policy::Overwrite => 0,
            Policy::Backpressure => self.max_receivers,
        };
        let ring = Ring::try_new(cap).ok_or(too_large)?;
        let shared = Arc::new(Shared {
            ring,
            policy: self.policy,
            max_receivers: self.max_receivers,
            tail: CachePadded::new(AtomicU64::new(0)),
            gate: CachePadded::new(AtomicU64::new(0)),
            cursors: (0..registry)
                .map(|_| CachePadded::new(AtomicU64::new(FREE)))
                .collect(),
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            readable: Parker::new(),
            writable: Parker::new(),
        });
        let sender = Sender {
            shared: Arc::clone(&shared),
        };
        let receiver = sender.subscribe()?;
        Ok((sender, receiver))
    }
}

/// A broadcast channel of at least `capacity` slots with the given policy.
///
/// ```
/// use latchwork::event::broadcast::{channel, Policy, TryRecvError};
///
/// let (tx, mut rx) = channel::<u64>(4, Policy::Overwrite)?;
/// for i in 0..6 {
///     tx.send(i);
/// }
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(2)));
/// assert_eq!(rx.try_recv(), Ok(2));
/// drop(tx);
/// assert_eq!(rx.recv().ok(), Some(3));
/// # Ok::<(), latchwork::event::Error>(())
/// ```
pub fn channel<T>(capacity: usize, policy: Policy) -> Result<(Sender<T>, Receiver<T>), Error> {
    Builder::new(capacity).policy(policy).build()
}

struct Shared<T> {
    ring: Ring<T>,
    policy: Policy,
    max_receivers: usize,
    /// The next sequence number to claim.
    tail: CachePadded<AtomicU64>,
    /// Backpressure: a lower bound on every registered receiver's cursor
    /// and on the start of every receiver registering later. Only grows.
    gate: CachePadded<AtomicU64>,
    /// Backpressure: each receiver's next sequence, or `FREE`.
    cursors: Box<[CachePadded<AtomicU64>]>,
    senders: AtomicUsize,
    /// Live receivers (advisory: `try_send` reads it to refuse a message
    /// nobody would see).
    receivers: AtomicUsize,
    closed: AtomicBool,
    /// Receivers wait here for a publish; so does a producer whose slot
    /// still holds an unpublished previous lap.
    readable: Parker,
    /// Backpressure producers wait here for receivers to advance.
    writable: Parker,
}

impl<T> Shared<T> {
    /// Recomputes the gate: the minimum of the registered cursors and of
    /// the tail read before scanning them. A receiver registers by a CAS on
    /// a `FREE` entry, a SeqCst fence, then a read of the tail as its start
    /// `t2`; this scan reads the tail (`T`), fences, then reads the cursors.
    /// If the scan misses the new entry, this fence precedes the receiver's,
    /// so `t2 >= T >= result`: the gate (shared by all producers, only
    /// growing) never lets a message at or after `t2` be overwritten. If it
    /// sees the entry, the entry bounds the result. The
    /// `backpressure_receiver_registers_while_producer_gates` loom model
    /// fails without the fences.
    fn recompute_gate(&self) -> u64 {
        // Relaxed + fence: see above.
        let mut min = self.tail.load(Ordering::Relaxed);
        fence(Ordering::SeqCst);
        for c in self.cursors.iter() {
            // Acquire: pairs with the receiver's Release cursor store, so
            // its clones happen before producers reuse the slots.
            min = min.min(c.load(Ordering::Acquire));
        }
        // AcqRel: publishes what the cursor loads acquired to producers
        // that read the gate with Acquire.
        self.gate.fetch_max(min, Ordering::AcqRel).max(min)
    }

    /// Backpressure: whether every receiver is past `seq - cap`, so the
    /// message of `seq` may replace its slot's previous lap.
    fn gate_open(&self, seq: u64) -> bool {
        let cap = self.ring.capacity();
        if seq < cap {
            return true;
        }
        let need = seq - cap + 1;
        // Acquire: pairs with the AcqRel `fetch_max` in `recompute_gate`.
        self.gate.load(Ordering::Acquire) >= need || self.recompute_gate() >= need
    }

    /// Backpressure: blocks until every receiver is past `seq - cap`.
    fn wait_gate(&self, seq: u64) {
        if self.gate_open(seq) {
            return;
        }
        let need = seq - self.ring.capacity() + 1;
        #[cfg(not(loom))]
        {
            let backoff = crossbeam_utils::Backoff::new();
            while !backoff.is_completed() {
                backoff.snooze();
                if self.recompute_gate() >= need {
                    return;
                }
            }
        }
        self.writable
            .wait_until(|| self.recompute_gate() >= need, None);
    }

    /// Blocks until the slot of `seq` holds its published previous lap.
    fn wait_free(&self, seq: u64) {
        if self.ring.is_free_for(seq) {
            return;
        }
        #[cfg(not(loom))]
        {
            let backoff = crossbeam_utils::Backoff::new();
            while !backoff.is_completed() {
                backoff.snooze();
                if self.ring.is_free_for(seq) {
                    return;
                }
            }
        }
        self.readable
            .wait_until(|| self.ring.is_free_for(seq), None);
    }

    /// Registers a Backpressure receiver; returns its entry and start.
    fn register(&self) -> Result<(Option<usize>, u64), Error> {
        // Relaxed: an advisory count; no data is published through it.
        self.receivers.fetch_add(1, Ordering::Relaxed);
        let registered = self.register_cursor();
        if registered.is_err() {
            // Relaxed: as above.
            self.receivers.fetch_sub(1, Ordering::Relaxed);
        }
        registered
    }

    fn register_cursor(&self) -> Result<(Option<usize>, u64), Error> {
        if self.cursors.is_empty() {
            // SeqCst: a new receiver starts at the tail claimed so far.
            return Ok((None, self.tail.load(Ordering::SeqCst)));
        }
        // SeqCst: a provisional cursor, <= the start read below.
        let provisional = self.tail.load(Ordering::SeqCst);
        for (i, c) in self.cursors.iter().enumerate() {
            // SeqCst: the registration that `recompute_gate` argues about.
            // Relaxed on failure: the entry is taken, nothing is read.
            if c.compare_exchange(FREE, provisional, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
            {
                fence(Ordering::SeqCst);
                // Relaxed: ordered by the fence (see `recompute_gate`).
                let start = self.tail.load(Ordering::Relaxed);
                // Relaxed: only raises a bound producers already respect.
                c.store(start, Ordering::Relaxed);
                self.writable.notify();
                return Ok((Some(i), start));
            }
        }
        Err(Error::TooManyReceivers {
            max: self.max_receivers,
        })
    }
}

/// The sending half: clone it for more producers. The channel closes when
/// the last `Sender` is dropped.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value` to every receiver alive now (none: it is dropped when
    /// its slot is reused).
    ///
    /// `Overwrite`: never waits for receivers; it waits only if the slot it
    /// claimed still holds a message another producer claimed a full lap
    /// earlier and has not finished writing, or while a lagging receiver is
    /// in the middle of cloning that slot. `Backpressure`: waits (spins
    /// briefly, then parks) until every receiver has taken the message this
    /// one replaces.
    pub fn send(&self, value: T) {
        let sh = &*self.shared;
        // SeqCst: unique tickets need only atomicity; SeqCst keeps the claim
        // in the total order the gate argument uses.
        let seq = sh.tail.fetch_add(1, Ordering::SeqCst);
        if sh.policy == Policy::Backpressure {
            sh.wait_gate(seq);
        }
        sh.wait_free(seq);
        sh.ring.write(seq, value, sh.policy == Policy::Overwrite);
        sh.readable.notify();
    }

    /// Sends `value` if that needs no waiting: under `Backpressure`, only if
    /// every receiver has taken the message it would replace.
    ///
    /// # Errors
    /// [`TrySendError::Full`] (`Backpressure` only) and
    /// [`TrySendError::NoReceivers`] hand `value` back; nothing was sent.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        if self.receiver_count() == 0 {
            return Err(TrySendError::NoReceivers(value));
        }
        self.try_claim_and_send(value).map_err(TrySendError::Full)
    }

    /// Sends unless a `Backpressure` gate is closed (then hands `value`
    /// back without claiming a sequence number).
    fn try_claim_and_send(&self, value: T) -> Result<(), T> {
        let sh = &*self.shared;
        if sh.policy == Policy::Overwrite {
            self.send(value);
            return Ok(());
        }
        // SeqCst: the claim below is a CAS on the tail that `send`'s
        // `fetch_add` also moves; see `send`.
        let mut seq = sh.tail.load(Ordering::SeqCst);
        loop {
            if !sh.gate_open(seq) {
                return Err(value);
            }
            // SeqCst: as the `fetch_add` in `send`. On failure another
            // producer claimed `seq`: retry with the newer tail.
            match sh
                .tail
                .compare_exchange(seq, seq + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(actual) => seq = actual,
            }
        }
        sh.wait_free(seq);
        sh.ring.write(seq, value, false);
        sh.readable.notify();
        Ok(())
    }

    /// The async form of [`send`](Self::send): under `Backpressure` it
    /// waits for the slowest receiver without blocking a thread (the task
    /// registers a waker on the queue blocked producers park on); under
    /// `Overwrite` it completes on its first poll.
    ///
    /// # Cancel safety
    /// A sequence number is claimed only once the message can be written
    /// at once, so dropping the future before it completes sends nothing,
    /// loses no other message and leaves no waker behind; the value is
    /// dropped with the future. It never makes a receiver see a gap.
    #[cfg(feature = "async")]
    pub fn send_async(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            sender: self,
            value: Some(value),
            wait: WaitKey::default(),
        }
    }

    /// Receivers alive now.
    pub fn receiver_count(&self) -> usize {
        // Relaxed: an advisory count.
        self.shared.receivers.load(Ordering::Relaxed)
    }

    /// A new receiver that sees every message sent after this call.
    /// Fails only for a `Backpressure` channel at its `max_receivers`.
    pub fn subscribe(&self) -> Result<Receiver<T>, Error> {
        let (entry, next) = self.shared.register()?;
        Ok(Receiver {
            shared: Arc::clone(&self.shared),
            next,
            entry,
            wait: WaitKey::default(),
        })
    }

    /// Messages sent (claimed) so far.
    pub fn sent(&self) -> u64 {
        // Relaxed: a statistic; no data is read through it.
        self.shared.tail.load(Ordering::Relaxed)
    }

    /// The ring's capacity (the requested one, rounded up to a power of two).
    pub fn capacity(&self) -> usize {
        self.shared.ring.capacity() as usize
    }

    /// Checks the ring's stamps; call only while no thread sends or
    /// receives. For tests and fuzz targets.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        self.shared.ring.check_invariants(self.sent())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        // Relaxed: this handle keeps the count above zero, as with `Arc`.
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the last sender acquires every other sender's sends
        // before it closes the channel.
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SeqCst: a receiver that sees `closed` also sees every publish
            // (and the parker handshake needs it).
            self.shared.closed.store(true, Ordering::SeqCst);
            self.shared.readable.notify();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("policy", &self.shared.policy)
            .field("capacity", &self.capacity())
            .field("sent", &self.sent())
            .finish()
    }
}

/// The receiving half: every receiver sees every message (or, under
/// `Overwrite`, is told how many it missed), in the one global order.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    next: u64,
    /// Backpressure: this receiver's entry in the cursor registry.
    entry: Option<usize>,
    /// This receiver's task registration on `readable` (async receives).
    wait: WaitKey,
}

impl<T: Clone> Receiver<T> {
    /// The next message, without waiting.
    ///
    /// `Err(Lagged(n))`: `n` messages were overwritten before this receiver
    /// read them; the next call continues from the oldest one retained.
    /// `Err(Closed)`: every sender is gone and nothing is left.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let sh = &*self.shared;
        loop {
            let read = match self.entry {
                Some(_) => sh.ring.read_gated(self.next),
                None => sh.ring.read_pinned(self.next),
            };
            match read {
                Read::Value(v) => {
                    self.advance();
                    return Ok(v);
                }
                Read::Overwritten => {
                    // SeqCst: any recent value works; SeqCst for simplicity
                    // on this rare path.
                    let tail = sh.tail.load(Ordering::SeqCst);
                    let oldest = tail.saturating_sub(sh.ring.capacity()).max(self.next + 1);
                    let missed = oldest - self.next;
                    self.next = oldest;
                    return Err(TryRecvError::Lagged(missed));
                }
                Read::NotYet => {
                    // SeqCst: pairs with the store in the last sender's
                    // drop, which follows every publish.
                    if !sh.closed.load(Ordering::SeqCst) {
                        return Err(TryRecvError::Empty);
                    }
                    if self.next >= sh.tail.load(Ordering::SeqCst) {
                        return Err(TryRecvError::Closed);
                    }
                    // Closed with messages left: they are published (the
                    // senders finished before closing), so read again.
                }
            }
        }
    }

    /// The next message, parking while the channel is empty.
    pub fn recv(&mut self) -> Result<T, RecvError> {
        match self.recv_until(None) {
            Ok(v) => Ok(v),
            Err(RecvTimeoutError::Lagged(n)) => Err(RecvError::Lagged(n)),
            Err(_) => Err(RecvError::Closed),
        }
    }

    /// The next message, parking at most `timeout`. A timeout too long
    /// for an `Instant` to hold (`Duration::MAX`) waits as [`recv`] does.
    ///
    /// [`recv`]: Receiver::recv
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.recv_until(Some(deadline)),
            None => self.recv_until(None),
        }
    }

    fn recv_until(&mut self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        #[cfg(not(loom))]
        let backoff = crossbeam_utils::Backoff::new();
        loop {
            match self.try_recv() {
                Ok(v) => return Ok(v),
                Err(TryRecvError::Lagged(n)) => return Err(RecvTimeoutError::Lagged(n)),
                Err(TryRecvError::Closed) => return Err(RecvTimeoutError::Closed),
                Err(TryRecvError::Empty) => {}
            }
            #[cfg(not(loom))]
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            let sh = &*self.shared;
            let next = self.next;
            let woken = sh.readable.wait_until(
                // SeqCst: the parker's condition (runs after its fence).
                || sh.ring.is_ready(next) || sh.closed.load(Ordering::SeqCst),
                deadline,
            );
            if !woken {
                return Err(RecvTimeoutError::Timeout);
            }
        }
    }
}

#[cfg(feature = "async")]
impl<T: Clone> Receiver<T> {
    /// The async form of [`recv`](Self::recv): the next message, or the
    /// lag / close, registering this task's waker where a thread would
    /// park. Works on any executor.
    ///
    /// # Cancel safety
    /// Cancel safe: a message is taken only in the poll that returns it,
    /// so dropping the future at any await point loses no message (the
    /// next receive gets it) and removes this receiver's waker.
    pub fn recv_async(&mut self) -> RecvFuture<'_, T> {
        RecvFuture { receiver: self }
    }

    /// One receive attempt for a task; `Closed` maps to `Err(Closed)`.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        loop {
            match self.try_recv() {
                Ok(v) => {
                    self.wait.done();
                    return Poll::Ready(Ok(v));
                }
                Err(TryRecvError::Lagged(n)) => {
                    self.wait.done();
                    return Poll::Ready(Err(RecvError::Lagged(n)));
                }
                Err(TryRecvError::Closed) => {
                    self.wait.done();
                    return Poll::Ready(Err(RecvError::Closed));
                }
                Err(TryRecvError::Empty) => {}
            }
            let sh = &*self.shared;
            let next = self.next;
            // SeqCst: the wait queue's condition (runs after its fence).
            let ready = || sh.ring.is_ready(next) || sh.closed.load(Ordering::SeqCst);
            if sh
                .readable
                .poll_until(&mut self.wait, cx, ready)
                .is_pending()
            {
                return Poll::Pending;
            }
        }
    }
}

/// The future of [`Receiver::recv_async`].
#[cfg(feature = "async")]
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T> {
    receiver: &'a mut Receiver<T>,
}

#[cfg(feature = "async")]
impl<T: Clone> Future for RecvFuture<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.receiver.poll_recv(cx)
    }
}

#[cfg(feature = "async")]
impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        let rx = &mut *self.receiver;
        // Keeps the slot: the receiver's next receive reuses it.
        rx.shared.readable.cancel(&mut rx.wait);
    }
}

#[cfg(feature = "async")]
impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture")
            .field("next", &self.receiver.next)
            .finish()
    }
}

/// A receiver is a stream of messages that ends when the channel closes;
/// a lag is an item (`Err(Lagged(n))`), never swallowed, and the stream
/// goes on from the oldest message retained. Cancel safe as
/// [`Receiver::recv_async`].
#[cfg(feature = "async")]
impl<T: Clone> futures_core::Stream for Receiver<T> {
    type Item = Result<T, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.poll_recv(cx) {
            Poll::Ready(Ok(v)) => Poll::Ready(Some(Ok(v))),
            Poll::Ready(Err(RecvError::Lagged(n))) => Poll::Ready(Some(Err(Lagged(n)))),
            Poll::Ready(Err(RecvError::Closed)) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The future of [`Sender::send_async`].
#[cfg(feature = "async")]
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    sender: &'a Sender<T>,
    value: Option<T>,
    wait: WaitKey,
}

#[cfg(feature = "async")]
impl<T> Unpin for SendFuture<'_, T> {}

#[cfg(feature = "async")]
impl<T> Future for SendFuture<'_, T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let sh = &*this.sender.shared;
        loop {
            let Some(value) = this.value.take() else {
                return Poll::Ready(());
            };
            match this.sender.try_claim_and_send(value) {
                Ok(()) => {
                    this.wait.done();
                    return Poll::Ready(());
                }
                Err(value) => this.value = Some(value),
            }
            // SeqCst: a tail to test the gate for (the condition runs
            // after the wait queue's fence).
            let ready = || sh.gate_open(sh.tail.load(Ordering::SeqCst));
            if sh
                .writable
                .poll_until(&mut this.wait, cx, ready)
                .is_pending()
            {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(feature = "async")]
impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        self.sender.shared.writable.release(&mut self.wait);
    }
}

#[cfg(feature = "async")]
impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("pending", &self.value.is_some())
            .finish()
    }
}

/// A receiver's stream item for messages it missed: `Lagged(n)`, `n`
/// messages were overwritten before it read them (`Overwrite` only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lagged(pub u64);

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "receiver lagged and missed {} messages", self.0)
    }
}

impl std::error::Error for Lagged {}

/// Why [`Sender::try_send`] sent nothing; each hands the value back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// `Backpressure`: the slowest receiver has not taken the message this
    /// one would replace.
    Full(T),
    /// No receiver is alive to see it.
    NoReceivers(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::NoReceivers(v) => v,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::NoReceivers(_) => f.write_str("NoReceivers(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => {
                f.write_str("broadcast channel is full (a receiver has not caught up)")
            }
            TrySendError::NoReceivers(_) => f.write_str("broadcast channel has no receivers"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl<T> Receiver<T> {
    fn advance(&mut self) {
        self.next += 1;
        if let Some(i) = self.entry {
            // Release: hands the slot back to producers (I3 of the ring);
            // `notify` fences it before the waiter-count load.
            self.shared.cursors[i].store(self.next, Ordering::Release);
            self.shared.writable.notify();
        }
    }

    /// Messages sent but not yet taken by this receiver (some may already
    /// be overwritten under `Overwrite`).
    pub fn pending(&self) -> u64 {
        // Relaxed: a statistic.
        self.shared
            .tail
            .load(Ordering::Relaxed)
            .saturating_sub(self.next)
    }

    /// A new receiver of the same channel, starting at the tail (not at
    /// this receiver's position).
    pub fn resubscribe(&self) -> Result<Receiver<T>, Error> {
        let (entry, next) = self.shared.register()?;
        Ok(Receiver {
            shared: Arc::clone(&self.shared),
            next,
            entry,
            wait: WaitKey::default(),
        })
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.readable.release(&mut self.wait);
        // Relaxed: an advisory count.
        self.shared.receivers.fetch_sub(1, Ordering::Relaxed);
        if let Some(i) = self.entry {
            // Release: frees the entry after this receiver's last clone;
            // `notify` fences it before the waiter-count load.
            self.shared.cursors[i].store(FREE, Ordering::Release);
            self.shared.writable.notify();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("policy", &self.shared.policy)
            .field("next", &self.next)
            .finish()
    }
}

/// Why [`Receiver::try_recv`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing to receive yet.
    Empty,
    /// This many messages were overwritten before this receiver read them
    /// (`Overwrite` only); receiving continues from the oldest retained.
    Lagged(u64),
    /// Every sender is gone and every message was received.
    Closed,
}

/// Why [`Receiver::recv`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// See [`TryRecvError::Lagged`].
    Lagged(u64),
    /// Every sender is gone and every message was received.
    Closed,
}

/// Why [`Receiver::recv_timeout`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing arrived before the timeout.
    Timeout,
    /// See [`TryRecvError::Lagged`].
    Lagged(u64),
    /// Every sender is gone and every message was received.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("broadcast channel is empty"),
            TryRecvError::Lagged(n) => write!(f, "receiver lagged and missed {n} messages"),
            TryRecvError::Closed => f.write_str("broadcast channel is closed"),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Lagged(n) => write!(f, "receiver lagged and missed {n} messages"),
            RecvError::Closed => f.write_str("broadcast channel is closed"),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting on a broadcast channel"),
            RecvTimeoutError::Lagged(n) => write!(f, "receiver lagged and missed {n} messages"),
            RecvTimeoutError::Closed => f.write_str("broadcast channel is closed"),
        }
    }
}

impl std::error::Error for TryRecvError {}
impl std::error::Error for RecvError {}
impl std::error::Error for RecvTimeoutError {}
