#![cfg(all(not(loom), feature = "event"))]
//! Broadcast channel: multi-producer multi-receiver stress under both
//! policies, close and drain, blocking and timed receive, auto traits.

use latchwork::event::broadcast::{
    channel, Builder, Policy, RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError,
};
use latchwork::event::Error;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn handles_are_send_and_sync() {
    assert_send_sync::<latchwork::event::broadcast::Sender<u64>>();
    assert_send_sync::<latchwork::event::broadcast::Receiver<u64>>();
    assert_send_sync::<latchwork::event::Emitter<String>>();
    assert_send_sync::<latchwork::event::Subscription>();
}

const PRODUCERS: u64 = 3;
const RECEIVERS: usize = 3;
const PER_PRODUCER: u64 = 20_000;

/// Runs PRODUCERS x RECEIVERS on a small ring; each receiver returns the
/// values it got and the total it was told it missed.
fn run(policy: Policy, cap: usize) -> Vec<(Vec<u64>, u64)> {
    let (tx, rx) = Builder::new(cap).policy(policy).build::<u64>().unwrap();
    let mut rxs = vec![rx];
    for _ in 1..RECEIVERS {
        rxs.push(tx.subscribe());
    }
    let start = Arc::new(Barrier::new(PRODUCERS as usize + RECEIVERS));
    let receivers: Vec<_> = rxs
        .into_iter()
        .enumerate()
        .map(|(i, mut rx)| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                let (mut got, mut missed) = (Vec::new(), 0);
                loop {
                    match rx.recv() {
                        Ok(v) => got.push(v),
                        Err(RecvError::Lagged(n)) => missed += n,
                        Err(RecvError::Closed) => break,
                    }
                    // One slow receiver makes the policies differ.
                    if i == 0 && got.len() % 64 == 0 {
                        thread::yield_now();
                    }
                }
                (got, missed)
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (tx, start) = (tx.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                for i in 0..PER_PRODUCER {
                    tx.send(p << 32 | i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    for p in producers {
        p.join().unwrap();
    }
    receivers.into_iter().map(|r| r.join().unwrap()).collect()
}

/// Each producer's values appear in the order it sent them.
fn assert_per_producer_order(got: &[u64]) {
    let mut last = [None::<u64>; PRODUCERS as usize];
    for &v in got {
        let (p, i) = ((v >> 32) as usize, v & 0xffff_ffff);
        assert!(last[p].is_none_or(|l| l < i), "producer {p} out of order");
        last[p] = Some(i);
    }
}

#[test]
fn backpressure_every_receiver_gets_everything_once_in_one_order() {
    let results = run(Policy::Backpressure, 16);
    let total = PRODUCERS * PER_PRODUCER;
    let (first, _) = &results[0];
    for (got, missed) in &results {
        assert_eq!(*missed, 0);
        assert_eq!(got.len() as u64, total);
        assert_eq!(got, first, "all receivers see the same global order");
        assert_per_producer_order(got);
    }
    let mut sorted = first.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len() as u64, total, "each message exactly once");
}

#[test]
fn overwrite_received_plus_lagged_is_sent() {
    let results = run(Policy::Overwrite, 16);
    let total = PRODUCERS * PER_PRODUCER;
    for (got, missed) in &results {
        assert_eq!(got.len() as u64 + missed, total);
        assert_per_producer_order(got);
    }
    // Receivers agree on the relative order of what they both received:
    // the global order is one sequence, each sees a subsequence of it.
    let index: std::collections::HashMap<u64, usize> = results[1]
        .0
        .iter()
        .enumerate()
        .map(|(i, &v)| (v, i))
        .collect();
    let mut last = None;
    for v in &results[0].0 {
        if let Some(&i) = index.get(v) {
            assert!(last < Some(i), "receivers disagree on the order");
            last = Some(i);
        }
    }
}

#[test]
fn close_drains_then_reports_closed() {
    for policy in [Policy::Overwrite, Policy::Backpressure] {
        let (tx, mut rx) = channel::<String>(4, policy).unwrap();
        let mut late = tx.subscribe();
        assert_eq!(tx.send("a".into()), Ok(2));
        assert_eq!(tx.send("b".into()), Ok(2));
        let tx2 = tx.clone();
        drop(tx);
        assert_eq!(rx.try_recv(), Ok("a".to_string()));
        assert_eq!(tx2.send("c".into()), Ok(2));
        drop(tx2);
        assert_eq!(rx.recv(), Ok("b".to_string()));
        assert_eq!(rx.recv(), Ok("c".to_string()));
        assert_eq!(rx.recv(), Err(RecvError::Closed));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(RecvTimeoutError::Closed)
        );
        assert_eq!(late.recv(), Ok("a".to_string()));
    }
}

#[test]
fn new_receiver_starts_at_the_tail() {
    let (tx, mut rx) = channel::<u64>(8, Policy::Overwrite).unwrap();
    assert_eq!(tx.send(1), Ok(1));
    let mut late = rx.resubscribe();
    assert_eq!(tx.send(2), Ok(2));
    assert_eq!(late.try_recv(), Ok(2));
    assert_eq!(late.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.pending(), 1);
}

#[test]
fn recv_timeout_times_out_on_an_empty_channel() {
    let (_tx, mut rx) = channel::<u64>(8, Policy::Overwrite).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(20)),
        Err(RecvTimeoutError::Timeout)
    );
}

