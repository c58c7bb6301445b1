//! [`Quota`]: a rate and burst the limiter script computes exactly.
use super::super::gcra::Gcra;
use super::super::{Error, RateLimitPolicy};
use std::fmt;

/// The largest `burst x interval` the script computes exactly (2^52 ns,
/// about 52 days): its arithmetic is in Lua's doubles.
const MAX_TAU: u64 = 1 << 52;

/// Validates a quota for the script: the in-process rules plus
/// `burst x interval <= 2^52` ns.
fn quota(rate: f64, burst: u64) -> Result<Gcra, Error> {
    within_span(Gcra::new(rate, burst)?, burst)
}

/// The `burst x interval <= 2^52` ns check of [`quota`].
fn within_span(gcra: Gcra, burst: u64) -> Result<Gcra, Error> {
    if gcra.capacity().saturating_mul(gcra.interval()) > MAX_TAU {
        return Err(Error::CapacityOverflow {
            parameter: "burst",
            value: burst,
        });
    }
    Ok(gcra)
}

/// A validated rate and burst for the Redis limiter: the in-process rules
/// (see [`TokenBucketBuilder::rate`](super::super::TokenBucketBuilder::rate))
/// plus `burst x (1 / rate) <= 2^52` ns (about 52 days), the span the
/// script computes exactly.
///
/// ```
/// use latchwork::ratelimit::{Error, Quota};
///
/// let q = Quota::new(100.0 / 60.0, 100)?; // 100 per minute, bursts of 100
/// assert_eq!(q.burst(), 100);
/// assert!(matches!(Quota::new(f64::NAN, 1), Err(Error::InvalidRate { .. })));
/// assert!(matches!(Quota::new(1e-6, 1_000_000), Err(Error::CapacityOverflow { .. })));
/// # Ok::<(), Error>(())
/// ```
///
/// With the `serde` feature a quota serializes as `{"rate": f64, "burst":
/// u64}`, `rate` being the effective [`rate`](Self::rate), and deserializes
/// from the same map through the same checks as [`Quota::new`]. A rate that
/// is exactly `1e9 / n` for a whole `n` (as every serialized rate is) gets
/// the interval `n` ns, so a quota reads back unchanged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub(crate) gcra: Gcra,
}

impl Quota {
    /// `rate` tokens per second, at most `burst` stored.
    ///
    /// # Errors
    /// [`Error::InvalidRate`] for zero, negative, NaN or infinite rates,
    /// [`Error::RateOutOfRange`], [`Error::ZeroCapacity`] for a zero burst,
    /// [`Error::CapacityOverflow`] past the 2^52 ns span.
    pub fn new(rate: f64, burst: u64) -> Result<Self, Error> {
        quota(rate, burst).map(|gcra| Quota { gcra })
    }

    /// The limit: the burst capacity in tokens.
    pub fn limit(&self) -> u64 {
        self.gcra.capacity()
    }

    /// The same as [`limit`](Self::limit), under its older name.
    pub fn burst(&self) -> u64 {
        self.gcra.capacity()
    }

    /// The quota as a [`RateLimitPolicy`]: `limit` tokens per the time an
    /// empty bucket takes to refill.
    pub fn policy(&self) -> RateLimitPolicy {
        RateLimitPolicy::of_gcra(&self.gcra)
    }

    /// The quota of `policy`: `limit` tokens, one per `window / limit`
    /// (rounded up to a nanosecond).
    ///
    /// # Errors
    /// [`Error::CapacityOverflow`] past the 2^52 ns span.
    pub fn from_policy(policy: RateLimitPolicy) -> Result<Self, Error> {
        within_span(policy.to_gcra()?, policy.limit()).map(|gcra| Quota { gcra })
    }

    /// The effective rate in tokens per second (the interval is rounded up
    /// to a whole nanosecond).
    pub fn rate(&self) -> f64 {
        1e9 / self.gcra.interval() as f64
    }
}

#[cfg(feature = "serde")]
impl Quota {
    /// [`Quota::new`], except that a rate of exactly `1e9 / n` (what
    /// [`rate`](Self::rate) answers for an interval of `n` ns) gets that
    /// interval, not one a float rounding error made `n + 1`.
    fn read_back(rate: f64, burst: u64) -> Result<Self, Error> {
        let n = (1e9 / rate).round();
        // `u64::MAX as f64` is 2^64: anything below it fits.
        if n >= 1.0 && n < u64::MAX as f64 && 1e9 / n == rate {
            let gcra = Gcra::from_interval(n as u64, burst)?;
            within_span(gcra, burst).map(|gcra| Quota { gcra })
        } else {
            Quota::new(rate, burst)
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Quota {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Quota", 2)?;
        st.serialize_field("rate", &self.rate())?;
        st.serialize_field("burst", &self.burst())?;
        st.end()
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Quota {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename = "Quota", deny_unknown_fields)]
        struct Raw {
            rate: f64,
            burst: u64,
        }
        let raw = Raw::deserialize(d)?;
        Quota::read_back(raw.rate, raw.burst).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quota")
            .field("rate", &self.rate())
            .field("burst", &self.burst())
            .finish()
    }
}
