#![cfg(all(not(loom), feature = "clock", feature = "ratelimit"))]
//! Multi-thread stress: total admitted cost never exceeds
//! `burst + elapsed / interval`, with a thread moving a manual clock while
//! others acquire.

use latchwork::clock::{Clock, ManualClock};
use latchwork::ratelimit::{KeyedLimiter, TokenBucket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const THREADS: u64 = 4;
const ATTEMPTS: u64 = 50_000;

#[test]
fn bucket_never_admits_more_than_burst_plus_refill() {
    let clock = ManualClock::new();
    let bucket = Arc::new(
        TokenBucket::builder()
            .rate(1_000_000.0) // 1 us per token
            .burst(64)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (clock, stop) = (clock.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                clock.advance(Duration::from_nanos(700));
                std::thread::yield_now();
            }
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (bucket, clock) = (Arc::clone(&bucket), clock.clone());
            std::thread::spawn(move || {
                let mut admitted = 0;
                // Keep going until the ticker has moved the clock 2 ms, so a
                // refill happens during the run however threads are scheduled.
                let mut i = 0;
                while i < ATTEMPTS || clock.now_nanos() < 2_000_000 {
                    let cost = 1 + (i + t) % 3;
                    if bucket.try_acquire(cost).is_ok() {
                        admitted += cost;
                    }
                    i += 1;
                }
                admitted
            })
        })
        .collect();
    let admitted: u64 = workers.into_iter().map(|h| h.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    let elapsed = clock.now_nanos();
    let bound = 64 + elapsed / 1_000;
    assert!(admitted <= bound, "admitted {admitted} > bound {bound}");
    assert!(admitted > 64, "refill happened: {admitted}");
}

#[test]
fn keyed_never_admits_more_than_burst_plus_refill_per_key() {
    let clock = ManualClock::new();
    let keyed: Arc<KeyedLimiter<u64, _, _>> = Arc::new(
        KeyedLimiter::builder()
            .rate(1_000_000.0)
            .burst(8)
            .shards(2)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (clock, stop, keyed) = (clock.clone(), Arc::clone(&stop), Arc::clone(&keyed));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                clock.advance(Duration::from_nanos(900));
                keyed.sweep(); // races inserts and checks
            }
        })
    };
    const KEYS: u64 = 16;
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let keyed = Arc::clone(&keyed);
            std::thread::spawn(move || {
                let mut admitted = vec![0u64; KEYS as usize];
                for i in 0..ATTEMPTS {
                    let key = (i * 7 + t) % KEYS;
                    if keyed.check(&key).is_ok() {
                        admitted[key as usize] += 1;
                    }
                }
                admitted
            })
        })
        .collect();
    let mut per_key = vec![0u64; KEYS as usize];
    for h in workers {
        for (k, n) in h.join().unwrap().into_iter().enumerate() {
            per_key[k] += n;
        }
    }
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    let bound = 8 + clock.now_nanos() / 1_000;
    for (k, n) in per_key.iter().enumerate() {
        assert!(*n <= bound, "key {k}: admitted {n} > bound {bound}");
    }
}
