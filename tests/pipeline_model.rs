#![cfg(all(not(loom), feature = "clock", feature = "pipeline"))]
//! Chunking, batching and pipelines against sequential references.

use latchwork::clock::ManualClock;
use latchwork::pipeline::{Batcher, ChunkExt, Error, Failure, Pipeline, Running};
use proptest::prelude::*;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}

#[test]
fn auto_traits() {
    assert_send::<Pipeline<u32>>();
    assert_send::<Running<u32>>();
    assert_send_sync::<Failure>();
    assert_send_sync::<Error>();
    assert_send_sync::<Batcher<u32, ManualClock>>();
}

/// The sequential reference of the test stages: drop multiples of 3,
/// fail multiples of 7, then add 1.
fn reference(n: u32) -> Result<Option<u32>, String> {
    if n % 3 == 0 {
        Ok(None)
    } else if n % 7 == 0 {
        Err(format!("{n} is a multiple of 7"))
    } else {
        Ok(Some(n + 1))
    }
}

fn run(
    input: Vec<u32>,
    workers: (usize, usize),
    capacity: usize,
    batch_size: usize,
    ordered: bool,
) -> (Vec<u32>, Vec<u64>, latchwork::pipeline::RunReport) {
    let failures = Arc::new(Mutex::new(Vec::new()));
    let sink = failures.clone();
    let mut out = Vec::new();
    let report = Pipeline::source(input)
        .stage("drop-or-fail", workers.0, |n: u32| match reference(n) {
            Ok(Some(_)) => Ok(Some(n)),
            other => other,
        })
        .map("add-one", workers.1, |n| n + 1)
        .capacity(capacity)
        .batch_size(batch_size)
        .ordered(ordered)
        .on_error(move |f: Failure| sink.lock().unwrap().push(f.position))
        .run(|n| {
            out.push(n);
            ControlFlow::Continue(())
        })
        .unwrap();
    let mut failed = failures.lock().unwrap().clone();
    failed.sort_unstable();
    (out, failed, report)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn chunking_preserves_every_element_in_order(
        items in prop::collection::vec(any::<u16>(), 0..500),
        n in 1usize..40,
    ) {
        let chunks: Vec<Vec<u16>> = items.clone().into_iter().chunked(n).unwrap().collect();
        prop_assert_eq!(chunks.len(), items.len().div_ceil(n));
        for (i, c) in chunks.iter().enumerate() {
            if i + 1 < chunks.len() {
                prop_assert_eq!(c.len(), n);
            } else {
                prop_assert!(!c.is_empty() && c.len() <= n);
            }
        }
        prop_assert_eq!(chunks.concat(), items);
    }

    #[test]
    fn batcher_matches_model(
        ops in prop::collection::vec((any::<bool>(), 0u64..30), 0..200),
        max_items in 1usize..8,
        max_wait_ms in 1u64..50,
    ) {
        let clock = ManualClock::new();
        let mut b = Batcher::with_clock(max_items, Duration::from_millis(max_wait_ms), clock.clone()).unwrap();
        let (mut pending, mut oldest, mut now) = (Vec::new(), 0u64, 0u64);
        let mut all_in = Vec::new();
        let mut all_out = Vec::new();
        for (i, (push, advance_ms)) in ops.into_iter().enumerate() {
            clock.advance(Duration::from_millis(advance_ms));
            now += advance_ms;
            let got = if push {
                if pending.is_empty() { oldest = now; }
                pending.push(i);
                all_in.push(i);
                b.push(i)
            } else {
                b.poll()
            };
            let due = !pending.is_empty()
                && (pending.len() >= max_items || now - oldest >= max_wait_ms);
            let expected = if due { Some(std::mem::take(&mut pending)) } else { None };
            prop_assert_eq!(&got, &expected);
            prop_assert_eq!(b.len(), pending.len());
            if !pending.is_empty() {
                let left = (oldest + max_wait_ms).saturating_sub(now);
                prop_assert_eq!(b.time_left(), Some(Duration::from_millis(left)));
            } else {
                prop_assert_eq!(b.time_left(), None);
            }
            all_out.extend(got.into_iter().flatten());
        }
        all_out.extend(b.flush().into_iter().flatten());
        prop_assert_eq!(all_out, all_in);
    }

    #[test]
    fn ordered_pipeline_equals_sequential(
        input in prop::collection::vec(0u32..10_000, 0..400),
        w1 in 1usize..4,
        w2 in 1usize..4,
        capacity in 1usize..8,
        batch_size in 1usize..6,
    ) {
        let (out, failed, report) = run(input.clone(), (w1, w2), capacity, batch_size, true);
        let expected: Vec<u32> = input.iter().filter_map(|&n| reference(n).ok().flatten()).collect();
        let expected_failed: Vec<u64> = (0u64..).zip(&input).filter(|(_, &n)| reference(n).is_err()).map(|(i, _)| i).collect();
        prop_assert_eq!(&out, &expected);
        prop_assert_eq!(&failed, &expected_failed);
        prop_assert_eq!(report.read, input.len() as u64);
        prop_assert_eq!(report.emitted, expected.len() as u64);
        prop_assert_eq!(report.failed(), expected_failed.len() as u64);
        prop_assert_eq!(report.dropped(), input.iter().filter(|&&n| n % 3 == 0).count() as u64);
        prop_assert_eq!(report.stages[0].received, input.len() as u64);
        prop_assert_eq!(report.stages[1].received, report.stages[0].emitted);
        prop_assert!(!report.stopped_early);
        prop_assert_eq!(report.worker_panics, 0);
    }

    #[test]
    fn unordered_pipeline_emits_the_same_multiset(
        input in prop::collection::vec(0u32..10_000, 0..400),
        w1 in 1usize..4,
        capacity in 1usize..8,
        batch_size in 1usize..6,
    ) {
        let (mut out, failed, report) = run(input.clone(), (w1, 2), capacity, batch_size, false);
        let mut expected: Vec<u32> = input.iter().filter_map(|&n| reference(n).ok().flatten()).collect();
        out.sort_unstable();
        expected.sort_unstable();
        prop_assert_eq!(out, expected);
        prop_assert_eq!(failed.len() as u64, report.failed());
        prop_assert_eq!(report.peak_reorder_buffer, 0);
    }
}

