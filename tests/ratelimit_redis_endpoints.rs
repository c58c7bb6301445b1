#![cfg(all(not(loom), feature = "redis", feature = "tokio"))]
//! The Redis limiter's suite through `.endpoint(..)`, on every endpoint the
//! environment names: `LATCHWORK_REDIS_URL` (a single node) and
//! `LATCHWORK_REDIS_CLUSTER_URLS` (cluster seeds, as `scripts/redis_cluster
//! up` prints them); `SKIPPED: ...` when neither is set. Keys are spread
//! over many slots on purpose: batches, flushes and leases cross masters.
//!
//! `tests/ratelimit_redis.rs` keeps the original suite on a single node
//! through `.url(..)` with the stop/restart fault test;
//! `tests/ratelimit_redis_cluster.rs` has the cluster's own tests.
#[path = "common/redis_cluster.rs"]
mod redis_cluster;
#[path = "common/redis_limiter.rs"]
mod redis_limiter;
#[path = "common/redis_server.rs"]
mod redis_server;

use latchwork::clock::ManualClock;
use latchwork::ratelimit::{
    BlockingRedisLimiter, Endpoint, Error, KeyedLimiter, RateLimitInfo, RedisLimiter,
};
use redis::ConnectionLike;
use redis_limiter::{builder, runtime};
use redis_server::{endpoints, unique};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A plain connection that routes by key on a cluster.
fn raw(e: &Endpoint) -> Box<dyn ConnectionLike> {
    match e {
        Endpoint::Node(url) => Box::new(
            redis::Client::open(url.as_str())
                .unwrap()
                .get_connection()
                .unwrap(),
        ),
        Endpoint::Cluster(seeds) => Box::new(
            redis::cluster::ClusterClient::new(seeds.clone())
                .unwrap()
                .get_connection()
                .unwrap(),
        ),
    }
}

