#![cfg(all(not(loom), feature = "redis", feature = "tokio"))]
//! `RedisQueue` against real Redis: the same suite on a single node
//! (`LATCHWORK_REDIS_URL`) and on a cluster (`LATCHWORK_REDIS_CLUSTER_URLS`,
//! from `scripts/redis_cluster up`), each when set; `SKIPPED: ...` when
//! neither is. The process and fault tests are in `queue_redis_faults.rs`.
//!
//! Time passes only through leases and delays of a few hundred
//! milliseconds on Redis's clock; no test sleeps to wait for it.
#[path = "common/queue_redis_procs.rs"]
mod procs;
#[path = "common/redis_server.rs"]
mod redis_server;

use latchwork::queue::{
    Endpoint, EnqueueOptions, Enqueued, Level, Nacked, Priority, RedisError, RedisQueue,
    MAX_IDEMPOTENCY_KEY_LEN, MAX_PAYLOAD_LEN,
};
use latchwork::retry::{Backoff, Jitter};
use redis_server::{endpoints, unique};
use std::time::{Duration, Instant};

const LEASE: Duration = Duration::from_millis(300);
const WAIT: Duration = Duration::from_secs(5);

async fn queue(endpoint: &Endpoint, name: &str) -> RedisQueue {
    RedisQueue::builder(&unique(name))
        .endpoint(endpoint.clone())
        .backoff(
            Backoff::constant(Duration::from_millis(200))
                .jitter(Jitter::None)
                .build()
                .unwrap(),
        )
        .max_attempts(3)
        .build()
        .await
        .unwrap()
}

fn opts() -> EnqueueOptions {
    EnqueueOptions::new()
}

#[test]
fn send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RedisQueue>();
    assert_send_sync::<latchwork::queue::BlockingRedisQueue>();
    assert_send_sync::<latchwork::queue::RedisWorker>();
}

#[tokio::test]
async fn priority_then_fifo() {
    for (label, e) in endpoints("priority_then_fifo") {
        let q = queue(&e, "order").await;
        let plan = [
            (Priority::Low, "l1"),
            (Priority::Critical, "c1"),
            (Priority::High, "h1"),
            (Priority::Critical, "c2"),
            (Priority::Medium, "m1"),
            (Priority::Low, "l2"),
        ];
        for (p, name) in plan {
            q.enqueue(name, p, opts()).await.unwrap();
        }
        q.enqueue("lvl63", Level::new(63).unwrap(), opts())
            .await
            .unwrap();
        let mut got = Vec::new();
        while let Some(job) = q.try_reserve(LEASE).await.unwrap() {
            got.push(String::from_utf8(job.payload().to_vec()).unwrap());
            q.ack(&job).await.unwrap();
        }
        assert_eq!(
            got,
            ["c1", "c2", "h1", "m1", "l1", "l2", "lvl63"],
            "{label}"
        );
    }
}

#[tokio::test]
async fn delay_and_run_at() {
    for (label, e) in endpoints("delay_and_run_at") {
        let q = queue(&e, "delay").await;
        q.enqueue("later", Priority::High, opts().delay(LEASE))
            .await
            .unwrap();
        let past = std::time::SystemTime::now() - Duration::from_secs(60);
        q.enqueue("now", Priority::Low, opts().run_at(past))
            .await
            .unwrap();
        let first = q.try_reserve(LEASE).await.unwrap().unwrap();
        assert_eq!(
            first.payload(),
            b"now",
            "{label}: the delayed job is not ready yet"
        );
        q.ack(&first).await.unwrap();
        assert!(q.try_reserve(LEASE).await.unwrap().is_none(), "{label}");
        assert_eq!(q.stats().await.unwrap().delayed, 1, "{label}");
        let start = Instant::now();
        let later = q
            .reserve(LEASE, WAIT)
            .await
            .unwrap()
            .expect("due within the wait");
        assert_eq!(later.payload(), b"later", "{label}");
        assert!(start.elapsed() < WAIT, "{label}");
        q.ack(&later).await.unwrap();
    }
}

