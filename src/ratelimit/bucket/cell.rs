//! The token bucket's state and quota: one TAT word that checks update
//! with a CAS, and a quota that a re-quota replaces through `&self` while
//! checks stay lock-free.
//!
//! **The problem.** A check reads the quota (interval, burst) and the TAT,
//! decides, and CASes the TAT. A re-quota converts the TAT to the new quota
//! and replaces the quota: two words, so a CAS on the TAT alone cannot tell
//! whether the quota it decided under is still in force. Worse, a
//! conversion can leave the TAT's *value* unchanged (a full bucket stays
//! full), so a check that read the old quota before the change could CAS
//! after it and succeed (ABA), charging the old interval to a bucket that
//! now lives under the new one.
//!
//! **The protocol.** The quota is a seqlock: `seq` is odd while a re-quota
//! runs, and a check takes its *snapshot* (quota, bias, word) between two
//! equal, even readings of `seq`. The word holds `tat + bias` (wrapping),
//! and every re-quota stores a word that continues the word's history:
//! `last + 1`, with the bias rebased so that it still means the converted
//! TAT. Within a quota's lifetime checks only move the word forward (a
//! charge adds `max(tat, now) - tat + cost x interval >= 1`), so the word's
//! history is one strictly increasing sequence (mod 2^64) and a snapshot's
//! word never comes back: a check whose snapshot predates a re-quota fails
//! its CAS and takes a new snapshot.
//!
//! ```text
//!   re-quota (one at a time):  seq odd -> CAS word: w -> w + 1
//!                              -> store interval, capacity, bias -> seq even
//!   check:  seq (even) -> interval, capacity, bias, word -> seq again (same?)
//!           -> decide on tat = word - bias -> CAS word -> new tat + bias
//! ```
//!
//! A word value could recur only after the word has advanced 2^64 ns in
//! total since a stalled check took its snapshot, which takes the clock's
//! whole range (584 years) swept by the TAT across re-quotas: the usual
//! wrap bound of a 64-bit tag. Checks are lock-free except while a re-quota
//! runs, when they wait (spinning, then yielding) for its few stores.
use super::super::gcra::{self, Gcra, Refusal, View};
use super::super::Error;
use crate::clock::Clock;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::spin::SpinWait;
use crate::sync::Mutex;
use crossbeam_utils::CachePadded;

/// A TAT and the quota it is read under.
pub(crate) struct GcraCell {
    /// `tat + bias` (wrapping), where `tat` is the GCRA theoretical arrival
    /// time in clock nanoseconds: the reading at which the bucket will be
    /// full again.
    ///
    /// | `tat` (= word - bias) | meaning                                    |
    /// |-----------------------|--------------------------------------------|
    /// | `tat <= now`          | full (`burst` tokens); 0 when fresh        |
    /// | `now < tat`           | `burst - (tat - now) / interval` tokens    |
    /// | `tat - now > tau`     | never stored by a check                    |
    word: CachePadded<AtomicU64>,
    quota: CachePadded<Quota>,
    /// Serialises re-quotas (the only writers of `quota`).
    writer: Mutex<()>,
}

/// The seqlock'd quota: `seq` odd while a re-quota runs.
struct Quota {
    seq: AtomicU64,
    interval: AtomicU64,
    capacity: AtomicU64,
    /// What the word is offset by: `tat = word - bias` (wrapping).
    bias: AtomicU64,
}

/// A consistent reading: the quota in force, the TAT under it, and the
/// word it was read from (what a CAS must find).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot {
    pub(crate) gcra: Gcra,
    pub(crate) tat: u64,
    word: u64,
    bias: u64,
}

impl GcraCell {
    /// A full bucket under `gcra`.
    pub(crate) fn new(gcra: Gcra) -> Self {
        GcraCell {
            word: CachePadded::new(AtomicU64::new(0)),
            quota: CachePadded::new(Quota {
                seq: AtomicU64::new(0),
                interval: AtomicU64::new(gcra.interval()),
                capacity: AtomicU64::new(gcra.capacity()),
                bias: AtomicU64::new(0),
            }),
            writer: Mutex::new(()),
        }
    }

