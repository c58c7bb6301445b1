#![cfg(all(not(loom), feature = "clock", feature = "ratelimit"))]
//! `RateLimitInfo` from the in-process limiters, and the Redis-backed
//! limiter (feature `redis`) against a real Redis.
//!
//! The Redis tests read the server's address from `LATCHWORK_REDIS_URL`
//! (`.ci/run` starts one and sets it) and print that they were skipped when
//! it is unset. The stop/restart test starts its own private `redis-server`
//! (found on `PATH`) on another loopback port.
use latchwork::clock::ManualClock;
use latchwork::ratelimit::{Error, KeyedLimiter, RateLimitInfo, TokenBucket};
use std::time::Duration;

#[test]
fn bucket_check_info_fills_the_headers() {
    let clock = ManualClock::new();
    let b = TokenBucket::builder()
        .rate(10.0)
        .burst(3)
        .clock(clock.clone())
        .build()
        .unwrap();
    let a = b.check_info(2).unwrap();
    assert_eq!(
        a,
        RateLimitInfo {
            allowed: true,
            limit: 3,
            remaining: 1,
            retry_after: None,
            reset_after: Duration::from_millis(200),
        }
    );
    assert!(b.check_info(1).unwrap().allowed);
    let d = b.check_info(2).unwrap();
    assert!(!d.allowed);
    assert_eq!(d.retry_after, Some(Duration::from_millis(200)));
    assert_eq!((d.remaining, d.reset_after_secs()), (0, 1));
    assert_eq!(d.retry_after_secs(), Some(1));
    assert!(matches!(
        b.check_info(4),
        Err(Error::CostExceedsCapacity { .. })
    ));
    assert!(matches!(
        b.check_info(u64::MAX),
        Err(Error::CostExceedsCapacity { .. })
    ));
    clock.advance(Duration::from_millis(300));
    assert_eq!(b.check_info(0).unwrap().remaining, 3);
}

