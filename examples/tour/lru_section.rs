//! The single-threaded strict LRU on a Zipf(0.99) trace (1M requests over
//! 100k keys, capacity 10k), beside the `lru` crate on the same trace.
use crate::{heading, timed};
use latchwork::lru::LruCache;
use rand::{rngs::SmallRng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use std::num::NonZeroUsize;

const KEYS: u64 = 100_000;
const REQUESTS: usize = 1_000_000;
const CAPACITY: usize = 10_000;

pub(crate) fn trace(seed: u64) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
    let zipf = Zipf::new(KEYS, 0.99)?;
    let mut rng = SmallRng::seed_from_u64(seed);
    Ok((0..REQUESTS)
        .map(|_| zipf.sample(&mut rng) as u64)
        .collect())
}

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    heading("lru: arena-index strict LRU cache (one thread)");
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
    let mut anchor = lru::LruCache::new(NonZeroUsize::new(CAPACITY).ok_or("capacity")?);
    let (anchor_hits, anchor_secs) = timed(|| {
        let mut hits = 0u64;
        for &k in &keys {
            if anchor.get(&k).is_some() {
                hits += 1;
            } else {
                anchor.put(k, k * 2);
            }
        }
        hits
    });
    assert_eq!(hits, anchor_hits, "both are strict LRU: same hits");
    println!(
        "LruCache : hit ratio {:.2}%  {:.1} M ops/s = {:.2}x the lru crate measured now  ({} bytes/entry incl. index)",
        100.0 * hits as f64 / REQUESTS as f64,
        REQUESTS as f64 / secs / 1e6,
        anchor_secs / secs,
        cache.heap_bytes() / cache.len()
    );

    Ok(())
}
