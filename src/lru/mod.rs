//! A strict least-recently-used cache on an index-linked intrusive ring.
//!
//! [`LruCache`] is for one thread: entries live densely in one `Vec`, linked
//! by `u32` indices into a ring (no `Box` per node, no raw pointers, no
//! sentinel, no `Option` tag), indexed by a
//! `hashbrown::HashTable<u32>`; every operation is O(1). For many threads
//! use [`Cache`](crate::cache::Cache) with
//! [`Policy::Lru`](crate::cache::Policy::Lru), or its default TinyLFU
//! policy for a better hit ratio.
//!
//! ```text
//!   head = [LRU] <-> [ ] <-> ... <-> [MRU] <-> back to head
//!   a new key at a full cache: reuse the head's entry, head = head.next
//! ```
//!
//! Memory, measured by `tests/lru_memory.rs` for `u64 -> u64` at capacity
//! 100,000: see `docs/benchmarks.md` for the figures against the `lru` crate.
pub(crate) mod cache;
mod error;

pub use cache::{Iter, LruCache};
pub use error::Error;
