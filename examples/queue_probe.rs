//! A small driver for instruction counts and repeated timings of the
//! queue workloads (`cachegrind --cache-sim=no` on one mode at a time).
//!
//! `queue_probe <mode> <threads> <ops>`; modes: `pq` (latchwork
//! `PriorityQueue`, pq-mixed), `heap` (`Mutex<BinaryHeap>`, pq-mixed),
//! `pool` (`TaskQueue::execute`, no-op tasks), `chan` (crossbeam-channel
//! FIFO pool, no-op tasks), `pool1us` / `chan1us` (1 us tasks).
//! Prints the elapsed time and operations per second.
use latchwork::queue::{Level, PriorityQueue, TaskQueue};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A seeded xorshift stream (the probe needs no `rand`).
fn keys(n: usize, seed: u64) -> Vec<u64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % (1 << 20)
        })
        .collect()
}

/// Runs `body(t, keys)` on `threads` threads released together, each with
/// its own key stream (drawn before the release, from `seed + t`); returns
/// the wall time from the release to the last join.
fn together(
    threads: usize,
    ops: usize,
    seed: u64,
    body: impl Fn(usize, Vec<u64>) + Send + Sync + 'static,
) -> Duration {
    let body = Arc::new(body);
    let start = Arc::new(std::sync::Barrier::new(threads + 1));
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let (body, start) = (body.clone(), start.clone());
            let s = keys(ops, seed + t as u64);
            std::thread::spawn(move || {
                start.wait();
                body(t, s);
            })
        })
        .collect();
    let t0 = Instant::now();
    start.wait();
    for h in hs {
        h.join().unwrap();
    }
    t0.elapsed()
}

/// pq-mixed: each thread alternates push and pop (`pair`).
fn mixed<Q: Send + Sync + 'static>(
    q: Arc<Q>,
    threads: usize,
    ops: usize,
    pair: fn(&Q, u64),
) -> Duration {
    together(threads, ops, 0x9_0000, move |_, s| {
        for k in s {
            pair(&q, k);
        }
    })
}

/// pq-backlog: 10,000 prefilled; 1 thread alternates, else half push and
/// half pop.
fn backlog<Q: Send + Sync + 'static>(
    q: Q,
    threads: usize,
    ops: usize,
    push: fn(&Q, u64),
    pop: fn(&Q) -> Option<u64>,
) -> Duration {
    for k in 0..10_000 {
        push(&q, k);
    }
    let q = Arc::new(q);
    together(threads, ops, 0xB_0000, move |t, s| {
        if threads == 1 {
            for k in s.into_iter().step_by(2) {
                push(&q, k);
                black_box(pop(&q));
            }
        } else if t < threads / 2 {
            for k in s {
                push(&q, k);
            }
        } else {
            for _ in 0..s.len() {
                while black_box(pop(&q)).is_none() {
                    std::thread::yield_now();
                }
            }
        }
    })
}

/// pq-burst: rounds of 1,000 pushes then 1,000 pops (1 thread: both; 2:
/// one pusher, one popper).
fn burst<Q: Send + Sync + 'static>(
    q: Q,
    threads: usize,
    ops: usize,
    push: fn(&Q, u64),
    pop: fn(&Q) -> Option<u64>,
) -> Duration {
    let q = Arc::new(q);
    let popped = AtomicU64::new(0);
    let rounds = ops / 1000;
    together(threads, ops, 0xB_0000, move |t, s| {
        for r in 0..rounds {
            if threads == 1 || t == 0 {
                if threads > 1 {
                    while popped.load(Ordering::Acquire) < (r * 1000) as u64 {
                        std::thread::yield_now();
                    }
                }
                for &k in &s[r * 1000..(r + 1) * 1000] {
                    push(&q, k);
                }
            }
            if threads == 1 || t == 1 {
                for _ in 0..1000 {
                    while black_box(pop(&q)).is_none() {
                        std::thread::yield_now();
                    }
                    popped.fetch_add(1, Ordering::Release);
                }
            }
        }
    })
}

