//! What keeps a [`Cache`] within its bounds besides its own writes: the
//! cache-wide weight bound, the removal reports, bulk invalidation, expiry
//! reclamation and the adaptive window's shadow replay.
//!
//! More methods of `Cache` (defined in `engine.rs`); the writes of
//! `engine.rs` and `load.rs` call `account` and `notify` after
//! their shard's lock is released.
use super::engine::{Cache, EVICTIONS, EXPIRATIONS, INVALIDATIONS, LISTENER_PANICS, REPLACEMENTS};
use super::segment::{Removals, Segment};
use super::shadow::{self, Shadows};
use super::RemovalCause;
use crate::clock::Clock;
use crate::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use crate::sync::Mutex;
use crossbeam_utils::CachePadded;
use std::hash::{BuildHasher, Hash};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The adaptive window of a bounded TinyLFU cache: the shadow caches
/// that choose it and the share word they publish to the shards (see
/// `shadow.rs`).
pub(crate) struct Adaptive {
    pub(crate) word: crate::sync::Arc<AtomicU64>,
    /// What a replay writes, on lines of its own: every `get` reads
    /// `threshold`, and a replay's writes next to it would cost every
    /// other core a miss on its next `get`.
    pub(super) replay: CachePadded<Replay>,
    /// The shadows' sampling threshold, read without the lock. Relaxed
    /// everywhere: a self-contained value; a sample judged by the old one
    /// is harmless.
    pub(super) threshold: AtomicU32,
    /// With a weigher, the entry count the shadows are sized for: the
    /// capacity counts weight, so the shadows follow the entries held
    /// instead (see `resize_shadows`). `None` without a weigher.
    pub(super) basis: Option<AtomicU64>,
}

/// The adaptive window's replay state: the shadows and their busy hint.
pub(crate) struct Replay {
    pub(super) shadows: Mutex<Shadows>,
    /// Set while a replay holds `shadows`: a hint that lets other samples
    /// drop without touching the mutex's line with a read-modify-write.
    pub(super) busy: AtomicBool,
}

impl Adaptive {
    pub(crate) fn new(capacity: u64, weighted: bool) -> Self {
        // A weighted cache starts from one entry and grows its shadows
        // with the entries it holds.
        let shadows = Shadows::new(if weighted { 1 } else { capacity });
        Adaptive {
            word: crate::sync::Arc::new(AtomicU64::new(shadow::to_word(shadow::VARIANTS[0]))),
            threshold: AtomicU32::new(shadows.threshold()),
            replay: CachePadded::new(Replay {
                shadows: Mutex::new(shadows),
                busy: AtomicBool::new(false),
            }),
            basis: weighted.then(|| AtomicU64::new(1)),
        }
    }
}

