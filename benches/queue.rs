//! Priority queues side by side on the `pq-mixed`, `pq-backlog` and
//! `pq-burst` workloads of `WORKLOADS.md`, at 1, 2 and 4 threads, and task
//! pools on no-op and 1 us tasks.
//!
//! Contenders in group `queue/pq-mixed` (each thread alternates `push`,
//! level = key mod 4, and `pop`, `ops_per_thread()` pairs per thread):
//! - `latchwork`: `PriorityQueue` (per-level ring + spill, lazy occupancy).
//! - `mutex_binary_heap`: `Mutex<BinaryHeap<(Reverse<level>, Reverse<seq>, T)>>`,
//!   the usual answer (strict, FIFO within a level through `seq`).
//! - `skipmap`: `crossbeam_skiplist::SkipMap<(level, seq), T>` used as a
//!   priority queue (`insert` + `pop_front`).
//! - `mutex_levels`: one `Mutex<VecDeque>` per level + the same occupancy
//!   idea, as the measured alternative to lock-free level FIFOs.
//! - `segqueue_fifo`: one `crossbeam_queue::SegQueue`, no priorities at all.
//!
//! Groups `queue/pq-backlog` and `queue/pq-burst` run `latchwork`,
//! `mutex_binary_heap` and `segqueue_fifo` with the same drivers:
//! - backlog: 10,000 items prefilled (outside the timed region); half the
//!   threads push, half pop (1 thread alternates), `ops_per_thread()`
//!   operations per thread; a pop that finds the queue empty (possible when
//!   the poppers outrun the pushers) yields and does not count.
//! - burst: rounds of 1,000 pushes then 1,000 pops; half the threads push,
//!   half pop (1 thread does both); a pusher starts round `r` once every
//!   item of the rounds before has been popped; `ops_per_thread() / 1000`
//!   rounds. One element = one push/pop pair.
//!
//! Group `queue/task-pool` (`ops_per_thread() / 10` tasks, level = key mod
//! 4, submitted from the bench thread to 2 workers; timed from the first
//! submission until every task has run and the workers are joined):
//! - `latchwork`: `TaskQueue::execute` (no handle, as the other pools),
//!   then `shutdown`;
//! - `latchwork_handles`: `TaskQueue::submit` with each handle dropped at
//!   once (the docs allow it), then `shutdown`.
//! - `mutex_heap_condvar`: a `Mutex<BinaryHeap>` + `Condvar` pool written
//!   the obvious way (push, `notify_one`; workers `wait` while empty).
//! - `channel_fifo`: a `crossbeam_channel::unbounded` of boxed closures,
//!   workers `for job in rx`, which ignores priority.
//!
//! Keys are a seeded uniform stream built before timing; `seq` comes from a
//! shared `AtomicU64` where a contender needs it.
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use latchwork::queue::{Level, PriorityQueue, TaskQueue};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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
            // Never closed: a push cannot be refused.
            let _ = PriorityQueue::push(self, l, v);
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

/// Backlog prefill, over the 4 levels.
const BACKLOG: u64 = 10_000;
/// Pushes (then pops) per burst round.
const BURST: usize = 1_000;

fn run_backlog<Q: Pq>(threads: usize, streams: &[Arc<Vec<u64>>]) -> Duration {
    let streams = streams.to_vec();
    run_fresh(
        threads,
        || {
            let q = Q::new();
            for k in 0..BACKLOG {
                q.push((k % LEVELS) as u8, k);
            }
            q
        },
        move |q, t| {
            let keys = &streams[t];
            if threads == 1 {
                for &k in keys.iter().step_by(2) {
                    q.push((k % LEVELS) as u8, k);
                    black_box(q.pop());
                }
            } else if t < threads / 2 {
                for &k in keys.iter() {
                    q.push((k % LEVELS) as u8, k);
                }
            } else {
                for _ in 0..keys.len() {
                    while black_box(q.pop()).is_none() {
                        std::thread::yield_now();
                    }
                }
            }
        },
    )
}

