//! `Cache` against sequential references (the fuzz twin of
//! `tests/cache_model.rs`), `check_invariants` after every operation:
//!
//! - `Policy::Lru`, one shard, one thread: exactly the strict LRU
//!   reference, every return value and every removal the listener hears;
//! - either policy, any shard count, a weigher, a TTL, per-entry TTLs and
//!   a manual clock that moves: every value returned is the last one stored
//!   for its key and not expired, the weighted size stays within the
//!   capacity, and the listener's calls add up to the stats;
//! - two threads on disjoint key halves with room for every key (no
//!   eviction, so a deterministic outcome): the final contents equal the
//!   union of the two threads' last writes.
//!
//! `Compute` drives the entry API (`and_compute_with`: put, remove, keep,
//! add one) through all three.
#![no_main]

use arbitrary::Arbitrary;
use latchwork::cache::{Cache, Computed, Op as EntryOp, Policy, RemovalCause};
use latchwork::clock::{Clock, ManualClock};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "../../tests/common/lru_reference.rs"]
mod lru_reference;
use lru_reference::Reference;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Get(u8),
    Peek(u8),
    Insert(u8, u32),
    InsertTtl(u8, u32, u8),
    Load(u8, u32),
    Remove(u8),
    Advance(u8),
    Retain(u8),
    /// `entry(k).and_compute_with`: mode % 4 is put `v`, remove, keep, or
    /// put the old value plus one (`v` when absent).
    Compute(u8, u32, u8),
    InvalidateAll,
    RunPending,
}

#[derive(Arbitrary, Debug)]
enum Input {
    StrictLru {
        capacity: u8,
        ops: Vec<Op>,
    },
    Anything {
        tinylfu: bool,
        capacity: u16,
        shards: u8,
        weighted: bool,
        ttl_ms: Option<u8>,
        tti_ms: Option<u8>,
        ops: Vec<Op>,
    },
    TwoThreads {
        tinylfu: bool,
        ops: [Vec<Op>; 2],
    },
}

fuzz_target!(|input: Input| match input {
    Input::StrictLru { capacity, ops } => strict_lru(capacity, ops),
    Input::Anything {
        tinylfu,
        capacity,
        shards,
        weighted,
        ttl_ms,
        tti_ms,
        ops,
    } => anything(tinylfu, capacity, shards, weighted, ttl_ms, tti_ms, ops),
    Input::TwoThreads { tinylfu, ops } => two_threads(tinylfu, ops),
});

fn policy(tinylfu: bool) -> Policy {
    if tinylfu {
        Policy::TinyLfu
    } else {
        Policy::Lru
    }
}

/// What a `Compute` of `mode` does to `old`.
fn decide(old: Option<u32>, v: u32, mode: u8) -> EntryOp<u32> {
    match mode % 4 {
        0 => EntryOp::Put(v),
        1 => EntryOp::Remove,
        2 => EntryOp::Nop,
        _ => EntryOp::Put(old.map_or(v, |o| o.wrapping_add(1))),
    }
}

