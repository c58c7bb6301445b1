//! The single-threaded `LruCache` side by side with the `lru` crate on the
//! `zipf-cache` stream (`lru-single/zipf-cache`); the concurrent cache is
//! in `benches/cache.rs`.
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::num::NonZeroUsize;

fn single_thread(c: &mut Criterion) {
    let ops = ops_per_thread();
    let keys = zipf_stream(ZIPF_KEYS, 0.99, ops, 0x5EED);
    let mut g = c.benchmark_group("lru-single/zipf-cache");
    g.throughput(Throughput::Elements(ops as u64));
    g.bench_function("latchwork", |b| {
        b.iter_batched_ref(
            || latchwork::lru::LruCache::new(ZIPF_CAPACITY).unwrap(),
            |cache| {
                for &k in &keys {
                    if cache.get(&k).is_none() {
                        cache.put(k, k);
                    }
                }
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function("lru", |b| {
        b.iter_batched_ref(
            || lru::LruCache::new(NonZeroUsize::new(ZIPF_CAPACITY).unwrap()),
            |cache| {
                for &k in &keys {
                    if cache.get(&k).is_none() {
                        cache.put(k, k);
                    }
                }
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = heavy_config();
    targets = single_thread
}
criterion_main!(benches);
