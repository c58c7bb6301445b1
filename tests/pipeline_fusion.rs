#![cfg(all(not(loom), feature = "pipeline"))]
//! Stage fusion: stages with equal worker counts share threads, one-worker
//! stages run on the source's thread, and a fully fused `run` happens on
//! the calling thread; order, per-stage reports, failures and early stops
//! are the same as with a thread set per stage (`fuse(false)`).

use latchwork::pipeline::{Pipeline, RunReport, StageReport};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

/// Three stages: drop multiples of 3, fail multiples of 7 (and panic on
/// multiples of 11 that got that far), then add 1; `workers` per stage.
fn run(
    input: Vec<u32>,
    workers: [usize; 3],
    fuse: bool,
    ordered: bool,
    batch_size: usize,
) -> (Vec<u32>, Vec<(String, u64)>, RunReport) {
    let failures = Arc::new(Mutex::new(Vec::new()));
    let sink = failures.clone();
    let mut out = Vec::new();
    let report = Pipeline::source(input)
        .filter("no-threes", workers[0], |n| n % 3 != 0)
        .stage("no-sevens", workers[1], |n: u32| {
            if n % 11 == 0 {
                panic!("eleven: {n}");
            }
            if n % 7 == 0 {
                Err(format!("{n} is a multiple of 7"))
            } else {
                Ok(Some(n))
            }
        })
        .map("add-one", workers[2], |n| n + 1)
        .fuse(fuse)
        .ordered(ordered)
        .batch_size(batch_size)
        .capacity(2)
        .on_error(move |f| sink.lock().unwrap().push((f.stage.to_string(), f.position)))
        .run(|n| {
            out.push(n);
            ControlFlow::Continue(())
        })
        .unwrap();
    let mut failed = failures.lock().unwrap().clone();
    failed.sort();
    (out, failed, report)
}

fn stage(name: &str, workers: usize, counts: [u64; 4]) -> StageReport {
    StageReport {
        name: name.into(),
        workers,
        received: counts[0],
        emitted: counts[1],
        dropped: counts[2],
        failed: counts[3],
    }
}

#[test]
fn fused_and_unfused_runs_agree_with_the_reference() {
    let input: Vec<u32> = (0..2_000).collect();
    let threes = input.iter().filter(|n| *n % 3 == 0).count() as u64;
    let kept: Vec<u32> = input.iter().copied().filter(|n| n % 3 != 0).collect();
    let bad: Vec<u32> = kept
        .iter()
        .copied()
        .filter(|n| n % 11 == 0 || n % 7 == 0)
        .collect();
    let expected: Vec<u32> = kept
        .iter()
        .filter(|n| *n % 11 != 0 && *n % 7 != 0)
        .map(|n| n + 1)
        .collect();
    let mut expected_failed: Vec<(String, u64)> = bad
        .iter()
        .map(|&n| ("no-sevens".to_string(), n as u64))
        .collect();
    expected_failed.sort();
    for workers in [
        [1, 1, 1],
        [2, 2, 2],
        [1, 2, 2],
        [2, 2, 1],
        [3, 1, 1],
        [1, 1, 3],
    ] {
        for fuse in [true, false] {
            for ordered in [true, false] {
                for batch_size in [1, 7, 64] {
                    let what =
                        format!("{workers:?} fuse {fuse} ordered {ordered} batch {batch_size}");
                    let (mut out, failed, report) =
                        run(input.clone(), workers, fuse, ordered, batch_size);
                    if !ordered {
                        out.sort_unstable();
                    }
                    assert_eq!(out, expected, "{what}");
                    assert_eq!(failed, expected_failed, "{what}");
                    let n = input.len() as u64;
                    let k = kept.len() as u64;
                    let good = expected.len() as u64;
                    assert_eq!(
                        report.stages,
                        vec![
                            stage("no-threes", workers[0], [n, k, threes, 0]),
                            stage("no-sevens", workers[1], [k, good, 0, bad.len() as u64]),
                            stage("add-one", workers[2], [good, good, 0, 0]),
                        ],
                        "{what}"
                    );
                    assert_eq!((report.read, report.emitted), (n, good), "{what}");
                    assert!(!report.stopped_early, "{what}");
                    assert_eq!(report.worker_panics, 0, "{what}");
                }
            }
        }
    }
}

/// The thread each record went through, per stage.
fn threads_of(workers: usize, fuse: bool) -> Vec<(ThreadId, ThreadId)> {
    Pipeline::source(0..500u32)
        .map("first", workers, |n| (n, thread::current().id()))
        .map("second", workers, |(_, first)| {
            (first, thread::current().id())
        })
        .fuse(fuse)
        .batch_size(4)
        .start()
        .unwrap()
        .collect()
}

#[test]
fn equal_worker_counts_share_threads_unless_fusion_is_off() {
    for workers in [1, 2] {
        let fused = threads_of(workers, true);
        assert_eq!(fused.len(), 500);
        assert!(fused.iter().all(|(a, b)| a == b), "workers {workers}");
        let apart = threads_of(workers, false);
        assert!(apart.iter().all(|(a, b)| a != b), "workers {workers}");
    }
}

