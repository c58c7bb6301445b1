//! Async operations side by side, one run each (issue 13). Plain `main`
//! (no criterion): each contender runs the same workload on the same
//! 2-worker tokio runtime, three times; the median is printed.
//!
//! - `broadcast 1xR` (R = 1, 4; `broadcast-1x4` of WORKLOADS.md: 500,000
//!   `u64`, capacity 1,024, or `LATCHWORK_BENCH_OPS` if lower): one
//!   producer task, R receiver tasks awaiting every message. Delivered
//!   messages per second (the sum over receivers) and what was lagged.
//!   latchwork `Overwrite` (`send` + `recv_async`) vs
//!   `tokio::sync::broadcast` (`send` + `recv().await`): the producer
//!   yields every 256 sends in both, so receivers run; latchwork
//!   `Backpressure` (`send_async`) vs `async-broadcast` (`broadcast().await`,
//!   its default no-overflow mode).
//! - `until_ready`: 64 tasks share one bucket of 2,000/s, burst 20, until
//!   2,000 admissions (about 1 s); latchwork `TokenBucket::until_ready`
//!   (tokio sleeper) vs governor's `until_ready` (its futures-timer
//!   sleep). Admitted per second (steady state: the burst is excluded),
//!   the spread of waits (p50, p99, max) and of admissions per task.
//! - `until_ready overhead`: one task, a bucket that always admits
//!   (1e9/s), 200,000 calls: nanoseconds per admission.
//! - `pop_async backlog` (`pq-backlog` in async form): the queue prefilled
//!   with 10,000 items over 4 levels, one producer task pushing 500,000
//!   items (level = i mod 4; or `LATCHWORK_BENCH_OPS` if lower; yielding
//!   every 256) and one consumer task awaiting as many pops, on the 2-worker
//!   runtime. Delivered items per second. latchwork `PriorityQueue::push` +
//!   `pop_async` vs `tokio::sync::mpsc::unbounded_channel` (FIFO, no
//!   priorities: the baseline) and vs `Mutex<BinaryHeap>` +
//!   `tokio::sync::Notify` (strict priority the obvious way: push,
//!   `notify_one`; the consumer pops or awaits `notified()`).
mod common;

use common::emit;
use governor::{Quota, RateLimiter};
use latchwork::event::broadcast::{Builder, Policy, RecvError};
use latchwork::queue::{Level, PriorityQueue};
use latchwork::ratelimit::TokenBucket;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CAPACITY: usize = 1024;

fn messages() -> u64 {
    std::env::var("LATCHWORK_BENCH_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500_000u64)
        .min(500_000)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// (delivered, lagged, seconds) of one run.
type Run = (u64, u64, f64);

fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| (a.0 as f64 / a.2).total_cmp(&(b.0 as f64 / b.2)));
    runs[runs.len() / 2]
}

async fn latchwork_overwrite(n: u64, r: usize) -> Run {
    let (tx, rx) = Builder::new(CAPACITY).build::<u64>().expect("channel");
    let rxs: Vec<_> = (0..r).map(|_| rx.resubscribe()).collect();
    drop(rx);
    let start = Instant::now();
    let tasks: Vec<_> = rxs
        .into_iter()
        .map(|mut rx| {
            tokio::spawn(async move {
                let (mut got, mut lagged) = (0u64, 0u64);
                loop {
                    match rx.recv_async().await {
                        Ok(v) => {
                            black_box(v);
                            got += 1;
                        }
                        Err(RecvError::Lagged(k)) => lagged += k,
                        Err(RecvError::Closed) => return (got, lagged),
                    }
                }
            })
        })
        .collect();
    tokio::spawn(async move {
        for i in 0..n {
            let _ = tx.send(i);
            if i % 256 == 255 {
                tokio::task::yield_now().await;
            }
        }
    })
    .await
    .expect("producer");
    finish(tasks, start).await
}

async fn latchwork_backpressure(n: u64, r: usize) -> Run {
    let (tx, rx) = Builder::new(CAPACITY)
        .policy(Policy::Backpressure)
        .build::<u64>()
        .expect("channel");
    let rxs: Vec<_> = (0..r).map(|_| rx.resubscribe()).collect();
    drop(rx);
    let start = Instant::now();
    let tasks: Vec<_> = rxs
        .into_iter()
        .map(|mut rx| {
            tokio::spawn(async move {
                let mut got = 0u64;
                while let Ok(v) = rx.recv_async().await {
                    black_box(v);
                    got += 1;
                }
                (got, 0)
            })
        })
        .collect();
    tokio::spawn(async move {
        for i in 0..n {
            let _ = tx.send_async(i).await;
        }
    })
    .await
    .expect("producer");
    finish(tasks, start).await
}

