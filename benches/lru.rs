//! LRU caches side by side with the anchor crates, on the standard
//! workloads of `WORKLOADS.md` (see `docs/benchmarks.md` for the figures).
//!
//! - `lru-single/zipf-cache`: `LruCache` vs the `lru` crate, one thread.
//! - `lru-concurrent/<workload>/<threads>`: `ConcurrentLru` vs
//!   `quick_cache::sync::Cache`, `moka::sync::Cache` and
//!   `Mutex<lru::LruCache>`, where workload is `zipf-cache` (get, insert on
//!   miss), `zipf-90-10` (90% get, 10% insert), `pure-hit` and `pure-miss`.
//!
//! Before timing, each cache's hit ratio on the same single-thread trace is
//! printed, since quick_cache (S3-FIFO) and moka (TinyLFU) are not LRU.
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

const LATCHWORK: fn(usize) -> latchwork::lru::ConcurrentLru<u64, u64> =
    |cap| latchwork::lru::ConcurrentLru::new(cap).unwrap();
const QUICK_CACHE: fn(usize) -> quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new;
const MOKA: fn(usize) -> moka::sync::Cache<u64, u64> = |cap| moka::sync::Cache::new(cap as u64);

struct MutexLru(Mutex<lru::LruCache<u64, u64>>);

impl MutexLru {
    fn with_capacity(cap: usize) -> Self {
        MutexLru(Mutex::new(lru::LruCache::new(
            NonZeroUsize::new(cap).unwrap(),
        )))
    }
}

impl KvCache for MutexLru {
    #[inline]
    fn get(&self, k: u64) -> bool {
        self.0.lock().unwrap().get(&k).is_some()
    }
    #[inline]
    fn insert(&self, k: u64, v: u64) {
        self.0.lock().unwrap().put(k, v);
    }
}

#[derive(Clone, Copy)]
enum Workload {
    ZipfCache,
    Zipf9010,
    PureHit,
    PureMiss,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::ZipfCache => "zipf-cache",
            Workload::Zipf9010 => "zipf-90-10",
            Workload::PureHit => "pure-hit",
            Workload::PureMiss => "pure-miss",
        }
    }
}

/// One timed run: `threads` threads each replay their own key stream.
fn run<C: KvCache>(
    make: fn(usize) -> C,
    w: Workload,
    threads: usize,
    streams: &[Arc<Vec<u64>>],
) -> std::time::Duration {
    let cache = Arc::new(make(ZIPF_CAPACITY));
    if let Workload::PureHit = w {
        for k in 0..ZIPF_CAPACITY as u64 / 2 {
            cache.insert(k, k);
        }
    }
    let streams = streams.to_vec();
    run_threads(threads, move |t| {
        let keys = &streams[t];
        match w {
            Workload::ZipfCache => {
                for &k in keys.iter() {
                    if !cache.get(k) {
                        cache.insert(k, k);
                    }
                }
            }
            Workload::Zipf9010 => {
                for (i, &k) in keys.iter().enumerate() {
                    if i % 10 == 9 {
                        cache.insert(k, k);
                    } else {
                        black_box(cache.get(k));
                    }
                }
            }
            Workload::PureHit | Workload::PureMiss => {
                for &k in keys.iter() {
                    black_box(cache.get(k));
                }
            }
        }
    })
}

fn streams_for(w: Workload, threads: usize, len: usize) -> Vec<Arc<Vec<u64>>> {
    match w {
        Workload::ZipfCache | Workload::Zipf9010 => zipf_streams(threads, len),
        // Pure hit: uniform over the half-capacity prefilled keys.
        Workload::PureHit => (0..threads)
            .map(|t| Arc::new(uniform_stream(ZIPF_CAPACITY as u64 / 2, len, 11 + t as u64)))
            .collect(),
        // Pure miss: keys that are never inserted.
        Workload::PureMiss => (0..threads)
            .map(|t| {
                Arc::new(
                    uniform_stream(ZIPF_KEYS, len, 21 + t as u64)
                        .into_iter()
                        .map(|k| k + (1 << 40))
                        .collect(),
                )
            })
            .collect(),
    }
}

fn hit_ratio<C: KvCache>(make: fn(usize) -> C, keys: &[u64]) -> f64 {
    let cache = make(ZIPF_CAPACITY);
    let mut hits = 0usize;
    for &k in keys {
        if cache.get(k) {
            hits += 1;
        } else {
            cache.insert(k, k);
        }
    }
    hits as f64 / keys.len() as f64
}

fn print_hit_ratios() {
    let keys = zipf_stream(ZIPF_KEYS, 0.99, 1_000_000, 0x5EED);
    eprintln!("hit ratio, Zipf(0.99) 1M requests over 100k keys, capacity 10k, one thread:");
    eprintln!(
        "  latchwork ConcurrentLru {:.2}%",
        100.0 * hit_ratio(LATCHWORK, &keys)
    );
    eprintln!(
        "  quick_cache (S3-FIFO)   {:.2}%",
        100.0 * hit_ratio(QUICK_CACHE, &keys)
    );
    eprintln!(
        "  moka (TinyLFU)          {:.2}%",
        100.0 * hit_ratio(MOKA, &keys)
    );
    eprintln!(
        "  strict LRU (lru crate)  {:.2}%",
        100.0 * hit_ratio(MutexLru::with_capacity, &keys)
    );
}

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

fn concurrent(c: &mut Criterion) {
    print_hit_ratios();
    let ops = ops_per_thread();
    for w in [
        Workload::ZipfCache,
        Workload::Zipf9010,
        Workload::PureHit,
        Workload::PureMiss,
    ] {
        let mut g = c.benchmark_group(format!("lru-concurrent/{}", w.name()));
        for threads in thread_counts() {
            let streams = streams_for(w, threads, ops);
            g.throughput(Throughput::Elements((ops * threads) as u64));
            let s = &streams;
            bench_contender(&mut g, "latchwork", threads, |t| run(LATCHWORK, w, t, s));
            bench_contender(&mut g, "quick_cache", threads, |t| {
                run(QUICK_CACHE, w, t, s)
            });
            bench_contender(&mut g, "moka", threads, |t| run(MOKA, w, t, s));
            bench_contender(&mut g, "mutex_lru", threads, |t| {
                run(MutexLru::with_capacity, w, t, s)
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = heavy_config();
    targets = single_thread, concurrent
}
criterion_main!(benches);
