//! Priority queues side by side on the `pq-mixed` workload of
//! `WORKLOADS.md`: each thread alternates `push` (level = key mod 4) and
//! `pop`, `ops_per_thread()` pairs per thread, at 1, 2 and 4 threads.
//!
//! Contenders in group `queue/pq-mixed`:
//! - `latchwork`: `PriorityQueue` (per-level `SegQueue` + occupancy word).
//! - `mutex_binary_heap`: `Mutex<BinaryHeap<(Reverse<level>, Reverse<seq>, T)>>`,
//!   the usual answer (strict, FIFO within a level through `seq`).
//! - `skipmap`: `crossbeam_skiplist::SkipMap<(level, seq), T>` used as a
//!   priority queue (`insert` + `pop_front`).
//! - `mutex_levels`: one `Mutex<VecDeque>` per level + the same occupancy
//!   idea, as the measured alternative to lock-free level FIFOs.
//! - `segqueue_fifo`: one `crossbeam_queue::SegQueue`, no priorities at all:
//!   the upper bound.
//!
//! Keys are a seeded uniform stream built before timing; `seq` comes from a
//! shared `AtomicU64` where a contender needs it.
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use latchwork::queue::{Level, PriorityQueue};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const LEVELS: u64 = 4;

trait Pq: Send + Sync + 'static {
    const NAME: &'static str;
    fn new() -> Self;
    fn push(&self, level: u8, v: u64);
    fn pop(&self) -> Option<u64>;
}

impl Pq for PriorityQueue<u64> {
    const NAME: &'static str = "latchwork";
    fn new() -> Self {
        PriorityQueue::new()
    }
    #[inline]
    fn push(&self, level: u8, v: u64) {
        // The stream's levels are < 4, always valid.
        if let Ok(l) = Level::new(level) {
            PriorityQueue::push(self, l, v);
        }
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        self.try_pop().map(|(_, v)| v)
    }
}

/// Max-heap entry ordered most urgent level first, then oldest first.
type HeapEntry = (Reverse<u8>, Reverse<u64>, u64);

struct MutexHeap {
    heap: Mutex<BinaryHeap<HeapEntry>>,
    seq: AtomicU64,
}

impl Pq for MutexHeap {
    const NAME: &'static str = "mutex_binary_heap";
    fn new() -> Self {
        MutexHeap {
            heap: Mutex::new(BinaryHeap::new()),
            seq: AtomicU64::new(0),
        }
    }
    #[inline]
    fn push(&self, level: u8, v: u64) {
        let mut h = self.heap.lock().unwrap();
        // Taken under the lock, so seq order is push order.
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        h.push((Reverse(level), Reverse(seq), v));
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        self.heap.lock().unwrap().pop().map(|(_, _, v)| v)
    }
}

struct SkipPq {
    map: crossbeam_skiplist::SkipMap<(u8, u64), u64>,
    seq: AtomicU64,
}

impl Pq for SkipPq {
    const NAME: &'static str = "skipmap";
    fn new() -> Self {
        SkipPq {
            map: crossbeam_skiplist::SkipMap::new(),
            seq: AtomicU64::new(0),
        }
    }
    #[inline]
    fn push(&self, level: u8, v: u64) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.map.insert((level, seq), v);
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        self.map.pop_front().map(|e| *e.value())
    }
}

struct MutexLevels {
    levels: Vec<Mutex<VecDeque<u64>>>,
    occupied: AtomicU64,
}

impl Pq for MutexLevels {
    const NAME: &'static str = "mutex_levels";
    fn new() -> Self {
        MutexLevels {
            levels: (0..64).map(|_| Mutex::new(VecDeque::new())).collect(),
            occupied: AtomicU64::new(0),
        }
    }
    #[inline]
    fn push(&self, level: u8, v: u64) {
        let mut q = self.levels[level as usize].lock().unwrap();
        q.push_back(v);
        self.occupied.fetch_or(1 << level, Ordering::SeqCst);
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        let mut word = self.occupied.load(Ordering::SeqCst);
        while word != 0 {
            let l = word.trailing_zeros() as usize;
            word &= word - 1;
            let mut q = self.levels[l].lock().unwrap();
            if let Some(v) = q.pop_front() {
                return Some(v);
            }
            // Cleared under the level's lock: pushes set it under the same lock.
            self.occupied.fetch_and(!(1 << l), Ordering::SeqCst);
        }
        None
    }
}

struct Fifo(crossbeam_queue::SegQueue<u64>);

impl Pq for Fifo {
    const NAME: &'static str = "segqueue_fifo";
    fn new() -> Self {
        Fifo(crossbeam_queue::SegQueue::new())
    }
    #[inline]
    fn push(&self, _level: u8, v: u64) {
        self.0.push(v);
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        self.0.pop()
    }
}

fn run<Q: Pq>(threads: usize, streams: &[Arc<Vec<u64>>]) -> std::time::Duration {
    let q = Arc::new(Q::new());
    let streams = streams.to_vec();
    run_threads(threads, move |t| {
        for &k in streams[t].iter() {
            q.push((k % LEVELS) as u8, k);
            black_box(q.pop());
        }
    })
}

fn pq_mixed(c: &mut Criterion) {
    let ops = ops_per_thread();
    let mut g = c.benchmark_group("queue/pq-mixed");
    for threads in thread_counts() {
        let streams: Vec<Arc<Vec<u64>>> = (0..threads)
            .map(|t| Arc::new(uniform_stream(1 << 20, ops, 0x9_0000 + t as u64)))
            .collect();
        // One element = one push/pop pair.
        g.throughput(Throughput::Elements((ops * threads) as u64));
        fn bench<Q: Pq>(
            g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
            threads: usize,
            streams: &[Arc<Vec<u64>>],
        ) {
            g.bench_with_input(BenchmarkId::new(Q::NAME, threads), &threads, |b, &t| {
                b.iter_custom(|iters| (0..iters).map(|_| run::<Q>(t, streams)).sum())
            });
        }
        bench::<PriorityQueue<u64>>(&mut g, threads, &streams);
        bench::<MutexHeap>(&mut g, threads, &streams);
        bench::<SkipPq>(&mut g, threads, &streams);
        bench::<MutexLevels>(&mut g, threads, &streams);
        bench::<Fifo>(&mut g, threads, &streams);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = heavy_config();
    targets = pq_mixed
}
criterion_main!(benches);