async fn tokio_broadcast(n: u64, r: usize) -> Run {
    use tokio::sync::broadcast::error::RecvError as T;
    let (tx, rx) = tokio::sync::broadcast::channel::<u64>(CAPACITY);
    let rxs: Vec<_> = (0..r).map(|_| tx.subscribe()).collect();
    drop(rx);
    let start = Instant::now();
    let tasks: Vec<_> = rxs
        .into_iter()
        .map(|mut rx| {
            tokio::spawn(async move {
                let (mut got, mut lagged) = (0u64, 0u64);
                loop {
                    match rx.recv().await {
                        Ok(v) => {
                            black_box(v);
                            got += 1;
                        }
                        Err(T::Lagged(k)) => lagged += k,
                        Err(T::Closed) => return (got, lagged),
                    }
                }
            })
        })
        .collect();
    tokio::spawn(async move {
        for i in 0..n {
            let _ = tx.send(i);
            if i % 256 == 255 {
                tokio::task::yield_now().await;
            }
        }
    })
    .await
    .expect("producer");
    finish(tasks, start).await
}

async fn async_broadcast(n: u64, r: usize) -> Run {
    let (tx, rx) = async_broadcast::broadcast::<u64>(CAPACITY);
    let rxs: Vec<_> = (0..r).map(|_| rx.clone()).collect();
    drop(rx);
    let start = Instant::now();
    let tasks: Vec<_> = rxs
        .into_iter()
        .map(|mut rx| {
            tokio::spawn(async move {
                let mut got = 0u64;
                while let Ok(v) = rx.recv().await {
                    black_box(v);
                    got += 1;
                }
                (got, 0)
            })
        })
        .collect();
    tokio::spawn(async move {
        for i in 0..n {
            let _ = tx.broadcast(i).await;
        }
    })
    .await
    .expect("producer");
    finish(tasks, start).await
}

async fn finish(tasks: Vec<tokio::task::JoinHandle<(u64, u64)>>, start: Instant) -> Run {
    let (mut got, mut lagged) = (0, 0);
    for t in tasks {
        let (g, l) = t.await.expect("receiver");
        got += g;
        lagged += l;
    }
    (got, lagged, start.elapsed().as_secs_f64())
}

fn broadcast(rt: &tokio::runtime::Runtime) {
    let n = messages();
    for r in [1usize, 4] {
        println!("broadcast 1x{r}, {n} messages, capacity {CAPACITY}");
        let mut base = 0.0;
        for name in [
            "tokio::broadcast",
            "latchwork Overwrite",
            "async-broadcast",
            "latchwork Backpressure",
        ] {
            let runs = (0..3)
                .map(|_| {
                    rt.block_on(async {
                        match name {
                            "tokio::broadcast" => tokio_broadcast(n, r).await,
                            "latchwork Overwrite" => latchwork_overwrite(n, r).await,
                            "async-broadcast" => async_broadcast(n, r).await,
                            _ => latchwork_backpressure(n, r).await,
                        }
                    })
                })
                .collect();
            let (got, lagged, secs) = median(runs);
            let rate = got as f64 / secs;
            if name == "tokio::broadcast" {
                base = rate;
            }
            println!(
                "  {name:<24} delivered {:>8.2} M/s  lagged {lagged:>8}  x{:.2} vs tokio",
                rate / 1e6,
                rate / base
            );
            emit(
                &format!("broadcast-1x{r}/{name} delivered"),
                rate / 1e6,
                "M/s",
            );
            emit(
                &format!("broadcast-1x{r}/{name} lagged"),
                lagged as f64,
                "messages",
            );
        }
    }
}

const TASKS: usize = 64;
const RATE: u32 = 2_000;
const BURST: u32 = 20;
const ADMISSIONS: usize = 2_000;

/// Admitted per second (steady state), waits in µs (p50, p99, max),
/// admissions per task (min, max).
type Fair = (f64, [u128; 3], (usize, usize));

fn fairness(mut waits: Vec<Duration>, per_task: Vec<usize>, secs: f64) -> Fair {
    waits.sort();
    let q = |p: f64| waits[((waits.len() - 1) as f64 * p) as usize].as_micros();
    let rate = (ADMISSIONS as f64 - f64::from(BURST)) / secs;
    let min = per_task.iter().copied().min().unwrap_or(0);
    let max = per_task.iter().copied().max().unwrap_or(0);
    (rate, [q(0.5), q(0.99), q(1.0)], (min, max))
}

