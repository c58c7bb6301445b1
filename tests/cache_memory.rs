#![cfg(all(not(loom), feature = "cache"))]
//! Memory of `Cache`, measured with a counting allocator: bytes per
//! `u64 -> u64` entry at 100k entries (TinyLFU, LRU, with and without a
//! TTL) beside quick_cache and moka, printed (`--nocapture`). One test per
//! file: the allocator counts the whole process.

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use latchwork::cache::{Cache, Policy};
use std::time::Duration;

fn measure(fill: impl FnOnce() -> Box<dyn std::any::Any>) -> (isize, Box<dyn std::any::Any>) {
    let before = counting_alloc::live();
    let held = fill();
    (counting_alloc::live() - before, held)
}

#[test]
fn bytes_per_entry_beside_quick_cache_and_moka() {
    let cap = 100_000u64;
    // Steady state under churn: 20 x capacity inserts of keys from a space
    // 4 x the capacity.
    let keys: Vec<u64> = {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        (0..cap * 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % (cap * 4)
            })
            .collect()
    };
    let ours = |policy: Policy, ttl: bool| {
        let keys = &keys;
        move || -> Box<dyn std::any::Any> {
            let mut b = Cache::builder().max_capacity(cap).policy(policy);
            if ttl {
                b = b.time_to_live(Duration::from_secs(3600));
            }
            let c = b.build().unwrap();
            for &k in keys {
                c.insert(k, k);
            }
            Box::new(c)
        }
    };
    let (tinylfu, _a) = measure(ours(Policy::TinyLfu, false));
    let (lru, _b) = measure(ours(Policy::Lru, false));
    let (tinylfu_ttl, _c) = measure(ours(Policy::TinyLfu, true));
    let (quick, _d) = measure(|| {
        let c = quick_cache::sync::Cache::new(cap as usize);
        for &k in &keys {
            c.insert(k, k);
        }
        Box::new(c)
    });
    let (moka, _e) = measure(|| {
        let c = moka::sync::Cache::new(cap);
        for &k in &keys {
            c.insert(k, k);
        }
        c.run_pending_tasks();
        Box::new(c)
    });
    let per = |b: isize| b as f64 / cap as f64;
    println!(
        "bytes per u64 -> u64 entry at {cap}: Cache TinyLfu {:.1}, Lru {:.1}, TinyLfu + TTL {:.1}; \
         quick_cache {:.1}; moka {:.1}",
        per(tinylfu),
        per(lru),
        per(tinylfu_ttl),
        per(quick),
        per(moka)
    );
    // Regression guard (the goal, <= quick_cache, is a benchmark figure).
    assert!(per(tinylfu) < 100.0 && per(tinylfu_ttl) < 140.0);
}
