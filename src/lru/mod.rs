//! Least-recently-used caches on an arena-index intrusive list.
//!
//! - [`LruCache`]: strict LRU for one thread. Nodes live in one `Vec` arena
//!   linked by `u32` indices (no `Box` per node, no raw pointers), indexed by
//!   a `hashbrown::HashTable<u32>`; every operation is O(1).
//! - [`ConcurrentLru`]: the same cache sharded by hash for many threads.
//!   Reads take a shard's read lock and record the hit in a lossy buffer;
//!   the LRU order is updated in batches under the write lock.
//!
//! ```text
//!   HEAD <-> [LRU] <-> ... <-> [MRU] <-> TAIL     (HEAD and TAIL are one
//!                                                  sentinel slot, index 0)
//! ```
//!
//! Memory, measured by `tests/lru_memory.rs` for `u64 -> u64` at capacity
//! 100,000: see `docs/benchmarks.md` for the figures against the `lru` crate.
pub(crate) mod cache;
mod concurrent;
mod error;
mod read_buffer;

pub use cache::{Iter, LruCache};
pub use concurrent::{CacheStats, ConcurrentLru, ConcurrentLruBuilder};
pub use error::Error;
