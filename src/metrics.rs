//! The crate's figures through the [`metrics`](https://docs.rs/metrics)
//! facade (feature `metrics`): name a structure once, and its counters and
//! gauges reach whatever recorder the service installed (a Prometheus
//! exporter, StatsD, ...).
//!
//! Every structure already keeps its figures (the cache's [`CacheStats`],
//! the pool's [`TaskStats`], ...) in striped counters that its hot paths
//! update anyway. A [`Registry`] holds weak references to the structures a
//! service named and copies those figures into the facade when
//! [`Registry::report`] is called: from the `/metrics` handler just before
//! the exporter renders, or from a timer. So the feature adds **nothing to
//! any hot path**: no lock, no allocation, no extra atomic per operation;
//! the cost is paid per scrape, proportional to the number of registered
//! structures (and their shards).
//!
//! | structure | metric (label `name`, plus the ones listed) | kind |
//! |---|---|---|
//! | [`Cache`] | `latchwork_cache_requests_total{result="hit"/"miss"}` | counter |
//! | | `latchwork_cache_inserts_total`, `latchwork_cache_loads_total`, `latchwork_cache_load_errors_total`, `latchwork_cache_listener_panics_total` | counter |
//! | | `latchwork_cache_removals_total{cause="size"/"expired"/"explicit"/"replaced"}` | counter |
//! | | `latchwork_cache_entries`, `latchwork_cache_weighted_size` | gauge |
//! | [`TaskQueue`] | `latchwork_tasks_total{outcome="submitted"/"completed"/"panicked"/"cancelled"}` | counter |
//! | | `latchwork_tasks_ready`, `latchwork_tasks_delayed` | gauge |
//! | [`AsyncTaskQueue`] | `latchwork_tasks_total{outcome=...}` as above | counter |
//! | | `latchwork_tasks_ready`, `latchwork_tasks_running` | gauge |
//! | [`RateLimitLayer`](crate::tower::RateLimitLayer) (feature `tower`) | `latchwork_ratelimit_requests_total{decision="admitted"/"denied"/"shadow_denied"/"error"/"unkeyed"}` | counter |
//!
//! Counters are written with `absolute`: the facade's counters never go
//! down, so after [`Cache::reset_stats`](crate::cache::Cache::reset_stats)
//! an exporter keeps the highest value it saw until the figures pass it
//! again (Prometheus counts a drop as a reset anyway).
//!
//! ```
//! use latchwork::cache::Cache;
//! use latchwork::metrics::Registry;
//! use std::sync::Arc;
//!
//! let cache = Arc::new(Cache::<u64, String>::new(10_000)?);
//! let registry = Registry::new();
//! registry.register("users", &cache);
//! cache.insert(1, "ada".to_owned());
//! assert!(cache.get(&1).is_some());
//! // In the `/metrics` handler, before rendering the exporter's text:
//! assert_eq!(registry.report(), 1);
//! drop(cache);
//! assert_eq!(registry.report(), 0); // a dropped structure is forgotten
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#[cfg(feature = "cache")]
use crate::cache::{Cache, CacheStats};
#[cfg(all(feature = "queue", feature = "async"))]
use crate::queue::AsyncTaskQueue;
#[cfg(feature = "queue")]
use crate::queue::{TaskQueue, TaskStats};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// A structure that can copy its figures into the `metrics` facade.
///
/// Implemented by the crate's structures that keep figures; implement it
/// for a wrapper of your own to report through the same [`Registry`].
pub trait Report: Send + Sync {
    /// Records the current figures, labelled `name = name`.
    fn report(&self, name: &str);
}

/// Named structures whose figures are reported together.
///
/// Holds each structure weakly: registering never keeps a structure alive,
/// and one that was dropped is forgotten at the next
/// [`report`](Self::report). Cheap to share (`Arc<Registry>`); `report` may
/// run on any thread, concurrently with the structures' own work.
#[derive(Default)]
pub struct Registry {
    entries: Mutex<Vec<Entry>>,
}

struct Entry {
    name: Arc<str>,
    item: Held,
}

/// How the registry holds a structure.
enum Held {
    /// Reported while someone else keeps it alive.
    Weak(Weak<dyn Report>),
    /// A handle the registry owns (a layer's shared counters).
    Owned(Arc<dyn Report>),
}

impl Held {
    fn get(&self) -> Option<Arc<dyn Report>> {
        match self {
            Held::Weak(w) => w.upgrade(),
            Held::Owned(a) => Some(a.clone()),
        }
    }

    fn alive(&self) -> bool {
        match self {
            Held::Weak(w) => w.strong_count() > 0,
            Held::Owned(_) => true,
        }
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reports `item`'s figures under `name` from now on, until it is
    /// dropped. The same structure may be registered under several names;
    /// two structures under one name add up in most exporters, so give
    /// each its own.
    pub fn register<T: Report + 'static>(&self, name: impl Into<String>, item: &Arc<T>) {
        let weak: Weak<T> = Arc::downgrade(item);
        let entry = Entry {
            name: Arc::from(name.into()),
            item: Held::Weak(weak),
        };
        self.lock().push(entry);
    }