#[test]
fn one_worker_stages_run_on_the_source_thread_or_inline() {
    let source_thread = Arc::new(Mutex::new(None));
    let seen = source_thread.clone();
    let source = (0..100u32).inspect(move |_| {
        *seen.lock().unwrap() = Some(thread::current().id());
    });
    let out: Vec<(u32, ThreadId)> = Pipeline::source(source)
        .map("tag", 1, |n| (n, thread::current().id()))
        .start()
        .unwrap()
        .collect();
    let source_thread = source_thread.lock().unwrap().unwrap();
    assert_ne!(source_thread, thread::current().id());
    assert!(out.iter().all(|(_, t)| *t == source_thread));
    assert_eq!(
        out.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );

    // `run` with every stage fused needs no thread at all.
    let caller = thread::current().id();
    let mut n = 0;
    let report = Pipeline::source(0..100u32)
        .map("where", 1, |_| thread::current().id())
        .filter("check", 1, move |t| *t == caller)
        .run(|_| {
            n += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!((n, report.emitted, report.dropped()), (100, 100, 0));
}

#[test]
fn inline_run_stops_early_on_an_endless_source() {
    let mut seen = Vec::new();
    let report = Pipeline::source(0u64..)
        .filter("sparse", 1, |n| n % 1_000 == 0)
        .map("double", 1, |n| n * 2)
        .run(|n| {
            seen.push(n);
            if seen.len() == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(seen, vec![0, 2_000, 4_000]);
    assert!(report.stopped_early);
    assert_eq!((report.read, report.emitted), (2_001, 3));
    assert_eq!(report.stages[0].received, 2_001);
    assert_eq!(report.stages[1].received, 3);
}

#[test]
fn a_source_that_panics_is_a_worker_panic_inline_and_on_threads() {
    // Inline (1 worker, fused), on a source thread (`fuse(false)`), and
    // read by the 2 workers of the first stage themselves.
    for (fuse, workers) in [(true, 1), (false, 1), (true, 2)] {
        let source = (0..10u32).inspect(|&n| {
            if n == 5 {
                panic!("source broke");
            }
        });
        let mut out = Vec::new();
        let report = Pipeline::source(source)
            .map("id", workers, |n| n)
            .fuse(fuse)
            .batch_size(2)
            .run(|n| {
                out.push(n);
                ControlFlow::Continue(())
            })
            .unwrap();
        let what = format!("fuse {fuse}, workers {workers}");
        assert_eq!(report.worker_panics, 1, "{what}");
        // What was sent before the panic arrives (inline, record 4 too; on
        // threads it was waiting in the unsent batch).
        assert!(
            out == [0, 1, 2, 3] || out == [0, 1, 2, 3, 4],
            "{what}: {out:?}"
        );
    }
}

#[test]
fn workers_that_share_the_source_number_records_and_failures() {
    let failures = Arc::new(Mutex::new(Vec::new()));
    let sink = failures.clone();
    let source = (0..1_000u32).map(|n| if n % 100 == 7 { Err("bad") } else { Ok(n) });
    let caller = thread::current().id();
    let mut out = Vec::new();
    let report = Pipeline::fallible_source(source)
        .map("pair", 3, move |n| {
            assert_ne!(thread::current().id(), caller);
            (n, thread::current().name().map(str::to_owned))
        })
        .batch_size(5)
        .on_error(move |f| sink.lock().unwrap().push((f.stage.to_string(), f.position)))
        .run(|pair| {
            out.push(pair);
            ControlFlow::Continue(())
        })
        .unwrap();
    let expected: Vec<u32> = (0..1_000).filter(|n| n % 100 != 7).collect();
    assert_eq!(out.iter().map(|(n, _)| *n).collect::<Vec<_>>(), expected);
    // Stage threads did the reading: there is no source thread.
    assert!(out
        .iter()
        .all(|(_, name)| name.as_deref().is_some_and(|n| n.contains("pair"))));
    let mut f = failures.lock().unwrap().clone();
    f.sort();
    let expected_failed: Vec<(String, u64)> = (0..10)
        .map(|i| ("source".to_string(), i * 100 + 7))
        .collect();
    assert_eq!(f, expected_failed);
    assert_eq!((report.read, report.source_failed), (1_000, 10));
    assert_eq!(report.stages[0].received, 990);
}

#[test]
fn a_sink_that_panics_inline_unwinds_in_the_caller() {
    let caught = std::panic::catch_unwind(|| {
        Pipeline::source(0..10u32).map("id", 1, |n| n).run(|n| {
            assert!(n < 3, "sink refuses {n}");
            ControlFlow::Continue(())
        })
    });
    let panic = caught.unwrap_err();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("sink refuses 3"), "{msg}");
}
