#![cfg(all(not(loom), feature = "redis", feature = "tokio"))]
//! The Redis limiter through `.endpoint(..)`: its suite on every endpoint
//! the environment names (`LATCHWORK_REDIS_URL`, a single node, and
//! `LATCHWORK_REDIS_CLUSTER_URLS`, cluster seeds from `scripts/redis_cluster
//! up`; `SKIPPED: ...` when neither is set), then the cluster's own tests:
//! the limiter's keys spread over every master, and a key's slot moved to
//! another master mid-use (`MOVED`) with exact limits before and after.
//!
//! `tests/ratelimit_redis.rs` keeps the original suite on a single node
//! through `.url(..)`, with the stop/restart fault test.
#[path = "common/redis_cluster.rs"]
mod redis_cluster;
#[path = "common/redis_server.rs"]
mod redis_server;

use latchwork::clock::ManualClock;
use latchwork::ratelimit::{
    BlockingRedisLimiter, Endpoint, Error, KeyedLimiter, RateLimitInfo, RedisLimiter,
    RedisLimiterBuilder,
};
use redis::ConnectionLike;
use redis_server::{endpoints, unique};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn builder(e: &Endpoint, test: &str) -> RedisLimiterBuilder {
    RedisLimiter::builder()
        .endpoint(e.clone())
        .key_prefix(&format!("{}:", unique(&format!("lwrl:{test}"))))
}

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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
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

// ---- cluster only ----

fn cluster() -> Option<(String, Endpoint)> {
    match std::env::var("LATCHWORK_REDIS_CLUSTER_URLS") {
        Ok(list) if !list.trim().is_empty() => Some((
            redis_cluster::first_seed(&list),
            Endpoint::cluster_from_list(&list),
        )),
        _ => {
            println!("SKIPPED: cluster test: set LATCHWORK_REDIS_CLUSTER_URLS");
            None
        }
    }
}

/// 1000 keys of one limiter land on every master: each key names one slot
/// (`prefix{key}`), and the keys of one limiter do not share one.
#[test]
fn cluster_keys_spread_over_every_master() {
    let Some((seed, e)) = cluster() else { return };
    let l = builder(&e, "spread")
        .rate(1.0 / 3600.0)
        .burst(5)
        .build_blocking()
        .unwrap();
    let keys: Vec<(String, u64)> = (0..1000).map(|i| (format!("user:{i}"), 1)).collect();
    assert!(l
        .check_many(&keys)
        .unwrap()
        .iter()
        .all(|i| i.remaining == 4));
    let prefix = l.redis_key("");
    let prefix = prefix.trim_end_matches("{}");
    let nodes = redis_cluster::cluster_nodes(&seed);
    assert_eq!(nodes.len(), 3);
    let mut total = 0;
    let mut slots = std::collections::HashSet::new();
    for n in &nodes {
        let mut c = redis_cluster::node_conn(&n.addr);
        let mut held = 0;
        let mut cursor = 0u64;
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{prefix}*"))
                .arg("COUNT")
                .arg(1000)
                .query(&mut c)
                .unwrap();
            for k in &found {
                let slot: u16 = redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(k)
                    .query(&mut c)
                    .unwrap();
                assert!(
                    n.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)),
                    "{k} on {} outside its slots",
                    n.addr
                );
                slots.insert(slot);
            }
            held += found.len();
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert!(held > 200, "{} holds only {held} of 1000 keys", n.addr);
        total += held;
    }
    assert_eq!(total, 1000);
    // The slot is the hash tag's: the key's own, not the prefix's.
    let k = l.redis_key("user:7");
    assert_eq!(
        redis_cluster::keyslot(&seed, &k),
        redis_cluster::keyslot(&seed, "user:7")
    );
    assert!(slots.len() > 900, "only {} slots", slots.len());
    println!(
        "cluster: 1000 keys over {} slots on {} masters",
        slots.len(),
        nodes.len()
    );
}

