#![cfg(all(not(loom), feature = "redis", feature = "tokio"))]
//! `RedisQueue` under faults: worker processes killed mid-job, a fleet of
//! worker processes, a Redis stopped with SIGSTOP, a Redis killed and
//! restarted from its append-only file, the queue's cluster slot moved to
//! another master, the worker runner's handlers panicking and outliving
//! shutdown. The process and runner tests run against
//! `LATCHWORK_REDIS_URL` and `LATCHWORK_REDIS_CLUSTER_URLS` (each when
//! set), the slot move against the cluster; the SIGSTOP and AOF tests
//! start a private `redis-server`.
#[path = "common/queue_redis_procs.rs"]
mod procs;
#[path = "common/redis_cluster.rs"]
mod redis_cluster;
#[path = "common/redis_server.rs"]
mod redis_server;

use latchwork::queue::{EnqueueOptions, Level, Priority, RedisError, RedisQueue};
use latchwork::retry::Backoff;
use redis_server::{endpoints, unique, Server};
use std::time::{Duration, Instant};

const LEASE: Duration = Duration::from_millis(300);

fn opts() -> EnqueueOptions {
    EnqueueOptions::new()
}

// ---- processes ----

/// The child half of the crash and fleet tests; a no-op unless the parent
/// set `LATCHWORK_QUEUE_CHILD`.
#[test]
fn child_process() {
    procs::child_main();
}

#[test]
fn crash_mid_job_loses_nothing_and_completes_nothing_twice() {
    for (label, e) in endpoints("crash_mid_job") {
        procs::crash_test(label, &e);
    }
}

#[test]
fn fleet_of_processes_acks_every_job_once() {
    for (label, e) in endpoints("fleet") {
        procs::fleet_test(label, &e);
    }
}

