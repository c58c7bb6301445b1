//! The adaptive window across phase changes: a recency phase (every key
//! asked for again shortly after its first request, then never: what a
//! fixed 1% window collapses on, like the Corda trace), a loop over 1.5x
//! the capacity (where recency gets nothing and frequency keeps two thirds),
//! then the recency phase again. Each phase is scored on its own against a
//! strict LRU replaying the same requests: the window must grow for the
//! recency phases and shrink back for the loop. Each phase is 200 x the
//! capacity requests, and the window's shadow caches spend some of each
//! finding the new shape, so the bars are set below the phase's own
//! optimum: three fifths of LRU's ratio on a recency phase
//! (where a fixed 1% window gets under 1%), and 40% on the loop (LRU 0%,
//! the optimum two thirds).
#![cfg(all(not(loom), feature = "cache"))]

use latchwork::cache::{Cache, Policy};
use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;

type Fixed = BuildHasherDefault<DefaultHasher>;

/// `n` requests: key `i` at position `i` and again `gap` positions later,
/// keys never seen before or after (ids from `base`).
fn recency(base: u64, n: usize, gap: usize) -> Vec<u64> {
    let mut out = vec![0; n];
    let mut next = base;
    let mut filled = vec![false; n];
    for i in 0..n {
        if filled[i] {
            continue;
        }
        out[i] = next;
        filled[i] = true;
        if i + gap < n && !filled[i + gap] {
            out[i + gap] = next;
            filled[i + gap] = true;
        }
        next += 1;
    }
    out
}

fn cache(cap: u64, policy: Policy) -> Cache<u64, u64, Fixed> {
    Cache::builder()
        .max_capacity(cap)
        .policy(policy)
        .hasher(Fixed::default())
        .build()
        .unwrap()
}

/// Hit ratio (%) of each phase.
fn replay(c: &Cache<u64, u64, Fixed>, phases: &[Vec<u64>]) -> Vec<f64> {
    phases
        .iter()
        .map(|p| {
            let hits = p
                .iter()
                .filter(|&&k| {
                    let hit = c.get(&k).is_some();
                    if !hit {
                        c.insert(k, k);
                    }
                    hit
                })
                .count();
            100.0 * hits as f64 / p.len() as f64
        })
        .collect()
}

#[test]
fn the_window_follows_recency_then_loop_then_recency() {
    for cap in [512u64, 4096] {
        let n = 200 * cap as usize;
        let span = cap * 3 / 2;
        let phases = vec![
            recency(1 << 40, n, cap as usize / 4),
            (0..n as u64).map(|i| i % span).collect(),
            recency(2 << 40, n, cap as usize / 4),
        ];
        let ours = replay(&cache(cap, Policy::TinyLfu), &phases);
        let lru = replay(&cache(cap, Policy::Lru), &phases);
        println!("capacity {cap}: adaptive TinyLFU {ours:.2?}, LRU {lru:.2?}");
        for p in [0, 2] {
            assert!(
                ours[p] >= lru[p] * 0.6,
                "recency phase {p} at {cap}: {:.2}% against LRU's {:.2}%",
                ours[p],
                lru[p]
            );
        }
        assert!(lru[1] < 1.0, "LRU gets nothing from the loop");
        assert!(
            ours[1] >= 40.0,
            "loop phase at {cap}: {:.2}% (two thirds fit)",
            ours[1]
        );
    }
}

/// A cache bounded by weight (1,000 units per entry, room for `cap`
/// entries) adapts its window as an entry-bounded one does: its shadows
/// are sized by the entries it holds, not by the weight capacity.
#[test]
fn a_weighted_cache_adapts_too() {
    let cap = 1_000u64;
    let n = 200 * cap as usize;
    let weighted: Cache<u64, u64, Fixed> = Cache::builder()
        .max_capacity(cap * 1_000)
        .weigher(|_, _| 1_000)
        .hasher(Fixed::default())
        .build()
        .unwrap();
    let phases = vec![recency(1 << 40, n, cap as usize / 4)];
    let ours = replay(&weighted, &phases);
    let lru = replay(&cache(cap, Policy::Lru), &phases);
    println!("weighted, room for {cap}: adaptive TinyLFU {ours:.2?}, LRU {lru:.2?}");
    assert!(
        ours[0] >= lru[0] * 0.6,
        "recency phase: {:.2}% against LRU's {:.2}%",
        ours[0],
        lru[0]
    );
}