    /// The quota in force and the TAT under it, read consistently.
    #[inline]
    pub(crate) fn snapshot(&self) -> Snapshot {
        let q = &*self.quota;
        let mut spin = SpinWait::new();
        loop {
            // Acquire: pairs with the Release store that made `seq` even, so
            // the quota and word loads below see that re-quota's stores.
            let s1 = q.seq.load(Ordering::Acquire);
            if s1 & 1 == 0 {
                // Acquire, each: a load that reads a store (or the word CAS)
                // of a re-quota running now synchronises with it, so the
                // `seq` load below sees its odd value (the odd store precedes
                // those Release stores) and the snapshot is retried. Acquire
                // also keeps that `seq` load from moving above these.
                let interval = q.interval.load(Ordering::Acquire);
                let capacity = q.capacity.load(Ordering::Acquire);
                let bias = q.bias.load(Ordering::Acquire);
                let word = self.word.load(Ordering::Acquire);
                // Relaxed: ordered after the Acquire loads above (see there).
                if q.seq.load(Ordering::Relaxed) == s1 {
                    return Snapshot {
                        gcra: Gcra::from_valid_parts(interval, capacity),
                        tat: word.wrapping_sub(bias),
                        word,
                        bias,
                    };
                }
            }
            // A re-quota is storing a few words: wait for it (the kernel's
            // ladder; nothing announces the end of a re-quota).
            spin.nap();
        }
    }

    /// The CAS loop of a check of `cost` at `now`: the quota it was decided
    /// under and the new TAT, or the quota, the TAT seen and why not.
    ///
    /// # Errors
    /// [`Error::CostExceedsCapacity`] if `cost` is above the capacity of
    /// the quota read (checked per snapshot: the quota may change).
    #[inline]
    #[allow(clippy::type_complexity)]
    pub(crate) fn charge(
        &self,
        now: u64,
        cost: u64,
    ) -> Result<(Gcra, Result<u64, (u64, Refusal)>), Error> {
        // Each round re-reads the whole snapshot (the quota may have
        // changed): every re-quota stores a word no snapshot has seen (see
        // the module docs), so a CAS that finds `snap.word` decides under
        // the quota in force.
        gcra::charge(&self.word, 0, now, cost, |_| {
            let snap = self.snapshot();
            snap.gcra.check_cost(cost)?;
            Ok(View {
                gcra: snap.gcra,
                word: snap.word,
                tat: snap.tat,
                bias: snap.bias,
            })
        })
    }

    /// Replaces the quota with `to`, converting the TAT at the clock's
    /// reading (see [`Gcra::convert`]): no burst is handed out, no check is
    /// decided under a mix of the two.
    pub(crate) fn set<C: Clock>(&self, to: Gcra, clock: &C) {
        let _writer = self.writer.lock();
        // Read under the writers' lock, so re-quotas convert in time order.
        let now = clock.now_nanos();
        let q = &*self.quota;
        // Relaxed, these three: only writers store them, and we hold the
        // writers' lock (whose acquire ordered the last writer's stores).
        let seq = q.seq.load(Ordering::Relaxed);
        let from = Gcra::from_valid_parts(
            q.interval.load(Ordering::Relaxed),
            q.capacity.load(Ordering::Relaxed),
        );
        let bias = q.bias.load(Ordering::Relaxed);
        // Relaxed: ordered before the word CAS and the quota stores by their
        // Release, which is what a check reading any of them synchronises
        // with (see `snapshot`).
        q.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        // Relaxed: a starting value; the CAS below checks it.
        let mut word = self.word.load(Ordering::Relaxed);
        let rebased = loop {
            let tat = from.convert(word.wrapping_sub(bias), now, &to);
            let next = word.wrapping_add(1);
            // Release: publishes the odd `seq` to a check that reads `next`
            // (or a later charge of it: RMWs continue the release
            // sequence). Relaxed on failure: the value read is all we use.
            match self
                .word
                .compare_exchange_weak(word, next, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break next.wrapping_sub(tat),
                Err(actual) => word = actual,
            }
        };
        // Release, these four: see `snapshot`.
        q.interval.store(to.interval(), Ordering::Release);
        q.capacity.store(to.capacity(), Ordering::Release);
        q.bias.store(rebased, Ordering::Release);
        q.seq.store(seq.wrapping_add(2), Ordering::Release);
    }
}
