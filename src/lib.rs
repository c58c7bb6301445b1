//! # latchwork
//!
//! Lock-free and concurrent building blocks for high-throughput services.
//!
//! | module | what it is |
//! |---|---|
//! | [`cache`] | the concurrent cache: TinyLFU or LRU, weights, TTL/TTI, listener, single-flight loads |
//! | [`lru`] | index-linked strict LRU cache for one thread |
//! | [`ttl`] | memoization with a time to live (single-flight, on [`cache`]) |
//! | [`ratelimit`] | lock-free token bucket (GCRA), sliding windows, sharded keyed limiter |
//! | [`queue`] | strictly ordered multi-level priority queue, a worker pool, and an async task pool on any executor |
//! | [`retry`] | backoff with jitter, deadlines, retry-after hints, a lock-free retry budget |
//! | [`config`] | layered configuration (defaults, TOML/JSON files, environment, runtime), lock-free hot reload |
//! | [`freq`] | concurrent frequency counting, top-k, merge, anomalies; bounded heavy hitters |
//! | [`event`] | lock-free pub-sub emitter (topics, wildcards, priorities, once) and broadcast channel |
//! | [`pipeline`] | constant-memory staged pipelines with backpressure, chunking, time-or-size batching, a JSON-lines source |
//! | [`paginate`] | offset pages, keyset cursors over a concurrent ordered index, iterator pages |
//! | [`clock`] | the clock every time-based module uses (system or manual) |
//! | [`sleep`] | the one sleep abstraction of async waits (`Sleeper`), runtime-free |
//! | `tower` (feature) | rate-limit and retry layers for tower services, with the standard rate-limit headers |
//! | `metrics` (feature) | every structure's figures through the `metrics` facade, copied at scrape time |
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
//! ## Async
//! With feature `async` (on by default) every waiting operation has an
//! awaitable form that needs only a `Waker`, on any executor: broadcast
//! `recv_async` / `send_async` / `Stream`, [`cache::Cache::get_or_insert_async`],
//! [`ttl::Memoized::get_async`], the limiters' `until_ready`. Threads and
//! tasks wait on one internal wait queue behind one handshake (a waiter
//! count, a SeqCst fence pair, a mutex guarding a condvar and a slab of
//! wakers), modelled with loom; time passes through a caller-supplied
//! [`sleep::Sleeper`]. Each async method documents its cancel safety.
//!
//! ## Hashing
//! Hash-indexed structures default to [`DefaultHashBuilder`], foldhash's
//! randomly seeded fast hasher: a few cycles per key and seeded per process,
//! which resists casual collision attacks but is not a cryptographic
//! guarantee. Where keys come from hostile clients and that matters more
//! than speed, pass `std::collections::hash_map::RandomState` (SipHash-1-3)
//! through the `with_hasher`/builder constructors.
//!
//! ## Bad input
//! Every constructor, setter and method that takes a number, duration,
//! size, cost, key or clock either does its documented thing or returns the
//! module's typed error naming the parameter; none panics.
//! `tests/bad_input.rs` calls each with extreme values, one child process
//! per case, so that a crash is reported rather than fatal. Three rules
//! hold throughout:
//! - **A size the process cannot hold is a typed error, never an OOM
//!   abort.** Sizes allocated up front are checked against a documented
//!   maximum ([`event::broadcast::MAX_CAPACITY`],
//!   [`event::broadcast::MAX_RECEIVERS`], [`pipeline::MAX_CAPACITY`] and its
//!   siblings) and reserved fallibly (`try_reserve`); sizes that are only
//!   bounds (a chunk of `usize::MAX`, a heavy-hitter summary for a huge `k`,
//!   a page limit) pre-allocate a small amount and grow with the data
//!   actually seen. Memory follows what is stored, never a requested cost
//!   (the sliding-window log keeps one entry per request, not per unit).
//! - **Recursion driven by user input is bounded.** Configuration keys and
//!   values nest at most [`config::MAX_DEPTH`] levels (files are bounded by
//!   their parsers); topics and keys are processed iteratively.
//! - **A clock at its maximum, or one that stops or steps back, is handled
//!   deliberately.** A reading earlier than the last one seen counts as no
//!   time passed (see [`clock`](clock#time-that-goes-backwards)); no
//!   limiter admits more than its limit because of it, and a clock stopped
//!   at `u64::MAX` nanoseconds admits nothing more once its budget is used.
//!   A task due at the end of time (`Duration::MAX`) is kept and runs once
//!   the clock gets there; timeouts of `Duration::MAX` wait forever.
//!
//! ## Concurrency testing
//! Every atomic protocol has a [loom](https://docs.rs/loom) model. All
//! synchronisation goes through one internal shim, so
//! `RUSTFLAGS="--cfg loom" cargo test --release --lib` runs the models over
//! the real code.
#![warn(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

