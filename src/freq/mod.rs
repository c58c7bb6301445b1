//! Concurrent frequency analysis.
//!
//! - [`FrequencyCounter`]: exact counts from many threads without
//!   contention (a stripe per thread), with totals, frequencies, top-k with
//!   percentages, merge and anomaly detection.
//! - [`HeavyHitters`]: bounded-memory heavy hitters of unbounded streams
//!   with per-estimate error bounds, mergeable across workers.
//!
//! Counts saturate at `u64::MAX`; they never wrap.
mod counter;
mod error;
mod heavy;

pub use counter::FrequencyCounter;
pub use error::Error;
pub use heavy::{Estimate, HeavyHitters};