// ---- faults on a private server ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstop_gives_typed_errors_in_time_and_sigcont_resumes() {
    let Some(server) = Server::start("sigstop", &["--appendonly", "no"]) else {
        return;
    };
    let q = RedisQueue::builder("stop")
        .url(&server.url())
        .response_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    q.enqueue("before", Priority::High, opts()).await.unwrap();
    server.signal("STOP");
    for _ in 0..3 {
        let start = Instant::now();
        let r = q.enqueue("during", Priority::High, opts()).await;
        assert!(matches!(r, Err(RedisError::Unavailable { .. })), "{r:?}");
        let r = q.reserve(LEASE, Duration::from_secs(1)).await;
        assert!(matches!(r, Err(RedisError::Unavailable { .. })), "{r:?}");
        // Each call is bounded by the response timeout plus the
        // connection manager's reconnect tries.
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
    let blocking = RedisQueue::builder("stop")
        .url(&server.url())
        .response_timeout(Duration::from_millis(300));
    // Connecting to a stopped server times out too (the accept queue
    // takes the connection, nothing answers).
    let start = Instant::now();
    assert!(blocking.build_blocking().is_err());
    assert!(start.elapsed() < Duration::from_secs(5));
    server.signal("CONT");
    let start = Instant::now();
    let job = loop {
        match q.try_reserve(LEASE).await {
            Ok(Some(job)) => break job,
            Ok(None) => panic!("the job enqueued before SIGSTOP is gone"),
            Err(e) => {
                assert!(e.is_transient(), "{e:?}");
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "no recovery: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(job.payload(), b"before");
    q.ack(&job).await.unwrap();
}

#[test]
fn aof_restart_loses_no_acknowledged_enqueue() {
    // `appendfsync always`: each write is fsynced before the reply, so an
    // acknowledged enqueue survives even a power loss. (`everysec`
    // survives a killed redis-server as well, since its write(2) happens
    // before the reply, but not a machine crash.)
    let Some(mut server) = Server::start(
        "aof_restart",
        &["--appendonly", "yes", "--appendfsync", "always"],
    ) else {
        return;
    };
    let build = |url: &str| {
        RedisQueue::builder("aof")
            .url(url)
            .build_blocking()
            .unwrap()
    };
    let q = build(&server.url());
    let mut ids = Vec::new();
    for i in 0..300u32 {
        let level = Level::new((i % 4) as u8).unwrap();
        ids.push(q.enqueue(i.to_string(), level, opts()).unwrap().id());
    }
    let leased = q.try_reserve(Duration::from_secs(600)).unwrap().unwrap();
    drop(q);
    server.crash_and_restart(); // SIGKILL, then the same dir
    let q = build(&server.url());
    let s = q.stats().unwrap();
    assert_eq!((s.ready_total(), s.leased), (299, 1), "{s}");
    // The lease taken before the crash still counts: its ack is accepted.
    q.ack(&leased).unwrap();
    let mut seen = vec![leased.id()];
    while let Some(job) = q.try_reserve(LEASE).unwrap() {
        seen.push(job.id());
        q.ack(&job).unwrap();
    }
    seen.sort_unstable();
    assert_eq!(seen, ids);
}

// ---- cluster: the queue's slot moves to another master ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_slot_moves_and_the_queue_follows() {
    let Ok(list) = std::env::var("LATCHWORK_REDIS_CLUSTER_URLS") else {
        println!("SKIPPED: cluster_slot_moves: set LATCHWORK_REDIS_CLUSTER_URLS");
        return;
    };
    let seeds = latchwork::queue::Endpoint::cluster_from_list(&list);
    let q = RedisQueue::builder(&redis_server::unique("reshard"))
        .endpoint(seeds)
        .build()
        .await
        .unwrap();
    for i in 0..50u32 {
        q.enqueue(i.to_string(), Level::new((i % 4) as u8).unwrap(), opts())
            .await
            .unwrap();
    }
    let held = q
        .try_reserve(Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let seed = list.split(',').next().unwrap().trim().to_owned();
    let slot = redis_cluster::keyslot(&seed, q.base_key());
    let to = redis_cluster::move_slot(&seed, slot);
    // The client learns the new owner from MOVED; a call during the
    // topology refresh may fail transiently, never wrongly.
    let start = Instant::now();
    let mut seen = 1;
    let mut acked = vec![held.id()];
    loop {
        match q.ack(&held).await {
            Ok(()) => break,
            Err(e) if e.is_transient() && start.elapsed() < Duration::from_secs(10) => {}
            Err(e) => panic!("ack after the move: {e}"),
        }
    }
    while let Some(job) = q.try_reserve(LEASE).await.unwrap() {
        q.ack(&job).await.unwrap();
        acked.push(job.id());
        seen += 1;
    }
    assert_eq!(seen, 50, "every job survived the move to {to}");
    acked.sort_unstable();
    acked.dedup();
    assert_eq!(acked.len(), 50);
    let s = q.stats().await.unwrap();
    assert_eq!((s.ready_total(), s.leased, s.dead), (0, 0, 0));
    println!("cluster: slot {slot} moved to {to}; 50 jobs completed after the move");
}

// ---- the worker runner: panics, failures, shutdown ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_runner_isolates_panics_and_shuts_down() {
    for (label, e) in endpoints("worker_runner") {
        let q = RedisQueue::builder(&unique("runner"))
            .endpoint(e.clone())
            .max_attempts(2)
            .backoff(Backoff::constant(Duration::from_millis(1)).build().unwrap())
            .build()
            .await
            .unwrap();
        for i in 0..60u32 {
            let payload = match i % 20 {
                0 => "panic",
                1 => "fail",
                _ => "ok",
            };
            q.enqueue(payload, Level::new((i % 4) as u8 * 16).unwrap(), opts())
                .await
                .unwrap();
        }
        let worker = q
            .worker()
            .concurrency(8)
            .lease(Duration::from_secs(10))
            .start(|job| async move {
                match job.payload() {
                    b"panic" => panic!("handler bug"),
                    b"fail" => Err("refused"),
                    _ => Ok(()),
                }
            })
            .unwrap();
        // Wait on the queue, not on time: done when nothing is pending.
        let start = Instant::now();
        loop {
            let s = q.stats().await.unwrap();
            if s.ready_total() + s.delayed + s.leased == 0 {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{label}: {s}");
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stats = worker.shutdown().await;
        assert_eq!(stats.completed, 54, "{label}: {stats:?}");
        assert_eq!(
            (stats.panicked, stats.dead, stats.failed),
            (6, 6, 12),
            "{label}: {stats:?}"
        );
        assert_eq!(q.dead(0, 100).await.unwrap().len(), 6, "{label}");
        assert!(q
            .dead(0, 100)
            .await
            .unwrap()
            .iter()
            .any(|d| d.reason == "panicked: handler bug"));

        // Shutdown with a handler past the grace period: released, not lost.
        q.enqueue("slow", Priority::High, opts()).await.unwrap();
        let worker = q
            .worker()
            .shutdown_grace(Duration::from_millis(100))
            .start(|_| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<(), String>(())
            })
            .unwrap();
        while q.stats().await.unwrap().leased == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stats = worker.shutdown().await;
        assert_eq!(stats.released, 1, "{label}: {stats:?}");
        let job = q
            .try_reserve(LEASE)
            .await
            .unwrap()
            .expect("released job is ready");
        assert_eq!((job.payload(), job.attempt()), (&b"slow"[..], 1), "{label}");
        q.ack(&job).await.unwrap();
    }
}
