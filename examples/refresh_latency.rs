//! Readers never wait on a refresh: the latency of `get` on hot keys with
//! `refresh_after_write` reloading them in the background, against the
//! same cache with no refresh, in one run.
//!
//! A cache of 10,000 entries, every key written once; one reader thread
//! times 2,000,000 `get`s of keys drawn from 1,000 hot ones (each timing
//! covers a batch of 16 gets, to stay above the clock's resolution). With
//! refresh, the period is 1 ms and a refresher thread reloads each due key
//! with a loader that takes about 20 us, so reloads run all the time.
//! The two caches take turns, five rounds each (one round: 125,000
//! timed batches), so a burst of noise on the machine lands on both
//! alike; prints each round's p50, p99 and p99.9 per get and the median
//! over the rounds, and the ratio of the medians (the goal: p99.9 with
//! refreshes within 2x of p99.9 without).
//!
//! `cargo run --release --example refresh_latency`
use latchwork::cache::{Cache, Refresher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const BATCH: usize = 16;
const BATCHES: usize = 125_000;
const ROUNDS: usize = 5;

fn percentiles(cache: &Cache<u64, u64>) -> [f64; 3] {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut ns = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let start = Instant::now();
        for _ in 0..BATCH {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            std::hint::black_box(cache.get(&(x % 1_000)));
        }
        ns.push(start.elapsed().as_nanos() as f64 / BATCH as f64);
    }
    ns.sort_by(f64::total_cmp);
    let at = |q: f64| ns[((ns.len() as f64 * q) as usize).min(ns.len() - 1)];
    [at(0.5), at(0.99), at(0.999)]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let plain: Cache<u64, u64> = Cache::new(10_000)?;
    let refreshing: Arc<Cache<u64, u64>> = Arc::new(
        Cache::builder()
            .max_capacity(10_000)
            .refresh_after_write(Duration::from_millis(1))
            .build()?,
    );
    for k in 0..10_000 {
        plain.insert(k, k);
        refreshing.insert(k, k);
    }
    let reloads = Arc::new(AtomicUsize::new(0));
    let counted = reloads.clone();
    let refresher = Refresher::new(&refreshing, move |k: &u64| {
        counted.fetch_add(1, Ordering::Relaxed);
        let until = Instant::now() + Duration::from_micros(20);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        Ok::<_, ()>(*k + 1)
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let runner = {
        let stop = stop.clone();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if refresher.run_pending() == 0 {
                    thread::sleep(Duration::from_micros(200));
                }
            }
        })
    };
    let mut without = Vec::new();
    let mut with = Vec::new();
    println!("| round | cache | p50 ns/get | p99 | p99.9 |");
    println!("|---:|---|---:|---:|---:|");
    for round in 1..=ROUNDS {
        let [a, b, c] = percentiles(&plain);
        println!("| {round} | no refresh | {a:.1} | {b:.1} | {c:.1} |");
        without.push([a, b, c]);
        let [a, b, c] = percentiles(&refreshing);
        println!("| {round} | refresh every 1 ms | {a:.1} | {b:.1} | {c:.1} |");
        with.push([a, b, c]);
    }
    stop.store(true, Ordering::Relaxed);
    runner.join().ok();
    let median = |rows: &[[f64; 3]], q: usize| {
        let mut v: Vec<f64> = rows.iter().map(|r| r[q]).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "| median | no refresh | {:.1} | {:.1} | {:.1} |",
        median(&without, 0),
        median(&without, 1),
        median(&without, 2)
    );
    println!(
        "| median | refresh every 1 ms ({} reloads ran) | {:.1} | {:.1} | {:.1} |",
        reloads.load(Ordering::Relaxed),
        median(&with, 0),
        median(&with, 1),
        median(&with, 2)
    );
    println!(
        "\np99.9 with refreshes / without (medians of {ROUNDS} rounds): {:.2}x (goal: at most 2x)",
        median(&with, 2) / median(&without, 2)
    );
    Ok(())
}