fn strict_lru(capacity: u8, ops: Vec<Op>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let built = {
        let events = events.clone();
        Cache::builder()
            .max_capacity(u64::from(capacity))
            .policy(Policy::Lru)
            .shards(1)
            .eviction_listener(move |k: &u8, v: &u32, c| events.lock().unwrap().push((*k, *v, c)))
            .build()
    };
    let Ok(cache) = built else {
        assert_eq!(capacity, 0);
        return;
    };
    let mut reference = Reference::new(capacity as usize);
    for op in ops {
        let mut want = vec![];
        match op {
            Op::Get(k) => assert_eq!(cache.get(&k), reference.get(k)),
            Op::Peek(k) => assert_eq!(cache.peek(&k), reference.peek(k)),
            Op::Insert(k, v) | Op::InsertTtl(k, v, _) => {
                if let Some((ok, ov)) = reference.put(k, v) {
                    let cause = if ok == k {
                        RemovalCause::Replaced
                    } else {
                        RemovalCause::Size
                    };
                    want.push((ok, ov, cause));
                }
                assert!(cache.insert(k, v));
            }
            Op::Load(k, v) => {
                let expect = match reference.get(k) {
                    Some(old) => old,
                    None => {
                        if let Some((ok, ov)) = reference.put(k, v) {
                            want.push((ok, ov, RemovalCause::Size));
                        }
                        v
                    }
                };
                assert_eq!(cache.get_or_insert_with(k, || v), expect);
            }
            Op::Remove(k) => {
                let r = reference.remove(k);
                if let Some(v) = r {
                    want.push((k, v, RemovalCause::Explicit));
                }
                assert_eq!(cache.remove(&k), r);
            }
            Op::Compute(k, v, mode) => {
                let old = reference.peek(k);
                let got = cache
                    .entry(k)
                    .and_compute_with(|o| decide(o.copied(), v, mode));
                let expect = match (decide(old, v, mode), old) {
                    (EntryOp::Put(n), old) => {
                        if let Some((ok, ov)) = reference.put(k, n) {
                            let cause = if ok == k {
                                RemovalCause::Replaced
                            } else {
                                RemovalCause::Size
                            };
                            want.push((ok, ov, cause));
                        }
                        if old.is_some() {
                            Computed::Replaced(n)
                        } else {
                            Computed::Inserted(n)
                        }
                    }
                    (EntryOp::Remove, Some(o)) => {
                        reference.remove(k);
                        want.push((k, o, RemovalCause::Explicit));
                        Computed::Removed(o)
                    }
                    (_, Some(o)) => Computed::Unchanged(o),
                    (_, None) => Computed::StillAbsent,
                };
                assert_eq!(got, expect, "{op:?}");
            }
            Op::InvalidateAll => {
                cache.invalidate_all();
                want.extend(
                    reference
                        .order
                        .drain(..)
                        .map(|(k, v)| (k, v, RemovalCause::Explicit)),
                );
            }
            Op::Advance(_) | Op::Retain(_) | Op::RunPending => {}
        }
        let mut got = std::mem::take(&mut *events.lock().unwrap());
        if matches!(op, Op::InvalidateAll) {
            got.sort_unstable_by_key(|e| e.0);
            want.sort_unstable_by_key(|e| e.0);
        }
        assert_eq!(got, want, "{op:?}");
        assert_eq!(cache.len(), reference.order.len());
        cache.check_invariants().unwrap();
    }
}

#[allow(clippy::too_many_arguments)]
fn anything(
    tinylfu: bool,
    capacity: u16,
    shards: u8,
    weighted: bool,
    ttl_ms: Option<u8>,
    tti_ms: Option<u8>,
    ops: Vec<Op>,
) {
    let clock = ManualClock::new();
    let removals: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let mut b = Cache::builder()
        .max_capacity(u64::from(capacity))
        .policy(policy(tinylfu))
        .shards(usize::from(shards))
        .clock(clock.clone());
    if weighted {
        b = b.weigher(|_k: &u8, v: &(u32, u64)| v.0 % 50);
    }
    if let Some(t) = ttl_ms {
        b = b.time_to_live(Duration::from_millis(u64::from(t)));
    }
    if let Some(t) = tti_ms {
        b = b.time_to_idle(Duration::from_millis(u64::from(t)));
    }
    let b = {
        let removals = removals.clone();
        b.eviction_listener(move |_k, _v, c| {
            let i = match c {
                RemovalCause::Size => 0,
                RemovalCause::Expired => 1,
                RemovalCause::Explicit => 2,
                _ => 3,
            };
            removals[i].fetch_add(1, Ordering::Relaxed);
        })
    };
    let Ok(cache) = b.build() else {
        assert!(
            capacity == 0 || shards == 0 || ttl_ms == Some(0) || tti_ms == Some(0),
            "only zero settings are refused"
        );
        return;
    };
    // The last value stored per key, and its time to live (the entry's own,
    // else the cache's) in nanoseconds: no read may see it after that.
    let mut last: HashMap<u8, u32> = HashMap::new();
    let mut lives: HashMap<u8, Option<u64>> = HashMap::new();
    let cache_ttl = ttl_ms.map(|t| u64::from(t) * 1_000_000);
    let ms = |n: u8| Duration::from_millis(u64::from(n));
    for op in ops {
        let now = clock.now_nanos();
        match op {
            Op::Get(k) | Op::Peek(k) => {
                let got = if matches!(op, Op::Get(_)) {
                    cache.get(&k)
                } else {
                    cache.peek(&k)
                };
                if let Some((v, written)) = got {
                    assert_eq!(Some(&v), last.get(&k), "only the last value stored");
                    if let Some(Some(t)) = lives.get(&k) {
                        assert!(now < written + t, "expired value returned");
                    }
                }
            }
            Op::Insert(k, v) => {
                cache.insert(k, (v, now));
                last.insert(k, v);
                lives.insert(k, cache_ttl);
            }
            Op::InsertTtl(k, v, t) => {
                cache.insert_with_ttl(k, (v, now), ms(t));
                last.insert(k, v);
                lives.insert(k, Some(u64::from(t) * 1_000_000));
            }
            Op::Load(k, v) => {
                let loads = cache.stats().loads;
                let (got, _) = cache.get_or_insert_with(k, || (v, now));
                if cache.stats().loads > loads {
                    last.insert(k, v);
                    lives.insert(k, cache_ttl);
                } else {
                    assert_eq!(Some(&got), last.get(&k));
                }
            }
            Op::Remove(k) => {
                if let Some((v, _)) = cache.remove(&k) {
                    assert_eq!(Some(&v), last.get(&k));
                }
                assert!(!cache.contains(&k));
            }
            Op::Advance(t) => clock.advance(ms(t)),
            Op::Retain(m) => {
                let m = u32::from(m.max(1));
                cache.retain(|_, v| v.0 % m != 0);
            }
            Op::Compute(k, v, mode) => {
                let mut seen = None;
                let got = cache.entry(k).and_compute_with(|o| {
                    seen = Some(o.copied());
                    match decide(o.map(|o| o.0), v, mode) {
                        EntryOp::Put(n) => EntryOp::Put((n, now)),
                        EntryOp::Remove => EntryOp::Remove,
                        EntryOp::Nop => EntryOp::Nop,
                    }
                });
                if let Some(Some((old, written))) = seen {
                    assert_eq!(Some(&old), last.get(&k), "compute saw only the last value");
                    if let Some(Some(t)) = lives.get(&k) {
                        assert!(now < written + t, "compute saw an expired value");
                    }
                }
                if let Computed::Inserted((n, _)) | Computed::Replaced((n, _)) = got {
                    last.insert(k, n);
                    lives.insert(k, cache_ttl);
                }
            }
            Op::InvalidateAll => cache.invalidate_all(),
            Op::RunPending => cache.run_pending_tasks(),
        }
        assert!(cache.weighted_size() <= u64::from(capacity));
        cache.check_invariants().unwrap();
    }
    cache.invalidate_all();
    let s = cache.stats();
    let r: Vec<u64> = removals.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    assert_eq!(
        r,
        [s.evictions, s.expirations, s.invalidations, s.replacements]
    );
    assert_eq!(
        s.inserts,
        r.iter().sum::<u64>(),
        "every stored entry left once"
    );
}