/// A limiter key's slot moves to another master mid-use (`SETSLOT
/// IMPORTING/MIGRATING`, `MIGRATE`, `SETSLOT NODE`): the limiters follow
/// the `MOVED`, single calls and batches, and the limits are exact before
/// and after (time frozen through the test clock).
#[test]
fn cluster_slot_moves_and_the_limits_hold() {
    let Some((seed, e)) = cluster() else { return };
    let clock = ManualClock::new();
    let b = builder(&e, "reshard")
        .rate(1.0)
        .burst(10)
        .test_clock(clock.clone());
    let blocking = b.build_blocking().unwrap();
    let prefix = blocking.redis_key("");
    let prefix = prefix.trim_end_matches("{}").to_owned();
    let rt = runtime();
    let asynced = rt.block_on(async {
        RedisLimiter::builder()
            .endpoint(e.clone())
            .key_prefix(&prefix)
            .rate(1.0)
            .burst(10)
            .test_clock(clock.clone())
            .build()
            .await
            .unwrap()
    });
    // "hot" and "warm" share nothing but the limiter; "warm" stays put
    // unless the two happen to share a slot.
    assert_eq!(blocking.check("hot", 3).unwrap().remaining, 7);
    let before = rt
        .block_on(asynced.check_many(&[("hot", 1), ("warm", 2)]))
        .unwrap();
    assert_eq!((before[0].remaining, before[1].remaining), (6, 8));

    let slot = redis_cluster::keyslot(&seed, &blocking.redis_key("hot"));
    let to = redis_cluster::move_slot(&seed, slot);

    // The async limiter's first call after the move is a batch: its
    // pipeline meets MOVED and the redirected call is resent.
    let after = rt
        .block_on(asynced.check_many(&[("hot", 2), ("warm", 1)]))
        .unwrap();
    assert_eq!(
        (after[0].remaining, after[1].remaining),
        (4, 7),
        "batch after the move"
    );
    assert_eq!(
        blocking.check("hot", 1).unwrap().remaining,
        3,
        "single after the move"
    );
    let batch = blocking.check_many(&[("warm", 1), ("hot", 3)]).unwrap();
    assert_eq!((batch[0].remaining, batch[1].remaining), (6, 0));
    let denied = rt.block_on(asynced.check("hot", 1)).unwrap();
    assert!(!denied.allowed, "{denied:?}");
    assert_eq!(denied.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(rt.block_on(asynced.refund("hot", 4)).unwrap().remaining, 4);
    assert_eq!(blocking.peek("hot").unwrap().remaining, 4);
    // The state lives on the new master now.
    let mut c = redis_cluster::node_conn(&to);
    let n: i64 = redis::cmd("EXISTS")
        .arg(blocking.redis_key("hot"))
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1, "hot's state is on {to}");
    println!("cluster: slot {slot} moved to {to}; limits exact before and after");
}

/// A private 3-master cluster (`scripts/redis_cluster`), stopped on drop.
struct PrivateCluster {
    dir: std::path::PathBuf,
    seeds: String,
}

impl PrivateCluster {
    fn start() -> PrivateCluster {
        let dir = std::env::temp_dir().join(unique("lwrl-cluster"));
        let out = std::process::Command::new("scripts/redis_cluster")
            .arg("up")
            .arg(&dir)
            .output()
            .expect("scripts/redis_cluster");
        let seeds = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let c = PrivateCluster { dir, seeds };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        c
    }

    /// The pid of the master at `addr` (`host:port`).
    fn pid(&self, addr: &str) -> String {
        let port = addr.rsplit_once(':').unwrap().1;
        std::fs::read_to_string(self.dir.join(port).join("redis.pid"))
            .unwrap()
            .trim()
            .to_owned()
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        for n in redis_cluster::cluster_nodes(&redis_cluster::first_seed(&self.seeds)) {
            let _ = std::process::Command::new("kill")
                .args(["-CONT", &self.pid(&n.addr)])
                .status();
        }
        let _ = std::process::Command::new("scripts/redis_cluster")
            .arg("down")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A hung master (SIGSTOP) on a private cluster: the calls for its slots
/// get the failure policy's answer within the timeouts (fail closed: a
/// typed error; local: limited in-process), never a hang; after SIGCONT
/// Redis answers again.
#[test]
fn cluster_hung_master_gets_the_failure_policy() {
    if cluster().is_none() {
        return;
    }
    let private = PrivateCluster::start();
    let seed = redis_cluster::first_seed(&private.seeds);
    let e = Endpoint::cluster_from_list(&private.seeds);
    let build = |policy| {
        builder(&e, "hung")
            .rate(1.0)
            .burst(3)
            .failure_policy(policy)
            .connect_timeout(Duration::from_millis(200))
            .response_timeout(Duration::from_millis(200))
    };
    let closed = build(latchwork::ratelimit::FailurePolicy::FailClosed)
        .build_blocking()
        .unwrap();
    let local = build(latchwork::ratelimit::FailurePolicy::Local)
        .build_blocking()
        .unwrap();
    let rt = runtime();
    let async_closed = rt
        .block_on(build(latchwork::ratelimit::FailurePolicy::FailClosed).build())
        .unwrap();
    assert!(closed.check("k", 1).unwrap().allowed);
    assert!(local.check("k", 1).unwrap().allowed);
    assert!(rt.block_on(async_closed.check("k", 1)).unwrap().allowed);

    let slot = redis_cluster::keyslot(&seed, &closed.redis_key("k"));
    let owner = redis_cluster::cluster_nodes(&seed)
        .into_iter()
        .find(|n| n.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)))
        .unwrap();
    let pid = private.pid(&owner.addr);
    let kill = |sig: &str| {
        assert!(std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    };
    kill("-STOP");
    for _ in 0..2 {
        let t = Instant::now();
        let r = closed.check("k", 1);
        assert!(matches!(r, Err(Error::Unavailable { .. })), "{r:?}");
        let r = rt.block_on(async_closed.check("k", 1));
        assert!(matches!(r, Err(Error::Unavailable { .. })), "{r:?}");
        assert!(local.check("k", 1).is_ok());
        println!(
            "cluster: three calls against the hung master in {:?}",
            t.elapsed()
        );
        assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    }
    assert!(local.fallbacks() >= 2);
    kill("-CONT");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match closed.check("k", 0) {
            Ok(_) => break,
            Err(Error::Unavailable { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => panic!("after SIGCONT: {e}"),
        }
    }
    println!("cluster: master {} hung and resumed", owner.addr);
}
