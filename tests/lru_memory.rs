#![cfg(all(not(loom), feature = "lru"))]
//! Bytes per entry, measured with a counting allocator, for `u64 -> u64`
//! against the `lru` crate. Prints the figures (`--nocapture`) and asserts
//! the 0.7x goal of the design.

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

fn measure(fill: impl FnOnce() -> Box<dyn std::any::Any>) -> (isize, Box<dyn std::any::Any>) {
    let before = counting_alloc::live();
    let held = fill();
    (counting_alloc::live() - before, held)
}

#[test]
fn bytes_per_entry_vs_lru_crate() {
    for cap in [10_000usize, 100_000] {
        // Steady state under churn: 20 x capacity puts of keys drawn from a
        // space 4 x the capacity, so the caches are full, have evicted many
        // times, and their hash tables carry the tombstones that churn
        // leaves (which make hashbrown grow its table).
        let keys: Vec<u64> = {
            let mut x = 0x2545_F491_4F6C_DD1Du64;
            (0..cap * 20)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x % (cap as u64 * 4)
                })
                .collect()
        };
        let (ours, _a) = measure(|| {
            let mut c = latchwork::lru::LruCache::new(cap).unwrap();
            for &k in &keys {
                c.put(k, k);
            }
            assert_eq!(c.len(), cap);
            Box::new(c)
        });
        let (theirs, _b) = measure(|| {
            let mut c = lru::LruCache::new(std::num::NonZeroUsize::new(cap).unwrap());
            for &k in &keys {
                c.put(k, k);
            }
            Box::new(c)
        });
        let per = |b: isize| b as f64 / cap as f64;
        println!(
            "capacity {cap}: LruCache {:.1} B/entry, lru crate {:.1} B/entry, ratio {:.2}",
            per(ours),
            per(theirs),
            ours as f64 / theirs as f64
        );
        assert!(
            (ours as f64) <= 0.7 * theirs as f64,
            "LruCache uses {ours} bytes vs lru's {theirs}"
        );
    }
}
