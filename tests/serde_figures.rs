#![cfg(all(not(loom), feature = "serde"))]
//! The serde forms of the plain-data types (issue 24): each round-trips
//! through `serde_json` unchanged, and the documented shapes hold (durations
//! as whole nanoseconds, `Level` as a number, `Priority` as a lowercase
//! name, each readable from either).

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// `value` to JSON and back, unchanged; returns the JSON.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) -> String {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, value, "{json}");
    json
}

#[cfg(feature = "cache")]
#[test]
fn cache_stats() {
    use latchwork::cache::{Cache, CacheStats};
    let cache = Cache::new(100).unwrap();
    cache.insert(1u64, 10u64);
    assert_eq!(cache.get(&1), Some(10));
    assert_eq!(cache.get(&2), None);
    let stats = cache.stats();
    let json = round_trip(&stats);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (v["hits"].as_u64(), v["misses"].as_u64()),
        (Some(1), Some(1))
    );
    // A counter missing on input (an older snapshot) reads as 0.
    let older: CacheStats = serde_json::from_str(r#"{"hits": 3}"#).unwrap();
    assert_eq!((older.hits, older.misses), (3, 0));
}

#[cfg(feature = "ttl")]
#[test]
fn memo_stats() {
    use latchwork::ttl::Memoized;
    let memo = Memoized::builder(|n: &u64| Ok::<_, std::num::TryFromIntError>(n * n))
        .build()
        .unwrap();
    assert_eq!(memo.get(&3).ok(), Some(9));
    assert_eq!(memo.get(&3).ok(), Some(9));
    let stats = memo.stats();
    assert_eq!((stats.hits, stats.loads), (1, 1));
    round_trip(&stats);
}

#[cfg(all(feature = "queue", feature = "clock"))]
#[test]
fn task_stats() {
    use latchwork::queue::{Priority, TaskQueue};
    let pool = TaskQueue::builder().workers(0).build().unwrap();
    let h = pool.submit(Priority::High, || 7);
    pool.submit(Priority::Low, || panic!("on purpose"));
    pool.run_pending();
    assert_eq!(h.join().ok(), Some(7));
    let stats = pool.stats();
    assert_eq!(
        (stats.submitted, stats.completed, stats.panicked),
        (2, 1, 1)
    );
    round_trip(&stats);
}

#[cfg(feature = "queue")]
#[test]
fn level_and_priority() {
    use latchwork::queue::{Level, Priority};
    for p in [
        Priority::Critical,
        Priority::High,
        Priority::Medium,
        Priority::Low,
    ] {
        let json = round_trip(&p);
        assert_eq!(json, format!("\"{}\"", p.to_string().to_lowercase()));
        // Its level's number reads as the priority, its name as the level.
        let level = Level::from(p);
        let by_number: Priority = serde_json::from_str(&level.get().to_string()).unwrap();
        assert_eq!(by_number, p);
        let by_name: Level = serde_json::from_str(&json).unwrap();
        assert_eq!(by_name, level);
    }
    for n in [0u8, 5, 16, 63] {
        let level = Level::new(n).unwrap();
        assert_eq!(round_trip(&level), n.to_string());
        let quoted: Level = serde_json::from_str(&format!("\"{n}\"")).unwrap();
        assert_eq!(quoted, level);
    }
    let high: Level = serde_json::from_str("\"HIGH\"").unwrap();
    assert_eq!(high, Level::from(Priority::High));
    let high: Priority = serde_json::from_str("\"High\"").unwrap();
    assert_eq!(high, Priority::High);

    // Out of range or unknown: an error that says what was expected.
    for bad in ["64", "-1", "300", "\"urgent\"", "1.5", "null"] {
        let e = serde_json::from_str::<Level>(bad).unwrap_err().to_string();
        assert!(e.contains("below 64"), "{bad}: {e}");
    }
    for bad in ["5", "-1", "\"urgent\"", "\"\""] {
        let e = serde_json::from_str::<Priority>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("critical, high, medium, low"), "{bad}: {e}");
    }
}

#[cfg(all(feature = "ratelimit", feature = "clock"))]
#[test]
fn rate_limit_info_shape() {
    use latchwork::clock::ManualClock;
    use latchwork::ratelimit::{KeyedLimiter, RateLimitInfo};
    use std::time::Duration;

    let limiter = KeyedLimiter::builder()
        .rate(1.0)
        .burst(2)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let admitted = limiter.check_info("alice", 2).unwrap();
    assert_eq!(
        round_trip(&admitted),
        r#"{"allowed":true,"limit":2,"remaining":0,"retry_after":null,"reset_after":2000000000}"#
    );
    let denied = limiter.check_info("alice", 1).unwrap();
    assert_eq!(
        round_trip(&denied),
        r#"{"allowed":false,"limit":2,"remaining":0,"retry_after":1000000000,"reset_after":2000000000}"#
    );
    // Nanoseconds are exact both ways, up to the clock's range.
    for d in [Duration::from_nanos(1), Duration::from_nanos(u64::MAX)] {
        round_trip(&RateLimitInfo {
            retry_after: Some(d),
            reset_after: d,
            ..denied
        });
    }
}

#[cfg(feature = "pipeline")]
#[test]
fn pipeline_reports() {
    use latchwork::pipeline::{RunReport, StageReport};
    use std::time::Duration;

    let stage = StageReport {
        name: "parse".into(),
        workers: 2,
        received: 10,
        emitted: 7,
        dropped: 2,
        failed: 1,
    };
    round_trip(&stage);
    let run = RunReport {
        read: 10,
        stages: vec![stage],
        emitted: 7,
        elapsed: Duration::from_millis(1500),
        peak_reorder_buffer: 3,
        ..RunReport::default()
    };
    let json = round_trip(&run);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["elapsed"].as_u64(), Some(1_500_000_000));
    assert_eq!(v["stages"][0]["name"], "parse");
}

#[cfg(feature = "redis")]
#[test]
fn redis_quota() {
    use latchwork::ratelimit::Quota;
    // Whole and fractional intervals alike read back unchanged.
    for (rate, burst) in [(100.0, 10), (100.0 / 60.0, 100), (3.0, 1), (1e9, 5)] {
        let q = Quota::new(rate, burst).unwrap();
        round_trip(&q);
    }
    let q: Quota = serde_json::from_str(r#"{"rate": 10, "burst": 5}"#).unwrap();
    assert_eq!((q.rate(), q.burst()), (10.0, 5));
    // Reading goes through the same checks as `Quota::new`.
    assert!(serde_json::from_str::<Quota>(r#"{"rate": 0, "burst": 5}"#).is_err());
    assert!(serde_json::from_str::<Quota>(r#"{"rate": 1e-6, "burst": 1000000}"#).is_err());
    assert!(serde_json::from_str::<Quota>(r#"{"rate": 1, "burst": 0}"#).is_err());
}
