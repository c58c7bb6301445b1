//! # latchwork
//!
//! Lock-free and concurrent building blocks for high-throughput services.
//!
//! | module | what it is | status |
//! |---|---|---|
//! | [`lru`] | arena-index LRU cache, and a sharded concurrent form | ready |
//! | [`clock`] | the clock every time-based module uses (system or manual) | ready |
//! | [`ttl`] | TTL cache with timer-wheel expiry, and single-flight memoization | ready |
//! | [`retry`] | backoff with jitter, deadlines, retry-after hints and a shared lock-free retry budget | ready |
//! | [`pipeline`] | constant-memory staged pipelines with backpressure, chunking, time-or-size batching, a JSON-lines source | ready |
//! | [`paginate`] | offset pages, keyset cursors over a concurrent ordered index, iterator pages | ready |
//!
//! ```
//! use latchwork::lru::{ConcurrentLru, LruCache};
//!
//! // Single-threaded, strict LRU.
//! let mut cache = LruCache::new(2)?;
//! cache.put(1, "one");
//! cache.put(2, "two");
//! cache.get(&1);
//! assert_eq!(cache.put(3, "three"), Some((2, "two")));
//!
//! // Shared by many threads through `&self`.
//! let shared = ConcurrentLru::new(10_000)?;
//! shared.insert("user:42", 7u32);
//! assert_eq!(shared.get("user:42"), Some(7));
//! # Ok::<(), latchwork::lru::Error>(())
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
pub mod clock;
mod counter;
pub mod lru;
pub mod paginate;
pub mod pipeline;
pub mod retry;
mod sync;
pub mod ttl;

/// The default `BuildHasher` of every hash-indexed structure in the crate:
/// foldhash's fast, per-process randomly seeded hasher.
pub type DefaultHashBuilder = foldhash::fast::RandomState;