#[tokio::test]
async fn idempotency_key_within_the_window() {
    for (label, e) in endpoints("idempotency_key_within_the_window") {
        let name = unique("idem");
        let q = RedisQueue::builder(&name)
            .endpoint(e.clone())
            .idempotency_window(Duration::from_secs(60))
            .build()
            .await
            .unwrap();
        let a = q
            .enqueue("x", Priority::High, opts().idempotency_key("order-7"))
            .await
            .unwrap();
        let b = q
            .enqueue("y", Priority::Low, opts().idempotency_key("order-7"))
            .await
            .unwrap();
        assert!(matches!(a, Enqueued::New(_)), "{label}");
        assert_eq!(b, Enqueued::Duplicate(a.id()), "{label}");
        let c = q
            .enqueue("z", Priority::High, opts().idempotency_key("order-8"))
            .await
            .unwrap();
        assert!(!c.is_duplicate(), "{label}");
        let s = q.stats().await.unwrap();
        assert_eq!(s.ready_total(), 2, "{label}");
        // Still a duplicate after the job completed (the window, not the
        // job's life, bounds the key).
        let job = q.try_reserve(LEASE).await.unwrap().unwrap();
        q.ack(&job).await.unwrap();
        let d = q
            .enqueue("x", Priority::High, opts().idempotency_key("order-7"))
            .await
            .unwrap();
        assert!(d.is_duplicate(), "{label}");
        // The key expires with the window (checked on the server, not by
        // waiting 60 s).
        let ttl = procs::pttl(&e, &format!("{}:idem:order-7", q.base_key())).await;
        assert!((1..=60_000).contains(&ttl), "{label}: pttl {ttl}");
    }
}

#[tokio::test]
async fn lease_expiry_redelivers_and_refuses_the_stale_ack() {
    for (label, e) in endpoints("lease_expiry") {
        let q = queue(&e, "lease").await;
        let id = q
            .enqueue("work", Priority::Medium, opts())
            .await
            .unwrap()
            .id();
        let first = q.try_reserve(LEASE).await.unwrap().unwrap();
        assert_eq!((first.id(), first.attempt()), (id, 1), "{label}");
        // The second reserve waits on Redis's clock until the lease runs out.
        let start = Instant::now();
        let second = q.reserve(LEASE, WAIT).await.unwrap().expect("redelivered");
        assert!(start.elapsed() < WAIT, "{label}");
        assert_eq!((second.id(), second.attempt()), (id, 2), "{label}");
        assert_eq!(
            q.ack(&first).await,
            Err(RedisError::LeaseLost { job: id }),
            "{label}"
        );
        assert!(matches!(
            q.nack(&first, "late").await,
            Err(RedisError::LeaseLost { .. })
        ));
        let mut stale = first.clone();
        assert!(matches!(
            q.extend(&mut stale, LEASE).await,
            Err(RedisError::LeaseLost { .. })
        ));
        q.ack(&second).await.unwrap();
        assert_eq!(
            q.ack(&second).await,
            Err(RedisError::UnknownJob { job: id }),
            "{label}"
        );
        let s = q.stats().await.unwrap();
        assert_eq!(
            (s.ready_total(), s.leased, s.dead, s.oldest_age),
            (0, 0, 0, None),
            "{label}"
        );
    }
}

#[tokio::test]
async fn ack_and_reserve_in_one_trip() {
    for (label, e) in endpoints("ack_and_reserve") {
        let q = queue(&e, "chain").await;
        q.enqueue("a", Priority::High, opts()).await.unwrap();
        q.enqueue("b", Priority::Low, opts()).await.unwrap();
        let a = q.try_reserve(LEASE).await.unwrap().unwrap();
        let (acked, b) = q.ack_and_reserve(&a, LEASE).await.unwrap();
        acked.unwrap();
        let b = b.expect("the next job");
        assert_eq!(b.payload(), b"b", "{label}");
        // A stale ack is refused, and the reserve still runs (nothing left).
        let (acked, none) = q.ack_and_reserve(&a, LEASE).await.unwrap();
        assert_eq!(
            acked,
            Err(RedisError::UnknownJob { job: a.id() }),
            "{label}"
        );
        assert!(none.is_none(), "{label}");
        let (acked, none) = q.ack_and_reserve(&b, LEASE).await.unwrap();
        assert_eq!((acked, none), (Ok(()), None), "{label}");
    }
}

