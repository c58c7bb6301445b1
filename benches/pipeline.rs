//! Pipeline throughput on the log workloads of `tests/common/pipeline_log.rs`,
//! with 1 and 2 workers per stage, ordered and unordered, beside the same
//! work in a plain sequential loop on one thread:
//!
//! - `pipeline/log-200k`: 200k JSON lines of ~90 bytes (parse -> keep ERROR
//!   -> enrich), ~150 ns of work per record; also with `fuse(false)` (a
//!   thread set per stage, the design before stage fusion);
//! - `pipeline/heavy-50k`: 50k JSON lines of ~1 KiB (parse -> keep ERROR ->
//!   summarize), microseconds of work per record.
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use latchwork::pipeline::Pipeline;
use std::ops::ControlFlow;

mod common;
#[path = "../tests/common/pipeline_log.rs"]
mod pipeline_log;
use pipeline_log::{enrich, heavy_line, line, summarize, HeavyRecord, LogRecord};

const LINES: u64 = 200_000;
const HEAVY_LINES: u64 = 50_000;

fn run(lines: Vec<String>, workers: usize, ordered: bool, fuse: bool) -> u64 {
    let mut n = 0u64;
    Pipeline::source(lines)
        .stage("parse", workers, |l: String| {
            serde_json::from_str::<LogRecord>(&l).map(Some)
        })
        .filter("errors-only", workers, |r| r.level == "ERROR")
        .map("enrich", workers, enrich)
        .ordered(ordered)
        .fuse(fuse)
        .run(|e| {
            n += e.minute & 1;
            ControlFlow::Continue(())
        })
        .unwrap();
    n
}

fn bench_log(c: &mut Criterion) {
    let mut buf = String::new();
    let lines: Vec<String> = (0..LINES)
        .map(|i| {
            line(i, &mut buf);
            buf.clone()
        })
        .collect();
    let mut g = c.benchmark_group("pipeline/log-200k");
    g.throughput(Throughput::Elements(LINES));
    g.bench_function("sequential", |b| {
        b.iter_batched(
            || lines.clone(),
            |lines| {
                let mut n = 0u64;
                for l in lines {
                    if let Ok(r) = serde_json::from_str::<LogRecord>(&l) {
                        if r.level == "ERROR" {
                            n += enrich(r).minute & 1;
                        }
                    }
                }
                black_box(n)
            },
            BatchSize::LargeInput,
        )
    });
    for (name, workers, ordered, fuse) in [
        ("workers-1", 1, true, true),
        ("workers-2", 2, true, true),
        ("workers-2-unordered", 2, false, true),
        ("workers-1-unfused", 1, true, false),
        ("workers-2-unfused", 2, true, false),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || lines.clone(),
                |lines| black_box(run(lines, workers, ordered, fuse)),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn run_heavy(lines: Vec<String>, workers: usize, ordered: bool) -> u64 {
    let mut n = 0u64;
    Pipeline::source(lines)
        .stage("parse", workers, |l: String| {
            serde_json::from_str::<HeavyRecord>(&l).map(Some)
        })
        .filter("errors-only", workers, |r| r.level == "ERROR")
        .map("summarize", workers, summarize)
        .ordered(ordered)
        .run(|s| {
            n += s.tags as u64 + (s.worst_ms > 800.0) as u64;
            ControlFlow::Continue(())
        })
        .unwrap();
    n
}

fn bench_heavy(c: &mut Criterion) {
    let mut buf = String::new();
    let lines: Vec<String> = (0..HEAVY_LINES)
        .map(|i| {
            heavy_line(i, &mut buf);
            buf.clone()
        })
        .collect();
    let mut g = c.benchmark_group("pipeline/heavy-50k");
    g.throughput(Throughput::Elements(HEAVY_LINES));
    g.bench_function("sequential", |b| {
        b.iter_batched(
            || lines.clone(),
            |lines| {
                let mut n = 0u64;
                for l in lines {
                    if let Ok(r) = serde_json::from_str::<HeavyRecord>(&l) {
                        if r.level == "ERROR" {
                            let s = summarize(r);
                            n += s.tags as u64 + (s.worst_ms > 800.0) as u64;
                        }
                    }
                }
                black_box(n)
            },
            BatchSize::LargeInput,
        )
    });
    for (name, workers, ordered) in [
        ("workers-1", 1, true),
        ("workers-2", 2, true),
        ("workers-2-unordered", 2, false),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || lines.clone(),
                |lines| black_box(run_heavy(lines, workers, ordered)),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::heavy_config();
    targets = bench_log, bench_heavy
}
criterion_main!(benches);