#[test]
fn parked_receiver_is_woken_by_send() {
    let (tx, mut rx) = channel::<u64>(8, Policy::Backpressure).unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let h = thread::spawn(move || {
        ready_tx.send(()).unwrap();
        rx.recv()
    });
    ready_rx.recv().unwrap();
    tx.send(42).unwrap();
    assert_eq!(h.join().unwrap(), Ok(42));
}

#[test]
fn backpressure_producer_waits_for_the_slow_receiver() {
    let (tx, mut rx) = channel::<u64>(2, Policy::Backpressure).unwrap();
    tx.send(0).unwrap();
    tx.send(1).unwrap();
    let h = thread::spawn(move || {
        tx.send(2).unwrap(); // blocks until rx takes 0
        tx.sent()
    });
    assert_eq!(rx.recv(), Ok(0));
    assert_eq!(h.join().unwrap(), 3);
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.recv(), Ok(2));
    assert_eq!(rx.recv(), Err(RecvError::Closed));
}

#[test]
fn builder_validates() {
    assert_eq!(
        channel::<u8>(0, Policy::Overwrite).err(),
        Some(Error::ZeroCapacity)
    );
    assert_eq!(
        Builder::new(4)
            .policy(Policy::Backpressure)
            .max_receivers(0)
            .build::<u8>()
            .err(),
        Some(Error::ZeroMaxReceivers)
    );
    // Overwrite does not use the bound, but refuses a zero all the same.
    assert_eq!(
        Builder::new(4).max_receivers(0).build::<u8>().err(),
        Some(Error::ZeroMaxReceivers)
    );
    let (tx, _rx) = Builder::new(3)
        .policy(Policy::Backpressure)
        .max_receivers(1)
        .build::<u8>()
        .unwrap();
    assert_eq!(tx.capacity(), 4);
    let err = tx.try_subscribe().unwrap_err();
    assert_eq!(err, Error::TooManyReceivers { max: 1 });
    assert!(err.to_string().contains("max_receivers"));
    assert!(matches!(
        channel::<u8>(usize::MAX, Policy::Overwrite),
        Err(Error::CapacityTooLarge { .. })
    ));
}

#[test]
fn dropped_values_are_freed() {
    let token = Arc::new(());
    {
        let (tx, mut rx) = channel::<Arc<()>>(4, Policy::Overwrite).unwrap();
        for _ in 0..10 {
            tx.send(token.clone()).unwrap();
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(6)));
        let got = rx.try_recv().unwrap();
        assert_eq!(Arc::strong_count(&token), 6);
        drop(got);
    }
    assert_eq!(Arc::strong_count(&token), 1);
}

