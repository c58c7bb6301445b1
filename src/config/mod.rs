//! Layered configuration with lock-free reads and atomic hot reload.
//!
//! Four layers, highest priority first: **runtime** overrides
//! ([`LayeredConfig::set`]) > **environment** variables > **files** (TOML
//! or JSON; a later file beats an earlier one) > **defaults**. A read of a
//! dotted key (`database.pool.max`) returns the value of the highest layer
//! that has it. Tables merge across layers key by key; any other value
//! (including an array) in a higher layer hides the whole path below it in
//! lower ones, so `APP_DATABASE=x` hides every `database.*` from the file.
//!
//! ```text
//!  runtime   { server.port = 9090 }                      <- set()
//!  env       { database.pool.max = "20" }                <- APP_DATABASE__POOL__MAX=20
//!  file      { database.pool.max = 10, database.url = .. }
//!  defaults  { server.port = 8080, log.level = "info" }
//!  ------------------------------------------------------------------
//!  snapshot  merged tree + index: dotted key -> (leaf value, provenance)
//! ```
//!
//! - **Environment mapping**: with prefix `APP` (or `APP_`: the same),
//!   `APP_DATABASE__POOL__MAX` is `database.pool.max`: the prefix and its
//!   `_` are stripped, the rest split at `__` and lower-cased
//!   ([`env_var_to_key`], [`key_to_env_var`]). Environment values stay
//!   strings; [`LayeredConfig::get`] returns them as strings.
//! - **Unused variables**: serde ignores keys a type has no field for, so
//!   a misspelt `APP_DATABSE__URL` would vanish;
//!   [`LayeredConfig::unused_env`] lists the variables under the prefix
//!   that the type does not read (or that a runtime override hides, or
//!   that are not UTF-8), for a service to warn about at startup.
//! - **Coercion on typed reads** ([`Snapshot::get_as`],
//!   [`Snapshot::extract`], serde): where a bool, integer or float is asked
//!   for and the value is a string, the string (trimmed) is parsed; bools
//!   accept `true/false`, `yes/no`, `on/off`, `1/0` in any case. Where a
//!   sequence is asked for and the value is a table keyed `0..n`
//!   (`APP_HOSTS__0`, `APP_HOSTS__1`), it is read in index order. Nothing
//!   else is coerced: a number is not read as a string.
//! - **Errors** name the key, the layer and source of the value (file path
//!   or variable name), and what serde expected ([`Error::Type`]).
//! - **Provenance**: [`Snapshot::source_of`] tells which layer and source
//!   supplied a value.
//! - **Reads** take a [`Snapshot`] without a lock (arc-swap): one atomic
//!   load and a reference count. All reads through one snapshot see one
//!   configuration.
//! - **Writes** ([`LayeredConfig::set`], [`unset`](LayeredConfig::unset),
//!   [`reload`](LayeredConfig::reload)) are serialised by a mutex, build a
//!   complete new snapshot (copy-on-write) and publish it with one atomic
//!   store: a reader sees the old configuration or the new one, never a
//!   mix. A failed reload changes nothing.
//! - **Subscribers** ([`LayeredConfig::subscribe`]) are called after each
//!   swap that changed some leaf's effective value, with the sorted
//!   changed keys, in swap order, on the writing thread.
//!
//! Table keys that are empty or contain `.` cannot be named by a dotted
//! path; they are still seen by [`Snapshot::extract`].
mod de;
mod env;
mod error;
mod layered;
mod path;
mod snapshot;
mod source;

pub use env::{env_var_to_key, key_to_env_var};
pub use error::Error;
pub use layered::{ConfigChange, LayeredConfig, LayeredConfigBuilder, Subscription};
pub use path::MAX_DEPTH;
/// A configuration value: a deliberate re-export of `serde_json::Value`
/// (serde_json 1.x), so values interoperate with serde_json directly. A
/// serde_json major release would be a major release of this crate.
pub use serde_json::Value;
pub use snapshot::Snapshot;
pub use source::{Format, Layer, Provenance};
