use std::fmt;

/// Why a queue operation or a task pool could not be set up.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A priority level outside `0..LEVELS` was requested.
    LevelOutOfRange {
        /// The level that was asked for.
        level: u8,
        /// The number of levels; valid levels are `0..levels`.
        levels: usize,
    },
    /// More workers were requested than a pool supports.
    TooManyWorkers {
        /// The count that was asked for.
        requested: usize,
        /// The largest count supported.
        max: usize,
    },
    /// A worker could not be started: the operating system refused a
    /// thread, or an async pool's spawner panicked (tokio's outside a
    /// runtime, say).
    Spawn(String),
    /// A priority queue's per-level ring was given capacity zero.
    ZeroCapacity,
    /// An async task queue was given room for zero queued tasks.
    ZeroTaskCapacity,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::LevelOutOfRange { level, levels } => write!(
                f,
                "priority level {level} is out of range: levels are 0 (most urgent) to {}",
                levels - 1
            ),
            Error::TooManyWorkers { requested, max } => write!(
                f,
                "a task pool supports at most {max} workers, {requested} were requested"
            ),
            Error::Spawn(why) => write!(f, "could not start a worker: {why}"),
            Error::ZeroCapacity => f.write_str(
                "a priority queue's ring capacity must be at least 1 (the queue itself is unbounded)",
            ),
            Error::ZeroTaskCapacity => f.write_str(
                "an async task queue's capacity (tasks it holds queued) must be at least 1",
            ),
        }
    }
}

impl std::error::Error for Error {}

/// A push refused because the [`PriorityQueue`](super::PriorityQueue) was
/// closed, or a submission refused because an async task queue was shut
/// down; it holds the item, which was not queued.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Closed<T>(pub T);

impl<T> Closed<T> {
    /// The item that was not queued.
    pub fn into_inner(self) -> T {
        self.0
    }
}

// Not derived: a refused push's error should print without `T: Debug`.
impl<T> fmt::Debug for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Closed(..)")
    }
}

impl<T> fmt::Display for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is closed; the item was handed back, not queued")
    }
}

impl<T> std::error::Error for Closed<T> {}
