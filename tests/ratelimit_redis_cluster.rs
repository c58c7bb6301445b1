#![cfg(all(not(loom), feature = "redis", feature = "tokio"))]
//! The Redis limiter on a Redis Cluster (`LATCHWORK_REDIS_CLUSTER_URLS`,
//! seeds from `scripts/redis_cluster up`; `SKIPPED: ...` without): one
//! limiter's keys spread over every master; a key's slot moved to another
//! master mid-use (`MOVED`) with exact limits before and after; a hung
//! master (on a private cluster) answered by the failure policy.
//!
//! The limiter's whole suite on the cluster is in
//! `tests/ratelimit_redis_endpoints.rs`.
#[path = "common/redis_cluster.rs"]
mod redis_cluster;
#[path = "common/redis_limiter.rs"]
mod redis_limiter;
#[path = "common/redis_server.rs"]
mod redis_server;

use latchwork::clock::ManualClock;
use latchwork::ratelimit::{Endpoint, Error, RedisLimiter};
use redis_limiter::{builder, runtime};
use redis_server::unique;
use std::time::{Duration, Instant};

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