/// Every server of the endpoint, as plain connections (the masters of a
/// cluster).
fn servers(e: &Endpoint) -> Vec<redis::Connection> {
    match e {
        Endpoint::Node(url) => vec![redis::Client::open(url.as_str())
            .unwrap()
            .get_connection()
            .unwrap()],
        Endpoint::Cluster(seeds) => redis_cluster::cluster_nodes(&seeds[0])
            .iter()
            .map(|n| redis_cluster::node_conn(&n.addr))
            .collect(),
    }
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

/// A scripted timeline of checks, peeks, refunds, batches and one re-quota
/// gives every value the in-process keyed limiter gives, over keys in many
/// slots.
#[test]
fn conformance_with_keyed_limiter() {
    for (label, e) in endpoints("conformance_with_keyed_limiter") {
        for ((rate, burst), (rate2, burst2)) in [((10.0, 5), (4.0, 8)), ((3.0, 7), (7.0, 3))] {
            let clock = ManualClock::new();
            clock.advance(Duration::from_nanos(1_764_000_000_123_456_789));
            let redis = builder(&e, "conform")
                .rate(rate)
                .burst(burst)
                .test_clock(clock.clone())
                .build_blocking()
                .unwrap();
            let local = KeyedLimiter::builder()
                .rate(rate)
                .burst(burst)
                .clock(clock.clone())
                .build()
                .unwrap();
            let keys: Vec<String> = (0..12).map(|i| format!("user{i}")).collect();
            let interval = (1e9 / rate).ceil() as u64;
            let mut rng = Lcg(interval);
            for step in 0..300 {
                clock.advance(Duration::from_nanos(rng.next(interval / 2 + 2)));
                let key = keys[rng.next(keys.len() as u64) as usize].as_str();
                if step == 150 {
                    local.set_quota(rate2, burst2).unwrap();
                    redis.set_quota(rate2, burst2).unwrap();
                    for k in &keys {
                        let l = local.check_info(k.as_str(), 0).unwrap();
                        assert_eq!(redis.check(k, 0).unwrap(), l, "{label}: re-quota {k}");
                    }
                }
                let cost = rng.next(burst.min(burst2).min(4) + 1);
                let (r, l) = match rng.next(10) {
                    0 => (redis.peek(key).unwrap(), local.peek_info(key)),
                    1 => (redis.refund(key, cost).unwrap(), local.refund(key, cost)),
                    2 => {
                        // A batch over several keys (several slots).
                        let batch: Vec<(&str, u64)> = (0..4)
                            .map(|j| (keys[(step + j * 3) % keys.len()].as_str(), 1))
                            .collect();
                        let got = redis.check_many(&batch).unwrap();
                        let want: Vec<RateLimitInfo> = batch
                            .iter()
                            .map(|(k, c)| local.check_info(*k, *c).unwrap())
                            .collect();
                        assert_eq!(got, want, "{label}: batch at step {step}");
                        continue;
                    }
                    _ => (
                        redis.check(key, cost).unwrap(),
                        local.check_info(key, cost).unwrap(),
                    ),
                };
                assert_eq!(
                    r, l,
                    "{label}: step {step} key {key} cost {cost} rate {rate}"
                );
            }
        }
    }
}

/// The async limiter's whole API on each endpoint.
#[test]
fn async_api_round_trip() {
    for (label, e) in endpoints("async_api_round_trip") {
        runtime().block_on(async {
            let l = builder(&e, "async")
                .rate(1.0)
                .burst(3)
                .build()
                .await
                .unwrap();
            assert_eq!(l.check("k", 2).await.unwrap().remaining, 1, "{label}");
            assert_eq!(l.peek("k").await.unwrap().remaining, 1);
            let d = l.check("k", 2).await.unwrap();
            assert!(!d.allowed);
            assert!(d.retry_after.unwrap() > Duration::from_millis(900));
            assert_eq!(l.refund("k", 1).await.unwrap().remaining, 2);
            let many = l.check_many(&[("k", 1), ("j", 3), ("k", 2)]).await.unwrap();
            let allowed: Vec<_> = many.iter().map(|i| i.allowed).collect();
            assert_eq!(allowed, [true, true, false], "{label}");
            l.reset("k").await.unwrap();
            assert_eq!(l.peek("k").await.unwrap().remaining, 3);
            assert!(l.check_many::<&str>(&[]).await.unwrap().is_empty());
            assert!(matches!(
                l.check("", 1).await,
                Err(Error::InvalidKey { .. })
            ));
        });
    }
}

/// A batch of 300 keys (on a cluster, about 300 slots on every master):
/// every answer exact, every key charged once, through both limiters.
#[test]
fn check_many_over_many_slots() {
    for (label, e) in endpoints("check_many_over_many_slots") {
        let b = builder(&e, "many").rate(1.0 / 3600.0).burst(10);
        let blocking = b.build_blocking().unwrap();
        let keys: Vec<(String, u64)> = (0..300).map(|i| (format!("k{i}"), 1 + i % 3)).collect();
        let first = blocking.check_many(&keys).unwrap();
        for ((_, cost), info) in keys.iter().zip(&first) {
            assert!(info.allowed, "{label}");
            assert_eq!(info.remaining, 10 - cost, "{label}");
        }
        let again = runtime().block_on(async {
            let prefix = blocking.redis_key("");
            let prefix = prefix.trim_end_matches("{}");
            let a = RedisLimiter::builder()
                .endpoint(e.clone())
                .key_prefix(prefix)
                .rate(1.0 / 3600.0)
                .burst(10)
                .build()
                .await
                .unwrap();
            a.check_many(&keys).await.unwrap()
        });
        for ((_, cost), info) in keys.iter().zip(&again) {
            assert_eq!(info.remaining, 10 - 2 * cost, "{label}: charged once each");
        }
        assert!(blocking.check_many::<&str>(&[]).unwrap().is_empty());
    }
}

/// `SCRIPT FLUSH` on every server between calls, single and batched:
/// the `NOSCRIPT` path recovers on each node and charges each call once.
#[test]
fn script_flush_is_recovered() {
    for (label, e) in endpoints("script_flush_is_recovered") {
        let flush = || {
            for mut c in servers(&e) {
                let () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
            }
        };
        let l = builder(&e, "flush")
            .rate(1.0 / 3600.0)
            .burst(10)
            .build_blocking()
            .unwrap();
        assert_eq!(l.check("a", 1).unwrap().remaining, 9);
        flush();
        assert_eq!(l.check("a", 1).unwrap().remaining, 8, "{label}");
        flush();
        let keys: Vec<(String, u64)> = (0..50).map(|i| (format!("k{i}"), 2)).collect();
        let many = l.check_many(&keys).unwrap();
        assert!(
            many.iter().all(|i| i.allowed && i.remaining == 8),
            "{label}"
        );
        let many = l.check_many(&keys).unwrap();
        assert!(
            many.iter().all(|i| i.remaining == 6),
            "{label}: charged twice"
        );
        runtime().block_on(async {
            let a = builder(&e, "flush-async")
                .rate(1.0 / 3600.0)
                .burst(10)
                .build()
                .await
                .unwrap();
            flush();
            assert_eq!(a.check("a", 3).await.unwrap().remaining, 7);
            flush();
            let many = a.check_many(&keys).await.unwrap();
            assert!(
                many.iter().all(|i| i.remaining == 8),
                "{label}: async batch"
            );
        });
    }
}

/// The state's encoding and its expiry on each endpoint: the key lives
/// exactly until its bucket is full again.
#[test]
fn state_encoding_and_expiry() {
    for (label, e) in endpoints("state_encoding_and_expiry") {
        let l = builder(&e, "expiry")
            .rate(10.0)
            .burst(20)
            .build_blocking()
            .unwrap();
        let info = l.check("k", 20).unwrap();
        assert_eq!(info.reset_after, Duration::from_secs(2), "{label}");
        let key = l.redis_key("k");
        assert!(key.ends_with("{k}"));
        let mut c = raw(&e);
        let v: String = redis::cmd("GET").arg(&key).query(&mut *c).unwrap();
        let parts: Vec<&str> = v.split(' ').collect();
        assert_eq!(&parts[1..], ["100000000", "20"], "{label}: {v}");
        let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut *c).unwrap();
        assert!((1900..=2001).contains(&pttl), "{label}: pttl {pttl}");
        l.peek("k").unwrap();
        l.refund("k", 20).unwrap();
        let exists: i64 = redis::cmd("EXISTS").arg(&key).query(&mut *c).unwrap();
        assert_eq!(exists, 0, "{label}");
    }
}

