//! `RedisQueue`: a durable priority job queue in Redis for many worker
//! processes (feature `redis`), on a single node or a Redis Cluster. The
//! guarantees, the key layout and the limits are documented on
//! [`RedisQueue`] (this module is private; its items are re-exported by
//! `queue`).
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
