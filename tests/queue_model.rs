#![cfg(all(not(loom), feature = "queue"))]
//! Model tests: `PriorityQueue` (one thread) and `TaskQueue::run_pending`
//! against the `BTreeMap<(level, seq), T>` reference, comparing every return
//! value and checking the queue's invariant after every operation.

use latchwork::queue::{Error, Level, Priority, PriorityQueue, TaskQueue, LEVELS};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
#[path = "common/queue_reference.rs"]
mod queue_reference;
use queue_reference::Reference;

#[derive(Clone, Debug)]
enum Op {
    Push(u8, u32),
    TryPop,
    PopTimeoutZero,
    Len,
    LevelLen(u8),
    IsEmpty,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Mostly a few levels (so FIFO order within a level is exercised),
        // sometimes any level, sometimes out of range.
        6 => (0u8..4, any::<u32>()).prop_map(|(l, v)| Op::Push(l, v)),
        2 => (0u8..LEVELS as u8, any::<u32>()).prop_map(|(l, v)| Op::Push(l, v)),
        1 => (LEVELS as u8..=u8::MAX, any::<u32>()).prop_map(|(l, v)| Op::Push(l, v)),
        6 => Just(Op::TryPop),
        1 => Just(Op::PopTimeoutZero),
        1 => Just(Op::Len),
        1 => (0u8..LEVELS as u8).prop_map(Op::LevelLen),
        1 => Just(Op::IsEmpty),
    ]
}

fn lvl((l, v): (Level, u32)) -> (u8, u32) {
    (l.get(), v)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// `ring` 0 = the default ring; 1..4 = tiny rings, so that levels spill
    /// into their overflow and drain back.
    #[test]
    fn priority_queue_matches_reference(ops in prop::collection::vec(op(), 1..300), ring in 0usize..4) {
        let q = if ring == 0 { PriorityQueue::new() } else { PriorityQueue::with_ring_capacity(ring).unwrap() };
        let mut reference = Reference::new();
        for op in ops {
            match op {
                Op::Push(l, v) => match Level::new(l) {
                    Ok(level) => {
                        prop_assert!(q.push(level, v).is_ok());
                        prop_assert!(reference.push(l, v).is_ok());
                    }
                    Err(e) => {
                        prop_assert_eq!(e, Error::LevelOutOfRange { level: l, levels: LEVELS });
                        prop_assert!(reference.push(l, v).is_err());
                    }
                },
                Op::TryPop => prop_assert_eq!(q.try_pop().map(lvl), reference.pop()),
                Op::PopTimeoutZero => {
                    prop_assert_eq!(q.pop_timeout(Duration::ZERO).map(lvl), reference.pop())
                }
                Op::Len => prop_assert_eq!(q.len(), reference.len()),
                Op::LevelLen(l) => prop_assert_eq!(
                    q.level_len(Level::new(l).unwrap()),
                    reference.items.keys().filter(|(rl, _)| *rl == l).count()
                ),
                Op::IsEmpty => prop_assert_eq!(q.is_empty(), reference.is_empty()),
            }
            prop_assert_eq!(q.check_invariants(), Ok(()));
        }
        while let Some(want) = reference.pop() {
            prop_assert_eq!(q.try_pop().map(lvl), Some(want));
        }
        prop_assert!(q.try_pop().is_none());
    }

    /// `run_pending` runs queued tasks in the reference's order, reports
    /// each (panics included) in execution order, and resolves every handle.
    #[test]
    fn run_pending_matches_reference(
        tasks in prop::collection::vec((0u8..6, any::<bool>()), 0..60)
    ) {
        let pool = TaskQueue::new(0).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut reference = Reference::new();
        let mut handles = Vec::new();
        for (i, &(l, panics)) in tasks.iter().enumerate() {
            let order = order.clone();
            handles.push(pool.submit(Level::new(l).unwrap(), move || {
                order.lock().unwrap().push(i);
                if panics {
                    panic!("task {i} failed");
                }
                i * 10
            }));
            reference.push(l, (i, panics)).unwrap();
        }
        let reports = pool.run_pending();
        let mut want = Vec::new();
        while let Some((l, (i, panics))) = reference.pop() {
            want.push((l, i, panics));
        }
        let got: Vec<_> = reports
            .iter()
            .map(|r| (r.level.get(), r.id.get() as usize, r.result.is_err()))
            .collect();
        prop_assert_eq!(&got, &want);
        let ran: Vec<usize> = want.iter().map(|w| w.1).collect();
        prop_assert_eq!(&*order.lock().unwrap(), &ran);
        for (i, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(v) => prop_assert!(!tasks[i].1 && v == i * 10),
                Err(e) => {
                    let want = format!("task panicked: task {} failed", i);
                    prop_assert!(tasks[i].1 && e.to_string() == want);
                }
            }
        }
        let st = pool.stats();
        let panics = tasks.iter().filter(|t| t.1).count() as u64;
        prop_assert_eq!((st.submitted, st.completed, st.panicked, st.cancelled),
            (tasks.len() as u64, tasks.len() as u64 - panics, panics, 0));
    }
}

#[test]
fn types_are_send_sync_and_debug() {
    fn assert_send_sync<T: Send + Sync + std::fmt::Debug>() {}
    assert_send_sync::<PriorityQueue<String>>();
    assert_send_sync::<TaskQueue>();
    assert_send_sync::<latchwork::queue::TaskHandle<u32>>();
    assert_send_sync::<Error>();
    assert_send_sync::<latchwork::queue::TaskError>();
}

#[test]
fn zero_ring_capacity_is_a_typed_error() {
    let e = PriorityQueue::<u8>::with_ring_capacity(0).unwrap_err();
    assert_eq!(e, Error::ZeroCapacity);
    assert!(e.to_string().contains("at least 1"));
}

#[test]
fn named_priorities_map_to_spread_levels() {
    let levels: Vec<u8> = [
        Priority::Critical,
        Priority::High,
        Priority::Medium,
        Priority::Low,
    ]
    .into_iter()
    .map(|p| Level::from(p).get())
    .collect();
    assert_eq!(levels, [0, 16, 32, 48]);
    assert_eq!(Level::try_from(63).map(Level::get), Ok(63));
    assert_eq!(Level::LEAST_URGENT.get() as usize, LEVELS - 1);
    let err = Level::new(200).unwrap_err();
    assert_eq!(
        err.to_string(),
        "priority level 200 is out of range: levels are 0 (most urgent) to 63"
    );
}
