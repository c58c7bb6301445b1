//! Concurrent frequency counting: `FrequencyCounter::record` vs
//! `Mutex<HashMap>` and `dashmap::DashMap`, Zipf(0.99) items over 100k keys,
//! at 1, 2 and 4 threads (each thread its own seeded stream).
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

trait Counter: Send + Sync + 'static {
    fn new() -> Self;
    fn record(&self, k: u64);
    fn total(&self) -> u64;
}

impl Counter for latchwork::freq::FrequencyCounter<u64> {
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
        let s = &streams;
        bench_contender(&mut g, "latchwork", threads, |t| {
            run::<latchwork::freq::FrequencyCounter<u64>>(t, s)
        });
        bench_contender(&mut g, "mutex_hashmap", threads, |t| run::<MutexMap>(t, s));
        bench_contender(&mut g, "dashmap", threads, |t| {
            run::<dashmap::DashMap<u64, u64>>(t, s)
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = heavy_config();
    targets = record
}
criterion_main!(benches);
