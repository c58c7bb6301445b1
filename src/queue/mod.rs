//! A strictly ordered concurrent priority queue, and a worker pool on it.
//!
//! - [`PriorityQueue`]: 64 levels (0 = most urgent), FIFO within a level.
//!   One lock-free FIFO per level (crossbeam's `SegQueue`) and a 64-bit word
//!   of occupied levels; a pop reads the word and takes from the most urgent
//!   occupied level. `push` and `try_pop` never block; `pop` and
//!   `pop_timeout` park while the queue is empty. The exact ordering
//!   guarantee is on [`PriorityQueue`].
//! - [`TaskQueue`]: N workers running closures by priority, each returning a
//!   [`TaskHandle`]; panics are caught and reported, delayed tasks follow
//!   the crate's [`Clock`](crate::clock::Clock), and shutdown accounts for
//!   every task (it ran exactly once, or its handle says
//!   [`TaskError::Cancelled`]).
//!
//! ```text
//!   occupied 0b0101 ──► [0] alert, alert   ◄── pop takes from here first
//!                       [1]
//!                       [2] report
//!                       ...
//! ```
mod delayed;
mod error;
mod fifo;
mod level;
mod park;
mod pool;
mod priority;
mod task;

pub use error::Error;
pub use level::{Level, Priority, LEVELS};
pub use pool::{TaskQueue, TaskQueueBuilder, TaskStats, MAX_WORKERS};
pub use priority::PriorityQueue;
pub use task::{TaskError, TaskHandle, TaskId, TaskReport};