#[test]
fn send_counts_receivers_and_hands_the_message_back_when_there_are_none() {
    for policy in [Policy::Overwrite, Policy::Backpressure] {
        let (tx, rx) = channel::<String>(4, policy).unwrap();
        let rx2 = tx.subscribe();
        assert_eq!(tx.send("both".into()), Ok(2));
        drop(rx2);
        assert_eq!(tx.send("one".into()), Ok(1));
        assert_eq!(tx.try_send("one more".into()).ok(), Some(1));
        drop(rx);
        assert_eq!(tx.receiver_count(), 0);
        // Nobody listens: the value comes back and nothing is published.
        let sent = tx.sent();
        let err = tx.send("nobody".into()).unwrap_err();
        assert_eq!(err, SendError("nobody".to_string()));
        assert_eq!(err.into_inner(), "nobody");
        assert!(err_text(&tx.send("x".into()).unwrap_err()).contains("no receivers"));
        assert!(matches!(
            tx.try_send("y".into()),
            Err(TrySendError::NoReceivers(v)) if v == "y"
        ));
        assert_eq!(tx.sent(), sent, "a refused send claims no sequence number");
        // A receiver subscribed afterwards starts at the tail: it sees the
        // next message only, and the count includes it.
        let mut late = tx.subscribe();
        assert_eq!(tx.send("late".into()), Ok(1));
        assert_eq!(late.try_recv(), Ok("late".to_string()));
        assert_eq!(late.try_recv(), Err(TryRecvError::Empty));
        tx.check_invariants().unwrap();
    }
}

fn err_text(e: &dyn std::error::Error) -> String {
    e.to_string()
}

#[test]
fn subscribe_never_fails_under_overwrite() {
    let (tx, rx) = Builder::new(2).max_receivers(1).build::<u8>().unwrap();
    // `max_receivers` bounds Backpressure only: Overwrite takes any number.
    let rxs: Vec<_> = (0..100).map(|_| tx.subscribe()).collect();
    let more: Vec<_> = (0..100).map(|_| rx.resubscribe()).collect();
    assert_eq!(tx.receiver_count(), 201);
    assert_eq!(tx.send(1), Ok(201));
    assert!(tx.try_subscribe().is_ok() && rx.try_resubscribe().is_ok());
    drop((rxs, more));
    assert_eq!(tx.receiver_count(), 1);
}

#[test]
fn backpressure_subscribe_waits_for_a_free_entry_and_try_subscribe_refuses() {
    let (tx, rx) = Builder::new(2)
        .policy(Policy::Backpressure)
        .max_receivers(1)
        .build::<u8>()
        .unwrap();
    assert_eq!(
        tx.try_subscribe().unwrap_err(),
        Error::TooManyReceivers { max: 1 }
    );
    assert_eq!(
        rx.try_resubscribe().unwrap_err(),
        Error::TooManyReceivers { max: 1 }
    );
    assert_eq!(
        tx.receiver_count(),
        1,
        "a refused subscribe leaves no count"
    );
    // A subscribe on a full channel waits until the receiver is dropped
    // (the loom model `backpressure_subscribe_waits_for_a_dropped_receiver`
    // checks that the wake-up is never lost).
    let tx2 = tx.clone();
    let (subscribed_tx, subscribed) = std::sync::mpsc::channel();
    let waiter = thread::spawn(move || {
        let mut rx = tx2.subscribe();
        drop(tx2);
        subscribed_tx.send(()).unwrap();
        (rx.recv(), rx.recv())
    });
    drop(rx);
    subscribed.recv().unwrap();
    assert_eq!(tx.send(7), Ok(1));
    drop(tx);
    assert_eq!(waiter.join().unwrap(), (Ok(7), Err(RecvError::Closed)));
}

#[test]
fn resubscribe_on_a_closed_channel_reports_closed() {
    let (tx, rx) = channel::<u8>(2, Policy::Backpressure).unwrap();
    drop(tx);
    let mut again = rx.resubscribe();
    assert_eq!(again.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(again.recv(), Err(RecvError::Closed));
}
