//! Rate limiter benchmarks against governor, same workload, same run.
//!
//! - `ratelimit_direct_{deny,admit}/T`: T threads checking one shared bucket,
//!   latchwork `TokenBucket::check` vs `governor::RateLimiter::direct`.
//!   `deny`: 1,000/s burst 1,000 (after the burst almost every check is a
//!   denial); `admit`: 1e9/s (every check admits, so every check writes).
//!   Both read a TSC clock through quanta (latchwork's `SystemClock` does).
//! - `ratelimit_keyed/T`: the `zipf-keyed-limit` workload of WORKLOADS.md
//!   (Zipf(0.99) over 100,000 keys, 1,000/s burst 1,000 per key, `check(k)`
//!   per operation), latchwork `KeyedLimiter` vs governor's keyed limiter
//!   (its default DashMap store, and the same with foldhash) vs one
//!   `Mutex<HashMap<u64, tat>>`. A fresh limiter per iteration, built
//!   outside the timed region.
mod common;

use common::{heavy_config, ops_per_thread, run_threads, thread_counts, zipf_streams};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use governor::{Quota, RateLimiter};
use latchwork::ratelimit::{KeyedLimiter, TokenBucket};
use latchwork::DefaultHashBuilder;
use std::collections::HashMap;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RATE: u32 = 1_000;

const BURST: u32 = 1_000;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("non-zero")
}

/// Runs `make()` fresh per iteration and times `threads` x `ops` of `work`.
fn timed<T, M, W>(iters: u64, threads: usize, make: M, work: W) -> Duration
where
    T: Send + Sync + 'static,
    M: Fn() -> T,
    W: Fn(&T, usize) + Send + Sync + Clone + 'static,
{
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let shared = Arc::new(make());
        let (s, w) = (Arc::clone(&shared), work.clone());
        total += run_threads(threads, move |t| w(&s, t));
    }
    total
}

fn direct(c: &mut Criterion) {
    let ops = ops_per_thread();
    for (name, rate, burst) in [("deny", RATE, BURST), ("admit", 1_000_000_000, BURST)] {
        let mut g = c.benchmark_group(format!("ratelimit_direct_{name}"));
        for threads in thread_counts().into_iter().filter(|&t| t <= 2) {
            g.throughput(Throughput::Elements((ops * threads) as u64));
            g.bench_function(BenchmarkId::new("latchwork", threads), |b| {
                b.iter_custom(|iters| {
                    timed(
                        iters,
                        threads,
                        || {
                            TokenBucket::new(f64::from(rate), u64::from(burst))
                                .expect("valid bucket")
                        },
                        move |l, _| {
                            for _ in 0..ops {
                                black_box(l.check().is_ok());
                            }
                        },
                    )
                })
            });
            g.bench_function(BenchmarkId::new("governor", threads), |b| {
                b.iter_custom(|iters| {
                    timed(
                        iters,
                        threads,
                        || RateLimiter::direct(Quota::per_second(nz(rate)).allow_burst(nz(burst))),
                        move |l, _| {
                            for _ in 0..ops {
                                black_box(l.check().is_ok());
                            }
                        },
                    )
                })
            });
        }
        g.finish();
    }
}

/// The `Mutex<HashMap>` anchor: GCRA TATs in one locked map.
struct MutexMap {
    map: Mutex<HashMap<u64, u64, DefaultHashBuilder>>,
    interval: u64,
    tau: u64,
    origin: Instant,
}

impl MutexMap {
    fn new() -> Self {
        let interval = 1_000_000_000 / u64::from(RATE);
        MutexMap {
            map: Mutex::new(HashMap::default()),
            interval,
            tau: interval * u64::from(BURST),
            origin: Instant::now(),
        }
    }

    fn check(&self, key: u64) -> bool {
        let mut map = self.map.lock().expect("not poisoned");
        let now = self.origin.elapsed().as_nanos() as u64;
        let tat = map.entry(key).or_insert(0);
        let new = (*tat).max(now) + self.interval;
        if new - now <= self.tau {
            *tat = new;
            true
        } else {
            false
        }
    }
}

fn keyed(c: &mut Criterion) {
    let ops = ops_per_thread();
    let mut g = c.benchmark_group("ratelimit_keyed");
    for threads in thread_counts() {
        let streams = zipf_streams(threads, ops);
        g.throughput(Throughput::Elements((ops * threads) as u64));
        let s = streams.clone();
        g.bench_function(BenchmarkId::new("latchwork", threads), move |b| {
            let s = s.clone();
            b.iter_custom(move |iters| {
                let s = s.clone();
                timed(
                    iters,
                    threads,
                    || {
                        KeyedLimiter::<u64>::builder()
                            .rate(f64::from(RATE))
                            .burst(u64::from(BURST))
                            .build()
                            .expect("valid limiter")
                    },
                    move |l, t| {
                        for k in s[t].iter() {
                            black_box(l.check(k).is_ok());
                        }
                    },
                )
            })
        });
        let s = streams.clone();
        g.bench_function(BenchmarkId::new("governor", threads), move |b| {
            let s = s.clone();
            b.iter_custom(move |iters| {
                let s = s.clone();
                timed(
                    iters,
                    threads,
                    || RateLimiter::keyed(Quota::per_second(nz(RATE)).allow_burst(nz(BURST))),
                    move |l, t| {
                        for k in s[t].iter() {
                            black_box(l.check_key(k).is_ok());
                        }
                    },
                )
            })
        });
        let s = streams.clone();
        g.bench_function(BenchmarkId::new("governor-foldhash", threads), move |b| {
            let s = s.clone();
            b.iter_custom(move |iters| {
                let s = s.clone();
                timed(
                    iters,
                    threads,
                    || {
                        RateLimiter::dashmap_with_hasher(
                            Quota::per_second(nz(RATE)).allow_burst(nz(BURST)),
                            DefaultHashBuilder::default(),
                        )
                    },
                    move |l, t| {
                        for k in s[t].iter() {
                            black_box(l.check_key(k).is_ok());
                        }
                    },
                )
            })
        });
        let s = streams.clone();
        g.bench_function(BenchmarkId::new("mutex-hashmap", threads), move |b| {
            let s = s.clone();
            b.iter_custom(move |iters| {
                let s = s.clone();
                timed(iters, threads, MutexMap::new, move |l, t| {
                    for &k in s[t].iter() {
                        black_box(l.check(k));
                    }
                })
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = heavy_config();
    targets = direct, keyed
}
criterion_main!(benches);