fn run_burst<Q: Pq>(threads: usize, streams: &[Arc<Vec<u64>>]) -> Duration {
    let streams = streams.to_vec();
    let popped = Arc::new(AtomicU64::new(0));
    let pushers = (threads / 2).max(1);
    run_fresh(threads, Q::new, move |q, t| {
        let keys = &streams[t];
        let rounds = keys.len() / BURST;
        if threads == 1 {
            for r in 0..rounds {
                for &k in &keys[r * BURST..(r + 1) * BURST] {
                    q.push((k % LEVELS) as u8, k);
                }
                for _ in 0..BURST {
                    black_box(q.pop());
                }
            }
        } else if t < pushers {
            for r in 0..rounds {
                let drained = (r * BURST * pushers) as u64;
                while popped.load(Ordering::Acquire) < drained {
                    std::thread::yield_now();
                }
                for &k in &keys[r * BURST..(r + 1) * BURST] {
                    q.push((k % LEVELS) as u8, k);
                }
            }
        } else {
            for _ in 0..rounds * BURST {
                while black_box(q.pop()).is_none() {
                    std::thread::yield_now();
                }
                popped.fetch_add(1, Ordering::Release);
            }
        }
    })
}

type Driver = fn(usize, &[Arc<Vec<u64>>]) -> Duration;

fn pq_group(
    c: &mut Criterion,
    name: &str,
    pairs: fn(usize, usize) -> usize,
    drivers: &[(&str, Driver)],
) {
    let ops = ops_per_thread();
    let mut g = c.benchmark_group(name);
    for threads in thread_counts() {
        let streams: Vec<Arc<Vec<u64>>> = (0..threads)
            .map(|t| Arc::new(uniform_stream(1 << 20, ops, 0xB_0000 + t as u64)))
            .collect();
        g.throughput(Throughput::Elements(pairs(ops, threads) as u64));
        for &(contender, driver) in drivers {
            bench_contender(&mut g, contender, threads, |t| driver(t, &streams));
        }
    }
    g.finish();
}

fn pq_backlog(c: &mut Criterion) {
    // One element = one operation (a push or a pop).
    pq_group(
        c,
        "queue/pq-backlog",
        |ops, threads| if threads == 1 { ops } else { ops * threads },
        &[
            (
                <PriorityQueue<u64> as Pq>::NAME,
                run_backlog::<PriorityQueue<u64>>,
            ),
            (MutexHeap::NAME, run_backlog::<MutexHeap>),
            (Fifo::NAME, run_backlog::<Fifo>),
        ],
    );
}

fn pq_burst(c: &mut Criterion) {
    // One element = one push/pop pair.
    pq_group(
        c,
        "queue/pq-burst",
        |ops, threads| ops / BURST * BURST * (threads / 2).max(1),
        &[
            (
                <PriorityQueue<u64> as Pq>::NAME,
                run_burst::<PriorityQueue<u64>>,
            ),
            (MutexHeap::NAME, run_burst::<MutexHeap>),
            (Fifo::NAME, run_burst::<Fifo>),
        ],
    );
}