/// A cluster endpoint without seeds, or with a malformed one, is refused
/// at build time with a typed error; one nobody answers is `Unavailable`.
#[test]
fn bad_endpoints_are_typed() {
    let b = |e: Endpoint| RedisLimiter::builder().endpoint(e).rate(1.0);
    assert!(matches!(
        b(Endpoint::Cluster(Vec::new())).build_blocking(),
        Err(Error::InvalidConnection { .. })
    ));
    assert!(matches!(
        b(Endpoint::cluster_from_list(
            "redis://127.0.0.1:7000, not a url"
        ))
        .build_blocking(),
        Err(Error::InvalidConnection { .. })
    ));
    assert!(matches!(
        b(Endpoint::Node("not a url".into())).build_blocking(),
        Err(Error::InvalidConnection { .. })
    ));
    let t = Instant::now();
    let down = Endpoint::cluster_from_list("redis://127.0.0.1:1");
    assert!(matches!(
        b(down.clone()).build_blocking(),
        Err(Error::Unavailable { .. })
    ));
    let a = runtime().block_on(b(down).build());
    assert!(matches!(a, Err(Error::Unavailable { .. })), "{a:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

/// A key holding other data is a typed error on its own call and leaves
/// the rest of a batch answered.
#[test]
fn server_errors_are_typed() {
    for (label, e) in endpoints("server_errors_are_typed") {
        let l = builder(&e, "junk")
            .rate(1.0)
            .burst(5)
            .build_blocking()
            .unwrap();
        let key = l.redis_key("junk");
        let () = redis::cmd("SET")
            .arg(&key)
            .arg("hello")
            .query(&mut *raw(&e))
            .unwrap();
        assert!(
            matches!(l.check("junk", 1), Err(Error::Backend { .. })),
            "{label}"
        );
        let v: String = redis::cmd("GET").arg(&key).query(&mut *raw(&e)).unwrap();
        assert_eq!(v, "hello");
        assert!(matches!(
            l.check_many(&[("fine", 1), ("junk", 1)]),
            Err(Error::Backend { .. })
        ));
        assert_eq!(
            l.peek("fine").unwrap().remaining,
            4,
            "{label}: the batch's good call ran"
        );
    }
}

/// Leases: taken in one round trip, spent in-process, returned on drop.
#[test]
fn leases_are_returned_on_drop() {
    for (label, e) in endpoints("leases_are_returned_on_drop") {
        let clock = ManualClock::new();
        let b = builder(&e, "lease")
            .rate(1.0)
            .burst(20)
            .test_clock(clock.clone());
        let plain = b.build_blocking().unwrap();
        let prefix = plain.redis_key("");
        let prefix = prefix.trim_end_matches("{}").to_owned();
        let leased = RedisLimiter::builder()
            .endpoint(e.clone())
            .key_prefix(&prefix)
            .rate(1.0)
            .burst(20)
            .test_clock(clock.clone())
            .lease(10, Duration::from_secs(1))
            .build_blocking()
            .unwrap();
        for i in 0..6 {
            assert!(leased.check(&format!("k{}", i % 3), 1).unwrap().allowed);
        }
        assert_eq!(
            plain.peek("k0").unwrap().remaining,
            10,
            "{label}: one lease of 10"
        );
        drop(leased);
        for k in ["k0", "k1", "k2"] {
            assert_eq!(
                plain.peek(k).unwrap().remaining,
                18,
                "{label}: {k} returned on drop"
            );
        }
    }
}

/// Eight blocking and eight async clients on one hot key: the total
/// admitted stays within `burst + rate x elapsed`.
#[test]
fn many_clients_stay_within_the_bound() {
    for (label, e) in endpoints("many_clients_stay_within_the_bound") {
        let (rate, burst) = (200.0, 40u64);
        let prefix = format!("{}:", unique("lwrl:hammer"));
        let limiters: Vec<BlockingRedisLimiter> = (0..8)
            .map(|_| {
                RedisLimiter::builder()
                    .endpoint(e.clone())
                    .key_prefix(&prefix)
                    .rate(rate)
                    .burst(burst)
                    .build_blocking()
                    .unwrap()
            })
            .collect();
        let start = Instant::now();
        let run_for = Duration::from_millis(1500);
        let blocking: u64 = std::thread::scope(|s| {
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
        let asynced: u64 = runtime().block_on(async {
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let l = Arc::new(
                    RedisLimiter::builder()
                        .endpoint(e.clone())
                        .key_prefix(&prefix)
                        .rate(rate)
                        .burst(burst)
                        .build()
                        .await
                        .unwrap(),
                );
                tasks.push(tokio::spawn(async move {
                    let mut yes = 0u64;
                    while start.elapsed() < 2 * run_for {
                        yes += u64::from(l.check("hot", 1).await.unwrap().allowed);
                    }
                    yes
                }));
            }
            let mut n = 0;
            for t in tasks {
                n += t.await.unwrap();
            }
            n
        });
        let elapsed = start.elapsed().as_secs_f64();
        let admitted = blocking + asynced;
        let bound = burst as f64 + rate * elapsed;
        eprintln!("{label}: admitted {admitted} ({blocking} blocking), bound {bound:.1}");
        assert!(
            admitted as f64 <= bound + 1.0,
            "{label}: {admitted} > {bound}"
        );
        assert!(
            admitted as f64 >= 0.7 * rate * elapsed,
            "{label}: {admitted}"
        );
    }
}
