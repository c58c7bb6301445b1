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

use common::{
    bench_contender, heavy_config, ops_per_thread, run_fresh, thread_counts, zipf_streams,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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

fn direct(c: &mut Criterion) {
    let ops = ops_per_thread();
    for (name, rate, burst) in [("deny", RATE, BURST), ("admit", 1_000_000_000, BURST)] {
        let mut g = c.benchmark_group(format!("ratelimit_direct_{name}"));
        for threads in thread_counts().into_iter().filter(|&t| t <= 2) {
            g.throughput(Throughput::Elements((ops * threads) as u64));
            bench_contender(&mut g, "latchwork", threads, |t| {
                run_fresh(
                    t,
                    || TokenBucket::new(f64::from(rate), u64::from(burst)).expect("valid bucket"),
                    move |l, _| {
                        (0..ops).for_each(|_| {
                            black_box(l.check().is_ok());
                        })
                    },
                )
            });
            bench_contender(&mut g, "governor", threads, |t| {
                run_fresh(
                    t,
                    || RateLimiter::direct(Quota::per_second(nz(rate)).allow_burst(nz(burst))),
                    move |l, _| {
                        (0..ops).for_each(|_| {
                            black_box(l.check().is_ok());
                        })
                    },
                )
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

/// One keyed run: each thread checks every key of its own stream against
/// a limiter built fresh by `make`.
fn keyed_run<L: Send + Sync + 'static>(
    threads: usize,
    streams: &[Arc<Vec<u64>>],
    make: impl FnOnce() -> L,
    check: fn(&L, &u64) -> bool,
) -> Duration {
    let streams = streams.to_vec();
    run_fresh(threads, make, move |l, t| {
        for k in streams[t].iter() {
            black_box(check(l, k));
        }
    })
}

fn keyed(c: &mut Criterion) {
    let ops = ops_per_thread();
    let mut g = c.benchmark_group("ratelimit_keyed");
    let quota = || Quota::per_second(nz(RATE)).allow_burst(nz(BURST));
    for threads in thread_counts() {
        let streams = zipf_streams(threads, ops);
        let s = &streams;
        g.throughput(Throughput::Elements((ops * threads) as u64));
        bench_contender(&mut g, "latchwork", threads, |t| {
            let make = || {
                KeyedLimiter::<u64>::builder()
                    .rate(f64::from(RATE))
                    .burst(u64::from(BURST))
                    .build()
                    .expect("valid limiter")
            };
            keyed_run(t, s, make, |l, k| l.check(k).is_ok())
        });
        bench_contender(&mut g, "governor", threads, |t| {
            keyed_run(
                t,
                s,
                || RateLimiter::keyed(quota()),
                |l, k| l.check_key(k).is_ok(),
            )
        });
        bench_contender(&mut g, "governor-foldhash", threads, |t| {
            let make = || RateLimiter::dashmap_with_hasher(quota(), DefaultHashBuilder::default());
            keyed_run(t, s, make, |l, k| l.check_key(k).is_ok())
        });
        bench_contender(&mut g, "mutex-hashmap", threads, |t| {
            keyed_run(t, s, MutexMap::new, |l, k| l.check(*k))
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
