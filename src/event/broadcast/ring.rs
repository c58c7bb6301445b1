//! The slots of the broadcast ring and their publish/read protocol.
//!
//! Message `seq` (0, 1, 2, ...) lives in slot `seq & mask`. Each slot has a
//! stamp, a pin count and the value:
//!
//! ```text
//! stamp (u64):  bit 63 = WRITING, bits 0..63 = seq + 1 of the message
//!   0                  never written
//!   s + 1              message s published, readable
//!   (s + 1) | WRITING  message s being written (the value is in flux)
//! ```
//!
//! Invariants (the `// SAFETY:` comments name them):
//! - **I1 (one writer)**: only the producer that claimed `seq` (a unique
//!   ticket from the channel's tail counter) writes slot `seq & mask`, and
//!   only after the slot's stamp shows message `seq - cap` published (or
//!   `0` when `seq < cap`), so writers of one slot follow each other lap by
//!   lap. The value is initialised exactly when the stamp is non-zero and
//!   not WRITING, or WRITING with `seq >= cap` before the old value is
//!   moved out.
//! - **I2 (pinned read, Overwrite)**: a reader increments `readers`, issues
//!   a SeqCst fence and re-reads the stamp, and clones only if it still
//!   shows the message; the writer marks WRITING, issues a SeqCst fence and
//!   waits for `readers` to reach zero before touching the value. The
//!   fences make this a Dekker handshake: either the writer sees the pin and
//!   waits, or the reader sees WRITING and backs off. (Fences, not SeqCst
//!   accesses alone, so that loom, which models SeqCst accesses as AcqRel,
//!   checks the real argument.) Under `Backpressure` readers never pin and
//!   the writer skips the handshake: I3 keeps them apart.
//! - **I3 (gated read, Backpressure)**: a writer of `seq` first waits until
//!   every registered receiver's cursor is past `seq - cap`; a receiver
//!   advances its cursor (Release) only after its clone, so a published
//!   slot at a receiver's cursor is never rewritten while it reads.
//! - **I4 (drop)**: dropping the ring has `&mut`: no reader or writer is
//!   left, and the stamps say which values are initialised (I1).
use crate::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use crate::sync::spin::SpinWait;
use crate::sync::UnsafeCell;
use std::mem::MaybeUninit;

/// Stamp bit set while a slot's value is being replaced.
pub(super) const WRITING: u64 = 1 << 63;

struct Slot<T> {
    /// See the module doc for the layout.
    stamp: AtomicU64,
    /// Readers inside a pinned clone (Overwrite mode only).
    readers: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// What a read of one sequence number found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Read<T> {
    /// The message, cloned.
    Value(T),
    /// Not published yet (the slot still holds an older lap).
    NotYet,
    /// A newer lap has replaced it (Overwrite mode: the reader lagged).
    Overwritten,
}

pub(super) struct Ring<T> {
    slots: Box<[Slot<T>]>,
    mask: u64,
    cap: u64,
}

// SAFETY: values move between threads (Send) and are cloned from shared
// references on several threads (Sync), so both bounds are needed and
// sufficient; access to the cells follows I1-I3.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring of `cap` slots; `cap` is a power of two. `None` if the
    /// slots cannot be allocated (reserved fallibly: no OOM abort).
    pub(super) fn try_new(cap: usize) -> Option<Self> {
        let mut slots = Vec::new();
        slots.try_reserve_exact(cap).ok()?;
        slots.extend((0..cap).map(|_| Slot {
            stamp: AtomicU64::new(0),
            readers: AtomicUsize::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }));
        Some(Ring {
            slots: slots.into_boxed_slice(),
            mask: cap as u64 - 1,
            cap: cap as u64,
        })
    }

    pub(super) fn capacity(&self) -> u64 {
        self.cap
    }

    #[inline]
    fn slot(&self, seq: u64) -> &Slot<T> {
        &self.slots[(seq & self.mask) as usize]
    }

    /// The stamp a slot shows when it is free for message `seq` (I1).
    #[inline]
    fn free_stamp(&self, seq: u64) -> u64 {
        if seq < self.cap {
            0
        } else {
            seq - self.cap + 1
        }
    }

    /// Whether the slot of `seq` holds its previous lap, published (I1).
    #[inline]
    pub(super) fn is_free_for(&self, seq: u64) -> bool {
        // Acquire: pairs with the Release publish in `write`, so the
        // previous writer's accesses happen before ours.
        self.slot(seq).stamp.load(Ordering::Acquire) == self.free_stamp(seq)
    }

    /// Writes message `seq`. The caller holds the ticket `seq` and has seen
    /// `is_free_for(seq)` (I1), and in Backpressure mode has waited for the
    /// gate (I3); `pinned` says whether readers pin (Overwrite, I2).
    pub(super) fn write(&self, seq: u64, value: T, pinned: bool) {
        let slot = self.slot(seq);
        if pinned {
            // Relaxed + fence: the writer half of the I2 handshake.
            slot.stamp.store((seq + 1) | WRITING, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            // Acquire: pairs with the Release unpin, so the clones of
            // readers that unpinned happen before the overwrite.
            let mut spin = SpinWait::new();
            while slot.readers.load(Ordering::Acquire) != 0 {
                // A reader is cloning the old value; nothing announces its
                // unpin, so the kernel's ladder, naps included.
                spin.nap();
            }
        }
        let old = slot.value.with_mut(|p| {
            // SAFETY: I1 makes this thread the slot's only writer and I2/I3
            // keep readers out; the old value is initialised iff seq >= cap.
            unsafe {
                let old = (seq >= self.cap).then(|| (*p).assume_init_read());
                (*p).write(value);
                old
            }
        });
        // Release: publishes the value to readers' Acquire stamp loads (the
        // sender's notify fences it before the waiter-count load).
        slot.stamp.store(seq + 1, Ordering::Release);
        // The replaced message is dropped after publishing, so a panicking
        // `Drop` cannot leave the slot marked WRITING.
        drop(old);
    }

    /// Classifies a stamp that is not `seq + 1`.
    #[inline]
    fn classify(stamp: u64, seq: u64) -> Read<T> {
        if stamp == 0 || (stamp & !WRITING) - 1 <= seq {
            Read::NotYet
        } else {
            Read::Overwritten
        }
    }

    /// Whether a read of `seq` would find something other than `NotYet`.
    pub(super) fn is_ready(&self, seq: u64) -> bool {
        // Acquire: pairs with the publish; as a parked receiver's condition
        // it runs after the parker's fence.
        let stamp = self.slot(seq).stamp.load(Ordering::Acquire);
        stamp == seq + 1 || matches!(Self::classify(stamp, seq), Read::Overwritten)
    }
}

