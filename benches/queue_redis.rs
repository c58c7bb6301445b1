//! `RedisQueue` against the plain reliable queue on Redis, same server,
//! same run: `LPUSH` to enqueue, `BLMOVE src processing` to reserve,
//! `LREM processing` to acknowledge (the pattern Redis's own docs give).
//!
//! Per job each side makes three round trips: ours `enqueue`, `reserve`,
//! `ack` (one `EVALSHA` each), the anchor `LPUSH`, `BLMOVE`, `LREM`. Ours
//! does strictly more per trip: priorities (4 levels here), leases with
//! tokens, attempts, the age index.
//!
//! - `enqueue/W`: W tokio tasks enqueue `LATCHWORK_BENCH_JOBS` jobs (64-byte
//!   payloads; default 20,000) in all: jobs/s.
//! - `reserve+ack/W`: W tasks drain them, each reserve followed by its
//!   ack: jobs/s (ours drains half the jobs this way, the other half
//!   with the next row).
//! - `ack_and_reserve/W`: ours with the worker loop's one-trip form (ack
//!   this job and reserve the next in one script: 2 round trips per job
//!   with the enqueue), against the same plain reserve+ack figure.
//!
//! W is 1, 8 and 64; every task has its own connection on both sides (a
//! reliable-queue worker blocks in `BLMOVE`, which a shared connection
//! cannot do). Needs a server in `LATCHWORK_REDIS_URL`; without it the
//! bench prints that it skipped.
//!
//! ```text
//! LATCHWORK_REDIS_URL=redis://127.0.0.1:6390 cargo bench --features redis,tokio --bench queue_redis
//! ```
use latchwork::queue::{EnqueueOptions, Level, RedisQueue};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LEASE: Duration = Duration::from_secs(300);

fn main() {
    let Ok(url) = std::env::var("LATCHWORK_REDIS_URL") else {
        println!("SKIPPED: queue_redis bench: set LATCHWORK_REDIS_URL");
        return;
    };
    let jobs: i64 = std::env::var("LATCHWORK_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("queue_redis: {jobs} jobs per cell, 64-byte payloads, server {url}");
    println!(
        "round trips per job: RedisQueue 3 (enqueue, reserve, ack); plain 3 (LPUSH, BLMOVE, LREM)"
    );
    println!(
        "{:<20} {:>14} {:>14} {:>7}",
        "workload", "RedisQueue/s", "plain/s", "ratio"
    );
    for workers in [1usize, 8, 64] {
        let (ours_enq, ours_drain, ours_chained) = rt.block_on(ours(&url, workers, jobs));
        let (plain_enq, plain_drain) = rt.block_on(plain(&url, workers, jobs));
        for (name, a, b) in [
            ("enqueue", ours_enq, plain_enq),
            ("reserve+ack", ours_drain, plain_drain),
            ("ack_and_reserve", ours_chained, plain_drain),
        ] {
            println!(
                "{:<20} {:>14.0} {:>14.0} {:>6.2}x",
                format!("{name}/{workers}"),
                a,
                b,
                a / b
            );
        }
    }
}

/// Runs `f(worker, claim)` on `workers` tasks until `jobs` claims are made;
/// returns jobs/s.
async fn drive<S, F, Fut>(states: Vec<S>, jobs: i64, f: F) -> f64
where
    S: Send + 'static,
    F: Fn(S, i64) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = S> + Send,
{
    let left = Arc::new(AtomicI64::new(jobs));
    let start = Instant::now();
    let tasks: Vec<_> = states
        .into_iter()
        .map(|mut s| {
            let left = left.clone();
            tokio::spawn(async move {
                loop {
                    // Relaxed: a ticket counter; nothing is published by it.
                    let n = left.fetch_sub(1, Ordering::Relaxed);
                    if n <= 0 {
                        return;
                    }
                    s = f(s, n).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    jobs as f64 / start.elapsed().as_secs_f64()
}

async fn ours(url: &str, workers: usize, jobs: i64) -> (f64, f64, f64) {
    let name = format!("bench-{}-{workers}", std::process::id());
    let mut queues = Vec::new();
    for _ in 0..workers {
        queues.push(
            RedisQueue::builder(&name)
                .url(url)
                .response_timeout(Duration::from_secs(10))
                .build()
                .await
                .unwrap(),
        );
    }
    let enq = drive(queues.clone(), jobs, |q, n| async move {
        let level = Level::new((n % 4) as u8 * 16).unwrap();
        q.enqueue([b'x'; 64], level, EnqueueOptions::new())
            .await
            .unwrap();
        q
    })
    .await;
    let drain = drive(queues.clone(), jobs / 2, |q, _| async move {
        let job = q
            .try_reserve(LEASE)
            .await
            .unwrap()
            .expect("a job per ticket");
        q.ack(&job).await.unwrap();
        q
    })
    .await;
    let chained = chained(queues, jobs - jobs / 2).await;
    (enq, drain, chained)
}

/// `ack_and_reserve`: each worker reserves once, then acks and reserves
/// in one round trip per job, and acks its last job.
async fn chained(queues: Vec<RedisQueue>, jobs: i64) -> f64 {
    let left = Arc::new(AtomicI64::new(jobs));
    let start = Instant::now();
    let tasks: Vec<_> = queues
        .into_iter()
        .map(|q| {
            let left = left.clone();
            tokio::spawn(async move {
                // Relaxed: a ticket counter; nothing is published by it.
                if left.fetch_sub(1, Ordering::Relaxed) <= 0 {
                    return;
                }
                let mut job = q.try_reserve(LEASE).await.unwrap().expect("a job");
                while left.fetch_sub(1, Ordering::Relaxed) > 0 {
                    let (acked, next) = q.ack_and_reserve(&job, LEASE).await.unwrap();
                    acked.unwrap();
                    job = next.expect("a job per ticket");
                }
                q.ack(&job).await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    jobs as f64 / start.elapsed().as_secs_f64()
}

async fn plain(url: &str, workers: usize, jobs: i64) -> (f64, f64) {
    let client = redis::Client::open(url).unwrap();
    let src = format!("bench-plain-{}-{workers}", std::process::id());
    let processing = format!("{src}:processing");
    let mut conns = Vec::new();
    for _ in 0..workers {
        let c = client.get_multiplexed_async_connection().await.unwrap();
        conns.push((c, src.clone(), processing.clone()));
    }
    let enq = drive(conns.clone(), jobs, |(mut c, src, p), _| async move {
        let _: i64 = redis::cmd("LPUSH")
            .arg(&src)
            .arg(&[b'x'; 64][..])
            .query_async(&mut c)
            .await
            .unwrap();
        (c, src, p)
    })
    .await;
    let drain = drive(conns, jobs, |(mut c, src, p), _| async move {
        let item: Vec<u8> = redis::cmd("BLMOVE")
            .arg(&src)
            .arg(&p)
            .arg("RIGHT")
            .arg("LEFT")
            .arg(1)
            .query_async(&mut c)
            .await
            .unwrap();
        let _: i64 = redis::cmd("LREM")
            .arg(&p)
            .arg(1)
            .arg(item)
            .query_async(&mut c)
            .await
            .unwrap();
        (c, src, p)
    })
    .await;
    (enq, drain)
}
