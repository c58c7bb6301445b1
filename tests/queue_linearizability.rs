#![cfg(all(not(loom), feature = "queue"))]
//! Linearizability check of concurrent `PriorityQueue` histories.
//!
//! Several threads push and pop, recording each operation's real-time
//! interval. An exhaustive search (Wing & Gong) then looks for a sequential
//! order of all operations that respects real time (an operation that
//! returned before another was called comes first) and that the sequential
//! reference (`BTreeMap<(level, seq), _>`) explains, under the guarantee
//! documented on `PriorityQueue`:
//!
//! - a pop returns the oldest item of its level;
//! - it may pass over a more urgent item only if that item's push had not
//!   returned when the pop was called (a push concurrent with the pop);
//!   `None` likewise only if every item left is from such a push.
//!
//! Histories that need that relaxation are counted (and printed) but pass;
//! everything else must be strictly linearizable against the reference.
use latchwork::queue::{Level, PriorityQueue};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Push { level: u8, val: u32 },
    Pop(Option<(u8, u32)>),
}

#[derive(Clone, Copy, Debug)]
struct Event {
    kind: Kind,
    start: u64,
    end: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Spec {
    /// A linearizable `Mutex<BinaryHeap>`.
    Strict,
    /// The documented guarantee.
    Documented,
}

/// Item -> (level, seq, push's end time).
type State = BTreeMap<(u8, u64), (u32, u64)>;

fn explains(history: &[Event], spec: Spec) -> bool {
    fn search(h: &[Event], done: u64, state: &mut State, seq: u64, spec: Spec) -> bool {
        if done.count_ones() as usize == h.len() {
            return true;
        }
        // Only operations no pending operation finished before may go next.
        let min_end = (0..h.len())
            .filter(|i| done & (1 << i) == 0)
            .map(|i| h[i].end)
            .min()
            .unwrap_or(u64::MAX);
        for i in 0..h.len() {
            if done & (1 << i) != 0 || h[i].start > min_end {
                continue;
            }
            let e = h[i];
            match e.kind {
                Kind::Push { level, val } => {
                    state.insert((level, seq), (val, e.end));
                    if search(h, done | (1 << i), state, seq + 1, spec) {
                        return true;
                    }
                    state.remove(&(level, seq));
                }
                Kind::Pop(got) => {
                    // Items this pop must not pass over.
                    let binding = |_: &(u8, u64), &(_, push_end): &(u32, u64)| match spec {
                        Spec::Strict => true,
                        Spec::Documented => push_end < e.start,
                    };
                    let ok_key = match got {
                        None => {
                            if state.iter().any(|(k, v)| binding(k, v)) {
                                continue;
                            }
                            None
                        }
                        Some((level, val)) => {
                            let head = state.range((level, 0)..=(level, u64::MAX)).next();
                            let Some((&key, &(v, _))) = head else {
                                continue;
                            };
                            if v != val || state.range(..(level, 0)).any(|(k, v)| binding(k, v)) {
                                continue;
                            }
                            Some(key)
                        }
                    };
                    let removed = ok_key.map(|k| (k, state.remove(&k)));
                    if search(h, done | (1 << i), state, seq, spec) {
                        return true;
                    }
                    if let Some((k, Some(v))) = removed {
                        state.insert(k, v);
                    }
                }
            }
        }
        false
    }
    assert!(history.len() <= 64);
    search(history, 0, &mut State::new(), 0, spec)
}

/// `ring`: the per-level ring capacity (`None`: the default); a ring of 1
/// makes every second item of a level go through its overflow.
fn record(
    seed: u64,
    threads: usize,
    ops: usize,
    prefill: usize,
    ring: Option<usize>,
) -> Vec<Event> {
    let origin = Instant::now();
    let now = move || origin.elapsed().as_nanos() as u64;
    let q = Arc::new(match ring {
        None => PriorityQueue::new(),
        Some(cap) => PriorityQueue::with_ring_capacity(cap).unwrap(),
    });
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut history = Vec::new();
    for i in 0..prefill {
        let level = rng.gen_range(0..3u8);
        let val = 1_000 + i as u32;
        let start = now();
        q.push(Level::new(level).unwrap(), val).unwrap();
        history.push(Event {
            kind: Kind::Push { level, val },
            start,
            end: now(),
        });
    }
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (q, barrier) = (q.clone(), barrier.clone());
            let mut rng = SmallRng::seed_from_u64(seed * 31 + t as u64);
            std::thread::spawn(move || {
                let mut events = Vec::new();
                barrier.wait();
                for i in 0..ops {
                    let start = now();
                    let kind = if rng.gen_bool(0.5) {
                        let level = rng.gen_range(0..3u8);
                        let val = (t * 100 + i) as u32;
                        q.push(Level::new(level).unwrap(), val).unwrap();
                        Kind::Push { level, val }
                    } else {
                        Kind::Pop(q.try_pop().map(|(l, v)| (l.get(), v)))
                    };
                    events.push(Event {
                        kind,
                        start,
                        end: now(),
                    });
                }
                events
            })
        })
        .collect();
    for h in handles {
        history.extend(h.join().unwrap());
    }
    // Drain what is left, sequentially, so the history is closed.
    loop {
        let start = now();
        let got = q.try_pop().map(|(l, v)| (l.get(), v));
        history.push(Event {
            kind: Kind::Pop(got),
            start,
            end: now(),
        });
        if got.is_none() {
            break;
        }
    }
    q.check_invariants().unwrap();
    history
}