/// A worker pool under test: submit boxed work at a level, then drain and
/// join.
trait Pool {
    const NAME: &'static str;
    fn start(workers: usize) -> Self;
    fn submit(&self, level: u8, job: impl FnOnce() + Send + 'static);
    fn finish(self);
}

impl Pool for TaskQueue {
    const NAME: &'static str = "latchwork";
    fn start(workers: usize) -> Self {
        TaskQueue::new(workers).expect("2 workers is a valid pool")
    }
    #[inline]
    fn submit(&self, level: u8, job: impl FnOnce() + Send + 'static) {
        if let Ok(l) = Level::new(level) {
            self.execute(l, job);
        }
    }
    fn finish(self) {
        self.shutdown();
    }
}

/// `TaskQueue::submit` with each handle dropped at once: what a task costs
/// when the caller could have awaited it.
struct WithHandles(TaskQueue);

impl Pool for WithHandles {
    const NAME: &'static str = "latchwork_handles";
    fn start(workers: usize) -> Self {
        WithHandles(TaskQueue::new(workers).expect("2 workers is a valid pool"))
    }
    #[inline]
    fn submit(&self, level: u8, job: impl FnOnce() + Send + 'static) {
        if let Ok(l) = Level::new(level) {
            drop(self.0.submit(l, job));
        }
    }
    fn finish(self) {
        self.0.shutdown();
    }
}

type BoxedJob = Box<dyn FnOnce() + Send>;

/// A heap entry ordered by (most urgent level, oldest) only.
struct HeapJob {
    level: u8,
    seq: u64,
    job: BoxedJob,
}

impl PartialEq for HeapJob {
    fn eq(&self, other: &Self) -> bool {
        (self.level, self.seq) == (other.level, other.seq)
    }
}
impl Eq for HeapJob {}
impl PartialOrd for HeapJob {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapJob {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Max-heap: the most urgent level, then the oldest, is the greatest.
        (Reverse(self.level), Reverse(self.seq)).cmp(&(Reverse(other.level), Reverse(other.seq)))
    }
}

struct HeapPoolState {
    heap: BinaryHeap<HeapJob>,
    seq: u64,
    closed: bool,
}

struct HeapPool {
    shared: Arc<(Mutex<HeapPoolState>, Condvar)>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Pool for HeapPool {
    const NAME: &'static str = "mutex_heap_condvar";
    fn start(workers: usize) -> Self {
        let shared = Arc::new((
            Mutex::new(HeapPoolState {
                heap: BinaryHeap::new(),
                seq: 0,
                closed: false,
            }),
            Condvar::new(),
        ));
        let workers = (0..workers)
            .map(|_| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let (lock, cond) = &*shared;
                    let mut st = lock.lock().unwrap();
                    loop {
                        if let Some(e) = st.heap.pop() {
                            drop(st);
                            (e.job)();
                            st = lock.lock().unwrap();
                        } else if st.closed {
                            return;
                        } else {
                            st = cond.wait(st).unwrap();
                        }
                    }
                })
            })
            .collect();
        HeapPool { shared, workers }
    }
    #[inline]
    fn submit(&self, level: u8, job: impl FnOnce() + Send + 'static) {
        let (lock, cond) = &*self.shared;
        let mut st = lock.lock().unwrap();
        let seq = st.seq;
        st.seq += 1;
        st.heap.push(HeapJob {
            level,
            seq,
            job: Box::new(job),
        });
        drop(st);
        cond.notify_one();
    }
    fn finish(self) {
        let (lock, cond) = &*self.shared;
        lock.lock().unwrap().closed = true;
        cond.notify_all();
        for w in self.workers {
            w.join().unwrap();
        }
    }
}

struct ChannelPool {
    tx: crossbeam_channel::Sender<BoxedJob>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Pool for ChannelPool {
    const NAME: &'static str = "channel_fifo";
    fn start(workers: usize) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded::<BoxedJob>();
        let workers = (0..workers)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || {
                    for job in rx {
                        job();
                    }
                })
            })
            .collect();
        ChannelPool { tx, workers }
    }
    #[inline]
    fn submit(&self, _level: u8, job: impl FnOnce() + Send + 'static) {
        // Unbounded: fails only when every worker is gone.
        let _ = self.tx.send(Box::new(job));
    }
    fn finish(self) {
        drop(self.tx);
        for w in self.workers {
            w.join().unwrap();
        }
    }
}

/// Spins for about `d` (a task that does a little work).
#[inline]
fn busy(d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn run_pool<P: Pool>(keys: &[u64], work: Duration) -> Duration {
    let pool = P::start(2);
    let t0 = Instant::now();
    for &k in keys {
        if work.is_zero() {
            pool.submit((k % LEVELS) as u8, || {
                black_box(());
            });
        } else {
            pool.submit((k % LEVELS) as u8, move || busy(work));
        }
    }
    pool.finish();
    t0.elapsed()
}

fn task_pool(c: &mut Criterion) {
    let tasks = (ops_per_thread() / 10).max(1);
    let keys = uniform_stream(1 << 20, tasks, 0x7A5C);
    let mut g = c.benchmark_group("queue/task-pool");
    g.throughput(Throughput::Elements(tasks as u64));
    for (label, work) in [("noop", Duration::ZERO), ("1us", Duration::from_micros(1))] {
        fn bench<P: Pool>(
            g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
            label: &str,
            keys: &[u64],
            work: Duration,
        ) {
            g.bench_function(BenchmarkId::new(P::NAME, label), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run_pool::<P>(keys, work)).sum())
            });
        }
        bench::<TaskQueue>(&mut g, label, &keys, work);
        bench::<WithHandles>(&mut g, label, &keys, work);
        bench::<HeapPool>(&mut g, label, &keys, work);
        bench::<ChannelPool>(&mut g, label, &keys, work);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = heavy_config();
    targets = pq_mixed, pq_backlog, pq_burst, task_pool
}
criterion_main!(benches);
