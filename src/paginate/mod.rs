//! Pagination: offset pages, keyset (cursor) pages over a concurrently
//! changing ordered index, and pages of any iterator.
//!
//! - [`OffsetPager`] validates `page`/`page_size` (1-indexed, bounded by a
//!   configurable maximum) and builds [`Page`]s with totals; a page past
//!   the end is empty, not an error. [`OffsetPager::page_of_iter`] cuts
//!   page `k` out of any iterator (`skip`/`take`, one item of look-ahead
//!   for `has_more`) without collecting it.
//! - [`KeysetPager`] pages an [`OrderedIndex`] (a
//!   [`crossbeam_skiplist::SkipMap`] that many threads read and write, or a
//!   `BTreeMap`) by seeking to the cursor's key: `O(log n + limit)` at any
//!   depth, and a walk under concurrent inserts and deletes returns every
//!   entry present throughout exactly once, in order, with no duplicates.
//! - Cursors are opaque base64url tokens ([`CursorCodec`]): a version byte,
//!   a fingerprint of the [`Query`] (order and filter) so a token is refused
//!   for another query, the key, and with a signing key a truncated
//!   HMAC-SHA256 tag so tampering is detected. Bad tokens are typed errors.
//! - `sql` (features `sqlite`, `postgres`): `SqlPager` writes the
//!   keyset SQL for a sort key over a table and pages SQLite through
//!   `rusqlite` or PostgreSQL through `tokio-postgres`, with the same
//!   tokens.
//!
//! ```text
//!  offset:  [ page 1 ][ page 2 ] ... [ page k ]   cost O(offset) to reach page k
//!  keyset:  seek(cursor key) -> next limit+1 keys  cost O(log n + limit)
//! ```
mod cursor;
mod error;
mod keyset;
mod offset;
mod query;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub mod sql;

pub use cursor::{CursorCodec, CursorKey, MAX_CURSOR_LEN};
pub use error::Error;
pub use keyset::{KeysetPage, KeysetPager, KeysetPagerBuilder, OrderedIndex};
pub use offset::{IterPage, OffsetPager, Page, PageRequest, DEFAULT_MAX_PAGE_SIZE};
pub use query::{Order, Query};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::{Dialect, Nulls, Plan, SqlError, SqlPage, SqlPager, SqlPagerBuilder, SqlValue};
