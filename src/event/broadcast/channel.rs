//! The channel itself: the state senders and receivers share, and the
//! blocking protocol on top of the ring (claim, gate, publish, read, lag,
//! close, receiver registration).
use super::builder::Policy;
use super::error::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};
use super::ring::{Read, Ring};
use crate::event::Error;
use crate::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::sync::wait::{spin_for, WaitQueue as Parker};
use crate::sync::Arc;
use crossbeam_utils::CachePadded;
use std::fmt;
use std::time::{Duration, Instant};

/// What a `Backpressure` registry entry holds when no receiver uses it.
const FREE: u64 = u64::MAX;

pub(super) struct Shared<T> {
    pub(super) ring: Ring<T>,
    policy: Policy,
    max_receivers: usize,
    /// The next sequence number to claim.
    pub(super) tail: CachePadded<AtomicU64>,
    /// Backpressure: a lower bound on every registered receiver's cursor
    /// and on the start of every receiver registering later. Only grows.
    gate: CachePadded<AtomicU64>,
    /// Backpressure: each receiver's next sequence, or `FREE`.
    cursors: Box<[CachePadded<AtomicU64>]>,
    senders: AtomicUsize,
    /// Live receivers (advisory: `send` reads it to hand back a message
    /// nobody would see, and reports it).
    receivers: AtomicUsize,
    pub(super) closed: AtomicBool,
    /// Receivers wait here for a publish; so does a producer whose slot
    /// still holds an unpublished previous lap.
    pub(super) readable: Parker,
    /// Backpressure producers wait here for receivers to advance; so does
    /// a `subscribe` waiting for a free registry entry.
    pub(super) writable: Parker,
}

