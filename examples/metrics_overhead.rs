//! What the `metrics` feature costs a cache's users: `get`/`insert`
//! throughput with a `metrics::Registry` reporting the cache to a
//! Prometheus recorder every 10 ms (100 times an ordinary scrape rate)
//! against the same cache with no registry, interleaved in one run.
//!
//! Two threads run the zipf-cache workload (get, insert on a miss; 100,000
//! keys, Zipf 0.99, capacity 10,000) for 300 ms per round; six rounds
//! alternate without and with the registry. Prints each variant's median
//! rate and the ratio.
//!
//! `cargo run --release --features metrics --example metrics_overhead`
use latchwork::cache::Cache;
use latchwork::metrics::Registry;
use metrics_exporter_prometheus::PrometheusBuilder;
use rand::{rngs::SmallRng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const ROUND: Duration = Duration::from_millis(300);

fn round(keys: &Arc<Vec<u64>>, registry: bool) -> f64 {
    let cache: Arc<Cache<u64, u64>> = Arc::new(Cache::new(10_000).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let scraper = registry.then(|| {
        let reg = Registry::new();
        reg.register("items", &cache);
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let stop = stop.clone();
        thread::spawn(move || {
            let mut rendered = 0usize;
            while !stop.load(Ordering::Relaxed) {
                metrics::with_local_recorder(&recorder, || reg.report());
                rendered += handle.render().len();
                thread::sleep(Duration::from_millis(10));
            }
            rendered
        })
    });
    let workers: Vec<_> = (0..2)
        .map(|t| {
            let (cache, keys, stop, ops) = (cache.clone(), keys.clone(), stop.clone(), ops.clone());
            thread::spawn(move || {
                let mut n = 0u64;
                let mut i = t * keys.len() / 2;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1_000 {
                        let k = keys[i % keys.len()];
                        if cache.get(&k).is_none() {
                            cache.insert(k, k);
                        }
                        i += 1;
                    }
                    n += 1_000;
                }
                ops.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    let start = Instant::now();
    thread::sleep(ROUND);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    if let Some(s) = scraper {
        assert!(s.join().unwrap() > 0, "the registry reported nothing");
    }
    ops.load(Ordering::Relaxed) as f64 / elapsed / 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut rng = SmallRng::seed_from_u64(7);
    let zipf = Zipf::new(100_000, 0.99).unwrap();
    let keys: Arc<Vec<u64>> = Arc::new(
        (0..1_000_000)
            .map(|_| zipf.sample(&mut rng) as u64)
            .collect(),
    );
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        off.push(round(&keys, false));
        on.push(round(&keys, true));
    }
    let (off, on) = (median(off), median(on));
    println!("| variant | Mops/s (median of 3 rounds, 2 threads) |");
    println!("|---|---:|");
    println!("| no registry | {off:.2} |");
    println!("| registry reporting every 10 ms | {on:.2} |");
    println!("\nwith / without: {:.3}x", on / off);
}
