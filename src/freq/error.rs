use std::fmt;

/// Why a frequency structure could not be built or queried.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A heavy-hitters summary needs at least one counter.
    ZeroCapacity,
    /// An anomaly multiplier must be a finite, non-negative number.
    InvalidMultiplier {
        /// The value given.
        given: f64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroCapacity => f.write_str("heavy-hitters capacity must be at least 1, got 0"),
            Error::InvalidMultiplier { given } => {
                write!(f, "anomaly multiplier must be finite and >= 0, got {given}")
            }
        }
    }
}

impl std::error::Error for Error {}
