//! Config reads during continuous reloads: `LayeredConfig::snapshot().get`
//! vs an `RwLock<HashMap<String, Value>>` whose writer swaps in a freshly
//! built map, 2 reader threads each looking up a uniform stream over 1,000
//! dotted keys (and cloning the value), while a third thread reloads
//! back-to-back from a 1,000-variable environment whose values change on
//! every reload. The writer's reload rate is printed too: the two writers
//! do different work per reload (ours re-merges, re-indexes and diffs).
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use latchwork::config::{env_var_to_key, LayeredConfig, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

const KEYS: u64 = 1_000;
const READERS: usize = 2;

fn var(i: u64) -> String {
    format!("APP_SECTION{}__KEY{}", i / 50, i % 50)
}

fn key(i: u64) -> String {
    format!("section{}.key{}", i / 50, i % 50)
}

/// The environment of reload number `n`.
fn env(n: u64) -> Vec<(String, String)> {
    (0..KEYS).map(|i| (var(i), (i + n).to_string())).collect()
}

trait Store: Send + Sync + 'static {
    const NAME: &'static str;
    fn new(generation: Arc<AtomicU64>) -> Self;
    fn get(&self, key: &str) -> Option<Value>;
    fn reload(&self);
}

impl Store for LayeredConfig {
    const NAME: &'static str = "latchwork";
    fn new(generation: Arc<AtomicU64>) -> Self {
        LayeredConfig::builder()
            .env_from("APP_", move || {
                env(generation.fetch_add(1, Ordering::Relaxed))
            })
            .build()
            .unwrap()
    }
    #[inline]
    fn get(&self, key: &str) -> Option<Value> {
        self.snapshot().get(key).cloned()
    }
    fn reload(&self) {
        self.reload().unwrap();
    }
}

struct RwLockMap {
    map: RwLock<HashMap<String, Value>>,
    generation: Arc<AtomicU64>,
}

impl RwLockMap {
    fn build(n: u64) -> HashMap<String, Value> {
        env(n)
            .into_iter()
            .filter_map(|(k, v)| Some((env_var_to_key("APP_", &k).ok()??, Value::String(v))))
            .collect()
    }
}

impl Store for RwLockMap {
    const NAME: &'static str = "rwlock_hashmap";
    fn new(generation: Arc<AtomicU64>) -> Self {
        // Relaxed: a counter, publishes nothing (the RwLock does).
        let map = RwLock::new(Self::build(generation.fetch_add(1, Ordering::Relaxed)));
        RwLockMap { map, generation }
    }
    #[inline]
    fn get(&self, key: &str) -> Option<Value> {
        self.map.read().unwrap().get(key).cloned()
    }
    fn reload(&self) {
        // Built outside the lock, swapped under it: the best an RwLock does.
        // Relaxed: as in `new`.
        let fresh = Self::build(self.generation.fetch_add(1, Ordering::Relaxed));
        *self.map.write().unwrap() = fresh;
    }
}

fn run<S: Store>(streams: &[Arc<Vec<String>>], reloads: &AtomicU64) -> Duration {
    let generation = Arc::new(AtomicU64::new(0));
    let store = Arc::new(S::new(Arc::clone(&generation)));
    let stop = Arc::new(AtomicBool::new(false));
    let reloader = {
        let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 0;
            // Relaxed: a stop flag that guards no data; `join` below
            // orders the reloader's work before the count is read.
            while !stop.load(Ordering::Relaxed) {
                store.reload();
                n += 1;
            }
            n
        })
    };
    let streams = streams.to_vec();
    let reader_store = Arc::clone(&store);
    let elapsed = run_threads(READERS, move |t| {
        let mut hits = 0usize;
        for k in streams[t].iter() {
            hits += usize::from(reader_store.get(k).is_some());
        }
        assert_eq!(hits, streams[t].len());
    });
    stop.store(true, Ordering::Relaxed); // Relaxed: see the load above.
                                         // Relaxed: a statistic, read after every run has been joined.
    reloads.fetch_add(reloader.join().unwrap(), Ordering::Relaxed);
    elapsed
}

fn get_during_reloads(c: &mut Criterion) {
    let ops = ops_per_thread() / 4;
    let streams: Vec<Arc<Vec<String>>> = (0..READERS)
        .map(|t| {
            Arc::new(
                uniform_stream(KEYS, ops, 0x5EED + t as u64)
                    .into_iter()
                    .map(key)
                    .collect(),
            )
        })
        .collect();
    let mut g = c.benchmark_group("config/get-during-reloads");
    g.throughput(Throughput::Elements((ops * READERS) as u64));
    fn bench<S: Store>(
        g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        streams: &[Arc<Vec<String>>],
    ) {
        let reloads = AtomicU64::new(0);
        let mut measured = Duration::ZERO;
        g.bench_with_input(BenchmarkId::new(S::NAME, READERS), &READERS, |b, _| {
            b.iter_custom(|iters| {
                let d: Duration = (0..iters).map(|_| run::<S>(streams, &reloads)).sum();
                measured += d;
                d
            })
        });
        // Relaxed: every writer was joined before this read.
        let rate = reloads.load(Ordering::Relaxed) as f64 / measured.as_secs_f64().max(1e-9);
        eprintln!(
            "{}: {rate:.0} reloads/s while {READERS} readers ran",
            S::NAME
        );
        emit(
            &format!("get-during-reloads/{} reloads", S::NAME),
            rate,
            "reloads/s",
        );
    }
    bench::<LayeredConfig>(&mut g, &streams);
    bench::<RwLockMap>(&mut g, &streams);
    g.finish();
}

criterion_group! {
    name = benches;
    config = heavy_config();
    targets = get_during_reloads
}
criterion_main!(benches);
