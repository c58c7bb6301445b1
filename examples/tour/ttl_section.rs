//! Memoization with a time to live: memoized lookups from several threads
//! on a Zipf trace, beside `cached`'s `TtlCache` behind a mutex (what
//! `#[cached(time = ...)]` expands to); then single-flight loads through the
//! cache's loader.
use crate::{heading, threads, timed};
use cached::Cached;
use latchwork::ttl::Memoized;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    heading("ttl: memoization with a time to live, single-flight");
    // n threads, each its own Zipf(0.99) trace (1M lookups over 100k keys),
    // a 60 s TTL (nothing expires during the run), a cheap loader: the
    // figure is the memoization path itself.
    let n = threads();
    let traces: Vec<Vec<u64>> = (0..n as u64)
        .map(|t| crate::lru_section::trace(300 + t))
        .collect::<Result<_, _>>()?;
    let requests: usize = traces.iter().map(Vec::len).sum();
    let distinct = traces.iter().flatten().collect::<HashSet<_>>().len() as u64;
    let expected: u64 = traces.iter().flatten().map(|k| k * 2).sum();
    let ttl = Duration::from_secs(60);
    let memo = Memoized::builder(|k: &u64| Ok::<_, String>(k * 2))
        .ttl(ttl)
        .build()?;
    let (sum, secs) = timed(|| {
        std::thread::scope(|s| {
            let hs: Vec<_> = traces
                .iter()
                .map(|t| {
                    let memo = &memo;
                    s.spawn(move || t.iter().map(|k| memo.get(k).unwrap_or(0)).sum::<u64>())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or(0)).sum::<u64>()
        })
    });
    // The anchor (benches/cache.rs, cache-ttl): `cached::TtlCache` behind a
    // mutex, get, and on a miss load outside the lock and insert.
    let anchor = std::sync::Mutex::new(cached::TtlCache::<u64, u64>::new(ttl));
    let anchor_loads = AtomicUsize::new(0);
    let (anchor_sum, anchor_secs) = timed(|| {
        std::thread::scope(|s| {
            let hs: Vec<_> = traces
                .iter()
                .map(|t| {
                    let (anchor, loads) = (&anchor, &anchor_loads);
                    s.spawn(move || {
                        let mut sum = 0u64;
                        for &k in t {
                            let hit = anchor.lock().map_or(None, |mut c| c.cache_get(&k).copied());
                            sum += hit.unwrap_or_else(|| {
                                loads.fetch_add(1, Ordering::Relaxed); // Relaxed: a statistic
                                let v = k * 2;
                                if let Ok(mut c) = anchor.lock() {
                                    c.cache_set(k, v);
                                }
                                v
                            });
                        }
                        sum
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or(0)).sum::<u64>()
        })
    });
    assert_eq!((sum, anchor_sum), (expected, expected), "same values");
    let stats = memo.stats();
    assert_eq!(stats.loads, distinct, "one load per distinct key");
    println!(
        "Memoized {n:>2} threads: {:.1} M lookups/s = {:.2}x Mutex<cached::TtlCache> measured now \
         ({requests} lookups, loads: ours {} = distinct keys, cached {})",
        requests as f64 / secs / 1e6,
        anchor_secs / secs,
        stats.loads,
        anchor_loads.load(Ordering::Relaxed) // Relaxed: the threads were joined
    );

    // Single-flight: 8 threads ask for the same missing key at once.
    let calls = Arc::new(AtomicUsize::new(0));
    let memo = {
        let calls = Arc::clone(&calls);
        Arc::new(
            Memoized::builder(move |user: &u32| {
                calls.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20)); // the "database"
                Ok::<_, String>(format!("profile of user {user}"))
            })
            .ttl(Duration::from_secs(60))
            .build()?,
        )
    };
    let start = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (memo, start) = (Arc::clone(&memo), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                memo.get(&42)
            })
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| "tour thread panicked")?
            .map_err(|e| e.to_string())?;
    }
    let ms = memo.stats();
    println!(
        "8 concurrent requests for one missing key: {} loader call(s), {} loads saved by single-flight",
        calls.load(Ordering::SeqCst),
        ms.misses - ms.loads
    );
    Ok(())
}
