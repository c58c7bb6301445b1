#![cfg(all(not(loom), feature = "clock", feature = "ratelimit"))]
//! API behaviour: validation errors, blocking acquire, keyed memory bounds.

use latchwork::clock::{Clock, ManualClock};
use latchwork::ratelimit::{
    Error, KeyedLimiter, SlidingWindowCounter, SlidingWindowLog, TokenBucket,
};
use std::time::Duration;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn limiters_are_send_and_sync() {
    assert_send_sync::<TokenBucket>();
    assert_send_sync::<TokenBucket<ManualClock>>();
    assert_send_sync::<SlidingWindowLog>();
    assert_send_sync::<SlidingWindowCounter>();
    assert_send_sync::<KeyedLimiter<String>>();
    assert_send_sync::<Error>();
}

#[test]
fn bad_rates_are_typed_errors_naming_the_parameter() {
    for rate in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -1.0] {
        let err = TokenBucket::new(rate, 1).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidRate {
                    parameter: "rate",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("`rate`"), "{err}");
        let err = KeyedLimiter::<u64>::builder()
            .rate(rate)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRate { .. }));
    }
    assert!(matches!(
        TokenBucket::new(2e9, 1),
        Err(Error::RateOutOfRange { .. })
    ));
    assert!(matches!(
        TokenBucket::new(1e-12, 1),
        Err(Error::RateOutOfRange { .. })
    ));
    let err = TokenBucket::new(1.0, 0).unwrap_err();
    assert_eq!(err, Error::ZeroCapacity { parameter: "burst" });
    assert!(err.to_string().contains("`burst`"));
    assert!(matches!(
        TokenBucket::new(1.0, u64::MAX),
        Err(Error::CapacityOverflow {
            parameter: "burst",
            ..
        })
    ));
    assert_eq!(
        TokenBucket::builder().burst(3).build().unwrap_err(),
        Error::MissingParameter { parameter: "rate" }
    );
    let err = KeyedLimiter::<u64>::builder()
        .rate(1.0)
        .max_keys(0)
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        Error::ZeroCapacity {
            parameter: "max_keys"
        }
    );
}