// Each module is behind the feature of its name (see the crate docs'
// "Features" section); the internal pieces compile when a module that uses
// them is on.
#[cfg(feature = "cache")]
mod arena;
#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub mod cache;
#[cfg(feature = "clock")]
#[cfg_attr(docsrs, doc(cfg(feature = "clock")))]
pub mod clock;
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub mod config;
#[cfg(any(feature = "cache", feature = "queue", feature = "tower"))]
mod counter;
#[cfg(feature = "event")]
#[cfg_attr(docsrs, doc(cfg(feature = "event")))]
pub mod event;
#[cfg(feature = "freq")]
#[cfg_attr(docsrs, doc(cfg(feature = "freq")))]
pub mod freq;
#[cfg(any(
    feature = "cache",
    feature = "lru",
    feature = "ratelimit",
    feature = "event",
    feature = "freq",
    feature = "config"
))]
mod hash;
#[cfg(feature = "lru")]
#[cfg_attr(docsrs, doc(cfg(feature = "lru")))]
pub mod lru;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(feature = "paginate")]
#[cfg_attr(docsrs, doc(cfg(feature = "paginate")))]
pub mod paginate;
#[cfg(feature = "pipeline")]
#[cfg_attr(docsrs, doc(cfg(feature = "pipeline")))]
pub mod pipeline;
#[cfg(feature = "queue")]
#[cfg_attr(docsrs, doc(cfg(feature = "queue")))]
pub mod queue;
#[cfg(feature = "ratelimit")]
#[cfg_attr(docsrs, doc(cfg(feature = "ratelimit")))]
pub mod ratelimit;
#[cfg(feature = "redis")]
mod redis_link;
#[cfg(feature = "retry")]
#[cfg_attr(docsrs, doc(cfg(feature = "retry")))]
pub mod retry;
#[cfg(all(feature = "serde", any(feature = "ratelimit", feature = "pipeline")))]
mod serde_nanos;
#[cfg(feature = "clock")]
#[cfg_attr(docsrs, doc(cfg(feature = "clock")))]
pub mod sleep;
mod sync;
// The cache's engine names the shard rule `crate::shard` (the kernel's
// `sync::shard`).
#[cfg(feature = "cache")]
use sync::shard;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
#[cfg(feature = "ttl")]
#[cfg_attr(docsrs, doc(cfg(feature = "ttl")))]
pub mod ttl;
#[cfg(feature = "cache")]
mod wheel;

#[cfg(any(
    feature = "cache",
    feature = "lru",
    feature = "ratelimit",
    feature = "event",
    feature = "freq",
    feature = "config"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "cache",
        feature = "lru",
        feature = "ratelimit",
        feature = "event",
        feature = "freq",
        feature = "config"
    )))
)]
pub use hash::{DefaultHashBuilder, DefaultHasher};

/// The README's Rust example, compiled and run as a doctest.
#[cfg(all(
    doctest,
    feature = "cache",
    feature = "lru",
    feature = "ratelimit",
    feature = "queue",
    feature = "event",
    feature = "retry",
    feature = "config"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
