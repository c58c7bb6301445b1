//! An async request loop on tokio using latchwork's async forms: a
//! single-flight cache loader in front of a slow backend, a per-client
//! keyed limiter awaited with `until_key_ready`, and a broadcast of
//! request events to async subscribers (one a `Stream`), and a priority
//! job queue: each request queues a follow-up job (an audit write at low
//! priority, every tenth a refresh at high priority) that worker tasks
//! await with `pop_async`; closing the queue lets them drain and stop.
//! Prints real figures.
//!
//! Run with `cargo run --release --example async_service`.
use futures::StreamExt;
use latchwork::cache::Cache;
use latchwork::event::broadcast::{Builder, Policy};
use latchwork::queue::{Level, Priority, PriorityQueue};
use latchwork::ratelimit::KeyedLimiter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What subscribers hear about each request.
#[derive(Clone, Debug)]
struct Served {
    client: u32,
    key: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    const CLIENTS: u32 = 16;
    const REQUESTS: u32 = 200; // per client
    const RATE: f64 = 2_000.0; // per client per second

    let cache: Arc<Cache<u64, String>> = Arc::new(Cache::new(1_000)?);
    let limiter: Arc<KeyedLimiter<u32>> = Arc::new(
        KeyedLimiter::builder()
            .rate(RATE)
            .burst(20)
            .max_keys(1_000)
            .build()?,
    );
    let backend_calls = Arc::new(AtomicU64::new(0));
    let (events, rx) = Builder::new(1024)
        .policy(Policy::Backpressure)
        .build::<Served>()?;

    // Subscribers: one awaits `recv_async`, one reads the channel as a
    // `Stream` (a lag would be an item; Backpressure has none).
    let mut audit_rx = rx.resubscribe();
    let audit = tokio::spawn(async move {
        let mut n = 0u64;
        while audit_rx.recv_async().await.is_ok() {
            n += 1;
        }
        n
    });
    let per_client = tokio::spawn(async move {
        let mut counts = vec![0u64; CLIENTS as usize];
        let mut stream = rx;
        while let Some(Ok(ev)) = stream.next().await {
            counts[ev.client as usize] += 1;
            std::hint::black_box(ev.key);
        }
        counts
    });

    // Job workers: await the most urgent job; `None` once the queue is
    // closed and drained. Each reports (jobs done, sum of levels, time a
    // high-priority job waited in the queue, summed).
    let jobs: Arc<PriorityQueue<(Instant, u64)>> = Arc::new(PriorityQueue::new());
    let job_workers: Vec<_> = (0..2)
        .map(|_| {
            let jobs = jobs.clone();
            tokio::spawn(async move {
                let (mut done, mut urgent, mut urgent_wait) = (0u64, 0u64, Duration::ZERO);
                while let Some((level, (queued, key))) = jobs.pop_async().await {
                    if level == Level::from(Priority::High) {
                        urgent += 1;
                        urgent_wait += queued.elapsed();
                    }
                    std::hint::black_box(key);
                    done += 1;
                }
                (done, urgent, urgent_wait)
            })
        })
        .collect();

    let start = Instant::now();
    let mut clients = vec![];
    for client in 0..CLIENTS {
        let (cache, limiter, calls, events, jobs) = (
            cache.clone(),
            limiter.clone(),
            backend_calls.clone(),
            events.clone(),
            jobs.clone(),
        );
        clients.push(tokio::spawn(async move {
            let sleeper = |d| tokio::time::sleep(d);
            for i in 0..REQUESTS {
                limiter
                    .until_key_ready(&client, 1, &sleeper)
                    .await
                    .expect("cost 1 fits the burst");
                // 50 hot keys: concurrent misses on one key share one load.
                let key = u64::from((client * 7 + i) % 50);
                let body = cache
                    .get_or_insert_async(key, async {
                        calls.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(5)).await; // the backend
                        format!("body of {key}")
                    })
                    .await;
                std::hint::black_box(body);
                // `Err` would hand the event back: no subscriber left.
                events
                    .send_async(Served { client, key })
                    .await
                    .expect("the subscribers run until the channel closes");
                let priority = if i % 10 == 0 {
                    Priority::High
                } else {
                    Priority::Low
                };
                jobs.push(priority, (Instant::now(), key))
                    .map_err(|_| "the job queue closed early")?;
            }
            Ok::<(), &'static str>(())
        }));
    }
    for c in clients {
        c.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    drop(events);
    // Producers are done: close, and the workers drain and stop.
    jobs.close();
    let (mut jobs_done, mut urgent, mut urgent_wait) = (0u64, 0u64, Duration::ZERO);
    for w in job_workers {
        let (d, u, wait) = w.await?;
        jobs_done += d;
        urgent += u;
        urgent_wait += wait;
    }
    let audited = audit.await?;
    let counts = per_client.await?;

    let total = u64::from(CLIENTS * REQUESTS);
    println!(
        "{CLIENTS} clients x {REQUESTS} requests in {secs:.3} s ({:.0} req/s)",
        total as f64 / secs
    );
    println!(
        "  per-client limit {RATE}/s burst 20: the floor is {:.3} s per client",
        (f64::from(REQUESTS) - 20.0) / RATE
    );
    println!(
        "  cache: {} backend loads for {total} requests over 50 keys (single-flight), hit ratio {:.3}",
        backend_calls.load(Ordering::Relaxed),
        cache.stats().hit_ratio()
    );
    println!(
        "  broadcast: audit subscriber got {audited}, stream subscriber got {} (min per client {}, max {})",
        counts.iter().sum::<u64>(),
        counts.iter().min().unwrap_or(&0),
        counts.iter().max().unwrap_or(&0)
    );
    println!(
        "  job queue: {jobs_done} jobs by 2 pop_async workers, {urgent} high-priority ones waited {:.1} us on average",
        urgent_wait.as_secs_f64() * 1e6 / urgent.max(1) as f64
    );
    assert_eq!(audited, total);
    assert_eq!(jobs_done, total);
    Ok(())
}
