#![cfg(all(not(loom), feature = "cache", feature = "clock"))]
//! Several threads at once on one `Cache` with weights, a time-to-live and
//! a listener: after the run the weighted size is within the capacity,
//! every removal reached the listener exactly once with a cause the stats
//! agree with, and no expired value was ever returned.

use latchwork::cache::{Cache, Policy, RemovalCause};
use latchwork::clock::{Clock, ManualClock};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const THREADS: u64 = 4;
const OPS: u64 = 60_000;

fn run(policy: Policy) {
    let clock = ManualClock::new();
    let counts: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let cap = 4_000u64;
    let cache = {
        let counts = counts.clone();
        Arc::new(
            Cache::builder()
                .max_capacity(cap)
                .policy(policy)
                .weigher(|_k: &u64, v: &(u64, u64)| (v.0 % 16 + 1) as u32)
                .time_to_live(Duration::from_millis(50))
                .clock(clock.clone())
                .eviction_listener(move |_k, _v, cause| {
                    let i = match cause {
                        RemovalCause::Size => 0,
                        RemovalCause::Expired => 1,
                        RemovalCause::Explicit => 2,
                        _ => 3,
                    };
                    counts[i].fetch_add(1, Ordering::Relaxed);
                })
                .build()
                .unwrap(),
        )
    };
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (cache, clock) = (cache.clone(), clock.clone());
            std::thread::spawn(move || {
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ t;
                for i in 0..OPS {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let k = x % 20_000;
                    if t == 0 && i % 500 == 0 {
                        clock.advance(Duration::from_millis(1));
                    }
                    match x % 10 {
                        0 => {
                            cache.remove(&k);
                        }
                        1..=3 => {
                            // The value carries its write time: a get must
                            // never see it 50 ms or more later.
                            cache.insert(k, (x, clock.now_nanos()));
                        }
                        4 => {
                            let before = clock.now_nanos();
                            let (_, written) =
                                cache.get_or_insert_with(k, || (x, clock.now_nanos()));
                            assert!(before < written + 50_000_000, "expired value loaded");
                        }
                        _ => {
                            let before = clock.now_nanos();
                            if let Some((_, written)) = cache.get(&k) {
                                assert!(
                                    before < written + 50_000_000,
                                    "expired value returned: written {written}, read at {before}"
                                );
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(
        cache.weighted_size() <= cap,
        "{} > {cap}",
        cache.weighted_size()
    );
    cache.check_invariants().unwrap();
    cache.invalidate_all();
    let s = cache.stats();
    let c: Vec<u64> = counts.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    assert_eq!(
        c,
        [s.evictions, s.expirations, s.invalidations, s.replacements]
    );
    assert_eq!(cache.len(), 0);
    // Every stored entry left exactly once: stored = removed (listener).
    let stored = s.inserts;
    assert_eq!(
        stored,
        c.iter().sum::<u64>(),
        "every stored entry reported once"
    );
}

#[test]
fn tinylfu_weights_ttl_listener_under_threads() {
    run(Policy::TinyLfu);
}

#[test]
fn lru_weights_ttl_listener_under_threads() {
    run(Policy::Lru);
}
