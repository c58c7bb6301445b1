//! tower middleware (feature `tower`): the crate's rate limiters and retry
//! policy as [`Layer`](tower_layer::Layer)s, usable from axum, tonic or any
//! tower-based client or server with one `.layer(...)`.
//!
//! - [`RateLimitLayer`]: any [`AsyncLimiter`](crate::ratelimit::AsyncLimiter)
//!   (a bucket, a window, a per-client limiter, a Redis limiter shared by
//!   every replica) in front of an HTTP service: a key per request, 429
//!   with the standard rate-limit headers, shadow mode, per-route quotas.
//! - [`RetryLayer`]: retries failed calls under a
//!   [`Retry`](crate::retry::Retry) policy and its shared
//!   [`RetryBudget`](crate::retry::RetryBudget).
mod ratelimit;
mod retry;

pub use ratelimit::{RateLimitLayer, RateLimitService, RateLimitStats};
pub use retry::{RetryLayer, RetryService};