impl<K: Hash + Eq, V, S: BuildHasher, C: Clock> Cache<K, V, S, C> {
    /// Replays a request for `hash` in the window's shadow caches when
    /// it is in their sample (see `shadow.rs`), after the shard's lock is
    /// released; a sample that finds the shadows busy is dropped. Publishes
    /// the shadows' new choice of window, if they made one.
    #[inline]
    pub(super) fn shadow(&self, hash: u64) {
        if let Some(a) = &self.adaptive {
            // Relaxed: see `Adaptive::threshold`.
            if shadow::sampled(hash, a.threshold.load(Ordering::Relaxed)) {
                self.replay(a, hash);
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn replay(&self, a: &Adaptive, hash: u64) {
        // Relaxed: a hint only (the mutex decides); a stale `false` costs a
        // failed try-lock, a stale `true` one dropped sample.
        if a.replay.busy.load(Ordering::Relaxed) {
            return;
        }
        let Some(mut s) = a.replay.shadows.try_lock() else {
            return;
        };
        // Relaxed: as above.
        a.replay.busy.store(true, Ordering::Relaxed);
        s.record(hash);
        if let Some(v) = s.take_choice() {
            // Relaxed: see `Segment::shared_window`.
            a.word.store(shadow::to_word(v), Ordering::Relaxed);
        }
        a.replay.busy.store(false, Ordering::Relaxed);
    }

    /// A weighted cache's writer, after a write left its shard holding
    /// `len` entries: resizes the shadows when the entries held (estimated
    /// from this shard) passed half or twice what they are sized for.
    #[inline]
    pub(super) fn track_entries(&self, len: usize) {
        if let Some(basis) = self.adaptive.as_ref().and_then(|a| a.basis.as_ref()) {
            let held = (len as u64).saturating_mul(self.shards.len() as u64);
            // Relaxed: see `Adaptive::threshold`.
            let b = basis.load(Ordering::Relaxed);
            if held > b.saturating_mul(2) || held.saturating_mul(2) < b {
                self.resize_shadows(held);
            }
        }
    }

    /// Resizes a weighted cache's shadows for about `held` entries (their
    /// sampling rate follows), keeping the window they chose; called by a
    /// writer when the entries held moved past half or twice the last size.
    #[cold]
    #[inline(never)]
    pub(super) fn resize_shadows(&self, held: u64) {
        let Some(a) = &self.adaptive else {
            return;
        };
        let (Some(basis), Some(mut s)) = (&a.basis, a.replay.shadows.try_lock()) else {
            return;
        };
        let mut fresh = shadow::Shadows::new(held.max(1));
        fresh.follow(&s);
        *s = fresh;
        // Relaxed: self-contained values (see `Adaptive`).
        a.threshold.store(s.threshold(), Ordering::Relaxed);
        basis.store(held.max(1), Ordering::Relaxed);
    }

    /// The window share now (`None` without an adaptive window).
    #[cfg(feature = "serde")]
    pub(super) fn window_share(&self) -> Option<f64> {
        self.adaptive
            .as_ref()
            .map(|a| a.replay.shadows.lock().share())
    }

    /// Puts the adaptive window at the shadows' share nearest to `share`
    /// (a warm restart), published to the shards as their own choices are.
    #[cfg(feature = "serde")]
    pub(super) fn resume_window(&self, share: f64) {
        if let Some(a) = &self.adaptive {
            let v = a.replay.shadows.lock().resume(share);
            // Relaxed: see `Segment::shared_window`.
            a.word.store(shadow::to_word(v), Ordering::Relaxed);
        }
    }

    /// Keeps the cache-wide weight (with a weigher) and restores the bound
    /// when a shard holds an entry heavier than its share.
    pub(super) fn account(&self, idx: usize, before: u64, after: u64) {
        if self.config.weigher.is_none() {
            return;
        }
        // Relaxed: see `total`.
        if after >= before {
            self.total.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.total.fetch_sub(before - after, Ordering::Relaxed);
        }
        let Some(max) = self.config.max_capacity else {
            return;
        };
        // The other shards first, round-robin from a moving start so no
        // shard is drained alone; the writer's own shard (where the heavy
        // entry just went) only once the others have nothing left.
        let n = self.shards.len();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        let mut idle = 0;
        let mut step = 0usize;
        while self.total.load(Ordering::Relaxed) > max {
            let j = if idle >= n {
                idx
            } else {
                step += 1;
                (start + step) & self.mask
            };
            if j == idx && idle < n {
                idle += 1;
                continue;
            }
            let mut out = Removals::new();
            let (evicted, freed) = {
                let mut seg = self.shards[j].write();
                let before = seg.weight();
                let evicted = seg.evict_one(&self.hasher, &mut out);
                (evicted, before - seg.weight())
            };
            self.total.fetch_sub(freed, Ordering::Relaxed);
            self.notify(out);
            if evicted {
                idle = 0;
            } else if j == idx {
                break; // nothing left anywhere
            } else {
                idle += 1;
            }
        }
    }

    /// Counts and reports removals, outside every lock; the values drop here.
    pub(super) fn notify(&self, out: Removals<K, V>) {
        if out.is_empty() {
            return;
        }
        for (key, value, cause) in out.into_iter() {
            self.stats.incr(match cause {
                RemovalCause::Size => EVICTIONS,
                RemovalCause::Expired => EXPIRATIONS,
                RemovalCause::Explicit => INVALIDATIONS,
                RemovalCause::Replaced => REPLACEMENTS,
            });
            if let Some(listener) = &self.config.listener {
                if catch_unwind(AssertUnwindSafe(|| listener(&key, &value, cause))).is_err() {
                    self.stats.incr(LISTENER_PANICS);
                }
            }
        }
    }

    /// Removes every entry (each reported as [`RemovalCause::Explicit`]);
    /// loads in flight are not stored when they complete. Shard by shard:
    /// not atomic across shards.
    pub fn invalidate_all(&self) {
        self.each_shard(|seg, _, _, out| {
            seg.flights.clear();
            seg.clear(RemovalCause::Explicit, out);
        });
    }

    /// Keeps only the live entries for which `keep` returns true; the
    /// others are removed as [`RemovalCause::Explicit`] (expired entries are
    /// reclaimed as [`RemovalCause::Expired`] without being shown to
    /// `keep`). Shard by shard, `keep` running under each shard's lock: it
    /// must not use the cache.
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.each_shard(|seg, now, hasher, out| {
            seg.retain(now, hasher, &mut keep, RemovalCause::Explicit, out);
        });
    }

    /// Replays every recorded hit and reclaims every expired entry now
    /// (ordinary calls do this a bounded amount at a time).
    pub fn run_pending_tasks(&self) {
        self.each_shard(|seg, now, hasher, out| seg.expire_all(now, hasher, out));
    }

    /// Runs `op` on every shard in turn under its write lock (with the
    /// shard's clamped clock reading), then keeps the cache-wide weight and
    /// reports the removals outside the lock: the one loop behind
    /// `invalidate_all`, `retain` and `run_pending_tasks`.
    fn each_shard(&self, mut op: impl FnMut(&mut Segment<K, V>, u64, &S, &mut Removals<K, V>)) {
        let now = self.write_now();
        for (idx, shard) in self.shards.iter().enumerate() {
            let mut out = Removals::new();
            let (before, after) = {
                let mut seg = shard.write();
                let now = seg.clamp_now(now);
                let before = seg.weight();
                op(&mut seg, now, &self.hasher, &mut out);
                (before, seg.weight())
            };
            self.account(idx, before, after);
            self.notify(out);
        }
    }
}
