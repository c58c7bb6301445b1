//! A small lossy buffer of recent hits, after Caffeine's read buffer.
//!
//! A cache hit must reorder the LRU list, which needs the shard's write
//! lock. Instead of taking it, a reader records the hit's arena index here
//! (one CAS and one store) while it holds the shard's *read* lock; whoever
//! next holds the write lock replays the recorded hits in order. When the
//! buffer is full, or the claim CAS loses a race, the hit is dropped: the
//! list order is a hint, and a lost hint costs hit ratio, never correctness.
//!
//! Protocol (`N` slots, `N` a power of two):
//! - `tail` counts claimed positions; `head` counts drained ones. Position
//!   `p` lives in slot `p % N`. A slot holds `index + 1`, or 0 when empty.
//! - record: read `head`, read `tail`; if `tail - head >= N` drop (full);
//!   else CAS `tail -> tail + 1` (drop on failure) and store the value in the
//!   claimed slot.
//! - drain (one drainer at a time: the caller holds the write lock): read
//!   `tail`; for each position in `head..tail` load the slot and, if
//!   non-zero, empty it (a store of 0) and replay it; publish
//!   `head = tail`.
//!
//! What it guarantees (the loom models in this file check it): a drained
//! value was recorded, each recorded value is drained at most once, and when
//! records and drains do not overlap (as the shard's read/write lock
//! ensures), every accepted record is drained, in the order recorded.
use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use crossbeam_utils::CachePadded;

/// Slots per buffer.
pub(crate) const READ_BUFFER_LEN: usize = 64;
const MASK: usize = READ_BUFFER_LEN - 1;

/// What a reader should do after recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// Recorded; no action needed.
    Ok,
    /// Recorded (or dropped) and the buffer is half full or more: try to
    /// drain.
    ShouldDrain,
}

pub(crate) struct ReadBuffer {
    slots: Box<[AtomicU64]>,
    tail: CachePadded<AtomicUsize>,
    head: AtomicUsize,
}

impl ReadBuffer {
    pub(crate) fn new() -> Self {
        ReadBuffer {
            slots: (0..READ_BUFFER_LEN).map(|_| AtomicU64::new(0)).collect(),
            tail: CachePadded::new(AtomicUsize::new(0)),
            head: AtomicUsize::new(0),
        }
    }

