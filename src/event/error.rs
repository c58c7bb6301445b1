use std::fmt;

/// Why an emitter subscription or a broadcast channel was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A topic pattern that is empty or has a `*` other than a whole last
    /// segment (`order.*`) or the lone `*`.
    InvalidTopic {
        /// The pattern that was given.
        topic: String,
    },
    /// A broadcast capacity of zero: a ring needs at least one slot.
    ZeroCapacity,
    /// A broadcast capacity beyond
    /// [`MAX_CAPACITY`](super::broadcast::MAX_CAPACITY) slots (after
    /// rounding up to a power of two), or a ring this process could not
    /// allocate.
    CapacityTooLarge {
        /// The capacity that was asked for.
        requested: usize,
    },
    /// A broadcast channel was built with `max_receivers(0)` (refused under
    /// either policy, though only `Backpressure` uses the bound).
    ZeroMaxReceivers,
    /// A broadcast channel was built with `max_receivers` above
    /// [`MAX_RECEIVERS`](super::broadcast::MAX_RECEIVERS) (refused under
    /// either policy, though only `Backpressure` uses the bound).
    MaxReceiversTooLarge {
        /// The `max_receivers` that was asked for.
        requested: usize,
        /// The largest accepted.
        max: usize,
    },
    /// A `Backpressure` channel already has its maximum number of live
    /// receivers; drop one, or build the channel with a larger
    /// `max_receivers`.
    TooManyReceivers {
        /// The configured maximum.
        max: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidTopic { topic } => write!(
                f,
                "invalid topic pattern {topic:?}: use a non-empty name, `prefix.*` or `*` \
                 (a `*` may only stand for the whole last segment)"
            ),
            Error::ZeroCapacity => f.write_str("broadcast capacity must be at least 1"),
            Error::CapacityTooLarge { requested } => write!(
                f,
                "broadcast capacity {requested} exceeds the maximum of {} slots \
                 or what this process can allocate",
                super::broadcast::MAX_CAPACITY
            ),
            Error::ZeroMaxReceivers => f.write_str("broadcast max_receivers must be at least 1"),
            Error::MaxReceiversTooLarge { requested, max } => write!(
                f,
                "broadcast max_receivers {requested} exceeds the maximum of {max}"
            ),
            Error::TooManyReceivers { max } => write!(
                f,
                "this Backpressure channel already has its maximum of {max} receivers \
                 (drop one or raise max_receivers)"
            ),
        }
    }
}

impl std::error::Error for Error {}