#[tokio::test]
async fn script_flush_is_recovered_without_running_twice() {
    for (label, e) in endpoints("script_flush") {
        let q = queue(&e, "flush").await;
        q.enqueue("a", Priority::High, opts()).await.unwrap();
        procs::script_flush(&e);
        // NOSCRIPT: resent once as EVAL; the enqueue happened exactly once.
        q.enqueue("b", Priority::High, opts()).await.unwrap();
        assert_eq!(q.stats().await.unwrap().ready_total(), 2, "{label}");
        procs::script_flush(&e);
        let a = q.try_reserve(LEASE).await.unwrap().unwrap();
        procs::script_flush(&e);
        q.ack(&a).await.unwrap();
        let s = q.stats().await.unwrap();
        assert_eq!((s.ready_total(), s.leased), (1, 0), "{label}");
    }
}

#[tokio::test]
async fn extend_keeps_the_job() {
    for (label, e) in endpoints("extend_keeps_the_job") {
        let q = queue(&e, "extend").await;
        q.enqueue("long", Priority::High, opts()).await.unwrap();
        let mut job = q.try_reserve(LEASE).await.unwrap().unwrap();
        let before = job.lease_deadline();
        q.extend(&mut job, Duration::from_secs(30)).await.unwrap();
        assert!(job.lease_deadline() > before, "{label}");
        // Past the first lease (a waiting reserve), nothing is redelivered.
        assert!(
            q.reserve(LEASE, LEASE * 2).await.unwrap().is_none(),
            "{label}"
        );
        q.ack(&job).await.unwrap();
    }
}

#[tokio::test]
async fn nack_backs_off_then_buries_and_requeue_revives() {
    for (label, e) in endpoints("nack_backoff_dead_letter") {
        let q = queue(&e, "nack").await; // 3 attempts, constant 200 ms
        let id = q
            .enqueue("flaky", Priority::High, opts())
            .await
            .unwrap()
            .id();
        for attempt in 1..=3u32 {
            let job = q.reserve(LEASE, WAIT).await.unwrap().expect("retried");
            assert_eq!((job.id(), job.attempt()), (id, attempt), "{label}");
            if attempt < 3 {
                assert_eq!(
                    q.nack(&job, "boom").await.unwrap(),
                    Nacked::Retry(Duration::from_millis(200)),
                    "{label}"
                );
                // The retry waits out its backoff.
                assert!(q.try_reserve(LEASE).await.unwrap().is_none(), "{label}");
                assert_eq!(q.stats().await.unwrap().delayed, 1, "{label}");
            } else {
                assert!(job.is_last_attempt());
                assert_eq!(q.nack(&job, "boom for good").await.unwrap(), Nacked::Dead);
                assert_eq!(
                    q.ack(&job).await,
                    Err(RedisError::Dead { job: id }),
                    "{label}"
                );
            }
        }
        let dead = q.dead(0, 10).await.unwrap();
        assert_eq!(dead.len(), 1, "{label}");
        assert_eq!(
            (dead[0].id, dead[0].attempts, dead[0].reason.as_str()),
            (id, 3, "boom for good")
        );
        assert_eq!(dead[0].payload, b"flaky");
        assert_eq!(q.stats().await.unwrap().dead, 1, "{label}");
        assert!(q.requeue_dead(id).await.unwrap(), "{label}");
        assert!(!q.requeue_dead(id).await.unwrap(), "{label}: only once");
        let again = q.try_reserve(LEASE).await.unwrap().unwrap();
        assert_eq!((again.id(), again.attempt()), (id, 1), "{label}");
        q.ack(&again).await.unwrap();
        assert!(q.dead(0, 10).await.unwrap().is_empty(), "{label}");
    }
}

