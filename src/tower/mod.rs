//! tower middleware (feature `tower`): the crate's retry policy as a
//! [`Layer`](tower_layer::Layer), usable from axum, tonic or any
//! tower-based client or server with one `.layer(...)`.
//!
//! - [`RetryLayer`]: retries failed calls under a
//!   [`Retry`](crate::retry::Retry) policy and its shared
//!   [`RetryBudget`](crate::retry::RetryBudget).
mod retry;

pub use retry::{RetryLayer, RetryService};
