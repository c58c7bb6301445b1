//! What the two sliding-window limiters share: their parameters' checks
//! and the shape of a denial.
use super::Error;
use crate::clock::duration_to_nanos;
use std::time::Duration;

/// A duration of `nanos` (at most about 2^65, so the seconds fit).
pub(crate) fn nanos_u128(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    // `< 1e9`: fits.
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

/// The denial of a request that fits once the clock reads `at` (`> now`;
/// `u128`, so a time past the clock's range is exact):
/// [`Error::RateLimited`] with the wait, or [`Error::EndOfTime`] if `at`
/// lies beyond the clock's last reading, `u64::MAX`. A saturated wait there
/// would be zero or unreachable, and a blocking `acquire` would loop on it
/// without progress.
pub(crate) fn denied_until(now: u64, at: u128) -> Error {
    match u64::try_from(at) {
        Ok(at) => {
            debug_assert!(at > now, "a denial must wait: {at} <= {now}");
            Error::limited(at.saturating_sub(now).max(1))
        }
        Err(_) => Error::EndOfTime {
            parameter: "window",
        },
    }
}

/// Validates the `limit` and `window` of a window limiter.
pub(crate) fn window_params(
    limit: Option<u64>,
    window: Option<Duration>,
) -> Result<(u64, u64), Error> {
    let limit = limit.ok_or(Error::MissingParameter { parameter: "limit" })?;
    let window = window.ok_or(Error::MissingParameter {
        parameter: "window",
    })?;
    if limit == 0 {
        return Err(Error::ZeroCapacity { parameter: "limit" });
    }
    let window = duration_to_nanos(window);
    if window == 0 {
        return Err(Error::ZeroWindow {
            parameter: "window",
        });
    }
    Ok((limit, window))
}