fn two_threads(tinylfu: bool, ops: [Vec<Op>; 2]) {
    // Room for every key: nothing is evicted, so the outcome is fixed.
    let cache = Arc::new(
        Cache::builder()
            .max_capacity(2048)
            .policy(policy(tinylfu))
            .shards(2)
            .build()
            .unwrap(),
    );
    let handles: Vec<_> = ops
        .into_iter()
        .enumerate()
        .map(|(t, ops)| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                // Thread t owns keys with low bit t.
                let own = |k: u8| (k & !1) | t as u8;
                let mut model: HashMap<u8, u32> = HashMap::new();
                for op in ops {
                    match op {
                        Op::Get(k) | Op::Peek(k) => {
                            let k = own(k);
                            assert_eq!(cache.get(&k), model.get(&k).copied());
                        }
                        Op::Insert(k, v) | Op::InsertTtl(k, v, _) | Op::Load(k, v) => {
                            let k = own(k);
                            cache.insert(k, v);
                            model.insert(k, v);
                        }
                        Op::Remove(k) => {
                            let k = own(k);
                            assert_eq!(cache.remove(&k), model.remove(&k));
                        }
                        Op::Compute(k, v, mode) => {
                            let k = own(k);
                            let old = model.get(&k).copied();
                            cache.entry(k).and_compute_with(|o| {
                                assert_eq!(o.copied(), old, "only this thread writes k");
                                decide(o.copied(), v, mode)
                            });
                            match decide(old, v, mode) {
                                EntryOp::Put(n) => {
                                    model.insert(k, n);
                                }
                                EntryOp::Remove => {
                                    model.remove(&k);
                                }
                                EntryOp::Nop => {}
                            }
                        }
                        _ => {}
                    }
                }
                model
            })
        })
        .collect();
    let mut want: HashMap<u8, u32> = HashMap::new();
    for h in handles {
        want.extend(h.join().unwrap());
    }
    for (k, v) in &want {
        assert_eq!(cache.peek(k), Some(*v));
    }
    assert_eq!(cache.len(), want.len());
    cache.check_invariants().unwrap();
}
