//! The single-threaded `LruCache` side by side with the `lru` crate (0.19,
//! its documented `get`/`put` path) on two traces, capacity 10,000, `get`
//! and `put` on a miss:
//! - `zipf-cache` (`WORKLOADS.md`), group `lru-single/zipf-cache`;
//! - `scan-zipf`: the same Zipf(0.99) traffic with a one-pass scan of 5,000
//!   cold keys after every 50,000 draws, group `lru-single/scan-zipf`.
//!
//! Both are strict LRUs, so their hit sequences must be identical: the bench
//! asserts it per operation before timing anything. After criterion's
//! groups it prints one summary line per contender per workload (median of
//! five timed runs, same process, same trace):
//! `  <workload> <contender> 1t: <X> Mops/s hit <H>% ratio <R>x` (the ratio
//! is against `lru`). The concurrent cache is in `benches/cache.rs`.
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

/// The two caches behind one `get`-then-`put`-on-miss loop.
trait Single {
    fn make() -> Self;
    /// Whether `k` hit; inserts it on a miss.
    fn access(&mut self, k: u64) -> bool;
}

impl Single for latchwork::lru::LruCache<u64, u64> {
    fn make() -> Self {
        latchwork::lru::LruCache::new(ZIPF_CAPACITY).unwrap()
    }
    #[inline]
    fn access(&mut self, k: u64) -> bool {
        if self.get(&k).is_some() {
            return true;
        }
        self.put(k, k);
        false
    }
}

impl Single for lru::LruCache<u64, u64> {
    fn make() -> Self {
        lru::LruCache::new(NonZeroUsize::new(ZIPF_CAPACITY).unwrap())
    }
    #[inline]
    fn access(&mut self, k: u64) -> bool {
        if self.get(&k).is_some() {
            return true;
        }
        self.put(k, k);
        false
    }
}

type Ours = latchwork::lru::LruCache<u64, u64>;
type Theirs = lru::LruCache<u64, u64>;

/// One timed pass over `keys` on a fresh cache; returns the time and hits.
fn timed<C: Single>(keys: &[u64]) -> (Duration, usize) {
    let mut cache = C::make();
    let t0 = Instant::now();
    let mut hits = 0usize;
    for &k in keys {
        hits += cache.access(k) as usize;
    }
    let elapsed = t0.elapsed();
    black_box(&cache);
    (elapsed, hits)
}

fn hit_sequence<C: Single>(keys: &[u64]) -> Vec<bool> {
    let mut cache = C::make();
    keys.iter().map(|&k| cache.access(k)).collect()
}

fn median_mops<C: Single>(keys: &[u64]) -> f64 {
    let mut rates: Vec<f64> = (0..5)
        .map(|_| keys.len() as f64 / timed::<C>(keys).0.as_secs_f64() / 1e6)
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[2]
}

fn workloads() -> Vec<(&'static str, Vec<u64>)> {
    let ops = ops_per_thread();
    vec![
        ("zipf-cache", zipf_stream(ZIPF_KEYS, 0.99, ops, 0x5EED)),
        ("scan-zipf", scan_zipf_stream(ops, 0x5EED)),
    ]
}

fn single_thread(c: &mut Criterion) {
    let workloads = workloads();
    for (name, keys) in &workloads {
        // Both are strict LRUs: the same trace must hit at the same places.
        assert!(
            hit_sequence::<Ours>(keys) == hit_sequence::<Theirs>(keys),
            "{name}: LruCache's hit sequence differs from lru's"
        );
        let mut g = c.benchmark_group(format!("lru-single/{name}"));
        g.throughput(Throughput::Elements(keys.len() as u64));
        g.bench_function("latchwork", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| timed::<Ours>(keys).0).sum())
        });
        g.bench_function("lru", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| timed::<Theirs>(keys).0).sum())
        });
        g.finish();
    }
    println!("lru-single summary (median of 5 runs, capacity {ZIPF_CAPACITY}):");
    for (name, keys) in &workloads {
        let hit = 100.0 * timed::<Theirs>(keys).1 as f64 / keys.len() as f64;
        let (ours, theirs) = (median_mops::<Ours>(keys), median_mops::<Theirs>(keys));
        println!(
            "  {name} latchwork 1t: {ours:.2} Mops/s hit {hit:.2}% ratio {:.2}x",
            ours / theirs
        );
        println!("  {name} lru 1t: {theirs:.2} Mops/s hit {hit:.2}% ratio 1.00x");
        emit(&format!("lru-single/{name} hit ratio"), hit, "%");
        emit(
            &format!("lru-single/{name} latchwork median of 5"),
            ours,
            "Mops/s",
        );
        emit(
            &format!("lru-single/{name} lru median of 5"),
            theirs,
            "Mops/s",
        );
    }
}

criterion_group! {
    name = benches;
    config = heavy_config();
    targets = single_thread
}
criterion_main!(benches);
