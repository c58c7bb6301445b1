//! The broadcast channel (single thread, both policies) against the
//! sequential reference: every `try_recv` result (values, lag counts,
//! `Empty`, `Closed`), subscribe limits, and the ring's stamp invariants
//! after every operation.
#![no_main]

use arbitrary::Arbitrary;
use latchwork::event::broadcast::{Builder, Policy, TryRecvError};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/event_reference.rs"]
mod event_reference;
use event_reference::{BroadcastRef, RefRecv};

#[derive(Arbitrary, Debug)]
enum Op {
    Send(u64),
    Subscribe,
    DropRx(u8),
    TryRecv(u8),
    Close,
}

#[derive(Arbitrary, Debug)]
struct Input {
    capacity: u8,
    backpressure: bool,
    max_receivers: u8,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let cap = (input.capacity % 17) as usize;
    let max_rx = (input.max_receivers % 5) as usize;
    let policy = if input.backpressure {
        Policy::Backpressure
    } else {
        Policy::Overwrite
    };
    let built = Builder::new(cap)
        .policy(policy)
        .max_receivers(max_rx)
        .build::<u64>();
    let Ok((tx, rx0)) = built else {
        assert!(cap == 0 || max_rx == 0);
        return;
    };
    let mut tx = Some(tx);
    let mut r = BroadcastRef::new(cap.next_power_of_two() as u64, input.backpressure);
    let mut rxs = vec![Some(rx0)];
    for op in input.ops {
        match op {
            Op::Send(v) => {
                if let Some(tx) = &tx {
                    if !r.would_block() {
                        assert_eq!(tx.send(v).map_err(|e| e.0), r.send(v));
                    }
                }
            }
            Op::Subscribe => {
                if let Some(tx) = &tx {
                    let live = rxs.iter().flatten().count();
                    match tx.try_subscribe() {
                        Ok(rx) => {
                            rxs.push(Some(rx));
                            r.subscribe();
                        }
                        Err(_) => assert!(input.backpressure && live == max_rx),
                    }
                }
            }
            Op::DropRx(i) => {
                let i = i as usize % rxs.len();
                rxs[i] = None;
                r.cursors[i] = None;
            }
            Op::TryRecv(i) => {
                let i = i as usize % rxs.len();
                if let Some(rx) = rxs[i].as_mut() {
                    let got = match rx.try_recv() {
                        Ok(v) => RefRecv::Value(v),
                        Err(TryRecvError::Empty) => RefRecv::Empty,
                        Err(TryRecvError::Lagged(n)) => RefRecv::Lagged(n),
                        Err(TryRecvError::Closed) => RefRecv::Closed,
                    };
                    assert_eq!(got, r.try_recv(i));
                }
            }
            Op::Close => {
                tx = None;
                r.closed = true;
            }
        }
        if let Some(tx) = &tx {
            tx.check_invariants().unwrap();
        }
    }
});