#[tokio::test]
async fn lease_running_out_on_the_last_attempt_buries() {
    for (label, e) in endpoints("lease_out_last_attempt") {
        let q = queue(&e, "lastlease").await;
        let id = q
            .enqueue("hang", Priority::Low, opts().max_attempts(1))
            .await
            .unwrap()
            .id();
        let job = q.try_reserve(LEASE).await.unwrap().unwrap();
        assert!(
            q.reserve(LEASE, LEASE * 3).await.unwrap().is_none(),
            "{label}"
        );
        assert_eq!(
            q.ack(&job).await,
            Err(RedisError::Dead { job: id }),
            "{label}"
        );
        let dead = q.dead(0, 1).await.unwrap();
        assert_eq!(
            dead[0].reason, "lease expired on the last attempt",
            "{label}"
        );
    }
}

#[tokio::test]
async fn release_hands_back_without_an_attempt() {
    for (label, e) in endpoints("release") {
        let q = queue(&e, "release").await;
        q.enqueue("j", Priority::High, opts()).await.unwrap();
        let job = q.try_reserve(LEASE).await.unwrap().unwrap();
        q.release(&job).await.unwrap();
        let again = q.try_reserve(LEASE).await.unwrap().unwrap();
        assert_eq!(again.attempt(), 1, "{label}");
        q.ack(&again).await.unwrap();
    }
}

