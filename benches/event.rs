//! Event channels side by side.
//!
//! Broadcast (`broadcast-1x4` of WORKLOADS.md, and 2 producers x 2
//! receivers): 500,000 `u64` through a channel of capacity 1,024, every
//! receiver taking every message or counting what it missed;
//! `latchwork` under both policies vs `tokio::sync::broadcast` (overwrite,
//! `blocking_recv`), `bus` (backpressure, single producer: 1x4 only), and
//! fan-out built from one bounded `crossbeam_channel` / `flume` channel per
//! receiver (the producer sends a copy to each). Throughput is messages
//! sent per second.
//!
//! Emitter: N threads each emitting `order.created` to 8 listeners,
//! `latchwork::event::Emitter` vs an `RwLock<HashMap<String, Vec<Box<dyn
//! Fn>>>>` emitter, the usual hand-rolled one.
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use latchwork::event::broadcast::{Builder, Policy, RecvError};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

const CAPACITY: usize = 1024;

/// Messages per run: 500,000 (WORKLOADS.md), or `LATCHWORK_BENCH_OPS` if
/// lower.
fn messages() -> u64 {
    ops_per_thread().min(500_000) as u64
}

/// One fan-out run: `producers` threads send `total` messages between
/// them, `receivers` threads each take (or count as missed) all of them.
/// `make` builds per-run state: one send function per producer and one
/// receive loop per receiver (returning messages accounted for).
type SendFn = Box<dyn FnMut(u64) + Send>;
type RecvFn = Box<dyn FnOnce() -> u64 + Send>;

/// What one receive returned, in the terms every contender shares.
enum Got {
    Msg(u64),
    Lagged(u64),
    Closed,
}

/// A receive loop that counts messages taken plus messages reported missed,
/// until the channel closes.
fn counting(mut next: impl FnMut() -> Got + Send + 'static) -> RecvFn {
    Box::new(move || {
        let mut n = 0u64;
        loop {
            match next() {
                Got::Msg(v) => {
                    black_box(v);
                    n += 1;
                }
                Got::Lagged(k) => n += k,
                Got::Closed => return n,
            }
        }
    })
}

fn run_fanout(producers: usize, total: u64, parts: (Vec<SendFn>, Vec<RecvFn>)) -> Duration {
    let (senders, receivers) = parts;
    let receivers_n = receivers.len();
    let senders: Vec<Mutex<Option<SendFn>>> =
        senders.into_iter().map(|s| Mutex::new(Some(s))).collect();
    let receivers: Vec<Mutex<Option<RecvFn>>> =
        receivers.into_iter().map(|r| Mutex::new(Some(r))).collect();
    let per = total / producers as u64;
    run_threads(producers + receivers_n, move |t| {
        if t < producers {
            let mut send = senders[t].lock().unwrap().take().unwrap();
            for i in 0..per {
                send(i);
            }
            // Dropping `send` here closes this producer's handle.
        } else {
            let recv = receivers[t - producers].lock().unwrap().take().unwrap();
            let got = recv();
            assert_eq!(got, per * producers as u64, "receiver lost messages");
        }
    })
}

fn latchwork_parts(policy: Policy, p: usize, r: usize) -> (Vec<SendFn>, Vec<RecvFn>) {
    let (tx, rx) = Builder::new(CAPACITY)
        .policy(policy)
        .build::<u64>()
        .unwrap();
    let mut rxs = vec![rx];
    for _ in 1..r {
        rxs.push(tx.subscribe());
    }
    let senders = (0..p)
        .map(|_| {
            let tx = tx.clone();
            Box::new(move |v| {
                let _ = tx.send(v);
            }) as SendFn
        })
        .collect();
    let receivers = rxs
        .into_iter()
        .map(|mut rx| {
            counting(move || match rx.recv() {
                Ok(v) => Got::Msg(v),
                Err(RecvError::Lagged(k)) => Got::Lagged(k),
                Err(RecvError::Closed) => Got::Closed,
            })
        })
        .collect();
    (senders, receivers)
}

fn tokio_parts(p: usize, r: usize) -> (Vec<SendFn>, Vec<RecvFn>) {
    use tokio::sync::broadcast::error::RecvError as TRecvError;
    let (tx, rx) = tokio::sync::broadcast::channel::<u64>(CAPACITY);
    let mut rxs = vec![rx];
    for _ in 1..r {
        rxs.push(tx.subscribe());
    }
    let senders = (0..p)
        .map(|_| {
            let tx = tx.clone();
            Box::new(move |v| {
                let _ = tx.send(v);
            }) as SendFn
        })
        .collect();
    let receivers = rxs
        .into_iter()
        .map(|mut rx| {
            counting(move || match rx.blocking_recv() {
                Ok(v) => Got::Msg(v),
                Err(TRecvError::Lagged(k)) => Got::Lagged(k),
                Err(TRecvError::Closed) => Got::Closed,
            })
        })
        .collect();
    (senders, receivers)
}