#[test]
fn concurrent_histories_are_explained_by_the_reference() {
    check_histories(None);
}

#[test]
fn concurrent_histories_through_the_overflow_are_explained() {
    check_histories(Some(1));
}

fn check_histories(ring: Option<usize>) {
    let rounds = 400;
    let mut relaxed = 0;
    for seed in 0..rounds {
        let history = record(seed, 3, 4, 2, ring);
        assert!(
            explains(&history, Spec::Documented),
            "seed {seed}: no order of the reference explains {history:#?}"
        );
        if !explains(&history, Spec::Strict) {
            relaxed += 1;
        }
    }
    println!("{relaxed} of {rounds} histories needed the documented relaxation");
}

fn ev(kind: Kind, start: u64, end: u64) -> Event {
    Event { kind, start, end }
}

#[test]
fn checker_rejects_priority_and_fifo_violations() {
    let push = |level, val| Kind::Push { level, val };
    // Sequential: urgent item pushed, then a pop returns the background one.
    let h = [
        ev(push(2, 1), 0, 1),
        ev(push(0, 2), 2, 3),
        ev(Kind::Pop(Some((2, 1))), 4, 5),
        ev(Kind::Pop(Some((0, 2))), 6, 7),
    ];
    assert!(!explains(&h, Spec::Documented));
    // FIFO within a level.
    let h = [
        ev(push(1, 1), 0, 1),
        ev(push(1, 2), 2, 3),
        ev(Kind::Pop(Some((1, 2))), 4, 5),
        ev(Kind::Pop(Some((1, 1))), 6, 7),
    ];
    assert!(!explains(&h, Spec::Documented));
    // An item popped twice, or never pushed.
    let h = [
        ev(push(1, 1), 0, 1),
        ev(Kind::Pop(Some((1, 1))), 2, 3),
        ev(Kind::Pop(Some((1, 1))), 4, 5),
    ];
    assert!(!explains(&h, Spec::Documented));
    // None while a completed push's item is still there.
    let h = [ev(push(3, 1), 0, 1), ev(Kind::Pop(None), 2, 3)];
    assert!(!explains(&h, Spec::Documented));
    // Overlapping operations may be ordered either way.
    let h = [
        ev(push(0, 1), 0, 10),
        ev(Kind::Pop(None), 1, 2),
        ev(Kind::Pop(Some((0, 1))), 11, 12),
    ];
    assert!(explains(&h, Spec::Strict));
}

#[test]
fn checker_tells_the_relaxation_apart() {
    let push = |level, val| Kind::Push { level, val };
    // A long pop overlaps two pushes that run one after the other: it
    // returns the later, less urgent item while the earlier, more urgent one
    // is queued. Allowed by the documented guarantee, not by a strict heap.
    let h = [
        ev(Kind::Pop(Some((1, 2))), 0, 100),
        ev(push(0, 1), 10, 20),
        ev(push(1, 2), 30, 40),
        ev(Kind::Pop(Some((0, 1))), 101, 102),
    ];
    assert!(explains(&h, Spec::Documented));
    assert!(!explains(&h, Spec::Strict));
}
