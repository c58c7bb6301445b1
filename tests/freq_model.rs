#![cfg(all(not(loom), feature = "freq"))]
//! Frequency counting against a plain `HashMap`, and heavy-hitter bounds
//! on random skewed streams, merged or not.

use latchwork::freq::{Error, FrequencyCounter, HeavyHitters};
use proptest::prelude::*;
use std::collections::HashMap;

/// A skewed stream: item `i` drawn with weight ~ 1 / (i + 1).
fn skewed(len: usize, items: u32) -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(any::<u32>(), len).prop_map(move |raw| {
        raw.into_iter()
            .map(|r| {
                // Inverse-CDF of a rough 1/x law on [1, items].
                let u = (r as f64 + 1.0) / (u32::MAX as f64 + 2.0);
                ((items as f64).powf(u) as u32).min(items) - 1
            })
            .collect()
    })
}

fn reference(stream: &[u32]) -> HashMap<u32, u64> {
    let mut m = HashMap::new();
    for &x in stream {
        *m.entry(x).or_insert(0) += 1;
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn counter_matches_reference(stream in skewed(300, 40), k in 0usize..12) {
        let c = FrequencyCounter::new();
        let (a, b) = stream.split_at(stream.len() / 2);
        for &x in a {
            c.record(x);
        }
        c.record_batch(b.iter().copied());
        let r = reference(&stream);
        prop_assert_eq!(c.total(), stream.len() as u64);
        for (x, n) in &r {
            prop_assert_eq!(c.count(x), *n);
        }
        prop_assert_eq!(c.distinct(), r.len());
        let mut want: Vec<(u32, u64)> = r.iter().map(|(x, n)| (*x, *n)).collect();
        want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        want.truncate(k);
        let got: Vec<(u32, u64)> = c.top(k).into_iter().map(|(x, n, _)| (x, n)).collect();
        prop_assert_eq!(got, want);
        let pct: f64 = c.top(usize::MAX).iter().map(|t| t.2).sum();
        if !stream.is_empty() {
            prop_assert!((pct - 100.0).abs() < 1e-6);
        }
    }

    #[test]
    fn anomalies_and_merge(stream in skewed(200, 30), m in 0.0f64..5.0) {
        let (a, b) = stream.split_at(stream.len() / 3);
        let (ca, cb) = (FrequencyCounter::new(), FrequencyCounter::new());
        ca.record_batch(a.iter().copied());
        cb.record_batch(b.iter().copied());
        ca.merge(&cb);
        let r = reference(&stream);
        prop_assert_eq!(ca.total(), stream.len() as u64);
        let mean = stream.len() as f64 / r.len().max(1) as f64;
        let mut want: Vec<u32> = r.iter().filter(|(_, n)| **n as f64 > m * mean).map(|(x, _)| *x).collect();
        want.sort_by(|x, y| r[y].cmp(&r[x]).then(x.cmp(y)));
        let got: Vec<u32> = ca.anomalies(m).unwrap().into_iter().map(|t| t.0).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn heavy_hitter_bounds(stream in skewed(2_000, 200), k in 1usize..20, split in 0usize..2_000) {
        let r = reference(&stream);
        let n = stream.len() as u64;
        let check = |hh: &HeavyHitters<u32>| -> Result<(), TestCaseError> {
            prop_assert!(hh.error_bound() <= n / (k as u64 + 1));
            for e in hh.top(usize::MAX) {
                let truth = r[&e.item];
                prop_assert!(e.lower_bound() <= truth && truth <= e.count, "{:?} true {}", e, truth);
            }
            for (x, &c) in &r {
                if c > n / (k as u64 + 1) {
                    prop_assert!(hh.estimate(x).is_some(), "heavy item {} ({}/{}) not reported", x, c, n);
                }
            }
            prop_assert!(hh.top(usize::MAX).len() <= k);
            Ok(())
        };
        // One summary over the whole stream.
        let mut whole = HeavyHitters::new(k).unwrap();
        for &x in &stream {
            whole.record(x);
        }
        check(&whole)?;
        // Two workers, merged.
        let split = split.min(stream.len());
        let (mut a, mut b) = (HeavyHitters::new(k).unwrap(), HeavyHitters::new(k).unwrap());
        for &x in &stream[..split] {
            a.record(x);
        }
        for &x in &stream[split..] {
            b.record(x);
        }
        a.merge(&b);
        prop_assert_eq!(a.total(), n);
        check(&a)?;
    }
}

#[test]
fn concurrent_records_are_exact_once_quiet() {
    let c = std::sync::Arc::new(FrequencyCounter::new());
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let c = &c;
            s.spawn(move || {
                for i in 0..10_000u64 {
                    c.record(i % 7);
                    if i % 1_000 == 0 {
                        c.record_n(100 + t, 5);
                    }
                }
            });
        }
    });
    assert_eq!(c.total(), 4 * 10_000 + 4 * 10 * 5);
    assert_eq!(c.count(&0), 4 * 1_429);
    assert_eq!(c.count(&103), 50);
    c.compact();
    assert_eq!(c.count(&0), 4 * 1_429, "compaction keeps every count");
    assert_eq!(c.total(), 40_200);
}

#[test]
fn saturates_and_rejects_bad_input() {
    let c = FrequencyCounter::new();
    c.record_n("x", u64::MAX);
    c.record_n("x", 10);
    assert_eq!(c.count(&"x"), u64::MAX);
    assert_eq!(c.total(), u64::MAX);
    assert_eq!(FrequencyCounter::<u8>::new().frequency(&1), 0.0);
    assert!(matches!(
        c.anomalies(f64::NAN),
        Err(Error::InvalidMultiplier { .. })
    ));
    assert!(matches!(
        c.anomalies(-1.0),
        Err(Error::InvalidMultiplier { .. })
    ));
    assert_eq!(HeavyHitters::<u8>::new(0).unwrap_err(), Error::ZeroCapacity);
}

#[test]
fn send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FrequencyCounter<String>>();
    assert_send_sync::<HeavyHitters<String>>();
}