    /// Records arena index `index`; lossy.
    #[inline]
    pub(crate) fn record(&self, index: u32) -> Recorded {
        // Acquire: pairs with the Release store of `head` in `drain`, so a
        // slot the drainer has emptied is seen empty before it is reused.
        let head = self.head.load(Ordering::Acquire);
        // Relaxed: only a guess for the CAS below, which validates it.
        let tail = self.tail.load(Ordering::Relaxed);
        let used = tail.wrapping_sub(head);
        if used >= READ_BUFFER_LEN {
            return Recorded::ShouldDrain;
        }
        // Relaxed: the claim only has to be unique (the RMW total order on
        // `tail` gives that); the slot value is published by the Release
        // store below.
        if self
            .tail
            .compare_exchange(
                tail,
                tail.wrapping_add(1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return Recorded::Ok; // lost a race: drop this hint
        }
        // Release: publishes the recorded index to the drainer's Acquire swap.
        self.slots[tail & MASK].store(u64::from(index) + 1, Ordering::Release);
        if used + 1 >= READ_BUFFER_LEN / 2 {
            Recorded::ShouldDrain
        } else {
            Recorded::Ok
        }
    }

    /// Replays every recorded index, oldest first. Callers must not drain
    /// concurrently with each other (the shard's write lock serialises them).
    pub(crate) fn drain(&self, mut replay: impl FnMut(u32)) {
        // Relaxed: only drainers store `head`, and they are serialised by the
        // write lock, whose acquisition orders this load after the last store.
        let head = self.head.load(Ordering::Relaxed);
        // Acquire: pairs with nothing that publishes data (slots publish
        // themselves) but keeps the bound from moving before the lock.
        let tail = self.tail.load(Ordering::Acquire);
        if head == tail {
            return;
        }
        let mut p = head;
        while p != tail {
            let slot = &self.slots[p & MASK];
            // Acquire: pairs with the Release store in `record`. A load and
            // a store rather than a swap: a recorder stores only into a
            // position it claimed, and (the shard lock keeps records and
            // drains apart) no recorder is between claim and store now,
            // except in the lossy cases the module doc allows.
            let v = slot.load(Ordering::Acquire);
            if v != 0 {
                // Relaxed: published to later recorders by the Release
                // store of `head` below.
                slot.store(0, Ordering::Relaxed);
                replay((v - 1) as u32);
            }
            p = p.wrapping_add(1);
        }
        // Release: the emptied slots happen-before a recorder that reads
        // this head and reuses them.
        self.head.store(tail, Ordering::Release);
    }
}

impl std::fmt::Debug for ReadBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadBuffer").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn records_then_drains_in_order() {
        let b = ReadBuffer::new();
        for i in 0..10 {
            assert_eq!(b.record(i), Recorded::Ok);
        }
        let mut out = vec![];
        b.drain(|i| out.push(i));
        assert_eq!(out, (0..10).collect::<Vec<_>>());
        b.drain(|_| panic!("drained twice"));
    }

    #[test]
    fn full_buffer_drops_and_asks_for_drain() {
        let b = ReadBuffer::new();
        let mut asked = 0;
        for i in 0..(READ_BUFFER_LEN as u32 + 5) {
            if b.record(i) == Recorded::ShouldDrain {
                asked += 1;
            }
        }
        assert!(asked >= READ_BUFFER_LEN / 2);
        let mut out = vec![];
        b.drain(|i| out.push(i));
        assert_eq!(out.len(), READ_BUFFER_LEN, "extra records were dropped");
        assert_eq!(out[..3], [0, 1, 2]);
        // Reusable after wrap-around.
        for round in 0..3u32 {
            for i in 0..40 {
                b.record(round * 100 + i);
            }
            let mut out = vec![];
            b.drain(|i| out.push(i));
            assert_eq!(out, (0..40).map(|i| round * 100 + i).collect::<Vec<_>>());
        }
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::{thread, Arc};

    /// Two recorders race a drainer: nothing is invented, nothing is drained
    /// twice, and once everyone is quiet a final drain finds every accepted
    /// record that the racing drain missed.
    #[test]
    fn record_vs_drain() {
        loom::model(|| {
            let b = Arc::new(ReadBuffer::new());
            let recorders: Vec<_> = (0..2u32)
                .map(|t| {
                    let b = b.clone();
                    thread::spawn(move || {
                        b.record(t * 10);
                        b.record(t * 10 + 1);
                    })
                })
                .collect();
            let mut seen = vec![];
            b.drain(|i| seen.push(i));
            for r in recorders {
                r.join().unwrap();
            }
            // Quiescent: a slot claimed but not yet written when the first
            // drain passed it may be stranded (lossy), but nothing else is.
            let mut rest = vec![];
            b.drain(|i| rest.push(i));
            seen.extend(rest);
            let mut sorted = seen.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), seen.len(), "a record was drained twice");
            assert!(
                seen.iter().all(|i| [0, 1, 10, 11].contains(i)),
                "invented {seen:?}"
            );
            // Per recorder, program order survives.
            for t in [0, 10] {
                let mine: Vec<_> = seen.iter().filter(|&&i| i / 10 * 10 == t).collect();
                assert!(mine.windows(2).all(|w| w[0] < w[1]), "reordered {seen:?}");
            }
        });
    }

    /// With no drain racing them, every claimed record is drained.
    #[test]
    fn concurrent_records_all_drained() {
        loom::model(|| {
            let b = Arc::new(ReadBuffer::new());
            let hs: Vec<_> = (0..2u32)
                .map(|t| {
                    let b = b.clone();
                    thread::spawn(move || {
                        b.record(t * 10);
                        b.record(t * 10 + 1);
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            let mut out = vec![];
            b.drain(|i| out.push(i));
            let claimed = b.tail.load(Ordering::SeqCst);
            assert!(claimed >= 2, "at most one record per race is dropped");
            assert_eq!(out.len(), claimed, "claimed {claimed}, drained {out:?}");
        });
    }
}
