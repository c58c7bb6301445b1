#![cfg(all(feature = "cache", feature = "serde", not(loom)))]
//! Clone versus a serialisation round trip for a cached value
//! (docs/internals.md, section 6, the counterpart of `copy.deepcopy` versus
//! `pickle`): a cache hands out clones, so what a clone costs is what a hit
//! costs. Times a deep `Clone`, an `Arc` clone, a `serde_json` round trip
//! and a `Cache::get` of each form for one typical value, and prints them
//! (`cargo test --release --test internals_clone -- --nocapture`). The
//! asserts hold by orders of magnitude, not by a tuned margin.

use latchwork::cache::Cache;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

/// A typical cached value: a user profile from an API, about 1 KiB.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Profile {
    id: u64,
    name: String,
    email: String,
    roles: Vec<String>,
    recent_orders: Vec<u64>,
    settings: BTreeMap<String, String>,
}

fn profile() -> Profile {
    Profile {
        id: 42,
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        roles: ["admin", "billing", "support"].map(String::from).to_vec(),
        recent_orders: (1_000..1_064).collect(),
        settings: (0..16)
            .map(|i| (format!("setting.{i}"), format!("value number {i}")))
            .collect(),
    }
}

/// Nanoseconds per call of `f`, the best of 5 runs of `iters` calls.
fn ns_per(iters: u32, mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn clone_versus_serde_round_trip() {
    let value = profile();
    let shared = Arc::new(value.clone());
    let json = serde_json::to_vec(&value).unwrap();
    let back: Profile = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, value, "the round trip is faithful");

    let deep = ns_per(20_000, || {
        black_box(black_box(&value).clone());
    });
    let arc = ns_per(200_000, || {
        black_box(Arc::clone(black_box(&shared)));
    });
    let serde = ns_per(2_000, || {
        let bytes = serde_json::to_vec(black_box(&value)).unwrap();
        black_box(serde_json::from_slice::<Profile>(&bytes).unwrap());
    });
    let by_value = Cache::builder().max_capacity(16).build().unwrap();
    by_value.insert(1u64, value.clone());
    let by_arc = Cache::builder().max_capacity(16).build().unwrap();
    by_arc.insert(1u64, Arc::clone(&shared));
    let get_value = ns_per(20_000, || {
        black_box(by_value.get(black_box(&1)));
    });
    let get_arc = ns_per(200_000, || {
        black_box(by_arc.get(black_box(&1)));
    });

    println!(
        "value: {} bytes as JSON; per call: deep clone {deep:.0} ns, Arc clone {arc:.1} ns, \
         serde_json round trip {serde:.0} ns ({:.1}x the deep clone); \
         Cache::get of the value {get_value:.0} ns, of an Arc {get_arc:.1} ns",
        json.len(),
        serde / deep
    );
    // Orders of magnitude apart on any machine: the round trip allocates
    // and parses every field; an Arc clone is one atomic increment.
    assert!(
        arc < deep && deep < serde,
        "arc {arc}, deep {deep}, serde {serde}"
    );
    assert!(
        get_arc < get_value,
        "get Arc {get_arc} vs get value {get_value}"
    );
}
