//! How the crate's plain-data types write a [`Duration`] with serde: a
//! whole number of nanoseconds (`u64`), exact both ways, the unit of the
//! crate's clock ticks. A duration beyond `u64::MAX` ns (about 584 years)
//! writes as `u64::MAX`. Used through `#[serde(with = "...")]`.
use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// `d` in whole nanoseconds, saturating at `u64::MAX`.
fn nanos(d: &Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(nanos(d))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_nanos)
}

/// The same for an `Option<Duration>`: `null` for `None`.
#[cfg(feature = "ratelimit")]
pub(crate) mod option {
    use super::*;

    // serde's `with` passes `&Option<Duration>`.
    #[allow(clippy::ref_option)]
    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&nanos(d)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|n| n.map(Duration::from_nanos))
    }
}
