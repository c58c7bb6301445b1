#![cfg(all(
    feature = "lru",
    feature = "cache",
    feature = "ratelimit",
    feature = "freq",
    feature = "event",
    feature = "queue",
    not(loom)
))]
//! Every Rust row of the memory table in `docs/internals.md`: heap bytes
//! per entry, measured with a counting global allocator (this binary only),
//! for each structure of the crate beside its anchor crate. Prints the
//! table (`cargo test --release --test internals_memory -- --nocapture`).
//! The asserts are generous bounds, so that the test is not flaky; the
//! figures themselves are what the doc quotes. One test per file: the
//! allocator counts the whole process.

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use latchwork::cache::{Cache, Policy};
use latchwork::clock::ManualClock;
use latchwork::event::Emitter;
use latchwork::freq::{FrequencyCounter, HeavyHitters};
use latchwork::queue::{Level, PriorityQueue};
use latchwork::ratelimit::KeyedLimiter;
use std::any::Any;
use std::num::NonZeroU32;
use std::time::Duration;

/// Entries per structure: large enough that fixed overheads vanish.
const N: u64 = 100_000;

/// Heap bytes that `fill` leaves live, with the structure it built (kept
/// alive until the caller drops it, so nothing is counted twice).
fn measure(fill: impl FnOnce() -> Box<dyn Any>) -> (f64, Box<dyn Any>) {
    let before = counting_alloc::live();
    let held = fill();
    ((counting_alloc::live() - before) as f64 / N as f64, held)
}

