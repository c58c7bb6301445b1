//! The crate's one way to talk to Redis: a connection to a single node or
//! to a Redis Cluster behind one [`Endpoint`], and the one `EVALSHA` with
//! `NOSCRIPT` recovery ([`Script`]) that every Redis-backed module uses.
//!
//! ```text
//!   Endpoint::Node(url) ──► ConnectionManager (reconnects)        ┐
//!   Endpoint::Cluster(seeds) ──► cluster_async::ClusterConnection ├─► AsyncLink ─┐
//!                                (MOVED/ASK, slot map)            ┘              ├─► Script::invoke*
//!   the same, synchronous (reopened after a failure) ──────────────► BlockingLink┘
//! ```
//!
//! Both links bound every call by the connect and response timeouts of
//! [`LinkConfig`]; a call past them fails with an error that
//! [`is_unreachable`] classifies, so each module maps it onto its own typed
//! "unavailable" error. A module keeps all of one object's keys in one
//! cluster slot with a hash tag (`prefix{name}...`), so each script call
//! names one slot and the cluster client routes it by its first key; a
//! batch of calls over many keys (the limiter's `check_many`) is one
//! pipeline on a node and one call per key on a cluster.
mod endpoint;
mod link;
mod script;

pub use endpoint::Endpoint;
pub(crate) use endpoint::LinkConfig;
pub(crate) use link::{is_unreachable, AsyncLink, BlockingLink};
pub(crate) use script::{Script, ScriptCall};
