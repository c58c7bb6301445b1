//! TTL caches side by side: `latchwork::ttl::TtlCache` vs
//! `moka::sync::Cache` with `time_to_live` and `cached::TtlCache` (the
//! successor of `TimedCache`) behind a `Mutex`, on the `zipf-cache` key
//! stream (get; insert on miss) with a 1 s TTL, at 1, 2 and 4 threads.
//! Then single-flight: 8 threads asking for one missing hot key, with
//! `Memoized` vs a plain cache where each missing caller loads.
mod common;

use cached::Cached;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(1);

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

fn run<C: KvCache>(make: fn() -> C, threads: usize, streams: &[Arc<Vec<u64>>]) -> Duration {
    let cache = Arc::new(make());
    let streams = streams.to_vec();
    run_threads(threads, move |t| {
        for &k in streams[t].iter() {
            if !cache.get(k) {
                cache.insert(k, k);
            }
        }
    })
}

fn mixed(c: &mut Criterion) {
    let ops = ops_per_thread();
    let mut g = c.benchmark_group("ttl/zipf-cache");
    for threads in thread_counts() {
        let streams = zipf_streams(threads, ops);
        g.throughput(Throughput::Elements((ops * threads) as u64));
        let s = &streams;
        bench_contender(&mut g, "latchwork", threads, |t| {
            run(|| latchwork::ttl::TtlCache::new(TTL).unwrap(), t, s)
        });
        bench_contender(&mut g, "moka", threads, |t| {
            run(
                || moka::sync::Cache::builder().time_to_live(TTL).build(),
                t,
                s,
            )
        });
        bench_contender(&mut g, "mutex_cached", threads, |t| {
            run(|| MutexCached(Mutex::new(cached::TtlCache::new(TTL))), t, s)
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
    let mut g = c.benchmark_group("ttl/single-flight-8");
    let memo_calls = Arc::new(AtomicUsize::new(0));
    let plain_calls = Arc::new(AtomicUsize::new(0));
    let mut rounds = [0usize; 2];
    g.bench_function("memoized", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let calls = Arc::clone(&memo_calls);
                let memo = Arc::new(
                    latchwork::ttl::Memoized::builder(move |k: &u64| {
                        Ok::<_, ()>(slow_load(&calls, *k))
                    })
                    .ttl(TTL)
                    .build()
                    .unwrap(),
                );
                let start = Arc::new(Barrier::new(THREADS));
                total += run_threads(THREADS, move |_| {
                    start.wait();
                    assert_eq!(memo.get(&21).ok(), Some(42));
                });
                rounds[0] += 1;
            }
            total
        })
    });
    g.bench_function("plain_cache", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let cache = Arc::new(latchwork::ttl::TtlCache::<u64, u64>::new(TTL).unwrap());
                let calls = Arc::clone(&plain_calls);
                let start = Arc::new(Barrier::new(THREADS));
                total += run_threads(THREADS, move |_| {
                    start.wait();
                    if cache.get(&21).is_none() {
                        cache.insert(21, slow_load(&calls, 21));
                    }
                });
                rounds[1] += 1;
            }
            total
        })
    });
    g.finish();
    eprintln!(
        "single-flight, {THREADS} threads on one missing key: memoized {:.2} loader calls per round, plain cache {:.2}",
        memo_calls.load(Ordering::Relaxed) as f64 / rounds[0].max(1) as f64,
        plain_calls.load(Ordering::Relaxed) as f64 / rounds[1].max(1) as f64
    );
}

criterion_group! {
    name = benches;
    config = heavy_config();
    targets = mixed, single_flight
}
criterion_main!(benches);