#[tokio::test]
async fn stats_count_every_state() {
    for (label, e) in endpoints("stats") {
        let q = queue(&e, "stats").await;
        for _ in 0..2 {
            q.enqueue("a", Priority::Critical, opts()).await.unwrap();
        }
        q.enqueue("b", Priority::Low, opts()).await.unwrap();
        q.enqueue("c", Priority::Low, opts().delay(Duration::from_secs(60)))
            .await
            .unwrap();
        let held = q
            .try_reserve(Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        let s = q.stats().await.unwrap();
        assert_eq!(
            (s.ready[0], s.ready[48], s.ready_total()),
            (1, 1, 2),
            "{label}"
        );
        assert_eq!((s.delayed, s.leased, s.dead), (1, 1, 0), "{label}");
        assert!(s.oldest_age.is_some(), "{label}");
        q.ack(&held).await.unwrap();
    }
}

#[tokio::test]
async fn bad_input_is_a_typed_error() {
    for (label, e) in endpoints("bad_input") {
        let q = queue(&e, "bad").await;
        let dur = |r: Result<_, RedisError>, p: &str| {
            assert!(
                matches!(r, Err(RedisError::DurationOutOfRange { parameter, .. }) if parameter == p),
                "{label}: {p}"
            )
        };
        dur(q.try_reserve(Duration::ZERO).await.map(drop), "lease");
        dur(q.try_reserve(Duration::MAX).await.map(drop), "lease");
        dur(
            q.reserve(Duration::MAX, Duration::MAX).await.map(drop),
            "lease",
        );
        dur(
            q.enqueue("x", Priority::Low, opts().delay(Duration::MAX))
                .await
                .map(drop),
            "delay",
        );
        let far = std::time::SystemTime::now() + Duration::from_secs(400 * 24 * 3600);
        dur(
            q.enqueue("x", Priority::Low, opts().run_at(far))
                .await
                .map(drop),
            "run_at",
        );
        let big = vec![0u8; MAX_PAYLOAD_LEN + 1];
        assert!(matches!(
            q.enqueue(&big, Priority::Low, opts()).await,
            Err(RedisError::PayloadTooLarge { .. })
        ));
        for key in [
            String::new(),
            "k".repeat(1 << 20),
            "k".repeat(MAX_IDEMPOTENCY_KEY_LEN + 1),
        ] {
            assert!(matches!(
                q.enqueue("x", Priority::Low, opts().idempotency_key(key))
                    .await,
                Err(RedisError::InvalidName {
                    parameter: "idempotency_key",
                    ..
                })
            ));
        }
        assert_eq!(
            q.enqueue("x", Priority::Low, opts().max_attempts(0)).await,
            Err(RedisError::ZeroAttempts)
        );
        // Zero delay is "now"; u32::MAX attempts is "retry forever".
        q.enqueue(
            "x",
            Priority::Low,
            opts().delay(Duration::ZERO).max_attempts(u32::MAX),
        )
        .await
        .unwrap();
        let job = q.try_reserve(LEASE).await.unwrap().unwrap();
        assert_eq!(job.max_attempts(), u32::MAX, "{label}");
        assert!(matches!(q.nack(&job, "again").await, Ok(Nacked::Retry(_))));
        let mut job = q.reserve(LEASE, WAIT).await.unwrap().unwrap();
        dur(q.extend(&mut job, Duration::ZERO).await, "lease");
        q.ack(&job).await.unwrap();
        // Builder input.
        let b = || RedisQueue::builder("ok").endpoint(e.clone());
        assert!(matches!(
            RedisQueue::builder("a{b}")
                .endpoint(e.clone())
                .build()
                .await,
            Err(RedisError::InvalidName {
                parameter: "name",
                ..
            })
        ));
        assert!(matches!(
            RedisQueue::builder("").endpoint(e.clone()).build().await,
            Err(RedisError::InvalidName {
                parameter: "name",
                ..
            })
        ));
        assert_eq!(
            b().max_attempts(0).build().await.err(),
            Some(RedisError::ZeroAttempts)
        );
        for t in [Duration::ZERO, Duration::MAX] {
            assert!(matches!(
                b().response_timeout(t).build().await,
                Err(RedisError::DurationOutOfRange { .. })
            ));
            assert!(matches!(
                b().idempotency_window(t).build().await,
                Err(RedisError::DurationOutOfRange { .. })
            ));
        }
        assert!(matches!(
            RedisQueue::builder("x").build().await,
            Err(RedisError::MissingParameter { .. })
        ));
        assert!(matches!(
            RedisQueue::builder("x").url("not a url").build().await,
            Err(RedisError::InvalidConnection { .. })
        ));
        assert!(matches!(
            q.worker()
                .concurrency(0)
                .start(|_| async { Ok::<(), String>(()) }),
            Err(RedisError::InvalidName {
                parameter: "concurrency",
                ..
            })
        ));
    }
}

#[test]
fn blocking_queue_round_trip() {
    for (label, e) in endpoints("blocking_queue_round_trip") {
        let q = RedisQueue::builder(&unique("blocking"))
            .endpoint(e.clone())
            .build_blocking()
            .unwrap();
        q.enqueue("b", Priority::Low, opts()).unwrap();
        q.enqueue("a", Priority::High, opts()).unwrap();
        let a = q.reserve(LEASE, WAIT).unwrap().unwrap();
        assert_eq!(a.payload(), b"a", "{label}");
        q.ack(&a).unwrap();
        let b = q.try_reserve(LEASE).unwrap().unwrap();
        q.ack(&b).unwrap();
        let start = Instant::now();
        assert!(q
            .reserve(LEASE, Duration::from_millis(100))
            .unwrap()
            .is_none());
        assert!(start.elapsed() < Duration::from_secs(2), "{label}");
    }
}

#[cfg(feature = "serde")]
#[tokio::test]
async fn json_payloads() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Email {
        to: String,
    }
    for (label, e) in endpoints("json_payloads") {
        let q = queue(&e, "json").await;
        q.enqueue_json(&Email { to: "a@b".into() }, Priority::High, opts())
            .await
            .unwrap();
        let job = q.try_reserve(LEASE).await.unwrap().unwrap();
        assert_eq!(
            job.json::<Email>().unwrap(),
            Email { to: "a@b".into() },
            "{label}"
        );
        assert!(matches!(job.json::<u32>(), Err(RedisError::Codec { .. })));
        q.ack(&job).await.unwrap();
    }
}
