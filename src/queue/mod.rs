//! A strictly ordered concurrent priority queue, and worker pools on it (threads
//! running closures, futures on the caller's executor).
//!
//! - [`PriorityQueue`]: 64 levels (0 = most urgent), FIFO within a level.
//!   One FIFO per level (a lock-free bounded ring in the shape of
//!   crossbeam's `ArrayQueue`, with a locked overflow for what does not
//!   fit) and a 64-bit word of
//!   occupied levels, cleared lazily; a pop reads the word and takes from
//!   the most urgent occupied level. `push` and `try_pop` never wait for
//!   another thread while the level's ring has room; `pop` and
//!   `pop_timeout` park while the queue is empty, and `pop_async` (feature
//!   `async`) awaits on the same wait queue. `close` wakes every waiter and
//!   refuses later pushes ([`Closed`] hands the item back); pops drain,
//!   then report the end. The exact ordering guarantee is on
//!   [`PriorityQueue`].
//! - [`TaskQueue`]: N workers running closures by priority, each returning a
//!   [`TaskHandle`]; panics are caught and reported, delayed tasks follow
//!   the crate's [`Clock`](crate::clock::Clock), and shutdown accounts for
//!   every task (it ran exactly once, or its handle says
//!   [`TaskError::Cancelled`]).
//! - `AsyncTaskQueue` (feature `async`): the same for futures, on the
//!   caller's executor: N worker futures handed to a `Spawn`er (any
//!   `Fn(Worker)`, or `TokioSpawner` with feature `tokio`) take tasks by
//!   priority from the same queue and await them. Bounded: `try_submit`
//!   hands the future back when full, `submit_async` waits for room
//!   (cancel safe). The same handles, errors and stats as `TaskQueue`;
//!   dropping the pool drains it.
//!
//! ```text
//!   occupied 0b0101 ──► [0] alert, alert   ◄── pop takes from here first
//!                       [1]
//!                       [2] report
//!                       ...
//! ```
#[cfg(feature = "async")]
mod async_pool;
mod delayed;
mod error;
mod fifo;
mod level;
mod pool;
mod priority;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
mod redis;
mod ring;
#[cfg(feature = "async")]
mod spawn;
mod task;

#[cfg(feature = "async")]
pub use async_pool::{AsyncTaskQueue, AsyncTaskQueueBuilder, TrySubmitError};

pub use error::{Closed, Error};
pub use level::{Level, Priority, LEVELS};
pub use pool::{TaskQueue, TaskQueueBuilder, TaskStats, MAX_WORKERS};
#[cfg(feature = "async")]
pub use priority::PopFuture;
pub use priority::{PriorityQueue, DEFAULT_RING_CAPACITY};
#[cfg(feature = "redis")]
pub use redis::{
    BlockingRedisQueue, DeadJob, Endpoint, EnqueueOptions, Enqueued, Job, JobId, Nacked,
    QueueStats, RedisError, RedisQueue, RedisQueueBuilder, DEFAULT_MAX_ATTEMPTS, MAX_DELAY,
    MAX_IDEMPOTENCY_KEY_LEN, MAX_LEASE, MAX_NAME_LEN, MAX_PAYLOAD_LEN,
};
#[cfg(all(feature = "redis", feature = "tokio"))]
pub use redis::{RedisWorker, RedisWorkerBuilder, RedisWorkerStats, MAX_CONCURRENCY};
#[cfg(feature = "tokio")]
pub use spawn::TokioSpawner;
#[cfg(feature = "async")]
pub use spawn::{Spawn, Worker};
pub use task::{TaskError, TaskHandle, TaskId, TaskReport};
