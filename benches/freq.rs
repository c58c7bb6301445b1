//! Concurrent frequency counting: `FrequencyCounter::record` vs
//! `Mutex<HashMap>` and `dashmap::DashMap`, Zipf(0.99) items over 100k keys,
//! at 1, 2 and 4 threads (each thread its own seeded stream).
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

trait Counter: Send + Sync + 'static {
    const NAME: &'static str;
    fn new() -> Self;
    fn record(&self, k: u64);
    fn total(&self) -> u64;
}

impl Counter for latchwork::freq::FrequencyCounter<u64> {
    const NAME: &'static str = "latchwork";
    fn new() -> Self {
        latchwork::freq::FrequencyCounter::new()
    }
    #[inline]
    fn record(&self, k: u64) {
        self.record(k);
    }
    fn total(&self) -> u64 {
        self.total()
    }
}

struct MutexMap(Mutex<HashMap<u64, u64>>);

impl Counter for MutexMap {
    const NAME: &'static str = "mutex_hashmap";
    fn new() -> Self {
        MutexMap(Mutex::new(HashMap::new()))
    }
    #[inline]
    fn record(&self, k: u64) {
        *self.0.lock().unwrap().entry(k).or_insert(0) += 1;
    }
    fn total(&self) -> u64 {
        self.0.lock().unwrap().values().sum()
    }
}

impl Counter for dashmap::DashMap<u64, u64> {
    const NAME: &'static str = "dashmap";
    fn new() -> Self {
        dashmap::DashMap::new()
    }
    #[inline]
    fn record(&self, k: u64) {
        *self.entry(k).or_insert(0) += 1;
    }
    fn total(&self) -> u64 {
        self.iter().map(|e| *e.value()).sum()
    }
}

fn run<C: Counter>(threads: usize, streams: &[Arc<Vec<u64>>]) -> std::time::Duration {
    let c = Arc::new(C::new());
    let (c2, streams2) = (Arc::clone(&c), streams.to_vec());
    let d = run_threads(threads, move |t| {
        for &k in streams2[t].iter() {
            c2.record(k);
        }
    });
    let expected: usize = streams.iter().map(|s| s.len()).sum();
    assert_eq!(c.total(), expected as u64);
    d
}

fn record(c: &mut Criterion) {
    let ops = ops_per_thread();
    let mut g = c.benchmark_group("freq/record-zipf");
    for threads in thread_counts() {
        let streams = zipf_streams(threads, ops);
        g.throughput(Throughput::Elements((ops * threads) as u64));
        fn bench<C: Counter>(
            g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
            threads: usize,
            streams: &[Arc<Vec<u64>>],
        ) {
            g.bench_with_input(
                BenchmarkId::new(C::NAME, threads),
                &threads,
                |b, &threads| {
                    b.iter_custom(|iters| (0..iters).map(|_| run::<C>(threads, streams)).sum())
                },
            );
        }
        bench::<latchwork::freq::FrequencyCounter<u64>>(&mut g, threads, &streams);
        bench::<MutexMap>(&mut g, threads, &streams);
        bench::<dashmap::DashMap<u64, u64>>(&mut g, threads, &streams);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = heavy_config();
    targets = record
}
criterion_main!(benches);
