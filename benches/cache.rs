//! The concurrent cache side by side with the anchor crates, on the
//! standard workloads of `WORKLOADS.md` (figures in `docs/benchmarks.md`).
//!
//! - `cache/<workload>/<threads>`: `Cache` with `Policy::TinyLfu` and
//!   `Policy::Lru` vs `quick_cache::sync::Cache`, `moka::sync::Cache` and
//!   `Mutex<lru::LruCache>`, where workload is `zipf-cache` (get, insert on
//!   miss), `zipf-90-10` (90% get, 10% insert), `pure-hit` and `pure-miss`.
//! - `cache-ttl/zipf-cache/<threads>`: the same stream with a 1 s
//!   time-to-live: `Cache` vs moka with `time_to_live` and
//!   `Mutex<cached::TtlCache>`.
//! - `cache/single-flight-8`: 8 threads asking for one missing key whose
//!   load takes 2 ms, through `get_or_insert_with` vs a plain get/insert.
//!
//! Before timing, each contender's hit ratio on the same single-thread
//! trace is printed (the full hit-ratio suite is `examples/hit_ratio.rs`).
mod common;

use cached::Cached;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use latchwork::cache::{Cache, Policy};
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(1);

fn tinylfu(cap: usize) -> Cache<u64, u64> {
    Cache::new(cap as u64).unwrap()
}
fn lru_policy(cap: usize) -> Cache<u64, u64> {
    Cache::builder()
        .max_capacity(cap as u64)
        .policy(Policy::Lru)
        .build()
        .unwrap()
}
fn quick(cap: usize) -> quick_cache::sync::Cache<u64, u64> {
    quick_cache::sync::Cache::new(cap)
}
fn moka(cap: usize) -> moka::sync::Cache<u64, u64> {
    moka::sync::Cache::new(cap as u64)
}

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

struct MutexCached(Mutex<cached::TtlCache<u64, u64>>);

