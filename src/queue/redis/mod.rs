//! [`RedisQueue`]: a durable priority job queue in Redis for many worker
//! processes (feature `redis`), on a single node or a Redis Cluster.
//!
//! **Semantics: `TaskQueue`'s, across processes.** The same 64 [`Level`](super::Level)s
//! (and [`Priority`](super::Priority) names), strict priority across
//! levels and FIFO within one, as the in-process
//! [`PriorityQueue`](super::PriorityQueue). A job is payload bytes
//! (JSON helpers with feature `serde`), optionally delayed or scheduled,
//! with an optional idempotency key and a maximum attempt count.
//!
//! **Delivery: at least once, completion at most once.** `reserve` hands a
//! job to one worker under a lease (a visibility timeout). If the worker
//! dies, hangs or is cut off, the lease runs out and the job is delivered
//! again with its attempt count raised (reliable fetch: a reserved job is
//! always in the leased set, never only in a worker's memory). Each
//! delivery carries a token; `ack`, `nack`, `extend` and `release` are
//! refused with [`RedisError::LeaseLost`] once the job has passed to a
//! later delivery, so the bookkeeping records one completion per job.
//! Handlers must still be idempotent: a handler that outruns its lease
//! may have done its work twice even though only one ack counts.
//!
//! **Failures.** `nack` retries after the crate's [`retry`](crate::retry)
//! [`Backoff`](crate::retry::Backoff) with jitter; after the last attempt
//! (also a lease that runs out on it) the job moves to the dead set, which
//! [`dead`](RedisQueue::dead) lists and [`requeue_dead`](RedisQueue::requeue_dead)
//! puts back.
//!
//! **How.** Every operation is one Lua script (`*.lua` beside this file,
//! each `common.lua` + its body), called by `EVALSHA` with the crate's one
//! `NOSCRIPT` recovery, so each is atomic and one round trip: enqueue 1,
//! reserve 1, ack 1 per job. The clock is Redis `TIME` (milliseconds), so
//! workers' clocks never matter. Keys are `prefix{name}:...`: the hash
//! tag keeps a queue in one cluster slot.
//!
//! ```text
//!   enqueue ─► ready (zset: level·2^47 + seq) ─reserve─► leased (zset: deadline)
//!      │            ▲        ▲                             │  │  │
//!      └► delayed ──┘due     └──── lease ran out ──────────┘  │  └─ack─► (deleted)
//!         (run at)  ◄──────────── nack (backoff) ─────────────┘
//!                   dead ◄── last attempt failed / ran out; requeue_dead ─► ready
//! ```
//!
//! **Durability.** An enqueue that returned `Ok` is in Redis's memory. It
//! survives a Redis restart only with persistence: `appendonly yes` with
//! `appendfsync always` loses no acknowledged enqueue even on a power
//! loss; `appendfsync everysec` (Redis's default) can lose the last
//! second's on a machine crash but none on a clean restart or a killed
//! `redis-server` process (the kernel still writes its buffers). With
//! persistence off a restart loses every job. Replication is
//! asynchronous: a failover can lose the last writes (`WAIT` is not used).
//!
//! **Limits.** Payloads up to [`MAX_PAYLOAD_LEN`] (16 MiB), idempotency
//! keys 1 to [`MAX_IDEMPOTENCY_KEY_LEN`] bytes, leases 1 ms to
//! [`MAX_LEASE`], delays 0 to [`MAX_DELAY`] (whole milliseconds, rounded
//! up), attempts 1 to `u32::MAX` (`u32::MAX`: retry forever); anything else
//! is a typed [`RedisError`] before anything is sent. Job ids are exact up
//! to 10^14 jobs per queue.
mod blocking;
mod builder;
mod core;
mod error;
mod job;
mod queue;
#[cfg(feature = "tokio")]
mod worker;

pub use crate::redis_link::Endpoint;
pub use blocking::BlockingRedisQueue;
pub use builder::RedisQueueBuilder;
pub use core::{
    Nacked, DEFAULT_MAX_ATTEMPTS, MAX_DELAY, MAX_IDEMPOTENCY_KEY_LEN, MAX_LEASE, MAX_NAME_LEN,
    MAX_PAYLOAD_LEN,
};
pub use error::RedisError;
pub use job::{DeadJob, EnqueueOptions, Enqueued, Job, JobId, QueueStats};
pub use queue::RedisQueue;
#[cfg(feature = "tokio")]
pub use worker::{RedisWorker, RedisWorkerBuilder, RedisWorkerStats, MAX_CONCURRENCY};
