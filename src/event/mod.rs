//! Event channels: a topic-based pub-sub [`Emitter`] and a fan-out
//! [`broadcast`] channel, both lock-free on their hot path.
//!
//! - [`Emitter`]: `on`/`once`/`emit` by topic, listeners in priority order,
//!   failures (errors and caught panics) reported in an [`EmitReport`].
//!   Listener lists are immutable snapshots swapped copy-on-write (through
//!   [arc-swap](https://docs.rs/arc-swap)), so `emit` takes no lock and
//!   does not allocate.
//! - [`broadcast`]: a bounded ring where every receiver sees every message
//!   in one global order, with an `Overwrite` or `Backpressure` policy for
//!   slow receivers.
//!
//! # Topics
//! An exact pattern (`order.created`) matches that topic only; `order.*`
//! matches every topic that starts with `order.` and continues (any number
//! of further segments); `*` matches every topic. No other `*` is allowed
//! ([`Error::InvalidTopic`]). Exact subscriptions cost emit one hash
//! lookup; each wildcard subscription adds one prefix comparison to every
//! emit.
//!
//! # Testing the protocols
//! The broadcast ring (publish/consume, wrap-around, overwrite vs read,
//! lag), the once-listener claim and the subscription swap have loom
//! models in `tests/loom_event.rs`. arc-swap is not loom-aware, so under
//! `--cfg loom` the snapshot cell is a shim `RwLock<Arc<_>>`: the models
//! check the protocol on top of the cell, not arc-swap itself.
pub mod broadcast;
mod emitter;
mod error;
mod topic;

pub use emitter::{
    EmitReport, Emitter, FailureReason, ListenerFailure, ListenerResult, Subscription,
    SubscriptionId,
};
pub use error::Error;
