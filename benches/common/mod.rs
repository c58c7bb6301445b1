//! Shared benchmark harness: the standard workloads of `WORKLOADS.md` and a
//! multi-thread runner for criterion's `iter_custom`.
#![allow(dead_code)]

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Prints one machine-readable line for `scripts/bench_report`, beside a
/// bench's human output: `LATCHWORK_FIGURE {"name":..,"value":..,"unit":..}`
/// (a non-finite value is written as `null`).
pub fn emit(name: &str, value: f64, unit: &str) {
    // serde_json writes a non-finite f64 as `null`.
    let figure = serde_json::json!({ "name": name, "value": value, "unit": unit });
    println!("LATCHWORK_FIGURE {figure}");
}

/// Keys of the `zipf-*` workloads.
pub const ZIPF_KEYS: u64 = 100_000;
/// Capacity of the `zipf-cache` workload.
pub const ZIPF_CAPACITY: usize = 10_000;

/// Operations per thread per measured run. `WORKLOADS.md` names 2,000,000;
/// `LATCHWORK_BENCH_OPS` may lower it for a quick look.
pub fn ops_per_thread() -> usize {
    std::env::var("LATCHWORK_BENCH_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000)
}

/// Thread counts to measure: `LATCHWORK_BENCH_THREADS` (comma separated),
/// else 1, 2 and 4.
pub fn thread_counts() -> Vec<usize> {
    std::env::var("LATCHWORK_BENCH_THREADS")
        .ok()
        .map(|s| s.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 4])
}

/// A seeded Zipf(s) stream of `len` keys in `0..n` (built before timing).
pub fn zipf_stream(n: u64, s: f64, len: usize, seed: u64) -> Vec<u64> {
    let zipf = Zipf::new(n, s).expect("valid zipf parameters");
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..len).map(|_| zipf.sample(&mut rng) as u64 - 1).collect()
}

/// One `zipf-cache` stream per thread, one seed per thread.
pub fn zipf_streams(threads: usize, len: usize) -> Vec<Arc<Vec<u64>>> {
    (0..threads)
        .map(|t| Arc::new(zipf_stream(ZIPF_KEYS, 0.99, len, 0x5EED + t as u64)))
        .collect()
}

/// A uniform random stream (for miss-heavy workloads).
pub fn uniform_stream(n: u64, len: usize, seed: u64) -> Vec<u64> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..len).map(|_| rng.gen_range(0..n)).collect()
}

/// Runs `work(thread_index)` on `threads` threads released together by a
/// barrier, and returns the wall time from release until the last finishes.
pub fn run_threads<F>(threads: usize, work: F) -> Duration
where
    F: Fn(usize) + Send + Sync + 'static,
{
    let work = Arc::new(work);
    let start = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (work, start) = (Arc::clone(&work), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                work(t);
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    for h in handles {
        h.join().expect("bench thread panicked");
    }
    t0.elapsed()
}

/// Criterion settings for whole-workload iterations (each iteration is a
/// full multi-thread run).
pub fn heavy_config() -> criterion::Criterion {
    criterion::Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
}

/// Adds one contender to a multi-thread group: each criterion iteration
/// is a full `run_once(threads)` (which builds its own structure and
/// returns the timed region's duration).
pub fn bench_contender(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    threads: usize,
    run_once: impl Fn(usize) -> Duration,
) {
    g.bench_with_input(
        criterion::BenchmarkId::new(name, threads),
        &threads,
        |b, &threads| b.iter_custom(|iters| (0..iters).map(|_| run_once(threads)).sum()),
    );
}

/// The two operations the cache benchmarks time, over `u64` keys/values.
pub trait KvCache: Send + Sync + 'static {
    /// Whether `k` was present.
    fn get(&self, k: u64) -> bool;
    /// Stores `k -> v`.
    fn insert(&self, k: u64, v: u64);
}

/// Implements [`KvCache`] for caches whose `get(&k)` returns an `Option`
/// and whose `insert(k, v)` takes `&self`.
macro_rules! kv_cache {
    ($($t:ty),* $(,)?) => {$(
        impl KvCache for $t {
            #[inline]
            fn get(&self, k: u64) -> bool {
                <$t>::get(self, &k).is_some()
            }
            #[inline]
            fn insert(&self, k: u64, v: u64) {
                let _ = <$t>::insert(self, k, v);
            }
        }
    )*};
}

#[cfg(feature = "cache")]
kv_cache!(latchwork::cache::Cache<u64, u64>,);
kv_cache!(
    quick_cache::sync::Cache<u64, u64>,
    moka::sync::Cache<u64, u64>,
);

/// One timed run over a structure built fresh (outside the timed region):
/// `threads` threads each run `work(&shared, thread_index)`.
pub fn run_fresh<T, W>(threads: usize, make: impl FnOnce() -> T, work: W) -> Duration
where
    T: Send + Sync + 'static,
    W: Fn(&T, usize) + Send + Sync + 'static,
{
    let shared = Arc::new(make());
    run_threads(threads, move |t| work(&shared, t))
}

/// Keys each cold scan of [`scan_zipf_stream`] touches.
pub const SCAN_LEN: usize = 5_000;
/// Zipf operations between two cold scans of [`scan_zipf_stream`].
pub const SCAN_EVERY: usize = 50_000;

/// The hit-ratio suite's "Zipf with periodic one-pass scans of cold keys":
/// Zipf(0.99) over [`ZIPF_KEYS`] keys, and after every [`SCAN_EVERY`] draws a
/// sequential pass over the next [`SCAN_LEN`] keys of the cold half
/// (`ZIPF_KEYS / 2 .. ZIPF_KEYS`, the ranks Zipf rarely draws), wrapping
/// around; `len` keys in all, built before timing.
pub fn scan_zipf_stream(len: usize, seed: u64) -> Vec<u64> {
    let zipf = zipf_stream(ZIPF_KEYS, 0.99, len, seed);
    let cold = ZIPF_KEYS / 2;
    let mut next_cold = 0u64;
    let mut out = Vec::with_capacity(len);
    for chunk in zipf.chunks(SCAN_EVERY) {
        out.extend_from_slice(chunk);
        for _ in 0..SCAN_LEN {
            out.push(cold + next_cold);
            next_cold = (next_cold + 1) % (ZIPF_KEYS - cold);
        }
    }
    out.truncate(len);
    out
}
