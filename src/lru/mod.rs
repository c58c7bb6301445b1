//! A strict least-recently-used cache on an arena-index intrusive list.
//!
//! [`LruCache`] is for one thread: nodes live in one `Vec` arena linked by
//! `u32` indices (no `Box` per node, no raw pointers), indexed by a
//! `hashbrown::HashTable<u32>`; every operation is O(1). For many threads
//! use [`Cache`](crate::cache::Cache) with
//! [`Policy::Lru`](crate::cache::Policy::Lru) (the former `ConcurrentLru`),
//! or its default TinyLFU policy for a better hit ratio.
//!
//! ```text
//!   HEAD <-> [LRU] <-> ... <-> [MRU] <-> TAIL     (HEAD and TAIL are one
//!                                                  sentinel slot, index 0)
//! ```
//!
//! Memory, measured by `tests/lru_memory.rs` for `u64 -> u64` at capacity
//! 100,000: see `docs/benchmarks.md` for the figures against the `lru` crate.
pub(crate) mod cache;
mod error;

pub use cache::{Iter, LruCache};
pub use error::Error;