/// A channel on `ring` and its first receiver (the builder has checked
/// the parameters).
pub(super) fn open<T>(
    ring: Ring<T>,
    policy: Policy,
    max_receivers: usize,
) -> (Sender<T>, Receiver<T>) {
    let registry = match policy {
        Policy::Overwrite => 0,
        Policy::Backpressure => max_receivers,
    };
    let shared = Arc::new(Shared {
        ring,
        policy,
        max_receivers,
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
    let sender = Sender { shared };
    // Never waits: the registry is empty and has at least one entry.
    let receiver = sender.subscribe();
    (sender, receiver)
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
    pub(super) fn gate_open(&self, seq: u64) -> bool {
        let cap = self.ring.capacity();
        if seq < cap {
            return true;
        }
        let need = seq - cap + 1;
        // Acquire: pairs with the AcqRel `fetch_max` in `recompute_gate`.
        self.gate.load(Ordering::Acquire) >= need || self.recompute_gate() >= need
    }

    /// Backpressure: blocks until every receiver is past `seq - cap`
    /// (the crate's one spin-then-park ladder).
    fn wait_gate(&self, seq: u64) {
        if self.gate_open(seq) {
            return;
        }
        let need = seq - self.ring.capacity() + 1;
        let open = || self.recompute_gate() >= need;
        if spin_for(|| open().then_some(())).is_none() {
            self.writable.wait_until(open, None);
        }
    }

    /// Blocks until the slot of `seq` holds its published previous lap.
    fn wait_free(&self, seq: u64) {
        if self.ring.is_free_for(seq) {
            return;
        }
        let free = || self.ring.is_free_for(seq);
        if spin_for(|| free().then_some(())).is_none() {
            self.readable.wait_until(free, None);
        }
    }

    /// Registers a receiver; returns its registry entry (Backpressure) and
    /// its start. Under `Backpressure` at `max_receivers`, waits until a
    /// receiver is dropped and frees its entry.
    fn register(&self) -> (Option<usize>, u64) {
        loop {
            if let Ok(registered) = self.try_register() {
                return registered;
            }
            // SeqCst: the parker's condition (runs after its fence); the
            // dropping receiver's Release store of `FREE` is followed by
            // the notifier's fence.
            let free = || {
                self.cursors
                    .iter()
                    .any(|c| c.load(Ordering::SeqCst) == FREE)
            };
            if spin_for(|| free().then_some(())).is_none() {
                self.writable.wait_until(free, None);
            }
        }
    }

    /// Registers a receiver, or refuses at `max_receivers` (Backpressure).
    fn try_register(&self) -> Result<(Option<usize>, u64), Error> {
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
    pub(super) shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value` to every receiver alive now. Returns how many that
    /// is, or, when there is none, hands `value` back in a [`SendError`]
    /// without publishing it (as `tokio::sync::broadcast::Sender::send`):
    /// a message is never dropped silently for want of receivers.
    ///
    /// The count is a snapshot taken as the send begins: a receiver
    /// subscribing or dropped at the same moment may or may not be among
    /// those that see the message, and a receiver that lags under
    /// `Overwrite` may miss it (and is told so).
    ///
    /// `Overwrite`: never waits for receivers; it waits only if the slot it
    /// claimed still holds a message another producer claimed a full lap
    /// earlier and has not finished writing, or while a lagging receiver is
    /// in the middle of cloning that slot. `Backpressure`: waits (spins
    /// briefly, then parks) until every receiver has taken the message this
    /// one replaces.
    ///
    /// ```
    /// use latchwork::event::broadcast::{channel, Policy, SendError};
    ///
    /// let (tx, rx) = channel::<&str>(8, Policy::Overwrite)?;
    /// let rx2 = tx.subscribe();
    /// assert_eq!(tx.send("two receivers"), Ok(2));
    /// drop((rx, rx2));
    /// assert_eq!(tx.send("nobody"), Err(SendError("nobody")));
    /// # Ok::<(), latchwork::event::Error>(())
    /// ```
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let receivers = self.receiver_count();
        if receivers == 0 {
            return Err(SendError(value));
        }
        self.publish(value);
        Ok(receivers)
    }

    /// Claims the next sequence number and publishes `value` there,
    /// waiting as [`send`](Self::send) describes.
    fn publish(&self, value: T) {
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
    /// every receiver has taken the message it would replace. Returns the
    /// receiver count as [`send`](Self::send) does.
    ///
    /// # Errors
    /// [`TrySendError::Full`] (`Backpressure` only) and
    /// [`TrySendError::NoReceivers`] hand `value` back; nothing was sent.
    pub fn try_send(&self, value: T) -> Result<usize, TrySendError<T>> {
        let receivers = self.receiver_count();
        if receivers == 0 {
            return Err(TrySendError::NoReceivers(value));
        }
        self.try_claim_and_send(value).map_err(TrySendError::Full)?;
        Ok(receivers)
    }

    /// Sends unless a `Backpressure` gate is closed (then hands `value`
    /// back without claiming a sequence number).
    fn try_claim_and_send(&self, value: T) -> Result<(), T> {
        let sh = &*self.shared;
        if sh.policy == Policy::Overwrite {
            self.publish(value);
            return Ok(());
        }
        // SeqCst: the claim below is a CAS on the tail that `publish`'s
        // `fetch_add` also moves; see `publish`.
        let mut seq = sh.tail.load(Ordering::SeqCst);
        loop {
            if !sh.gate_open(seq) {
                return Err(value);
            }
            // SeqCst: as the `fetch_add` in `publish`. On failure another
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

    /// Receivers alive now.
    pub fn receiver_count(&self) -> usize {
        // Relaxed: an advisory count.
        self.shared.receivers.load(Ordering::Relaxed)
    }

    /// A new receiver that sees every message sent after this call.
    ///
    /// Never fails: under `Overwrite` it returns at once; under
    /// `Backpressure`, where the channel has room for `max_receivers`
    /// receivers, a channel at that bound makes it wait (spin briefly, then
    /// park) until a receiver is dropped. Where waiting is wrong (the
    /// caller holds the receivers that would have to be dropped, or it is
    /// an async task), use [`try_subscribe`](Self::try_subscribe).
    ///
    /// ```
    /// use latchwork::event::broadcast::{channel, Policy};
    ///
    /// let (tx, _rx) = channel::<u32>(8, Policy::Overwrite)?;
    /// let mut late = tx.subscribe();
    /// tx.send(7).unwrap();
    /// assert_eq!(late.try_recv(), Ok(7));
    /// # Ok::<(), latchwork::event::Error>(())
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver::registered(&self.shared, self.shared.register())
    }

    /// A new receiver, or an error instead of waiting for room.
    ///
    /// # Errors
    /// [`Error::TooManyReceivers`]: a `Backpressure` channel already has
    /// `max_receivers` live receivers (the only failure; an `Overwrite`
    /// channel never refuses).
    pub fn try_subscribe(&self) -> Result<Receiver<T>, Error> {
        let registered = self.shared.try_register()?;
        Ok(Receiver::registered(&self.shared, registered))
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
    pub(super) shared: Arc<Shared<T>>,
    pub(super) next: u64,
    /// Backpressure: this receiver's entry in the cursor registry.
    entry: Option<usize>,
    /// This receiver's registration on `readable` as a `Stream`.
    #[cfg(feature = "async")]
    pub(super) stream: crate::sync::waiting::Registration,
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

    /// [`try_recv`](Self::try_recv) with `Empty` as `None` and the other
    /// outcomes as a blocking receive reports them.
    fn attempt(&mut self) -> Option<Result<T, RecvTimeoutError>> {
        match self.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(TryRecvError::Lagged(n)) => Some(Err(RecvTimeoutError::Lagged(n))),
            Err(TryRecvError::Closed) => Some(Err(RecvTimeoutError::Closed)),
            Err(TryRecvError::Empty) => None,
        }
    }

    /// Tries, spins briefly (the crate's one ladder), then parks until a
    /// publish, the close or the deadline.
    fn recv_until(&mut self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        if let Some(got) = self.attempt() {
            return got;
        }
        if let Some(got) = spin_for(|| self.attempt()) {
            return got;
        }
        loop {
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
            if let Some(got) = self.attempt() {
                return got;
            }
        }
    }
}

impl<T> Receiver<T> {
    /// The receiver of a registration `(entry, start)`.
    fn registered(shared: &Arc<Shared<T>>, (entry, next): (Option<usize>, u64)) -> Self {
        Receiver {
            shared: Arc::clone(shared),
            next,
            entry,
            #[cfg(feature = "async")]
            stream: Default::default(),
        }
    }

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
    /// this receiver's position). Works on a closed channel too (the new
    /// receiver reports `Closed` at once). Under `Backpressure` at
    /// `max_receivers` it waits as [`Sender::subscribe`] does, which
    /// deadlocks if the caller holds every receiver: use
    /// [`try_resubscribe`](Self::try_resubscribe) there.
    pub fn resubscribe(&self) -> Receiver<T> {
        Receiver::registered(&self.shared, self.shared.register())
    }

    /// [`resubscribe`](Self::resubscribe), or an error instead of waiting.
    ///
    /// # Errors
    /// [`Error::TooManyReceivers`] as [`Sender::try_subscribe`].
    pub fn try_resubscribe(&self) -> Result<Receiver<T>, Error> {
        let registered = self.shared.try_register()?;
        Ok(Receiver::registered(&self.shared, registered))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        #[cfg(feature = "async")]
        self.stream.release(&self.shared.readable);
        // Relaxed: an advisory count.
        self.shared.receivers.fetch_sub(1, Ordering::Relaxed);
        if let Some(i) = self.entry {
            // Release: frees the entry after this receiver's last clone;
            // `notify` fences it before the waiter-count load (producers
            // at the gate and subscribers waiting for an entry wake).
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