impl KvCache for MutexCached {
    #[inline]
    fn get(&self, k: u64) -> bool {
        self.0.lock().unwrap().cache_get(&k).is_some()
    }
    #[inline]
    fn insert(&self, k: u64, v: u64) {
        self.0.lock().unwrap().cache_set(k, v);
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

/// One timed run: `threads` threads each replay their own key stream on a
/// cache built by `make` (outside the timed region).
fn run<C: KvCache>(
    make: impl FnOnce() -> C,
    w: Workload,
    threads: usize,
    streams: &[Arc<Vec<u64>>],
) -> Duration {
    let cache = Arc::new(make());
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

fn hit_ratio<C: KvCache>(cache: C, keys: &[u64]) -> f64 {
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
    let cap = ZIPF_CAPACITY;
    eprintln!("hit ratio, Zipf(0.99) 1M requests over 100k keys, capacity 10k, one thread:");
    // (label, contender id of the throughput groups, hit ratio in %).
    let ratios = [
        ("Cache TinyLfu", "latchwork", hit_ratio(tinylfu(cap), &keys)),
        (
            "Cache Lru",
            "latchwork_lru",
            hit_ratio(lru_policy(cap), &keys),
        ),
        (
            "quick_cache (S3-FIFO)",
            "quick_cache",
            hit_ratio(quick(cap), &keys),
        ),
        ("moka (TinyLFU)", "moka", hit_ratio(moka(cap), &keys)),
        (
            "strict LRU (lru crate)",
            "mutex_lru",
            hit_ratio(MutexLru::with_capacity(cap), &keys),
        ),
    ];
    for (label, id, ratio) in ratios {
        eprintln!("  {label:<22} {:.2}%", 100.0 * ratio);
        emit(&format!("hit ratio zipf-cache/{id}"), 100.0 * ratio, "%");
    }
}

fn concurrent(c: &mut Criterion) {
    print_hit_ratios();
    let ops = ops_per_thread();
    let cap = ZIPF_CAPACITY;
    for w in [
        Workload::ZipfCache,
        Workload::Zipf9010,
        Workload::PureHit,
        Workload::PureMiss,
    ] {
        let mut g = c.benchmark_group(format!("cache/{}", w.name()));
        for threads in thread_counts() {
            let streams = streams_for(w, threads, ops);
            g.throughput(Throughput::Elements((ops * threads) as u64));
            let s = &streams;
            bench_contender(&mut g, "latchwork", threads, |t| {
                run(|| tinylfu(cap), w, t, s)
            });
            bench_contender(&mut g, "latchwork_lru", threads, |t| {
                run(|| lru_policy(cap), w, t, s)
            });
            bench_contender(&mut g, "quick_cache", threads, |t| {
                run(|| quick(cap), w, t, s)
            });
            bench_contender(&mut g, "moka", threads, |t| run(|| moka(cap), w, t, s));
            bench_contender(&mut g, "mutex_lru", threads, |t| {
                run(|| MutexLru::with_capacity(cap), w, t, s)
            });
        }
        g.finish();
    }
}

fn with_ttl(c: &mut Criterion) {
    let ops = ops_per_thread();
    let w = Workload::ZipfCache;
    let mut g = c.benchmark_group("cache-ttl/zipf-cache");
    for threads in thread_counts() {
        let streams = zipf_streams(threads, ops);
        g.throughput(Throughput::Elements((ops * threads) as u64));
        let s = &streams;
        bench_contender(&mut g, "latchwork", threads, |t| {
            run(
                || {
                    Cache::builder()
                        .max_capacity(ZIPF_CAPACITY as u64)
                        .time_to_live(TTL)
                        .build()
                        .unwrap()
                },
                w,
                t,
                s,
            )
        });
        bench_contender(&mut g, "moka", threads, |t| {
            run(
                || {
                    moka::sync::Cache::builder()
                        .max_capacity(ZIPF_CAPACITY as u64)
                        .time_to_live(TTL)
                        .build()
                },
                w,
                t,
                s,
            )
        });
        bench_contender(&mut g, "mutex_cached", threads, |t| {
            run(
                // Unbounded: cached's TtlCache has no size bound.
                || MutexCached(Mutex::new(cached::TtlCache::new(TTL))),
                w,
                t,
                s,
            )
        });
    }
    g.finish();
}

/// The loader both contenders call: 2 ms of "database" work.
fn slow_load(calls: &AtomicUsize, k: u64) -> u64 {
    calls.fetch_add(1, Ordering::Relaxed);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(2) {
        std::hint::spin_loop();
    }
    k * 2
}

fn single_flight(c: &mut Criterion) {
    const THREADS: usize = 8;
    let mut g = c.benchmark_group("cache/single-flight-8");
    let loader_calls = Arc::new(AtomicUsize::new(0));
    let plain_calls = Arc::new(AtomicUsize::new(0));
    let mut rounds = [0usize; 2];
    for (i, name) in ["get_or_insert_with", "plain_get_insert"]
        .into_iter()
        .enumerate()
    {
        let calls = [&loader_calls, &plain_calls][i].clone();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let cache = Arc::new(tinylfu(1_000));
                    let calls = Arc::clone(&calls);
                    let start = Arc::new(Barrier::new(THREADS));
                    total += run_threads(THREADS, move |_| {
                        start.wait();
                        let v = if i == 0 {
                            cache.get_or_insert_with(21, || slow_load(&calls, 21))
                        } else {
                            cache.get(&21).unwrap_or_else(|| {
                                let v = slow_load(&calls, 21);
                                cache.insert(21, v);
                                v
                            })
                        };
                        assert_eq!(v, 42);
                    });
                    rounds[i] += 1;
                }
                total
            })
        });
    }
    g.finish();
    let per_round = [
        loader_calls.load(Ordering::Relaxed) as f64 / rounds[0].max(1) as f64,
        plain_calls.load(Ordering::Relaxed) as f64 / rounds[1].max(1) as f64,
    ];
    eprintln!(
        "single-flight, {THREADS} threads on one missing key: get_or_insert_with {:.2} loader calls per round, plain get/insert {:.2}",
        per_round[0], per_round[1]
    );
    emit(
        "single-flight-8/get_or_insert_with loader calls",
        per_round[0],
        "calls/round",
    );
    emit(
        "single-flight-8/plain_get_insert loader calls",
        per_round[1],
        "calls/round",
    );
}

criterion_group! {
    name = benches;
    config = heavy_config();
    targets = concurrent, with_ttl, single_flight
}
criterion_main!(benches);