    /// Reports `item` under `name` for as long as the registry lives,
    /// holding it: for cheap handles whose figures outlive any one owner,
    /// such as a [`RateLimitLayer`](crate::tower::RateLimitLayer) (a clone
    /// shares the counters of every service it built).
    pub fn register_owned<T: Report + 'static>(&self, name: impl Into<String>, item: T) {
        let entry = Entry {
            name: Arc::from(name.into()),
            item: Held::Owned(Arc::new(item)),
        };
        self.lock().push(entry);
    }

    /// Copies every live structure's figures into the facade; returns how
    /// many were reported. Structures dropped since are removed.
    ///
    /// The registry's lock is not held while reporting, so a recorder that
    /// calls back into the registry does not deadlock.
    pub fn report(&self) -> usize {
        let live: Vec<(Arc<str>, Arc<dyn Report>)> = {
            let mut entries = self.lock();
            entries.retain(|e| e.item.alive());
            entries
                .iter()
                .filter_map(|e| Some((e.name.clone(), e.item.get()?)))
                .collect()
        };
        for (name, item) in &live {
            item.report(name);
        }
        live.len()
    }

    /// Registered structures still alive.
    pub fn len(&self) -> usize {
        self.lock().iter().filter(|e| e.item.alive()).count()
    }

    /// Whether no registered structure is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        // A panic while the lock is held can only come from the allocator
        // (push, collect); the vector is consistent at every step.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<Arc<str>> = self.lock().iter().map(|e| e.name.clone()).collect();
        f.debug_struct("Registry").field("names", &names).finish()
    }
}

// Used by the `Report` impls of whichever modules are compiled in.
#[cfg_attr(
    not(any(feature = "cache", feature = "queue", feature = "tower")),
    allow(dead_code)
)]
pub(crate) fn counter(
    metric: &'static str,
    name: &str,
    labels: &[(&'static str, &'static str)],
    value: u64,
) {
    let mut all = vec![::metrics::Label::new("name", name.to_owned())];
    all.extend(labels.iter().map(|&(k, v)| ::metrics::Label::new(k, v)));
    ::metrics::counter!(metric, all).absolute(value);
}

#[cfg_attr(not(any(feature = "cache", feature = "queue")), allow(dead_code))]
pub(crate) fn gauge(metric: &'static str, name: &str, value: f64) {
    ::metrics::gauge!(metric, "name" => name.to_owned()).set(value);
}

#[cfg(feature = "cache")]
impl<K, V, S, C> Report for Cache<K, V, S, C>
where
    K: std::hash::Hash + Eq,
    S: std::hash::BuildHasher,
    C: crate::clock::Clock,
    Cache<K, V, S, C>: Send + Sync,
{
    fn report(&self, name: &str) {
        let CacheStats {
            hits,
            misses,
            inserts,
            evictions,
            expirations,
            invalidations,
            replacements,
            loads,
            load_errors,
            listener_panics,
        } = self.stats();
        let requests = "latchwork_cache_requests_total";
        counter(requests, name, &[("result", "hit")], hits);
        counter(requests, name, &[("result", "miss")], misses);
        counter("latchwork_cache_inserts_total", name, &[], inserts);
        counter("latchwork_cache_loads_total", name, &[], loads);
        counter("latchwork_cache_load_errors_total", name, &[], load_errors);
        let panics = "latchwork_cache_listener_panics_total";
        counter(panics, name, &[], listener_panics);
        let removals = "latchwork_cache_removals_total";
        counter(removals, name, &[("cause", "size")], evictions);
        counter(removals, name, &[("cause", "expired")], expirations);
        counter(removals, name, &[("cause", "explicit")], invalidations);
        counter(removals, name, &[("cause", "replaced")], replacements);
        gauge("latchwork_cache_entries", name, self.len() as f64);
        gauge(
            "latchwork_cache_weighted_size",
            name,
            self.weighted_size() as f64,
        );
    }
}

#[cfg(feature = "queue")]
fn report_tasks(name: &str, stats: TaskStats) {
    let TaskStats {
        submitted,
        completed,
        panicked,
        cancelled,
        ..
    } = stats;
    let tasks = "latchwork_tasks_total";
    counter(tasks, name, &[("outcome", "submitted")], submitted);
    counter(tasks, name, &[("outcome", "completed")], completed);
    counter(tasks, name, &[("outcome", "panicked")], panicked);
    counter(tasks, name, &[("outcome", "cancelled")], cancelled);
}

#[cfg(feature = "queue")]
impl<C: crate::clock::Clock + Send + Sync + 'static> Report for TaskQueue<C> {
    fn report(&self, name: &str) {
        report_tasks(name, self.stats());
        gauge("latchwork_tasks_ready", name, self.ready_len() as f64);
        gauge("latchwork_tasks_delayed", name, self.delayed_len() as f64);
    }
}

#[cfg(all(feature = "queue", feature = "async"))]
impl Report for AsyncTaskQueue {
    fn report(&self, name: &str) {
        report_tasks(name, self.stats());
        gauge("latchwork_tasks_ready", name, self.queued_len() as f64);
        gauge("latchwork_tasks_running", name, self.running() as f64);
    }
}
