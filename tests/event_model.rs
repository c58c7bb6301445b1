#![cfg(all(not(loom), feature = "event"))]
//! proptest model tests: the emitter (ordering, once, off, off_all,
//! failures) and the broadcast channel (values, lag counts, close) against
//! the sequential references in `tests/common/event_reference.rs`, every
//! return value compared.

#[path = "common/event_reference.rs"]
mod event_reference;

use event_reference::{pattern_valid, BroadcastRef, EmitterRef, RefRecv};
use latchwork::event::broadcast::{Builder, Policy, TryRecvError};
use latchwork::event::{Emitter, FailureReason, Subscription};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

const PATTERNS: &[&str] = &["a", "a.b", "a.c", "b", "a.*", "a.b.*", "*", "a*", ""];
const TOPICS: &[&str] = &["a", "a.b", "a.c", "b", "a.b.c", "a."];

#[derive(Clone, Debug)]
enum EmOp {
    On {
        pattern: usize,
        priority: i8,
        once: bool,
        fails: bool,
        panics: bool,
    },
    Off(usize),
    Drop(usize),
    Detach(usize),
    OffAll(usize),
    Emit(usize),
    Count(usize),
}

fn em_op() -> impl Strategy<Value = EmOp> {
    prop_oneof![
        4 => (0..PATTERNS.len(), -2i8..3, any::<bool>(), prop::bool::weighted(0.2), prop::bool::weighted(0.1))
            .prop_map(|(pattern, priority, once, fails, panics)| EmOp::On { pattern, priority, once, fails, panics }),
        1 => any::<usize>().prop_map(EmOp::Off),
        1 => any::<usize>().prop_map(EmOp::Drop),
        1 => any::<usize>().prop_map(EmOp::Detach),
        1 => (0..PATTERNS.len()).prop_map(EmOp::OffAll),
        4 => (0..TOPICS.len()).prop_map(EmOp::Emit),
        1 => (0..TOPICS.len()).prop_map(EmOp::Count),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn emitter_matches_reference(ops in prop::collection::vec(em_op(), 1..60)) {
        let em = Emitter::<u32>::new();
        let mut r = EmitterRef::default();
        let log = Arc::new(Mutex::new(Vec::<u64>::new()));
        // (reference id, handle) of subscriptions still held by the test.
        let mut handles: Vec<(u64, Subscription)> = Vec::new();
        let mut detached = Vec::new();
        for op in ops {
            match op {
                EmOp::On { pattern, priority, once, fails, panics } => {
                    let p = PATTERNS[pattern];
                    let log = log.clone();
                    let prio = priority as i32;
                    let body = move |id_cell: &Arc<Mutex<u64>>| {
                        let id = *id_cell.lock().unwrap();
                        log.lock().unwrap().push(id);
                        if panics {
                            panic!("listener {id} panics");
                        }
                        if fails { Err(format!("listener {id} fails")) } else { Ok(()) }
                    };
                    let id_cell = Arc::new(Mutex::new(u64::MAX));
                    let cell = id_cell.clone();
                    let res = if once {
                        em.once_with_priority(p, prio, move |_: &u32| body(&cell))
                    } else {
                        em.on_with_priority(p, prio, move |_: &u32| body(&cell))
                    };
                    prop_assert_eq!(res.is_ok(), pattern_valid(p), "pattern {:?}", p);
                    if let Ok(sub) = res {
                        let id = r.on(p, prio, once, fails || panics);
                        prop_assert_eq!(sub.id().get(), id);
                        *id_cell.lock().unwrap() = id;
                        handles.push((id, sub));
                    }
                }
                EmOp::Off(i) if !handles.is_empty() => {
                    let (id, sub) = handles.remove(i % handles.len());
                    prop_assert_eq!(sub.off(), r.off(id));
                }
                EmOp::Drop(i) if !handles.is_empty() => {
                    let (id, sub) = handles.remove(i % handles.len());
                    drop(sub);
                    r.off(id);
                }
                EmOp::Detach(i) if !handles.is_empty() => {
                    let (id, sub) = handles.remove(i % handles.len());
                    detached.push(sub.detach());
                    // Removing by id later must agree with the reference.
                    if id % 3 == 0 {
                        prop_assert_eq!(em.off(detached[detached.len() - 1]), r.off(id));
                    }
                }
                EmOp::OffAll(p) => {
                    prop_assert_eq!(em.off_all(PATTERNS[p]), r.off_all(PATTERNS[p]));
                }
                EmOp::Emit(t) => {
                    let topic = TOPICS[t];
                    log.lock().unwrap().clear();
                    let report = em.emit(topic, &7);
                    let (ran, failed) = r.emit(topic);
                    prop_assert_eq!(&*log.lock().unwrap(), &ran);
                    prop_assert_eq!(report.ran(), ran.len());
                    let got: Vec<u64> = report.failures().iter().map(|f| f.id.get()).collect();
                    prop_assert_eq!(got, failed);
                    for f in report.failures() {
                        let text = match &f.reason {
                            FailureReason::Panicked(m) => m.clone(),
                            FailureReason::Returned(m) => m.clone(),
                            other => format!("{other}"),
                        };
                        prop_assert!(text.contains(&f.id.get().to_string()));
                    }
                }
                EmOp::Count(t) => {
                    prop_assert_eq!(em.listener_count(TOPICS[t]), r.count(TOPICS[t]));
                }
                _ => {}
            }
        }
    }
}

#[derive(Clone, Debug)]
enum BcOp {
    Send(u64),
    Subscribe,
    DropRx(usize),
    TryRecv(usize),
    Close,
}

fn bc_op() -> impl Strategy<Value = BcOp> {
    prop_oneof![
        5 => any::<u64>().prop_map(BcOp::Send),
        1 => Just(BcOp::Subscribe),
        1 => any::<usize>().prop_map(BcOp::DropRx),
        6 => any::<usize>().prop_map(BcOp::TryRecv),
        1 => Just(BcOp::Close),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn broadcast_matches_reference(
        cap in 1usize..9,
        backpressure in any::<bool>(),
        ops in prop::collection::vec(bc_op(), 1..120),
    ) {
        let policy = if backpressure { Policy::Backpressure } else { Policy::Overwrite };
        let (tx, rx0) = Builder::new(cap).policy(policy).max_receivers(4).build::<u64>().unwrap();
        let mut tx = Some(tx);
        let mut r = BroadcastRef::new(cap.next_power_of_two() as u64, backpressure);
        let mut rxs = vec![Some(rx0)];
        for op in ops {
            match op {
                BcOp::Send(v) => {
                    if let Some(tx) = &tx {
                        if !r.would_block() {
                            prop_assert_eq!(tx.send(v).map_err(|e| e.0), r.send(v));
                        }
                    }
                }
                BcOp::Subscribe => {
                    if let Some(tx) = &tx {
                        let live = rxs.iter().flatten().count();
                        match tx.try_subscribe() {
                            Ok(rx) => {
                                rxs.push(Some(rx));
                                r.subscribe();
                            }
                            Err(_) => prop_assert!(backpressure && live == 4),
                        }
                        // `subscribe` (which would wait at the bound) agrees
                        // where it cannot wait.
                        if !backpressure {
                            rxs.push(Some(tx.subscribe()));
                            r.subscribe();
                        }
                    }
                }
                BcOp::DropRx(i) => {
                    let i = i % rxs.len();
                    rxs[i] = None;
                    r.cursors[i] = None;
                }
                BcOp::TryRecv(i) => {
                    let i = i % rxs.len();
                    if let Some(rx) = rxs[i].as_mut() {
                        let got = match rx.try_recv() {
                            Ok(v) => RefRecv::Value(v),
                            Err(TryRecvError::Empty) => RefRecv::Empty,
                            Err(TryRecvError::Lagged(n)) => RefRecv::Lagged(n),
                            Err(TryRecvError::Closed) => RefRecv::Closed,
                        };
                        prop_assert_eq!(got, r.try_recv(i));
                    }
                }
                BcOp::Close => {
                    tx = None;
                    r.closed = true;
                }
            }
            if let Some(tx) = &tx {
                tx.check_invariants().map_err(TestCaseError::fail)?;
            }
        }
    }
}
