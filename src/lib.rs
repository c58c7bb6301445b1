//! # latchwork
//!
//! Lock-free and concurrent building blocks for high-throughput services.
//!
//! | module | what it is |
//! |---|---|
//! | [`cache`] | the concurrent cache: TinyLFU or LRU, weights, TTL/TTI, listener, single-flight loads |
//! | [`lru`] | arena-index strict LRU cache for one thread |
//! | [`ttl`] | memoization with a time to live (single-flight, on [`cache`]) |
//! | [`ratelimit`] | lock-free token bucket (GCRA), sliding windows, sharded keyed limiter |
//! | [`queue`] | strictly ordered multi-level priority queue and a worker pool |
//! | [`retry`] | backoff with jitter, deadlines, retry-after hints, a lock-free retry budget |
//! | [`config`] | layered configuration (defaults, TOML/JSON files, environment, runtime), lock-free hot reload |
//! | [`freq`] | concurrent frequency counting, top-k, merge, anomalies; bounded heavy hitters |
//! | [`event`] | lock-free pub-sub emitter (topics, wildcards, priorities, once) and broadcast channel |
//! | [`pipeline`] | constant-memory staged pipelines with backpressure, chunking, time-or-size batching, a JSON-lines source |
//! | [`paginate`] | offset pages, keyset cursors over a concurrent ordered index, iterator pages |
//! | [`clock`] | the clock every time-based module uses (system or manual) |
//!
//! ```
//! use latchwork::cache::Cache;
//! use latchwork::lru::LruCache;
//!
//! // Single-threaded, strict LRU.
//! let mut cache = LruCache::new(2)?;
//! cache.put(1, "one");
//! cache.put(2, "two");
//! cache.get(&1);
//! assert_eq!(cache.put(3, "three"), Some((2, "two")));
//!
//! // Shared by many threads through `&self`: TinyLFU admission by default.
//! let shared = Cache::new(10_000)?;
//! shared.insert("user:42", 7u32);
//! assert_eq!(shared.get("user:42"), Some(7));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Hashing
//! Hash-indexed structures default to [`DefaultHashBuilder`], foldhash's
//! randomly seeded fast hasher: a few cycles per key and seeded per process,
//! which resists casual collision attacks but is not a cryptographic
//! guarantee. Where keys come from hostile clients and that matters more
//! than speed, pass `std::collections::hash_map::RandomState` (SipHash-1-3)
//! through the `with_hasher`/builder constructors.
//!
//! ## Concurrency testing
//! Every atomic protocol has a [loom](https://docs.rs/loom) model. All
//! synchronisation goes through one internal shim, so
//! `RUSTFLAGS="--cfg loom" cargo test --release --lib` runs the models over
//! the real code.
#![warn(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod arena;
pub mod cache;
pub mod clock;
pub mod config;
mod counter;
pub mod event;
pub mod freq;
pub mod lru;
pub mod paginate;
pub mod pipeline;
pub mod queue;
pub mod ratelimit;
pub mod retry;
mod shard;
mod sync;
pub mod ttl;
mod wheel;

/// The default `BuildHasher` of every hash-indexed structure in the crate:
/// foldhash's fast, per-process randomly seeded hasher.
pub type DefaultHashBuilder = foldhash::fast::RandomState;

/// The README's Rust example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