impl<T: Clone> Ring<T> {
    /// Reads `seq` in Backpressure mode: the caller's cursor is `seq` and
    /// registered in the gate (I3).
    #[inline]
    pub(super) fn read_gated(&self, seq: u64) -> Read<T> {
        let slot = self.slot(seq);
        // Acquire: pairs with the publishing store in `write`.
        let stamp = slot.stamp.load(Ordering::Acquire);
        if stamp != seq + 1 {
            return Self::classify(stamp, seq);
        }
        Read::Value(slot.value.with(|p| {
            // SAFETY: published (I1), and not rewritten before this
            // receiver's cursor passes `seq`, which happens after this
            // clone (I3).
            unsafe { (*p).assume_init_ref().clone() }
        }))
    }

    /// Reads `seq` in Overwrite mode, pinning the slot during the clone (I2).
    #[inline]
    pub(super) fn read_pinned(&self, seq: u64) -> Read<T> {
        let slot = self.slot(seq);
        // Acquire: pairs with the publishing store in `write`.
        let stamp = slot.stamp.load(Ordering::Acquire);
        if stamp != seq + 1 {
            return Self::classify(stamp, seq);
        }
        // Relaxed + fence: the reader half of the I2 handshake.
        slot.readers.fetch_add(1, Ordering::Relaxed);
        let _unpin = Unpin(&slot.readers);
        fence(Ordering::SeqCst);
        // Acquire: as above; the fence orders it after the pin.
        let stamp = slot.stamp.load(Ordering::Acquire);
        if stamp != seq + 1 {
            return Self::classify(stamp, seq);
        }
        Read::Value(slot.value.with(|p| {
            // SAFETY: pinned after re-reading the published stamp, so the
            // writer of the next lap waits for the unpin (I2).
            unsafe { (*p).assume_init_ref().clone() }
        }))
    }
}

/// Unpins on scope exit, also when `clone` panics (a leaked pin would stall
/// the slot's next writer forever).
struct Unpin<'a>(&'a AtomicUsize);

impl Drop for Unpin<'_> {
    fn drop(&mut self) {
        // Release: orders this reader's clone before the writer's Acquire
        // load that sees the count fall.
        self.0.fetch_sub(1, Ordering::Release);
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        for slot in self.slots.iter() {
            // Relaxed: `&mut self` (I4); every writer has finished.
            let stamp = slot.stamp.load(Ordering::Relaxed);
            if stamp != 0 && stamp & WRITING == 0 {
                // SAFETY: I4, and a published stamp means initialised (I1).
                slot.value.with_mut(|p| unsafe { (*p).assume_init_drop() });
            }
        }
    }
}

impl<T> Ring<T> {
    /// Checks the stamps of a quiescent ring that has seen `sent` messages:
    /// each slot holds the newest message of its index, published.
    pub(super) fn check_invariants(&self, sent: u64) -> Result<(), String> {
        for (i, slot) in self.slots.iter().enumerate() {
            let i = i as u64;
            // Relaxed: called on a quiescent ring only.
            let stamp = slot.stamp.load(Ordering::Relaxed);
            let expect = if i < sent {
                i + ((sent - 1 - i) / self.cap) * self.cap + 1
            } else {
                0
            };
            if stamp != expect {
                return Err(format!("slot {i}: stamp {stamp:#x}, expected {expect}"));
            }
        }
        Ok(())
    }
}