#[test]
fn early_stop_ends_an_infinite_source() {
    // A stage that drops almost everything still notices the stop.
    let mut seen = Vec::new();
    let report = Pipeline::source(0u64..)
        .filter("sparse", 2, |n| n % 1_000 == 0)
        .map("double", 2, |n| n * 2)
        .capacity(4)
        .run(|n| {
            seen.push(n);
            if seen.len() == 5 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(seen, vec![0, 2_000, 4_000, 6_000, 8_000]);
    assert!(report.stopped_early);
    assert_eq!(report.emitted, 5);
    // Dropping a `Running` mid-stream also stops and joins.
    let mut running = Pipeline::source(0u64..)
        .map("id", 2, |n| n)
        .ordered(false)
        .start()
        .unwrap();
    assert!(running.next().is_some());
    drop(running);
}

#[test]
fn ordered_window_bounds_the_reorder_buffer() {
    // Record 0 is held until another worker has processed record 15, so
    // later records overtake it; the window (16 batches of 1) holds the
    // source back, so the reorder buffer never exceeds it, and the output
    // is still in order.
    let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(0);
    let mut running = Pipeline::source(0u32..200)
        .stage("slow-first", 3, move |n| {
            match n {
                0 => gate_rx.recv().map_err(|e| e.to_string())?,
                15 => gate_tx.send(()).map_err(|e| e.to_string())?,
                _ => {}
            }
            Ok::<_, String>(Some(n))
        })
        .capacity(2)
        .batch_size(1)
        .reorder_window(16)
        .start()
        .unwrap();
    let out: Vec<u32> = running.by_ref().collect();
    let report = running.finish();
    assert_eq!(out, (0..200).collect::<Vec<_>>());
    assert_eq!(report.failed(), 0);
    assert!(
        report.peak_reorder_buffer <= 16,
        "{}",
        report.peak_reorder_buffer
    );
}

#[test]
fn panics_and_source_errors_are_failures() {
    let failures = Arc::new(Mutex::new(Vec::new()));
    let sink = failures.clone();
    let source = (0..10u32).map(|n| if n == 4 { Err("bad record") } else { Ok(n) });
    let mut out = Vec::new();
    let report = Pipeline::fallible_source(source)
        .stage("maybe-panic", 2, |n: u32| {
            if n == 6 {
                panic!("boom at {n}");
            }
            Ok::<_, String>(Some(n))
        })
        .on_error(move |f| {
            sink.lock()
                .unwrap()
                .push(format!("{}@{}: {}", f.stage, f.position, f.error))
        })
        .run(|n| {
            out.push(n);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(out, vec![0, 1, 2, 3, 5, 7, 8, 9]);
    let mut f = failures.lock().unwrap().clone();
    f.sort();
    assert_eq!(
        f,
        vec![
            "maybe-panic@6: stage panicked: boom at 6",
            "source@4: bad record"
        ]
    );
    assert_eq!(
        (report.read, report.source_failed, report.failed()),
        (10, 1, 2)
    );
    assert!(report.to_string().contains("maybe-panic x2"));
}

#[test]
fn configuration_errors_are_typed() {
    assert!(matches!((0..3).chunked(0), Err(Error::ZeroChunkSize)));
    assert!(matches!(
        Batcher::<u8>::new(0, Duration::from_secs(1)),
        Err(Error::ZeroBatchSize)
    ));
    assert!(matches!(
        Batcher::<u8>::new(1, Duration::ZERO),
        Err(Error::ZeroMaxWait)
    ));
    let e = Pipeline::source(0..3)
        .map("parse", 0, |n| n)
        .start()
        .unwrap_err();
    assert!(matches!(&e, Error::ZeroWorkers { stage } if stage == "parse"));
    assert!(e.to_string().contains("parse"));
    assert!(matches!(
        Pipeline::source(0..3).capacity(0).start(),
        Err(Error::ZeroCapacity)
    ));
    assert!(matches!(
        Pipeline::source(0..3).reorder_window(0).start(),
        Err(Error::ZeroReorderWindow)
    ));
    // No stages at all: the source goes straight to the consumer.
    let out: Vec<i32> = Pipeline::source(0..3).start().unwrap().collect();
    assert_eq!(out, vec![0, 1, 2]);
}

#[test]
fn batches_from_a_channel_by_size_then_the_rest() {
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..7 {
        tx.send(i).unwrap();
    }
    drop(tx);
    let batcher = Batcher::with_clock(3, Duration::from_secs(60), ManualClock::new()).unwrap();
    let batches: Vec<Vec<i32>> = batcher.batches(rx).collect();
    assert_eq!(batches, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
}

#[test]
fn batches_from_a_channel_by_age() {
    // One item, the sender kept open: the batch can only come out by age.
    // A helper moves the manual clock forward until it does; nothing waits
    // for real time to pass.
    let clock = ManualClock::new();
    let (tx, rx) = crossbeam_channel::unbounded();
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    let ticker = {
        let clock = clock.clone();
        std::thread::spawn(move || {
            while let Err(crossbeam_channel::TryRecvError::Empty) = done_rx.try_recv() {
                clock.advance(Duration::from_millis(1));
                std::thread::yield_now();
            }
        })
    };
    let mut batches = Batcher::with_clock(100, Duration::from_millis(10), clock.clone())
        .unwrap()
        .batches(rx);
    tx.send(1).unwrap();
    assert_eq!(batches.next(), Some(vec![1]));
    drop(done_tx);
    ticker.join().unwrap();
    tx.send(2).unwrap();
    drop(tx);
    assert_eq!(batches.next(), Some(vec![2])); // the rest at disconnect
    assert_eq!(batches.next(), None);
}
