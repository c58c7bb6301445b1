//! Pipeline throughput on the log workload of `tests/common/pipeline_log.rs`
//! (200k JSON lines, parse -> keep ERROR -> enrich), with 1 and 2 workers
//! per stage, ordered and unordered, beside the same work in a plain
//! sequential loop on one thread.
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use latchwork::pipeline::Pipeline;
use std::ops::ControlFlow;

mod common;
#[path = "../tests/common/pipeline_log.rs"]
mod pipeline_log;
use pipeline_log::{enrich, line, LogRecord};

const LINES: u64 = 200_000;

fn run(lines: Vec<String>, workers: usize, ordered: bool) -> u64 {
    let mut n = 0u64;
    Pipeline::source(lines)
        .stage("parse", workers, |l: String| {
            serde_json::from_str::<LogRecord>(&l).map(Some)
        })
        .filter("errors-only", workers, |r| r.level == "ERROR")
        .map("enrich", workers, enrich)
        .ordered(ordered)
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
    for (name, workers, ordered) in [
        ("workers-1", 1, true),
        ("workers-2", 2, true),
        ("workers-2-unordered", 2, false),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || lines.clone(),
                |lines| black_box(run(lines, workers, ordered)),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::heavy_config();
    targets = bench_log
}
criterion_main!(benches);
