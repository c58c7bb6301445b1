//! Keyset pagination over SQL tables: SQLite (feature `sqlite`, through
//! `rusqlite`) and PostgreSQL (feature `postgres`, through
//! `tokio-postgres`).
//!
//! From a sort key (columns, a direction each, nullable ones declared, a
//! unique non-`NULL` tie-breaker last) a [`SqlPager`] writes the statement
//! for a page after (or before) a cursor: the row-value comparison
//! `(a, b) > ($1, $2)` when every column goes one way and none is
//! nullable, else the expanded form `a >= $1 AND (a > $1 OR (a = $1 AND b
//! < $2))`, or two such ranges under `UNION ALL` when a nullable leading
//! column's `NULL`s follow the cursor's value; `ORDER BY` the key
//! (reversed for a backward page); `LIMIT
//! limit + 1` so the extra row says whether more follow. Cursor values,
//! filter values and the limit are driver parameters, never SQL text;
//! table and column names are validated and quoted.
//!
//! Tokens are the crate's [`CursorCodec`](super::CursorCodec) tokens (a
//! version, a query fingerprint, the key, optionally an HMAC tag): a token
//! issued for another table, column list, sort or filter is refused with
//! [`Error::CursorQueryMismatch`](super::Error::CursorQueryMismatch),
//! without touching the database.
//!
//! ```text
//!  page k:  index seek to the cursor key -> read limit+1 rows   O(log n + limit)
//!  offset:  read and discard k * limit rows -> read limit        O(k * limit)
//! ```
//!
//! One core ([`SqlPager::plan`], [`SqlPager::finish`]) serves both
//! databases; `sqlite.rs` and `postgres.rs` only run its statement.
mod error;
mod pager;
mod spec;
mod value;

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use error::SqlError;
pub use pager::{Plan, SqlPage, SqlPager, SqlPagerBuilder};
pub use spec::{Dialect, Nulls};
pub use value::SqlValue;