fn bus_parts(r: usize) -> (Vec<SendFn>, Vec<RecvFn>) {
    let mut bus = bus::Bus::<u64>::new(CAPACITY);
    let rxs: Vec<_> = (0..r).map(|_| bus.add_rx()).collect();
    let senders = vec![Box::new(move |v| bus.broadcast(v)) as SendFn];
    let receivers = rxs
        .into_iter()
        .map(|mut rx| counting(move || rx.recv().map_or(Got::Closed, Got::Msg)))
        .collect();
    (senders, receivers)
}

/// Fan-out built from one bounded channel per receiver (crossbeam-channel
/// and flume share the `bounded`/`send`/`recv` shape): every producer sends
/// each message to every receiver's channel.
macro_rules! per_receiver_fanout {
    ($name:ident, $bounded:path) => {
        fn $name(p: usize, r: usize) -> (Vec<SendFn>, Vec<RecvFn>) {
            let (txs, rxs): (Vec<_>, Vec<_>) = (0..r).map(|_| $bounded(CAPACITY)).unzip();
            let senders = (0..p)
                .map(|_| {
                    let txs = txs.clone();
                    Box::new(move |v| {
                        for tx in &txs {
                            let _ = tx.send(v);
                        }
                    }) as SendFn
                })
                .collect();
            drop(txs);
            let receivers = rxs
                .into_iter()
                .map(|rx| counting(move || rx.recv().map_or(Got::Closed, Got::Msg)))
                .collect();
            (senders, receivers)
        }
    };
}

per_receiver_fanout!(crossbeam_parts, crossbeam_channel::bounded::<u64>);
per_receiver_fanout!(flume_parts, flume::bounded::<u64>);

fn broadcast(c: &mut Criterion) {
    let total = messages();
    for (p, r) in [(1usize, 4usize), (2, 2)] {
        let mut g = c.benchmark_group(format!("event_broadcast_{p}x{r}"));
        g.throughput(Throughput::Elements(total));
        let param = format!("{p}x{r}");
        type Make = Box<dyn Fn() -> (Vec<SendFn>, Vec<RecvFn>)>;
        let mut impls: Vec<(&str, Make)> = vec![
            (
                "latchwork_overwrite",
                Box::new(move || latchwork_parts(Policy::Overwrite, p, r)),
            ),
            (
                "latchwork_backpressure",
                Box::new(move || latchwork_parts(Policy::Backpressure, p, r)),
            ),
            ("tokio", Box::new(move || tokio_parts(p, r))),
            ("crossbeam_fanout", Box::new(move || crossbeam_parts(p, r))),
            ("flume_fanout", Box::new(move || flume_parts(p, r))),
        ];
        if p == 1 {
            impls.push(("bus", Box::new(move || bus_parts(r))));
        }
        for (name, make) in impls {
            g.bench_with_input(BenchmarkId::new(name, &param), &param, |b, _| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| run_fanout(p, total, make()))
                        .sum::<Duration>()
                })
            });
        }
        g.finish();
    }
}

const LISTENERS: u64 = 8;
const TOPIC: &str = "order.created";

type Listener = Box<dyn Fn(&u64) + Send + Sync>;

/// The hand-rolled emitter users write today.
#[derive(Default)]
struct RwLockEmitter(RwLock<HashMap<String, Vec<Listener>>>);

impl RwLockEmitter {
    fn on(&self, topic: &str, f: Listener) {
        self.0
            .write()
            .unwrap()
            .entry(topic.to_owned())
            .or_default()
            .push(f);
    }
    #[inline]
    fn emit(&self, topic: &str, e: &u64) -> usize {
        let map = self.0.read().unwrap();
        let Some(list) = map.get(topic) else { return 0 };
        for f in list {
            f(e);
        }
        list.len()
    }
}

fn emitter(c: &mut Criterion) {
    let ops = ops_per_thread();
    let mut g = c.benchmark_group("event_emitter_8_listeners");
    for threads in thread_counts() {
        g.throughput(Throughput::Elements((ops * threads) as u64));
        g.bench_with_input(
            BenchmarkId::new("latchwork", threads),
            &threads,
            |b, &threads| {
                let em = Arc::new(latchwork::event::Emitter::<u64>::new());
                for k in 0..LISTENERS {
                    em.on(TOPIC, move |e: &u64| {
                        black_box(*e + k);
                    })
                    .unwrap()
                    .detach();
                }
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            let em = em.clone();
                            run_threads(threads, move |t| {
                                for i in 0..ops as u64 {
                                    black_box(em.emit(TOPIC, &(i ^ t as u64)).ran());
                                }
                            })
                        })
                        .sum::<Duration>()
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("rwlock_hashmap", threads),
            &threads,
            |b, &threads| {
                let em = Arc::new(RwLockEmitter::default());
                for k in 0..LISTENERS {
                    em.on(
                        TOPIC,
                        Box::new(move |e: &u64| {
                            black_box(*e + k);
                        }),
                    );
                }
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            let em = em.clone();
                            run_threads(threads, move |t| {
                                for i in 0..ops as u64 {
                                    black_box(em.emit(TOPIC, &(i ^ t as u64)));
                                }
                            })
                        })
                        .sum::<Duration>()
                })
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = heavy_config();
    targets = broadcast, emitter
}
criterion_main!(benches);