/// A churn stream: 20 x N keys from a space 4 x N (xorshift, fixed seed),
/// so the bounded caches are full and have evicted many times.
fn churn() -> Vec<u64> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..N * 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % (N * 4)
        })
        .collect()
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "100k entries per structure through a counting allocator takes minutes unoptimised; .ci/run runs it with --release"
)]
fn bytes_per_entry_table() {
    let keys = churn();
    let mut rows: Vec<(&str, f64)> = Vec::new();
    let mut held: Vec<Box<dyn Any>> = Vec::new();
    let mut row = |name: &'static str, fill: &mut dyn FnMut() -> Box<dyn Any>| {
        let (per, h) = measure(fill);
        rows.push((name, per));
        held.push(h);
        per
    };

    // Bounded caches, u64 -> u64, capacity N, after churn.
    let ours_lru = row("lru::LruCache<u64, u64>", &mut || {
        let mut c = latchwork::lru::LruCache::new(N as usize).unwrap();
        for &k in &keys {
            c.put(k, k);
        }
        Box::new(c)
    });
    let anchor_lru = row("lru crate LruCache<u64, u64>", &mut || {
        let mut c = lru::LruCache::new(std::num::NonZeroUsize::new(N as usize).unwrap());
        for &k in &keys {
            c.put(k, k);
        }
        Box::new(c)
    });
    let cache = |policy: Policy, ttl: bool| {
        let keys = &keys;
        move || -> Box<dyn Any> {
            let mut b = Cache::builder().max_capacity(N).policy(policy);
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
    let tinylfu = row("cache::Cache TinyLfu", &mut cache(Policy::TinyLfu, false));
    let cache_lru = row("cache::Cache Lru", &mut cache(Policy::Lru, false));
    let cache_ttl = row(
        "cache::Cache TinyLfu + TTL",
        &mut cache(Policy::TinyLfu, true),
    );
    let quick = row("quick_cache::sync::Cache", &mut || {
        let c = quick_cache::sync::Cache::new(N as usize);
        for &k in &keys {
            c.insert(k, k);
        }
        Box::new(c)
    });
    let moka = row("moka::sync::Cache", &mut || {
        let c = moka::sync::Cache::new(N);
        for &k in &keys {
            c.insert(k, k);
        }
        c.run_pending_tasks();
        Box::new(c)
    });

    // Keyed rate limiting: N distinct u64 keys, each checked once.
    let keyed = row("ratelimit::KeyedLimiter<u64> per key", &mut || {
        let l: KeyedLimiter<u64, _, _> = KeyedLimiter::builder()
            .rate(1_000.0)
            .burst(1_000)
            .max_keys(N as usize * 2)
            .clock(ManualClock::new())
            .build()
            .unwrap();
        for k in 0..N {
            l.check(&k).unwrap();
        }
        assert_eq!(l.len() as u64, N);
        Box::new(l)
    });
    let gov = row("governor keyed (DashMap) per key", &mut || {
        let quota = governor::Quota::per_second(NonZeroU32::new(1_000).unwrap());
        let l = governor::RateLimiter::<u64, _, _>::keyed(quota);
        for k in 0..N {
            l.check_key(&k).unwrap();
        }
        Box::new(l)
    });

    // Frequency counting: N distinct u64 items, each recorded once.
    let freq = row("freq::FrequencyCounter<u64> per item", &mut || {
        let c = FrequencyCounter::<u64>::new();
        for k in 0..N {
            c.record(k);
        }
        assert_eq!(c.distinct() as u64, N);
        Box::new(c)
    });
    row("freq::HeavyHitters<u64> per counter", &mut || {
        let mut h = HeavyHitters::<u64>::new(N as usize).unwrap();
        for k in 0..N {
            h.record(k);
        }
        Box::new(h)
    });

    // Event emitter: N listeners (zero-sized closures) over 100 topics,
    // detached so the handles themselves are not counted.
    let emitter = row("event::Emitter per subscription", &mut || {
        let e = Emitter::<u64>::new();
        for k in 0..N {
            let _id = e
                .on(&format!("topic.{}", k % 100), |_: &u64| ())
                .unwrap()
                .detach();
        }
        Box::new(e)
    });

    // Queue: N u64 items held, 4 levels.
    let queue = row("queue::PriorityQueue<u64> per item", &mut || {
        let q = PriorityQueue::<u64>::new();
        for k in 0..N {
            q.push(Level::new((k % 4) as u8).unwrap(), k).expect("open");
        }
        assert_eq!(q.len() as u64, N);
        Box::new(q)
    });
    let heap = row("Mutex<BinaryHeap<(u8, u64, u64)>> per item", &mut || {
        // (level, sequence, item): what a FIFO-within-level heap holds.
        let q = std::sync::Mutex::new(std::collections::BinaryHeap::new());
        for k in 0..N {
            q.lock()
                .unwrap()
                .push((std::cmp::Reverse((k % 4) as u8), std::cmp::Reverse(k), k));
        }
        Box::new(q)
    });

    println!("\nheap bytes per entry, {N} entries (u64 keys and values; caches after 20x churn):");
    println!("| structure | bytes/entry |");
    println!("|---|---:|");
    for (name, per) in &rows {
        println!("| {name} | {per:.1} |");
    }
    println!(
        "ratios: LruCache/lru {:.2}, Cache TinyLfu/quick_cache {:.2}, Cache TinyLfu/moka {:.2}, \
         KeyedLimiter/governor {:.2}, PriorityQueue/BinaryHeap {:.2}",
        ours_lru / anchor_lru,
        tinylfu / quick,
        tinylfu / moka,
        keyed / gov,
        queue / heap
    );
    drop(held);

    // Generous regression bounds only.
    assert!(
        ours_lru <= 0.7 * anchor_lru,
        "LruCache {ours_lru} vs lru {anchor_lru}"
    );
    assert!(
        tinylfu <= quick * 1.2,
        "Cache {tinylfu} vs quick_cache {quick}"
    );
    assert!(
        cache_lru <= quick * 1.2,
        "Cache Lru {cache_lru} vs quick_cache {quick}"
    );
    assert!(cache_ttl < 160.0, "Cache + TTL {cache_ttl}");
    assert!(keyed <= gov * 1.5, "KeyedLimiter {keyed} vs governor {gov}");
    assert!(freq < 100.0 && emitter < 1_000.0 && queue < 100.0);
}