#[test]
fn bad_windows_are_typed_errors() {
    let err = SlidingWindowLog::builder()
        .limit(1)
        .window(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        Error::ZeroWindow {
            parameter: "window"
        }
    );
    assert!(err.to_string().contains("`window`"));
    let err = SlidingWindowCounter::builder()
        .limit(0)
        .window(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert_eq!(err, Error::ZeroCapacity { parameter: "limit" });
    let err = SlidingWindowLog::builder()
        .window(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert_eq!(err, Error::MissingParameter { parameter: "limit" });
    let err = SlidingWindowLog::builder()
        .limit(u64::MAX)
        .window(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        Error::CapacityOverflow {
            parameter: "limit",
            ..
        }
    ));
}

#[test]
fn cost_rules() {
    let clock = ManualClock::new();
    let b = TokenBucket::builder()
        .rate(1.0)
        .burst(5)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(
        b.try_acquire(6),
        Err(Error::CostExceedsCapacity {
            cost: 6,
            capacity: 5
        })
    );
    assert_eq!(
        b.wait_time(u64::MAX),
        Err(Error::CostExceedsCapacity {
            cost: u64::MAX,
            capacity: 5
        })
    );
    assert_eq!(
        b.acquire(6),
        Err(Error::CostExceedsCapacity {
            cost: 6,
            capacity: 5
        })
    );
    assert!(b.try_acquire(5).is_ok());
    assert!(b.try_acquire(0).is_ok(), "cost 0 always succeeds");
    assert_eq!(b.available(), 0);
    let err = b.check().unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert!(err.is_rate_limited());
    let k = KeyedLimiter::<u64>::builder()
        .rate(1.0)
        .burst(2)
        .build()
        .unwrap();
    assert!(matches!(
        k.try_acquire(&1, 3),
        Err(Error::CostExceedsCapacity { .. })
    ));
    assert!(k.try_acquire(&1, 0).is_ok());
    assert_eq!(k.len(), 0, "cost 0 stores nothing");
}

#[test]
fn blocking_acquire_sleeps_through_the_clock() {
    let clock = ManualClock::new();
    let b = TokenBucket::builder()
        .rate(4.0)
        .burst(2)
        .clock(clock.clone())
        .build()
        .unwrap();
    for _ in 0..6 {
        b.acquire(1).unwrap();
    }
    // 2 from the burst, 4 more at 250 ms each.
    assert_eq!(clock.now(), Duration::from_secs(1));
    assert_eq!(b.wait_time(2).unwrap(), Duration::from_millis(500));

    let log = SlidingWindowLog::builder()
        .limit(3)
        .window(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    for _ in 0..7 {
        log.acquire(1).unwrap();
    }
    assert_eq!(clock.now(), Duration::from_secs(3));

    let counter = SlidingWindowCounter::builder()
        .limit(2)
        .window(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    for _ in 0..10 {
        counter.acquire(1).unwrap();
    }
    // From 3 s: 2 at 3.0, then 1 at 4.5, 1 at 5.0, ... (the weighted
    // previous window denies until half-way): the 10th at 11.0.
    assert_eq!(clock.now(), Duration::from_secs(11));

    let keyed = KeyedLimiter::<String>::builder()
        .rate(2.0)
        .burst(1)
        .clock(clock.clone())
        .build()
        .unwrap();
    let t0 = clock.now();
    for _ in 0..3 {
        keyed.acquire("k", 1).unwrap();
    }
    assert_eq!(clock.now() - t0, Duration::from_secs(1));
}

#[test]
fn one_off_keys_do_not_grow_without_bound() {
    let clock = ManualClock::new();
    let keyed = KeyedLimiter::<u64>::builder()
        .rate(1_000.0)
        .burst(10)
        .shards(4)
        .clock(clock.clone())
        .build()
        .unwrap();
    // Each key seen once, 1 ms apart: its bucket is full again 1 ms later.
    for k in 0..100_000u64 {
        keyed.check(&k).unwrap();
        clock.advance(Duration::from_millis(1));
    }
    assert!(
        keyed.len() < 200,
        "len {} after 100k one-off keys",
        keyed.len()
    );
    assert_eq!(keyed.evictions(), 0);
    clock.advance(Duration::from_millis(1));
    keyed.sweep();
    assert_eq!(keyed.len(), 0);
    assert!(keyed.is_empty());
}

#[test]
fn max_keys_bounds_memory_by_evicting_the_buckets_closest_to_full() {
    let clock = ManualClock::new();
    let keyed = KeyedLimiter::<u64>::builder()
        .rate(1.0)
        .burst(5)
        .max_keys(1_000)
        .shards(4)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(keyed.max_keys(), 1_000);
    // Time stands still: no bucket refills, so none is free to drop.
    for k in 0..10_000u64 {
        keyed.check(&k).unwrap();
        assert!(keyed.len() <= 1_000);
    }
    assert!(keyed.evictions() >= 9_000);
    assert_eq!(keyed.check_invariants(), Ok(()));
    // Heavily charged keys survive lighter ones.
    keyed.clear();
    for k in 0..100u64 {
        keyed.try_acquire(&k, 5).unwrap();
    }
    for k in 1_000..3_000u64 {
        keyed.check(&k).unwrap();
    }
    let survivors = (0..100u64).filter(|k| keyed.available(k) == 0).count();
    assert_eq!(survivors, 100);
}

#[test]
fn tiny_key_bounds_hold() {
    for max_keys in 1..10usize {
        let keyed = KeyedLimiter::<u64>::builder()
            .rate(1.0)
            .burst(2)
            .max_keys(max_keys)
            .shards(1)
            .clock(ManualClock::new())
            .build()
            .unwrap();
        for k in 0..50u64 {
            keyed.check(&k).unwrap();
            assert!(keyed.len() <= max_keys, "len {} > {max_keys}", keyed.len());
            assert_eq!(keyed.check_invariants(), Ok(()));
        }
    }
}

#[test]
fn keyed_checks_borrowed_keys_and_reports_state() {
    let clock = ManualClock::new();
    let keyed = KeyedLimiter::<String>::builder()
        .rate(10.0)
        .burst(3)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(keyed.available("alice"), 3);
    keyed.try_acquire("alice", 2).unwrap();
    assert_eq!(keyed.available("alice"), 1);
    assert_eq!(
        keyed.wait_time("alice", 3).unwrap(),
        Duration::from_millis(200)
    );
    assert_eq!(keyed.len(), 1);
    clock.advance(Duration::from_millis(200));
    assert_eq!(keyed.available("alice"), 3);
    assert_eq!(keyed.sweep(), 1);
    assert!(format!("{keyed:?}").contains("KeyedLimiter"));
    let _ = clock.now_nanos();
}

#[test]
fn windows_report_available() {
    let clock = ManualClock::new();
    let log = SlidingWindowLog::builder()
        .limit(4)
        .window(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    log.try_acquire(3).unwrap();
    assert_eq!(log.available(), 1);
    assert_eq!(log.limit(), 4);
    assert_eq!(log.window(), Duration::from_secs(1));
    clock.advance(Duration::from_secs(1));
    assert_eq!(log.available(), 4);
    let c = SlidingWindowCounter::builder()
        .limit(4)
        .window(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    c.try_acquire(4).unwrap();
    clock.advance(Duration::from_millis(1_250));
    // 0.75 of the previous window's 4 still counts: 3.
    assert_eq!(c.available(), 1);
}
