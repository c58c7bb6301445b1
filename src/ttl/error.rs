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
    /// A capacity of zero: use no capacity for an unbounded cache.
    ZeroCapacity,
    /// A capacity per shard beyond the `u32` arena's reach.
    CapacityTooLarge {
        /// The capacity that was asked for.
        requested: usize,
    },
    /// Zero shards were requested.
    ZeroShards,
    /// A tick resolution of zero.
    ZeroResolution,
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
            Error::ZeroCapacity => {
                f.write_str("capacity must be at least 1 (leave it unset for an unbounded cache)")
            }
            Error::CapacityTooLarge { requested } => {
                write!(
                    f,
                    "capacity {requested} exceeds what u32 arena indices can address"
                )
            }
            Error::ZeroShards => f.write_str("shards must be at least 1, got 0"),
            Error::ZeroResolution => f.write_str("resolution must be greater than zero"),
        }
    }
}

impl std::error::Error for Error {}

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
