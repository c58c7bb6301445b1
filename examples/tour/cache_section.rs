//! The concurrent cache: hit ratio against quick_cache and moka on the same
//! Zipf(0.99) trace, throughput from several threads, then an API response
//! cache with a time to live, a weigher and an eviction listener on a
//! manual clock (so expiry shows deterministically).
use crate::lru_section::trace;
use crate::{heading, threads, timed};
use latchwork::cache::{Cache, Policy, RemovalCause};
use latchwork::clock::ManualClock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CAPACITY: u64 = 10_000;

fn replay(keys: &[u64], mut get_or_insert: impl FnMut(u64) -> bool) -> f64 {
    let hits = keys.iter().filter(|&&k| get_or_insert(k)).count();
    100.0 * hits as f64 / keys.len() as f64
}

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    heading("cache: one concurrent cache (TinyLFU or LRU, weights, TTL, listener, single-flight)");
    let keys = trace(7)?;
    let tinylfu: Cache<u64, u64> = Cache::new(CAPACITY)?;
    let ours = replay(&keys, |k| {
        tinylfu.get(&k).is_some() || {
            tinylfu.insert(k, k);
            false
        }
    });
    let lru = Cache::builder()
        .max_capacity(CAPACITY)
        .policy(Policy::Lru)
        .build()?;
    let lru_hr = replay(&keys, |k| {
        lru.get(&k).is_some() || {
            lru.insert(k, k);
            false
        }
    });
    let quick = quick_cache::sync::Cache::new(CAPACITY as usize);
    let quick_hr = replay(&keys, |k| {
        quick.get(&k).is_some() || {
            quick.insert(k, k);
            false
        }
    });
    let moka = moka::sync::Cache::new(CAPACITY);
    let moka_hr = replay(&keys, |k| {
        moka.get(&k).is_some() || {
            moka.insert(k, k);
            false
        }
    });
    println!(
        "hit ratio, Zipf(0.99), 1M requests, 100k keys, capacity 10k: TinyLfu {ours:.2}%, Lru {lru_hr:.2}%; \
         quick_cache {quick_hr:.2}%, moka {moka_hr:.2}% (measured now: {:+.2} points over the better anchor)",
        ours - quick_hr.max(moka_hr)
    );

    let n = threads();
    let shared = Arc::new(Cache::<u64, u64>::new(CAPACITY)?);
    let traces: Vec<_> = (0..n)
        .map(|t| trace(100 + t as u64).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let (_, secs) = timed(|| {
        std::thread::scope(|s| {
            for t in &traces {
                let (shared, t) = (Arc::clone(&shared), Arc::clone(t));
                s.spawn(move || {
                    for &k in t.iter() {
                        if shared.get(&k).is_none() {
                            shared.insert(k, k * 2);
                        }
                    }
                });
            }
        })
    });
    let st = shared.stats();
    println!(
        "{n} threads, get + insert on miss: {:.1} M ops/s, hit ratio {:.2}%, {} evictions, {} shards",
        (n * keys.len()) as f64 / secs / 1e6,
        100.0 * st.hit_ratio(),
        st.evictions,
        shared.shard_count()
    );

    // An API response cache: 30 s TTL, bounded to 2 MB of response bodies.
    let clock = ManualClock::new();
    let expired = Arc::new(AtomicU64::new(0));
    let responses = {
        let expired = Arc::clone(&expired);
        Cache::builder()
            .max_capacity(2_000_000)
            .weigher(|_route: &u64, body: &String| body.len() as u32)
            .time_to_live(Duration::from_secs(30))
            .eviction_listener(move |_route, _body, cause| {
                if cause == RemovalCause::Expired {
                    expired.fetch_add(1, Ordering::Relaxed);
                }
            })
            .clock(clock.clone())
            .build()?
    };
    // Ten minutes of traffic, one second per step: 2,000 requests a second
    // over 20,000 routes.
    let mut x = 0x9E37_79B9u64;
    for _second in 0..600 {
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Skewed: most requests go to a few hundred hot routes.
            let route = (x % 20_000).min(x % 400 + (x >> 40) % 20);
            if responses.get(&route).is_none() {
                responses.insert(route, format!("response for /api/items/{route}").repeat(4));
            }
        }
        clock.advance(Duration::from_secs(1));
    }
    let st = responses.stats();
    println!(
        "API cache, 1.2M requests over 10 simulated minutes: hit ratio {:.1}%, {} expired (listener heard {}), \
         {} bytes held of 2,000,000",
        100.0 * st.hit_ratio(),
        st.expirations,
        expired.load(Ordering::Relaxed),
        responses.weighted_size()
    );
    Ok(())
}
