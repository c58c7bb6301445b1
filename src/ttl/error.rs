use std::fmt;

/// Why a TTL cache or memoizer could not be built, or a TTL was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A time-to-live of zero: the entry would be expired before it could
    /// be read. Remove the key instead.
    ZeroTtl,
    /// A TTL given in seconds was NaN, infinite or negative.
    InvalidTtl {
        /// The value given, as text.
        given: String,
    },
    /// The memoizer's cache could not be built.
    Cache(crate::cache::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroTtl => f.write_str("ttl must be greater than zero (remove the key instead)"),
            Error::InvalidTtl { given } => {
                write!(
                    f,
                    "ttl must be a finite, non-negative number of seconds, got {given}"
                )
            }
            Error::Cache(e) => write!(f, "memoizer cache: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Cache(e) => Some(e),
            _ => None,
        }
    }
}

impl From<crate::cache::Error> for Error {
    fn from(e: crate::cache::Error) -> Self {
        Error::Cache(e)
    }
}

/// A TTL from seconds given as a float (for example from configuration),
/// refusing NaN, infinities, negatives and zero.
///
/// ```
/// use latchwork::ttl::{ttl_from_secs_f64, Error};
/// assert_eq!(ttl_from_secs_f64(1.5)?, std::time::Duration::from_millis(1500));
/// assert!(matches!(ttl_from_secs_f64(f64::NAN), Err(Error::InvalidTtl { .. })));
/// assert_eq!(ttl_from_secs_f64(0.0), Err(Error::ZeroTtl));
/// # Ok::<(), Error>(())
/// ```
pub fn ttl_from_secs_f64(secs: f64) -> Result<std::time::Duration, Error> {
    let ttl = std::time::Duration::try_from_secs_f64(secs).map_err(|_| Error::InvalidTtl {
        given: secs.to_string(),
    })?;
    if ttl.is_zero() {
        return Err(Error::ZeroTtl);
    }
    Ok(ttl)
}