/// Runs `TASKS` tasks each calling `wait` until `ADMISSIONS` in total.
async fn waiters<W, F>(wait: W) -> Fair
where
    W: Fn() -> F + Send + Sync + 'static,
    F: std::future::Future<Output = ()> + Send,
{
    let wait = Arc::new(wait);
    let left = Arc::new(std::sync::atomic::AtomicUsize::new(ADMISSIONS));
    let waits = Arc::new(Mutex::new(Vec::with_capacity(ADMISSIONS)));
    let end = Arc::new(Mutex::new(None));
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (wait, left, waits, end) = (wait.clone(), left.clone(), waits.clone(), end.clone());
            tokio::spawn(async move {
                let mut mine = 0;
                loop {
                    let t = Instant::now();
                    wait().await;
                    let w = t.elapsed();
                    match left.fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |n| n.checked_sub(1),
                    ) {
                        Err(_) => return mine,
                        Ok(1) => *end.lock().expect("end") = Some(Instant::now()),
                        Ok(_) => {}
                    }
                    waits.lock().expect("waits").push(w);
                    mine += 1;
                }
            })
        })
        .collect();
    let mut per_task = vec![];
    for t in tasks {
        per_task.push(t.await.expect("task"));
    }
    // Time to the last counted admission, not to the stragglers' extra one.
    let last = end.lock().expect("end").unwrap_or_else(Instant::now);
    let secs = (last - start).as_secs_f64();
    let waits = std::mem::take(&mut *waits.lock().expect("waits"));
    fairness(waits, per_task, secs)
}

fn until_ready(rt: &tokio::runtime::Runtime) {
    println!("until_ready: {TASKS} tasks, {RATE}/s burst {BURST}, {ADMISSIONS} admissions");
    let quota = Quota::per_second(NonZeroU32::new(RATE).expect("rate"))
        .allow_burst(NonZeroU32::new(BURST).expect("burst"));
    let print = |name: &str, (rate, w, (lo, hi)): Fair| {
        let figures = [
            ("admitted", rate, "/s"),
            ("rate error", (rate / f64::from(RATE) - 1.0) * 100.0, "%"),
            ("wait p50", w[0] as f64, "µs"),
            ("wait p99", w[1] as f64, "µs"),
            ("wait max", w[2] as f64, "µs"),
            ("admissions per task min", lo as f64, "admissions"),
            ("admissions per task max", hi as f64, "admissions"),
        ];
        for (what, value, unit) in figures {
            emit(&format!("until_ready/{name} {what}"), value, unit);
        }
        println!(
            "  {name:<10} admitted {rate:>8.1}/s ({:+.2}% of the rate)  wait p50 {} p99 {} max {} µs  per task {lo}..{hi}",
            (rate / f64::from(RATE) - 1.0) * 100.0,
            w[0],
            w[1],
            w[2]
        );
    };
    let bucket = Arc::new(TokenBucket::new(f64::from(RATE), u64::from(BURST)).expect("bucket"));
    let f = rt.block_on(waiters(move || {
        let b = bucket.clone();
        async move {
            b.until_ready(1, &|d| tokio::time::sleep(d))
                .await
                .expect("admitted");
        }
    }));
    print("latchwork", f);
    let gov = Arc::new(RateLimiter::direct(quota));
    let f = rt.block_on(waiters(move || {
        let g = gov.clone();
        async move { g.until_ready().await }
    }));
    print("governor", f);

    const CALLS: u32 = 200_000;
    println!("until_ready overhead: 1 task, always admitting, {CALLS} calls");
    let bucket = TokenBucket::new(1e9, 1_000_000_000).expect("bucket");
    let ns_l = rt.block_on(async {
        let t = Instant::now();
        for _ in 0..CALLS {
            bucket
                .until_ready(1, &|d| tokio::time::sleep(d))
                .await
                .expect("admitted");
        }
        t.elapsed().as_nanos() as f64 / f64::from(CALLS)
    });
    let gov = RateLimiter::direct(Quota::per_second(
        NonZeroU32::new(1_000_000_000).expect("rate"),
    ));
    let ns_g = rt.block_on(async {
        let t = Instant::now();
        for _ in 0..CALLS {
            gov.until_ready().await;
        }
        t.elapsed().as_nanos() as f64 / f64::from(CALLS)
    });
    println!(
        "  latchwork {ns_l:.1} ns  governor {ns_g:.1} ns  (x{:.2} governor's cost)",
        ns_l / ns_g
    );
    emit("until_ready overhead/latchwork", ns_l, "ns/admission");
    emit("until_ready overhead/governor", ns_g, "ns/admission");
}

const BACKLOG: u64 = 10_000;
const PQ_LEVELS: u64 = 4;

