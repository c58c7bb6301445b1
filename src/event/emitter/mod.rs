//! The pub-sub emitter: listener lists are immutable snapshots swapped
//! copy-on-write, so `emit` takes no lock and does not allocate.
//!
//! ```text
//!   emit ──load──▶ Snapshot<Table> ──▶ exact["order.created"] = [p0#3, p10#1, p10#7]
//!                                  └─▶ wildcard            = [p5#2 "order.*", ...]
//!   on/off ─ writer mutex ─ clone table, edit, swap in ─▶ next emit sees it
//! ```
//!
//! Each list is sorted by `(priority, id)`; ids grow in subscription order,
//! so `emit` merges the exact list with the matching wildcard entries in one
//! pass and calls listeners lower priority first, equal priorities in
//! subscription order.
//!
//! Files: `emit.rs` (the [`Emitter`] handle), `table.rs` (the snapshot, its
//! entries and the once-cell, the only `unsafe`), `subscription.rs` (the
//! RAII [`Subscription`] and [`SubscriptionId`]), `report.rs`
//! ([`EmitReport`] and listener outcomes).
mod emit;
mod report;
mod subscription;
mod table;

pub use emit::Emitter;
pub use report::{EmitReport, FailureReason, ListenerFailure, ListenerResult};
pub use subscription::{Subscription, SubscriptionId};
