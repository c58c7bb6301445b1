//! `PriorityQueue` against the sequential reference (`BTreeMap<(level, seq),
//! T>`): every return value, and the occupancy and overflow invariants after
//! every operation. The first input byte picks the per-level ring capacity
//! (the default, or 1 to 3 slots so that levels spill into their overflow). Levels come from the whole `u8` range, so out-of-range levels
//! must be refused with the typed error exactly when the reference refuses.
#![no_main]

use arbitrary::Arbitrary;
use latchwork::queue::{Level, PriorityQueue};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

#[path = "../../tests/common/queue_reference.rs"]
mod queue_reference;
use queue_reference::Reference;

#[derive(Arbitrary, Debug)]
enum Op {
    Push(u8, u16),
    TryPop,
    PopTimeoutZero,
    Len,
    LevelLen(u8),
    IsEmpty,
}

fuzz_target!(|input: (u8, Vec<Op>)| {
    let (ring, ops) = input;
    let q = match ring % 4 {
        0 => PriorityQueue::new(),
        cap => PriorityQueue::with_ring_capacity(cap as usize).unwrap(),
    };
    let mut reference = Reference::new();
    for op in ops {
        match op {
            Op::Push(l, v) => match Level::new(l) {
                Ok(level) => {
                    assert!(q.push(level, v).is_ok());
                    assert!(reference.push(l, v).is_ok());
                }
                Err(_) => assert!(reference.push(l, v).is_err()),
            },
            Op::TryPop => assert_eq!(q.try_pop().map(|(l, v)| (l.get(), v)), reference.pop()),
            Op::PopTimeoutZero => assert_eq!(
                q.pop_timeout(Duration::ZERO).map(|(l, v)| (l.get(), v)),
                reference.pop()
            ),
            Op::Len => assert_eq!(q.len(), reference.len()),
            Op::LevelLen(l) => {
                if let Ok(level) = Level::new(l) {
                    let want = reference.items.keys().filter(|(rl, _)| *rl == l).count();
                    assert_eq!(q.level_len(level), want);
                }
            }
            Op::IsEmpty => assert_eq!(q.is_empty(), reference.is_empty()),
        }
        if let Err(e) = q.check_invariants() {
            panic!("{e}");
        }
    }
    while let Some(want) = reference.pop() {
        assert_eq!(q.try_pop().map(|(l, v)| (l.get(), v)), Some(want));
    }
    assert!(q.try_pop().is_none());
});
