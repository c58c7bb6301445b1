//! The kernel: the machinery every module waits, blocks, spins and shards
//! with, written once and compiled whatever features are on.
//!
//! | file | the one place for |
//! |---|---|
//! | `shim.rs` | the loom / std facade: atomics, cells, locks, threads (re-exported here, so `crate::sync::atomic`, `crate::sync::Mutex`, ...) |
//! | [`spin`] | the spin / yield / park ladder (`SpinWait`) |
//! | [`wait`] | the wait queue threads park and tasks register on |
//! | [`waiting`] | the one future that waits on it (`Waiting`: owns its key, polls, releases on drop) and its blocking form |
//! | [`once`] | the one-shot result cell (the cache's loads, the task pool's handles) |
//! | [`shard`] | the shard rule (count from capacity only, never below 32 entries) and the shard index |
//! | `panic.rs` | the one reading of a caught panic's message |
//! | `stripe.rs` | which stripe a thread writes, how many stripes, the machine's parallelism |
//! | `arc_cell.rs` | the copy-on-write snapshot cell (config, the emitter) |
//!
//! The one policy for a clock that steps back lives with the clock, in the
//! public [`clock`](crate::clock) module (feature `clock`, which every
//! timed module turns on): a reading earlier than the last counts as no
//! time passed (`MonotonicClamp`; its lock-free form `AtomicClamp` is the
//! cache's per-shard floor, same semantics).
//!
//! No module outside this folder spins by hand, builds a wait key or reads
//! the machine's parallelism; `tests/kernel_bypass.rs` checks it. The
//! loom models of each piece sit in its `loom_tests` module
//! (`RUSTFLAGS="--cfg loom" cargo test --release --lib sync::`).
// The kernel compiles whatever features are on, and each module uses only
// its part: dead code is checked in the build that has every module using
// it (the default features), and allowed in the builds that leave some out.
#![cfg_attr(
    not(all(
        feature = "cache",
        feature = "queue",
        feature = "event",
        feature = "ratelimit",
        feature = "freq",
        feature = "pipeline",
        feature = "config",
        feature = "async"
    )),
    allow(dead_code, unused_imports)
)]

pub(crate) mod once;
mod panic;
pub(crate) mod shard;
mod shim;
pub(crate) mod spin;
mod stripe;
pub(crate) mod wait;
pub(crate) mod waiting;

pub(crate) use panic::panic_message;
pub(crate) use shim::*;
pub(crate) use stripe::{available_cpus, count as stripe_count, thread_stripe};

#[cfg(any(feature = "config", feature = "event"))]
mod arc_cell;
#[cfg(any(feature = "config", feature = "event"))]
pub(crate) use arc_cell::ArcCell;
