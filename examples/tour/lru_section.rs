//! LRU caches: strict single-threaded LRU and the sharded concurrent form on
//! a Zipf(0.99) trace (1M requests over 100k keys, capacity 10k).
use crate::{heading, threads, timed};
use latchwork::lru::{ConcurrentLru, LruCache};
use rand::{rngs::SmallRng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use std::sync::Arc;

const KEYS: u64 = 100_000;
const REQUESTS: usize = 1_000_000;
const CAPACITY: usize = 10_000;

fn trace(seed: u64) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
    let zipf = Zipf::new(KEYS, 0.99)?;
    let mut rng = SmallRng::seed_from_u64(seed);
    Ok((0..REQUESTS)
        .map(|_| zipf.sample(&mut rng) as u64)
        .collect())
}

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    heading("lru: arena-index LRU cache");
    let keys = trace(7)?;

    let mut cache = LruCache::new(CAPACITY)?;
    let (hits, secs) = timed(|| {
        let mut hits = 0u64;
        for &k in &keys {
            if cache.get(&k).is_some() {
                hits += 1;
            } else {
                cache.put(k, k * 2);
            }
        }
        hits
    });
    println!(
        "LruCache        1 thread : hit ratio {:.2}%  {:.1} M ops/s  ({} bytes/entry incl. index)",
        100.0 * hits as f64 / REQUESTS as f64,
        REQUESTS as f64 / secs / 1e6,
        cache.heap_bytes() / cache.len()
    );

    let shared = Arc::new(ConcurrentLru::new(CAPACITY)?);
    // Same trace from one thread: how close is sharded LRU to strict LRU?
    for &k in &keys {
        if shared.get(&k).is_none() {
            shared.insert(k, k * 2);
        }
    }
    println!(
        "ConcurrentLru   1 thread : hit ratio {:.2}%  ({} shards; strict LRU above)",
        100.0 * shared.stats().hit_ratio(),
        shared.shard_count()
    );

    let n = threads();
    shared.clear();
    shared.reset_stats();
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
    let stats = shared.stats();
    println!(
        "ConcurrentLru {n:>2} threads: hit ratio {:.2}%  {:.1} M ops/s  (evictions {}, len {})",
        100.0 * stats.hit_ratio(),
        (n * REQUESTS) as f64 / secs / 1e6,
        stats.evictions,
        shared.len()
    );
    Ok(())
}
