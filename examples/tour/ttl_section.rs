//! TTL cache and memoization: an API response cache on a manual clock
//! (so the tour shows expiry deterministically), then single-flight loads.
use crate::heading;
use latchwork::clock::ManualClock;
use latchwork::ttl::{Memoized, TtlCache};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    heading("ttl: response cache with timer-wheel expiry, single-flight memoization");
    let clock = ManualClock::new();
    let cache = TtlCache::builder()
        .default_ttl(Duration::from_secs(30))
        .capacity(50_000)
        .clock(clock.clone())
        .build()?;
    // Ten minutes of traffic, one second per step: 2,000 requests a second
    // over 20,000 endpoints+params, responses cached for 30 s.
    let mut x = 0x9E37_79B9u64;
    for _second in 0..600 {
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Skewed: most requests go to a few hundred hot routes.
            let route = (x % 20_000).min(x % 400 + (x >> 40) % 20);
            if cache.get(&route).is_none() {
                cache.insert(route, format!("response for /api/items/{route}"));
            }
        }
        clock.advance(Duration::from_secs(1));
    }
    let st = cache.stats();
    println!(
        "1.2M requests over 10 simulated minutes: hit ratio {:.1}%, {} inserts, {} entries expired and \
         were reclaimed by ordinary calls; {} entries held at the end",
        100.0 * st.hit_ratio(),
        st.inserts,
        st.expirations,
        cache.entries_held()
    );
    clock.advance(Duration::from_secs(31)); // traffic stops; everything expires
    let held = cache.entries_held();
    let reclaimed = cache.cleanup_expired();
    println!(
        "after 31 s idle: {held} held, cleanup_expired() reclaimed {reclaimed}, len {}",
        cache.len()
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