/// (delivered, seconds) of one producer/consumer run.
async fn pq_latchwork(n: u64) -> (u64, f64) {
    let q = Arc::new(PriorityQueue::new());
    for i in 0..BACKLOG {
        let _ = q.push(Level::new((i % PQ_LEVELS) as u8).expect("level"), i);
    }
    let start = Instant::now();
    let consumer = {
        let q = q.clone();
        tokio::spawn(async move {
            let mut sum = 0u64;
            for _ in 0..n {
                sum = sum.wrapping_add(q.pop_async().await.expect("open").1);
            }
            sum
        })
    };
    let producer = tokio::spawn(async move {
        for i in 0..n {
            let _ = q.push(Level::new((i % PQ_LEVELS) as u8).expect("level"), i);
            if i % 256 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    producer.await.expect("producer");
    black_box(consumer.await.expect("consumer"));
    (n, start.elapsed().as_secs_f64())
}

async fn pq_mpsc(n: u64) -> (u64, f64) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    for i in 0..BACKLOG {
        let _ = tx.send(i);
    }
    let start = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut sum = 0u64;
        for _ in 0..n {
            sum = sum.wrapping_add(rx.recv().await.expect("open"));
        }
        sum
    });
    let producer = tokio::spawn(async move {
        for i in 0..n {
            let _ = tx.send(i);
            if i % 256 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    producer.await.expect("producer");
    black_box(consumer.await.expect("consumer"));
    (n, start.elapsed().as_secs_f64())
}

type HeapEntry = (Reverse<u8>, Reverse<u64>, u64);

struct HeapNotify {
    heap: Mutex<(BinaryHeap<HeapEntry>, u64)>,
    notify: tokio::sync::Notify,
}

impl HeapNotify {
    fn push(&self, level: u8, v: u64) {
        {
            let mut g = self.heap.lock().expect("lock");
            let seq = g.1;
            g.1 += 1;
            g.0.push((Reverse(level), Reverse(seq), v));
        }
        self.notify.notify_one();
    }

    async fn pop(&self) -> u64 {
        loop {
            if let Some((_, _, v)) = self.heap.lock().expect("lock").0.pop() {
                return v;
            }
            // `notify_one` leaves a permit when nobody waits: no lost wake.
            self.notify.notified().await;
        }
    }
}

async fn pq_heap_notify(n: u64) -> (u64, f64) {
    let q = Arc::new(HeapNotify {
        heap: Mutex::new((BinaryHeap::new(), 0)),
        notify: tokio::sync::Notify::new(),
    });
    for i in 0..BACKLOG {
        q.push((i % PQ_LEVELS) as u8, i);
    }
    let start = Instant::now();
    let consumer = {
        let q = q.clone();
        tokio::spawn(async move {
            let mut sum = 0u64;
            for _ in 0..n {
                sum = sum.wrapping_add(q.pop().await);
            }
            sum
        })
    };
    let producer = tokio::spawn(async move {
        for i in 0..n {
            q.push((i % PQ_LEVELS) as u8, i);
            if i % 256 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    producer.await.expect("producer");
    black_box(consumer.await.expect("consumer"));
    (n, start.elapsed().as_secs_f64())
}

fn pop_async_backlog(rt: &tokio::runtime::Runtime) {
    let n = messages();
    println!("pop_async backlog: {BACKLOG} prefilled over {PQ_LEVELS} levels, {n} items, 1 producer + 1 consumer task");
    let mut base = 0.0;
    for name in [
        "tokio::mpsc (FIFO)",
        "Mutex<BinaryHeap>+Notify",
        "latchwork pop_async",
    ] {
        let mut runs: Vec<(u64, f64)> = (0..3)
            .map(|_| {
                rt.block_on(async {
                    match name {
                        "tokio::mpsc (FIFO)" => pq_mpsc(n).await,
                        "Mutex<BinaryHeap>+Notify" => pq_heap_notify(n).await,
                        _ => pq_latchwork(n).await,
                    }
                })
            })
            .collect();
        runs.sort_by(|a, b| (a.0 as f64 / a.1).total_cmp(&(b.0 as f64 / b.1)));
        let (got, secs) = runs[1];
        let rate = got as f64 / secs;
        if base == 0.0 {
            base = rate;
        }
        println!(
            "  {name:<26} delivered {:>8.2} M/s  x{:.2} vs tokio::mpsc",
            rate / 1e6,
            rate / base
        );
        emit(
            &format!("pop_async backlog/{name} delivered"),
            rate / 1e6,
            "M/s",
        );
    }
}

fn main() {
    // `cargo bench --no-run` builds this; `cargo test --benches` runs it
    // with `--bench` absent: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = runtime();
    if std::env::var_os("LATCHWORK_BENCH_ONLY_PQ").is_none() {
        broadcast(&rt);
        until_ready(&rt);
    }
    pop_async_backlog(&rt);
}
