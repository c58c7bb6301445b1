//! The `metrics` feature: a registry copies each named structure's figures
//! into the facade at report time, exactly, and forgets dropped ones.
#![cfg(all(not(loom), feature = "metrics", feature = "cache", feature = "queue"))]

use latchwork::cache::Cache;
use latchwork::metrics::Registry;
use latchwork::queue::{Priority, TaskQueue};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::MetricKind;
use std::collections::HashMap;
use std::sync::Arc;

/// Reports through a recorder local to this thread and returns every
/// metric as `"name{label=value,...}" -> value`.
fn scrape(registry: &Registry) -> (usize, HashMap<String, f64>) {
    let recorder = DebuggingRecorder::new();
    let snapshotter: Snapshotter = recorder.snapshotter();
    let reported = metrics::with_local_recorder(&recorder, || registry.report());
    let mut out = HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let (kind, key) = key.into_parts();
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let value = match (kind, value) {
            (MetricKind::Counter, DebugValue::Counter(v)) => v as f64,
            (MetricKind::Gauge, DebugValue::Gauge(v)) => v.into_inner(),
            other => panic!("unexpected metric {other:?}"),
        };
        out.insert(format!("{}{{{}}}", key.name(), labels.join(",")), value);
    }
    (reported, out)
}

#[test]
fn cache_figures_are_reported_exactly_under_their_name() {
    let cache = Arc::new(Cache::<u64, u64>::new(100).unwrap());
    let registry = Registry::new();
    registry.register("users", &cache);
    for k in 0..10 {
        cache.insert(k, k);
    }
    for k in 0..15 {
        cache.get(&k);
    }
    cache.remove(&3);
    cache.insert(4, 40);
    let (reported, m) = scrape(&registry);
    assert_eq!(reported, 1);
    assert_eq!(
        m["latchwork_cache_requests_total{name=users,result=hit}"],
        10.0
    );
    assert_eq!(
        m["latchwork_cache_requests_total{name=users,result=miss}"],
        5.0
    );
    assert_eq!(m["latchwork_cache_inserts_total{name=users}"], 11.0);
    assert_eq!(
        m["latchwork_cache_removals_total{cause=explicit,name=users}"],
        1.0
    );
    assert_eq!(
        m["latchwork_cache_removals_total{cause=replaced,name=users}"],
        1.0
    );
    assert_eq!(
        m["latchwork_cache_removals_total{cause=size,name=users}"],
        0.0
    );
    assert_eq!(m["latchwork_cache_entries{name=users}"], 9.0);
    assert_eq!(m["latchwork_cache_weighted_size{name=users}"], 9.0);
}

#[test]
fn pool_figures_are_reported_and_two_names_stay_apart() {
    let pool = Arc::new(TaskQueue::new(1).unwrap());
    let other = Arc::new(TaskQueue::new(1).unwrap());
    let registry = Registry::new();
    registry.register("jobs", &pool);
    registry.register("mail", &other);
    let handles: Vec<_> = (0..5u8)
        .map(|i| pool.submit(Priority::Medium, move || i))
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let failing = pool.submit(Priority::High, || panic!("job fails"));
    assert!(failing.join().is_err());
    pool.shutdown();
    let (reported, m) = scrape(&registry);
    assert_eq!(reported, 2);
    assert_eq!(m["latchwork_tasks_total{name=jobs,outcome=submitted}"], 6.0);
    assert_eq!(m["latchwork_tasks_total{name=jobs,outcome=completed}"], 5.0);
    assert_eq!(m["latchwork_tasks_total{name=jobs,outcome=panicked}"], 1.0);
    assert_eq!(m["latchwork_tasks_total{name=mail,outcome=submitted}"], 0.0);
    assert_eq!(m["latchwork_tasks_ready{name=jobs}"], 0.0);
}

#[test]
fn a_dropped_structure_is_forgotten_and_never_kept_alive() {
    let cache = Arc::new(Cache::<u64, u64>::new(10).unwrap());
    let registry = Registry::new();
    registry.register("gone", &cache);
    assert_eq!(registry.len(), 1);
    assert_eq!(Arc::strong_count(&cache), 1, "the registry holds it weakly");
    drop(cache);
    let (reported, m) = scrape(&registry);
    assert_eq!(reported, 0);
    assert!(m.is_empty());
    assert!(registry.is_empty());
}

#[test]
fn registry_is_send_and_sync() {
    fn assert_both<T: Send + Sync>() {}
    assert_both::<Registry>();
}
