#![cfg(not(loom))]
//! Multi-thread stress of `ConcurrentLru`: invariants after the run.

use latchwork::lru::ConcurrentLru;
use std::collections::HashMap;
use std::sync::Arc;

const THREADS: u64 = 4;

/// Capacity above the key count: nothing may be evicted, so each thread's
/// own model of its key range must be reproduced exactly.
#[test]
fn no_eviction_every_model_key_retrievable() {
    let cache = Arc::new(
        ConcurrentLru::builder(THREADS as usize * 2_000)
            .shards(8)
            .build()
            .unwrap(),
    );
    let models: Vec<HashMap<u64, u64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                let cache = Arc::clone(&cache);
                s.spawn(move || {
                    let mut model = HashMap::new();
                    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ t;
                    for i in 0..50_000u64 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let k = t * 1_000_000 + x % 2_000;
                        match x % 10 {
                            0..=4 => assert_eq!(cache.get(&k), model.get(&k).copied(), "key {k}"),
                            5..=7 => {
                                assert!(cache.insert(k, i).is_none(), "evicted below capacity");
                                model.insert(k, i);
                            }
                            _ => assert_eq!(cache.remove(&k), model.remove(&k)),
                        }
                    }
                    model
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    cache.check_invariants().unwrap();
    let expected: usize = models.iter().map(HashMap::len).sum();
    assert_eq!(cache.len(), expected);
    for model in &models {
        for (k, v) in model {
            assert_eq!(cache.peek(k), Some(*v));
        }
    }
    assert_eq!(cache.stats().evictions, 0);
}

/// Heavy eviction: length never exceeds capacity, values never mix keys,
/// and the counters add up.
#[test]
fn eviction_under_contention_keeps_invariants() {
    let cap = 512;
    let cache = Arc::new(ConcurrentLru::builder(cap).shards(4).build().unwrap());
    let gets_per_thread = 40_000u64;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let cache = Arc::clone(&cache);
            s.spawn(move || {
                let mut x = 0xDEAD_BEEFu64 + t;
                for _ in 0..gets_per_thread {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let k = x % 4_096;
                    match cache.get(&k) {
                        Some(v) => assert_eq!(v, k * 3, "value belongs to another key"),
                        None => {
                            cache.insert(k, k * 3);
                        }
                    }
                    assert!(cache.len() <= cap);
                }
            });
        }
    });
    cache.check_invariants().unwrap();
    assert!(cache.len() <= cap);
    let st = cache.stats();
    assert_eq!(st.hits + st.misses, THREADS * gets_per_thread);
    assert_eq!(st.inserts, st.misses, "one insert per miss");
    // Each new key either still sits in the cache or was evicted; racing
    // inserts of one key count as updates, so `<=`.
    assert!(st.evictions + cache.len() as u64 <= st.inserts);
    assert!(st.evictions > 0);
}