/// Tests of the unsafe slot protocol, small enough for Miri
/// (`cargo +nightly miri test --lib miri_`): non-`Copy` values, lapping
/// producers on a 2-slot ring, receivers that come and go while producers
/// wait, and drops of rings that still hold values. Miri checks the
/// `MaybeUninit` reads, the data races and the leaks; the assertions check
/// that every value is seen once, in order, or reported as lagged.
#[cfg(all(test, not(loom)))]
mod miri_tests {
    use super::super::{channel, Builder, Policy, TryRecvError};
    use std::sync::Arc;
    use std::thread;

    const PER_PRODUCER: usize = 6;

    /// Two producers lap a 2-slot Overwrite ring with `String`s while a
    /// receiver reads: each value it gets is whole, per-producer in order,
    /// and gets + lagged account for every message.
    #[test]
    fn miri_overwrite_lapping_producers_with_strings() {
        let (tx, mut rx) = channel::<String>(2, Policy::Overwrite).unwrap();
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..PER_PRODUCER {
                        tx.send(format!("{p}:{i}")).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let (mut got, mut lagged) = (0u64, 0u64);
        let mut last = [None::<usize>; 2];
        loop {
            match rx.recv() {
                Ok(s) => {
                    let (p, i) = s.split_once(':').unwrap();
                    let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
                    assert!(last[p].is_none_or(|l| l < i), "{s} out of order");
                    last[p] = Some(i);
                    got += 1;
                }
                Err(super::super::RecvError::Lagged(n)) => lagged += n,
                Err(super::super::RecvError::Closed) => break,
            }
        }
        for h in producers {
            h.join().unwrap();
        }
        assert_eq!(got + lagged, 2 * PER_PRODUCER as u64);
    }

    /// Backpressure on a 2-slot ring: producers wait for the slow
    /// receiver, a second receiver subscribes and drops mid-stream, and the
    /// first still sees every message exactly once.
    #[test]
    fn miri_backpressure_receivers_come_and_go_while_producers_wait() {
        let (tx, mut rx) = Builder::new(2)
            .policy(Policy::Backpressure)
            .max_receivers(3)
            .build::<String>()
            .unwrap();
        let tx2 = tx.clone();
        let producer = thread::spawn(move || {
            for i in 0..PER_PRODUCER {
                tx2.send(i.to_string()).unwrap();
            }
        });
        // A second receiver gates the producer too until it leaves.
        let mut extra = Some(tx.subscribe());
        let mut got = Vec::new();
        while got.len() < PER_PRODUCER {
            got.push(rx.recv().unwrap());
            if got.len() == 2 {
                if let Some(mut e) = extra.take() {
                    let _ = e.try_recv();
                }
                // Receivers that subscribe and drop at once, while the
                // producer may be parked on the gate.
                drop(tx.subscribe());
                drop(rx.resubscribe());
            }
        }
        producer.join().unwrap();
        let want: Vec<String> = (0..PER_PRODUCER).map(|i| i.to_string()).collect();
        assert_eq!(got, want);
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }

    /// A ring dropped while it holds values (full, partly overwritten, or
    /// never read) drops each exactly once: Miri reports a leak or a double
    /// drop, the counter a miscount.
    #[test]
    fn miri_drop_of_a_ring_holding_values() {
        let token = Arc::new(());
        for sends in [0usize, 1, 2, 5] {
            let (tx, rx) = channel::<(Arc<()>, String)>(2, Policy::Overwrite).unwrap();
            for i in 0..sends {
                tx.send((Arc::clone(&token), i.to_string())).unwrap();
            }
            tx.check_invariants().unwrap();
            drop(rx);
            // The ring holds min(sends, 2) values, alive until the last handle.
            assert_eq!(Arc::strong_count(&token), 1 + sends.min(2));
            drop(tx);
            assert_eq!(Arc::strong_count(&token), 1);
        }
    }

    /// A receiver cloning a slot while a producer laps it (Overwrite, the
    /// pinned read): the clone is never torn, and a value whose `Clone`
    /// allocates is fine.
    #[test]
    fn miri_pinned_read_races_an_overwrite() {
        let (tx, mut rx) = channel::<Vec<String>>(2, Policy::Overwrite).unwrap();
        let writer = {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    tx.send(vec![i.to_string(); 3]).unwrap();
                }
            })
        };
        let mut seen = 0;
        while seen < PER_PRODUCER as u64 {
            match rx.try_recv() {
                Ok(v) => {
                    assert!(v.iter().all(|s| s == &v[0]), "torn value {v:?}");
                    seen += 1;
                }
                Err(TryRecvError::Lagged(n)) => seen += n,
                Err(TryRecvError::Empty) => thread::yield_now(),
                Err(TryRecvError::Closed) => unreachable!("a sender is alive"),
            }
        }
        assert_eq!(seen, PER_PRODUCER as u64);
        writer.join().unwrap();
    }
}