#[test]
fn keyed_peek_refund_reset() {
    let clock = ManualClock::new();
    let l = KeyedLimiter::builder()
        .rate(1.0)
        .burst(4)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(l.check_info("k", 4).unwrap().remaining, 0);
    let p = l.peek_info("k");
    assert!(!p.allowed);
    assert_eq!(p.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(l.refund("k", 3).remaining, 3);
    assert_eq!(l.refund("k", 3).remaining, 4); // never above full
    assert_eq!(l.check_info("k", 4).unwrap().remaining, 0);
    l.reset("k");
    assert_eq!(l.peek_info("k").remaining, 4);
}

#[test]
fn requota_keeps_state_and_leaks_no_burst() {
    let clock = ManualClock::new();
    let l = KeyedLimiter::builder()
        .rate(10.0)
        .burst(10)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert!(l.check_info("spent", 10).unwrap().allowed);
    assert!(l.check_info("half", 5).unwrap().allowed);
    l.set_quota(10.0, 100).unwrap();
    // An emptied key stays empty under the larger burst...
    assert!(!l.check_info("spent", 1).unwrap().allowed);
    // ... a half-spent one keeps its 5 tokens, and an unknown key is full.
    assert_eq!(l.peek_info("half").remaining, 5);
    assert_eq!(l.peek_info("new").remaining, 100);
    // Shrinking caps the tokens kept.
    l.set_quota(10.0, 2).unwrap();
    assert_eq!(l.peek_info("half").remaining, 2);
    assert!(matches!(
        l.set_quota(f64::NAN, 2),
        Err(Error::InvalidRate { .. })
    ));
    let b = TokenBucket::builder()
        .rate(1.0)
        .burst(1)
        .clock(clock)
        .build()
        .unwrap();
    assert!(b.check().is_ok());
    b.set_quota(1.0, 50).unwrap();
    assert!(b.check().is_err(), "the re-quota handed out a burst");
}

#[cfg(feature = "redis")]
mod redis_backed {
    use super::*;
    use latchwork::ratelimit::{BlockingRedisLimiter, FailurePolicy, Quota, RedisLimiter};
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    /// Says why a test did nothing, past libtest's output capture (which
    /// takes `eprintln!` but not a direct write to stderr).
    fn skipped(why: &str) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
    }

    fn url() -> Option<String> {
        match std::env::var("LATCHWORK_REDIS_URL") {
            Ok(u) if !u.is_empty() => Some(u),
            _ => {
                skipped("LATCHWORK_REDIS_URL is unset; no Redis to test against");
                None
            }
        }
    }

    /// A prefix no other run shares.
    fn prefix(test: &str) -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!(
            "lwtest:{test}:{}:{nanos}:{}:",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Held by the tests that flush the shared server's script cache and by
    /// the timing-bound tests, so a flush never lands inside a bound test.
    static SERVER_WIDE: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn server_wide() -> std::sync::MutexGuard<'static, ()> {
        SERVER_WIDE.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn raw(url: &str) -> redis::Connection {
        redis::Client::open(url).unwrap().get_connection().unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RedisLimiter>();
        assert_send_sync::<BlockingRedisLimiter>();
        assert_send_sync::<Quota>();
    }

    /// A small deterministic generator for the scripted timeline.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// The same timeline of checks, peeks, refunds and one re-quota gives
    /// the same `RateLimitInfo`, every value, from Redis (time injected
    /// through the test-only clock argument) as from the in-process keyed
    /// limiter on the manual clock.
    #[test]
    fn conformance_with_keyed_limiter() {
        let Some(url) = url() else { return };
        // (rate, burst) before and after the re-quota: whole and rounded-up
        // intervals, 1 ns ticks, and a span near the script's 2^52 ns limit.
        let cases = [
            ((10.0, 5), (4.0, 8)),
            ((3.0, 7), (7.0, 3)),
            ((1e9, 1), (5e8, 2)),
            ((1.0 / 3600.0, 1000), (1.0 / 60.0, 2000)),
        ];
        for ((rate, burst), (rate2, burst2)) in cases {
            for origin in [0u64, 1_764_000_000_123_456_789] {
                conform(&url, origin, (rate, burst), (rate2, burst2));
            }
        }
    }

    fn conform(url: &str, origin: u64, (rate, burst): (f64, u64), (rate2, burst2): (f64, u64)) {
        let clock = ManualClock::new();
        clock.advance(Duration::from_nanos(origin));
        let redis = RedisLimiter::builder()
            .url(url)
            .rate(rate)
            .burst(burst)
            .key_prefix(&prefix("conform"))
            .test_clock(clock.clone())
            .build_blocking()
            .unwrap();
        let local = KeyedLimiter::builder()
            .rate(rate)
            .burst(burst)
            .clock(clock.clone())
            .build()
            .unwrap();
        let interval = (1e9 / rate).ceil() as u64;
        let max_cost = burst.min(burst2).min(4) + 1;
        let keys = ["alice", "bob", "carol{x}"];
        let mut rng = Lcg(origin ^ interval);
        let (mut admitted, mut denied) = (0, 0);
        for step in 0..400 {
            clock.advance(Duration::from_nanos(rng.next(interval / 2 + 2)));
            let key = keys[rng.next(3) as usize];
            if step == 200 {
                // Re-quota both; touch every key at this instant so Redis
                // converts at the same time as the in-process limiter.
                local.set_quota(rate2, burst2).unwrap();
                redis.set_quota(rate2, burst2).unwrap();
                for k in keys {
                    assert_eq!(
                        redis.check(k, 0).unwrap(),
                        local.check_info(k, 0).unwrap(),
                        "re-quota of {k}, rate {rate}"
                    );
                }
            }
            let cost = rng.next(max_cost);
            let (r, l) = match rng.next(10) {
                0 => (redis.peek(key).unwrap(), local.peek_info(key)),
                1 => (redis.refund(key, cost).unwrap(), local.refund(key, cost)),
                _ => (
                    redis.check(key, cost).unwrap(),
                    local.check_info(key, cost).unwrap(),
                ),
            };
            assert_eq!(
                r, l,
                "step {step} key {key} cost {cost} origin {origin} rate {rate}"
            );
            if r.allowed {
                admitted += 1;
            } else {
                denied += 1;
            }
        }
        // Small bursts see both answers; the large one tests precision.
        assert!(
            admitted > 50 && (burst > 10 || denied > 10),
            "{admitted} / {denied}, rate {rate}"
        );
    }

    /// Eight threads, each on its own connection, hammer one key for about
    /// 2.5 s: the total admitted never exceeds `burst + rate x elapsed`.
    #[test]
    fn many_blocking_clients_stay_within_the_bound() {
        let Some(url) = url() else { return };
        let _serial = server_wide();
        let (rate, burst) = (200.0, 50u64);
        let prefix = prefix("hammer");
        let limiters: Vec<_> = (0..8)
            .map(|_| {
                RedisLimiter::builder()
                    .url(&url)
                    .rate(rate)
                    .burst(burst)
                    .key_prefix(&prefix)
                    .build_blocking()
                    .unwrap()
            })
            .collect();
        let start = Instant::now();
        let run_for = Duration::from_millis(2500);
        let counts: Vec<(u64, u64)> = std::thread::scope(|s| {
            let hs: Vec<_> = limiters
                .iter()
                .map(|l| {
                    s.spawn(move || {
                        let (mut yes, mut no) = (0, 0);
                        while start.elapsed() < run_for {
                            if l.check("hot", 1).unwrap().allowed {
                                yes += 1;
                            } else {
                                no += 1;
                            }
                        }
                        (yes, no)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let elapsed = start.elapsed().as_secs_f64();
        let admitted: u64 = counts.iter().map(|c| c.0).sum();
        let denied: u64 = counts.iter().map(|c| c.1).sum();
        let bound = burst as f64 + rate * elapsed;
        eprintln!("admitted {admitted}, denied {denied}, bound {bound:.1} over {elapsed:.2}s");
        assert!(
            admitted as f64 <= bound + 1.0,
            "admitted {admitted} > {bound}"
        );
        // And the limiter did admit about the rate, not far less.
        assert!(
            admitted as f64 >= 0.8 * rate * elapsed,
            "admitted {admitted}"
        );
        assert!(denied > 0);
    }

    /// The same with eight tokio tasks, each with its own connection manager.
    #[test]
    fn many_async_clients_stay_within_the_bound() {
        let Some(url) = url() else { return };
        let _serial = server_wide();
        let (rate, burst) = (300.0, 30u64);
        let prefix = prefix("hammer-async");
        runtime().block_on(async {
            let mut limiters = Vec::new();
            for _ in 0..8 {
                limiters.push(Arc::new(
                    RedisLimiter::builder()
                        .url(&url)
                        .rate(rate)
                        .burst(burst)
                        .key_prefix(&prefix)
                        .build()
                        .await
                        .unwrap(),
                ));
            }
            let start = Instant::now();
            let run_for = Duration::from_secs(2);
            let tasks: Vec<_> = limiters
                .into_iter()
                .map(|l| {
                    tokio::spawn(async move {
                        let mut yes = 0u64;
                        while start.elapsed() < run_for {
                            yes += u64::from(l.check("hot", 1).await.unwrap().allowed);
                        }
                        yes
                    })
                })
                .collect();
            let mut admitted = 0;
            for t in tasks {
                admitted += t.await.unwrap();
            }
            let elapsed = start.elapsed().as_secs_f64();
            let bound = burst as f64 + rate * elapsed;
            eprintln!("async: admitted {admitted}, bound {bound:.1}");
            assert!(
                admitted as f64 <= bound + 1.0,
                "admitted {admitted} > {bound}"
            );
            assert!(admitted as f64 >= 0.8 * rate * elapsed);
        });
    }

    #[test]
    fn async_api_round_trip() {
        let Some(url) = url() else { return };
        runtime().block_on(async {
            let l = RedisLimiter::builder()
                .url(&url)
                .rate(1.0)
                .burst(3)
                .key_prefix(&prefix("async"))
                .build()
                .await
                .unwrap();
            assert_eq!(l.check("k", 2).await.unwrap().remaining, 1);
            assert_eq!(l.peek("k").await.unwrap().remaining, 1);
            let d = l.check("k", 2).await.unwrap();
            assert!(!d.allowed);
            assert!(d.retry_after.unwrap() > Duration::from_millis(900));
            assert_eq!(l.refund("k", 1).await.unwrap().remaining, 2);
            let many = l.check_many(&[("k", 1), ("j", 3), ("k", 2)]).await.unwrap();
            let allowed: Vec<_> = many.iter().map(|i| i.allowed).collect();
            assert_eq!(allowed, [true, true, false]);
            l.reset("k").await.unwrap();
            assert_eq!(l.peek("k").await.unwrap().remaining, 3);
            let q = Quota::new(1.0, 10).unwrap();
            // A per-key quota: the full key stays full under the new burst.
            assert_eq!(l.check_with("k", 1, &q).await.unwrap().remaining, 9);
            assert!(matches!(
                l.check("", 1).await,
                Err(Error::InvalidKey { .. })
            ));
        });
    }

    /// The state's encoding and its expiry: the key lives exactly until its
    /// bucket is full again, so an idle key costs Redis nothing.
    #[test]
    fn state_encoding_and_expiry() {
        let Some(url) = url() else { return };
        let l = RedisLimiter::builder()
            .url(&url)
            .rate(10.0)
            .burst(20)
            .key_prefix(&prefix("expiry"))
            .build_blocking()
            .unwrap();
        let info = l.check("k", 20).unwrap();
        assert_eq!(info.reset_after, Duration::from_secs(2));
        let key = l.redis_key("k");
        assert!(key.ends_with("{k}"));
        let mut c = raw(&url);
        let v: String = redis::cmd("GET").arg(&key).query(&mut c).unwrap();
        let parts: Vec<&str> = v.split(' ').collect();
        assert_eq!(&parts[1..], ["100000000", "20"], "{v}");
        let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut c).unwrap();
        assert!((1900..=2001).contains(&pttl), "pttl {pttl}");
        // A peek writes nothing; a full refund deletes the key.
        l.peek("k").unwrap();
        l.refund("k", 20).unwrap();
        let exists: i64 = redis::cmd("EXISTS").arg(&key).query(&mut c).unwrap();
        assert_eq!(exists, 0);
    }

    /// `SCRIPT FLUSH` between calls, single and pipelined: the NOSCRIPT path
    /// reloads and every call is charged exactly once.
    #[test]
    fn script_flush_is_recovered() {
        let Some(url) = url() else { return };
        let _serial = server_wide();
        let mut c = raw(&url);
        let l = RedisLimiter::builder()
            .url(&url)
            .rate(1.0)
            .burst(10)
            .key_prefix(&prefix("flush"))
            .build_blocking()
            .unwrap();
        assert_eq!(l.check("a", 1).unwrap().remaining, 9);
        let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
        assert_eq!(l.check("a", 1).unwrap().remaining, 8);
        let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
        let keys: Vec<(String, u64)> = (0..50).map(|i| (format!("k{i}"), 2)).collect();
        let many = l.check_many(&keys).unwrap();
        assert!(many.iter().all(|i| i.allowed && i.remaining == 8));
        let many = l.check_many(&keys).unwrap();
        assert!(many.iter().all(|i| i.remaining == 6), "charged twice");
        runtime().block_on(async {
            let a = RedisLimiter::builder()
                .url(&url)
                .rate(1.0)
                .burst(10)
                .key_prefix(&prefix("flush-async"))
                .build()
                .await
                .unwrap();
            let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
            assert_eq!(a.check("a", 3).await.unwrap().remaining, 7);
            let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
            let many = a.check_many(&[("a", 1), ("b", 1)]).await.unwrap();
            assert_eq!(many[0].remaining, 6);
            assert_eq!(many[1].remaining, 9);
        });
    }

    #[test]
    fn bad_input_is_typed_and_never_reaches_redis() {
        let b = || RedisLimiter::builder().url("redis://127.0.0.1:1");
        for (rate, want) in [
            (0.0, "InvalidRate"),
            (f64::NAN, "InvalidRate"),
            (-1.0, "InvalidRate"),
        ] {
            let e = b().rate(rate).burst(1).build_blocking().unwrap_err();
            assert!(format!("{e:?}").starts_with(want), "{e:?}");
        }
        assert!(matches!(
            b().rate(1e-6).burst(1_000_000).build_blocking(),
            Err(Error::CapacityOverflow { .. })
        ));
        assert!(matches!(
            b().rate(1.0).burst(0).build_blocking(),
            Err(Error::ZeroCapacity { .. })
        ));
        assert!(matches!(
            b().rate(1.0).key_prefix("a{b").build_blocking(),
            Err(Error::InvalidKey { .. })
        ));
        assert!(matches!(
            RedisLimiter::builder().rate(1.0).build_blocking(),
            Err(Error::MissingParameter { parameter: "url" })
        ));
        assert!(matches!(
            RedisLimiter::builder()
                .url("not a url")
                .rate(1.0)
                .build_blocking(),
            Err(Error::InvalidConnection { .. })
        ));
        // Nothing listens on port 1: a typed error, promptly.
        let t = Instant::now();
        assert!(matches!(
            b().rate(1.0).build_blocking(),
            Err(Error::Unavailable { .. })
        ));
        assert!(t.elapsed() < Duration::from_secs(3));

        let Some(url) = url() else { return };
        let l = RedisLimiter::builder()
            .url(&url)
            .rate(1.0)
            .burst(5)
            .key_prefix(&prefix("bad"))
            .build_blocking()
            .unwrap();
        assert!(matches!(l.check("", 1), Err(Error::InvalidKey { .. })));
        let long = "x".repeat(513);
        assert!(matches!(l.check(&long, 1), Err(Error::InvalidKey { .. })));
        assert!(l.check(&"x".repeat(512), 1).is_ok());
        for cost in [6, u64::MAX] {
            assert!(matches!(
                l.check("k", cost),
                Err(Error::CostExceedsCapacity { .. })
            ));
            assert!(matches!(
                l.refund("k", cost),
                Err(Error::CostExceedsCapacity { .. })
            ));
            assert!(matches!(
                l.check_many(&[("ok", 1), ("k", cost)]),
                Err(Error::CostExceedsCapacity { .. })
            ));
        }
        // The invalid batch sent nothing: "ok" is still full.
        assert_eq!(l.peek("ok").unwrap().remaining, 5);
        assert_eq!(l.peek("k").unwrap().remaining, 5);
        assert!(matches!(
            l.set_quota(f64::INFINITY, 1),
            Err(Error::InvalidRate { .. })
        ));
        assert_eq!(l.quota().burst(), 5);

        // A key holding something else is a typed error and stays untouched.
        let mut c = raw(&url);
        let key = l.redis_key("junk");
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("hello")
            .query(&mut c)
            .unwrap();
        assert!(matches!(l.check("junk", 1), Err(Error::Backend { .. })));
        let v: String = redis::cmd("GET").arg(&key).query(&mut c).unwrap();
        assert_eq!(v, "hello");
        let list = l.redis_key("list");
        let _: () = redis::cmd("RPUSH").arg(&list).arg(1).query(&mut c).unwrap();
        assert!(matches!(l.check("list", 1), Err(Error::Backend { .. })));

        // The script itself rejects arguments that would overflow, rather
        // than admitting everything, and writes nothing.
        let sha = redis::Script::new(include_str!("../src/ratelimit/redis/gcra.lua"))
            .get_hash()
            .to_owned();
        let target = l.redis_key("direct");
        for args in [
            ["c", "1", "18446744073709551615", "18446744073709551615", ""],
            ["c", "1", "0", "5", ""],
            ["c", "7", "10", "5", ""],
            ["c", "1", "4503599627370496", "2", ""],
            ["c", "nan", "10", "5", ""],
            ["x", "1", "10", "5", ""],
            ["c", "1", "10", "5", "-3"],
        ] {
            let r: redis::RedisResult<redis::Value> = redis::cmd("EVALSHA")
                .arg(&sha)
                .arg(1)
                .arg(&target)
                .arg(&args[..])
                .query(&mut c);
            assert!(r.is_err(), "{args:?} was accepted: {r:?}");
        }
        let exists: i64 = redis::cmd("EXISTS").arg(&target).query(&mut c).unwrap();
        assert_eq!(exists, 0);
    }

    /// Leased mode: tokens go back to Redis when the lease expires and when
    /// the limiter is dropped (time scripted through the test clock).
    #[test]
    fn leases_are_returned_on_expiry_and_drop() {
        let Some(url) = url() else { return };
        let clock = ManualClock::new();
        let prefix = prefix("lease");
        let build = |lease: bool| {
            let b = RedisLimiter::builder()
                .url(&url)
                .rate(1.0)
                .burst(20)
                .key_prefix(&prefix)
                .test_clock(clock.clone());
            if lease {
                b.lease(10, Duration::from_secs(1))
            } else {
                b
            }
            .build_blocking()
            .unwrap()
        };
        let plain = build(false);
        let leased = build(true);
        assert!(leased.check("k", 1).unwrap().allowed);
        assert_eq!(plain.peek("k").unwrap().remaining, 10, "one lease of 10");
        for _ in 0..5 {
            assert!(leased.check("k", 1).unwrap().allowed);
        }
        assert_eq!(plain.peek("k").unwrap().remaining, 10, "spent locally");
        clock.advance(Duration::from_secs(2)); // lease expired, 2 refilled
        assert!(leased.check("k", 1).unwrap().allowed); // returns 4, leases 10
        assert_eq!(plain.peek("k").unwrap().remaining, 6);
        drop(leased); // returns the 9 left
        assert_eq!(plain.peek("k").unwrap().remaining, 15);
        // Expired leases of keys never checked again go back with a later
        // lease round trip once enough leases are held (amortised sweep).
        let leased = build(true);
        for i in 0..10 {
            assert!(leased.check(&format!("idle{i}"), 1).unwrap().allowed);
        }
        assert_eq!(plain.peek("idle0").unwrap().remaining, 10);
        clock.advance(Duration::from_secs(2));
        for i in 0..7 {
            assert!(leased.check(&format!("busy{i}"), 1).unwrap().allowed);
        }
        // 10 leased at 0, 8 refilled, 9 returned: full again.
        assert_eq!(plain.peek("idle0").unwrap().remaining, 20);
        assert_eq!(plain.peek("idle9").unwrap().remaining, 20);
        drop(leased);
        // A cost larger than the lease size still works (leases the cost).
        let leased = build(true);
        assert_eq!(leased.check("big", 15).unwrap().remaining, 5);
        assert!(!leased.check("big", 6).unwrap().allowed);
        assert!(matches!(
            RedisLimiter::builder()
                .url(&url)
                .rate(1.0)
                .lease(0, Duration::from_secs(1))
                .build_blocking(),
            Err(Error::ZeroCapacity { parameter: "lease" })
        ));
    }

    /// Four leased instances hammering one key for 2 s: the total admitted
    /// stays within `burst + rate x elapsed` (tokens are charged in Redis
    /// before they are spent).
    #[test]
    fn leased_clients_stay_within_the_bound() {
        let Some(url) = url() else { return };
        let _serial = server_wide();
        let (rate, burst) = (500.0, 100u64);
        let prefix = prefix("lease-hammer");
        let limiters: Vec<_> = (0..4)
            .map(|_| {
                RedisLimiter::builder()
                    .url(&url)
                    .rate(rate)
                    .burst(burst)
                    .key_prefix(&prefix)
                    .lease(20, Duration::from_millis(100))
                    .build_blocking()
                    .unwrap()
            })
            .collect();
        let start = Instant::now();
        let run_for = Duration::from_secs(2);
        let admitted: u64 = std::thread::scope(|s| {
            let hs: Vec<_> = limiters
                .iter()
                .map(|l| {
                    s.spawn(move || {
                        let mut yes = 0u64;
                        while start.elapsed() < run_for {
                            yes += u64::from(l.check("hot", 1).unwrap().allowed);
                        }
                        yes
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        let elapsed = start.elapsed().as_secs_f64();
        let bound = burst as f64 + rate * elapsed;
        eprintln!("leased: admitted {admitted}, bound {bound:.1}");
        assert!(
            admitted as f64 <= bound + 1.0,
            "admitted {admitted} > {bound}"
        );
        assert!(
            admitted as f64 >= 0.7 * rate * elapsed,
            "admitted {admitted}"
        );
    }

    /// A private `redis-server` on a free loopback port, killed on drop.
    struct Server {
        child: Option<Child>,
        port: u16,
    }

    impl Server {
        fn binary() -> Option<std::path::PathBuf> {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|d| d.join("redis-server"))
                .find(|p| p.is_file())
        }

        fn start(port: u16) -> Server {
            let bin = Self::binary().unwrap();
            let child = Command::new(bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let url = format!("redis://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(5);
            while redis::Client::open(url.as_str())
                .unwrap()
                .get_connection_with_timeout(Duration::from_millis(100))
                .is_err()
            {
                assert!(
                    Instant::now() < deadline,
                    "private redis-server did not start"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Server {
                child: Some(child),
                port,
            }
        }

        fn free_port() -> u16 {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        }

        fn signal(&self, sig: &str) {
            let pid = self.child.as_ref().unwrap().id().to_string();
            let ok = Command::new("kill").args([sig, &pid]).status().unwrap();
            assert!(ok.success());
        }

        fn stop(&mut self) {
            if let Some(mut c) = self.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop();
        }
    }

    /// Stop, hang and restart a private Redis mid-run: typed errors or the
    /// configured fallback within the timeouts, never a hang or a panic;
    /// correct limiting after the restart, from an empty Redis at most one
    /// fresh burst per key.
    #[test]
    fn faults_stop_hang_restart() {
        if Server::binary().is_none() {
            skipped("no redis-server on PATH for the private fault-test server");
            return;
        }
        let port = Server::free_port();
        let mut server = Server::start(port);
        let url = format!("redis://127.0.0.1:{}", server.port);
        let build = |policy| {
            RedisLimiter::builder()
                .url(&url)
                .rate(1.0)
                .burst(3)
                .failure_policy(policy)
                .connect_timeout(Duration::from_millis(200))
                .response_timeout(Duration::from_millis(200))
                .build_blocking()
                .unwrap()
        };
        let closed = build(FailurePolicy::FailClosed);
        let open = build(FailurePolicy::FailOpen);
        let local = build(FailurePolicy::Local);
        let rt = runtime();
        let async_closed = rt.block_on(async {
            RedisLimiter::builder()
                .url(&url)
                .rate(1.0)
                .burst(3)
                .connect_timeout(Duration::from_millis(200))
                .response_timeout(Duration::from_millis(200))
                .build()
                .await
                .unwrap()
        });
        assert!(rt.block_on(async_closed.check("a", 1)).unwrap().allowed);
        assert!(closed.check("k", 3).unwrap().allowed);
        assert!(!closed.check("k", 1).unwrap().allowed);

        // A hung server (SIGSTOP): each call gives up within the timeout.
        server.signal("-STOP");
        let t = Instant::now();
        assert!(matches!(
            closed.check("k", 1),
            Err(Error::Unavailable { .. })
        ));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        let t = Instant::now();
        assert!(open.check("k", 1).unwrap().allowed);
        assert!(t.elapsed() < Duration::from_secs(2));
        let t = Instant::now();
        assert!(matches!(
            rt.block_on(async_closed.check("a", 1)),
            Err(Error::Unavailable { .. })
        ));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        server.signal("-CONT");
        // After the hang: the server answers again, state intact.
        let deadline = Instant::now() + Duration::from_secs(5);
        let info = loop {
            match closed.check("k", 1) {
                Ok(i) => break i,
                Err(Error::Unavailable { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert!(info.remaining <= 1, "{info:?}");

        // Stopped: typed errors or the fallback, promptly, every time.
        server.stop();
        for _ in 0..3 {
            let t = Instant::now();
            assert!(matches!(
                closed.check("k", 1),
                Err(Error::Unavailable { .. })
            ));
            assert!(matches!(closed.reset("k"), Err(Error::Unavailable { .. })));
            assert!(open.check("k", 1).unwrap().allowed);
            let a = rt.block_on(async_closed.check("a", 1));
            assert!(matches!(a, Err(Error::Unavailable { .. })), "{a:?}");
            assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        }
        // Local: limits in-process with the same quota.
        let admitted = (0..10)
            .filter(|_| local.check("k", 1).unwrap().allowed)
            .count();
        assert_eq!(admitted, 3);
        let batch = local.check_many(&[("k", 1), ("fresh", 2)]).unwrap();
        assert_eq!(
            (batch[0].allowed, batch[1].allowed, batch[1].remaining),
            (false, true, 1)
        );
        assert!(matches!(
            closed.check_many(&[("k", 1)]),
            Err(Error::Unavailable { .. })
        ));
        assert!(local.fallbacks() >= 10);
        assert!(open.fallbacks() >= 3);
        let async_down = rt.block_on(async {
            RedisLimiter::builder()
                .url(&url)
                .rate(1.0)
                .build()
                .await
                .unwrap_err()
        });
        assert!(matches!(async_down, Error::Unavailable { .. }));

        // Restarted empty: limiting resumes; the key got one fresh burst.
        let _server = Server::start(port);
        let deadline = Instant::now() + Duration::from_secs(5);
        let first = loop {
            match closed.check("k", 1) {
                Ok(i) => break i,
                Err(Error::Unavailable { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(first.remaining, 2, "an empty Redis gives one fresh burst");
        assert!(closed.check("k", 2).unwrap().allowed);
        assert!(!closed.check("k", 1).unwrap().allowed);
        // The async limiter's connection manager reconnects on its own.
        let deadline = Instant::now() + Duration::from_secs(5);
        let a = loop {
            match rt.block_on(async_closed.check("a", 1)) {
                Ok(i) => break i,
                Err(Error::Unavailable { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(a.remaining, 2, "{a:?}");
        // The restarted server had no script: NOSCRIPT reloaded it.
        assert!(local.check("other", 1).unwrap().allowed);
    }
}