fn heap_push(q: &Heap, k: u64) {
    let mut h = q.0.lock().unwrap();
    let seq = q.1.fetch_add(1, Ordering::Relaxed);
    h.push((Reverse((k % 4) as u8), Reverse(seq), k));
}

fn heap_pop(q: &Heap) -> Option<u64> {
    q.0.lock().unwrap().pop().map(|(_, _, v)| v)
}

type Heap = (
    Mutex<BinaryHeap<(Reverse<u8>, Reverse<u64>, u64)>>,
    AtomicU64,
);

fn busy(d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("pq", |s| s.as_str());
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let ops: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let work = if mode.ends_with("1us") {
        Duration::from_micros(1)
    } else {
        Duration::ZERO
    };
    let elapsed = match mode {
        "pq" => mixed(
            Arc::new(PriorityQueue::<u64>::new()),
            threads,
            ops,
            |q, k| {
                let _ = q.push(Level::new((k % 4) as u8).unwrap(), k);
                black_box(q.try_pop());
            },
        ),
        "pqb" => backlog(
            PriorityQueue::<u64>::new(),
            threads,
            ops,
            |q, k| {
                let _ = q.push(Level::new((k % 4) as u8).unwrap(), k);
            },
            |q| q.try_pop().map(|(_, v)| v),
        ),
        "heapb" => backlog(
            (Mutex::new(BinaryHeap::new()), AtomicU64::new(0)),
            threads,
            ops,
            heap_push,
            heap_pop,
        ),
        "pqu" => burst(
            PriorityQueue::<u64>::new(),
            threads,
            ops,
            |q, k| {
                let _ = q.push(Level::new((k % 4) as u8).unwrap(), k);
            },
            |q| q.try_pop().map(|(_, v)| v),
        ),
        "heapu" => burst(
            (Mutex::new(BinaryHeap::new()), AtomicU64::new(0)),
            threads,
            ops,
            heap_push,
            heap_pop,
        ),
        "heap" => {
            let q: Heap = (Mutex::new(BinaryHeap::new()), AtomicU64::new(0));
            mixed(Arc::new(q), threads, ops, |q, k| {
                {
                    let mut h = q.0.lock().unwrap();
                    let seq = q.1.fetch_add(1, Ordering::Relaxed);
                    h.push((Reverse((k % 4) as u8), Reverse(seq), k));
                }
                black_box(q.0.lock().unwrap().pop());
            })
        }
        "pool" | "pool1us" => {
            let ks = keys(ops, 0x7A5C);
            let pool = TaskQueue::new(2).unwrap();
            let t0 = Instant::now();
            for k in ks {
                let l = Level::new((k % 4) as u8).unwrap();
                if work.is_zero() {
                    pool.execute(l, || {
                        black_box(());
                    });
                } else {
                    pool.execute(l, move || busy(work));
                }
            }
            pool.shutdown();
            t0.elapsed()
        }
        "chan" | "chan1us" => {
            let ks = keys(ops, 0x7A5C);
            type Job = Box<dyn FnOnce() + Send>;
            let (tx, rx) = crossbeam_channel::unbounded::<Job>();
            let t0 = Instant::now();
            let ws: Vec<_> = (0..2)
                .map(|_| {
                    let rx = rx.clone();
                    std::thread::spawn(move || {
                        for j in rx {
                            j();
                        }
                    })
                })
                .collect();
            for _k in ks {
                if work.is_zero() {
                    let _ = tx.send(Box::new(|| {
                        black_box(());
                    }));
                } else {
                    let _ = tx.send(Box::new(move || busy(work)));
                }
            }
            drop(tx);
            for w in ws {
                w.join().unwrap();
            }
            t0.elapsed()
        }
        other => panic!("unknown mode {other}"),
    };
    let total = if mode == "pqu" || mode == "heapu" {
        ops / 1000 * 1000
    } else if mode.starts_with("pq") || mode.starts_with("heap") {
        ops * threads
    } else {
        ops
    };
    println!(
        "{mode} t={threads} ops={ops}: {:.3} ms, {:.2} Mops/s",
        elapsed.as_secs_f64() * 1e3,
        total as f64 / elapsed.as_secs_f64() / 1e6
    );
}
