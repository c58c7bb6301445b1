//! The errors of building or starting a chunker, batcher or pipeline.
use std::fmt;

/// A boxed error from a stage, a source or a reader: what a [`Failure`]
/// carries.
///
/// [`Failure`]: super::Failure
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a chunker, batcher or pipeline could not be built or started.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `chunked(0)`: a chunk must hold at least one item.
    ZeroChunkSize,
    /// A batcher's `max_items`, or a pipeline's `batch_size`, was 0.
    ZeroBatchSize,
    /// A batcher's `max_wait` was zero: every batch would be due at once.
    ZeroMaxWait,
    /// A stage was given 0 workers.
    ZeroWorkers {
        /// The stage's name.
        stage: String,
    },
    /// A queue capacity of 0 was configured.
    ZeroCapacity,
    /// An ordered pipeline's reorder window was 0.
    ZeroReorderWindow,
    /// A size above its documented maximum (`MAX_CAPACITY`,
    /// `MAX_BATCH_SIZE`, `MAX_WORKERS`, `MAX_REORDER_WINDOW` in
    /// [`pipeline`](super)): queues and windows are allocated when a run
    /// starts, so a size the process cannot hold is refused up front.
    TooLarge {
        /// The parameter's name.
        parameter: &'static str,
        /// The value given.
        value: usize,
        /// The largest accepted.
        max: usize,
    },
    /// The operating system refused to start a worker thread.
    Spawn(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroChunkSize => f.write_str("chunk size must be at least 1, got 0"),
            Error::ZeroBatchSize => {
                f.write_str("batch size (max_items or batch_size) must be at least 1, got 0")
            }
            Error::ZeroMaxWait => f.write_str("max_wait must be greater than zero"),
            Error::ZeroWorkers { stage } => {
                write!(f, "stage {stage:?}: workers must be at least 1, got 0")
            }
            Error::ZeroCapacity => f.write_str("capacity must be at least 1, got 0"),
            Error::ZeroReorderWindow => f.write_str("reorder_window must be at least 1, got 0"),
            Error::TooLarge {
                parameter,
                value,
                max,
            } => write!(f, "`{parameter}` {value} exceeds the maximum of {max}"),
            Error::Spawn(e) => write!(f, "could not start a worker thread: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spawn(e) => Some(e),
            _ => None,
        }
    }
}
