use std::fmt;

/// Why a page request or a cursor token was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `page` was 0; pages are numbered from 1.
    ZeroPage,
    /// `page_size` (or a keyset `limit`) was 0.
    ZeroPageSize,
    /// `page_size` (or a keyset `limit`) exceeded the configured maximum.
    PageSizeTooLarge {
        /// The size asked for.
        requested: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A maximum page size of 0 was configured.
    ZeroMaxPageSize,
    /// A signing key of zero bytes was configured.
    EmptySigningKey,
    /// The cursor token is not valid base64url or is too short or
    /// otherwise not a token this crate wrote.
    MalformedCursor {
        /// What was wrong with it.
        reason: &'static str,
    },
    /// The cursor token carries a format version this build cannot read.
    UnsupportedCursorVersion {
        /// The version byte found.
        version: u8,
    },
    /// The cursor was issued for a different query (another sort order or
    /// filter) and cannot continue this one.
    CursorQueryMismatch,
    /// The cursor's signature does not verify with the configured key (it
    /// was altered, signed with another key, or unsigned when signing is
    /// required, or signed when this pager has no key).
    BadCursorSignature,
    /// The key to continue after would make a token longer than
    /// [`MAX_CURSOR_LEN`](crate::paginate::MAX_CURSOR_LEN), which decoding
    /// refuses: page by a shorter key (for example an id, not a long text).
    CursorTooLong {
        /// The token length the key would need.
        len: usize,
        /// The longest token accepted.
        max: usize,
    },
    /// A SQL table or column name is not a plain identifier (ASCII
    /// letters, digits, `_`, `$`, not starting with a digit; optionally
    /// `schema.name`).
    InvalidIdentifier {
        /// The name given (its first 64 characters).
        name: String,
    },
    /// A SQL sort key has no tie-breaker: the unique, non-`NULL` column
    /// that must end it so no two rows share a key.
    MissingTieBreaker,
    /// A column appears twice in a SQL sort key.
    DuplicateSortColumn {
        /// The column.
        name: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroPage => f.write_str("page must be at least 1 (pages are 1-indexed), got 0"),
            Error::ZeroPageSize => f.write_str("page_size must be at least 1, got 0"),
            Error::PageSizeTooLarge { requested, max } => {
                write!(f, "page_size {requested} exceeds the maximum of {max}")
            }
            Error::ZeroMaxPageSize => f.write_str("max_page_size must be at least 1, got 0"),
            Error::EmptySigningKey => f.write_str("signing key must not be empty"),
            Error::MalformedCursor { reason } => write!(f, "malformed cursor: {reason}"),
            Error::UnsupportedCursorVersion { version } => {
                write!(f, "cursor version {version} is not supported")
            }
            Error::CursorQueryMismatch => f.write_str(
                "cursor was issued for a different query (sort or filter); start from the first page",
            ),
            Error::BadCursorSignature => {
                f.write_str("cursor signature does not verify (tampered or signed with another key)")
            }
            Error::CursorTooLong { len, max } => write!(
                f,
                "cursor key too long: its token would be {len} characters, the maximum is {max}"
            ),
            Error::InvalidIdentifier { name } => write!(
                f,
                "{name:?} is not a plain SQL identifier (ASCII letters, digits, _ and $, \
                 not starting with a digit, optionally schema.name)"
            ),
            Error::MissingTieBreaker => f.write_str(
                "the sort key needs a tie-breaker: a unique, non-NULL column (usually the primary key)",
            ),
            Error::DuplicateSortColumn { name } => {
                write!(f, "column {name:?} appears twice in the sort key")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Checks a page size against a maximum.
pub(crate) fn check_page_size(page_size: usize, max: usize) -> Result<(), Error> {
    if page_size == 0 {
        return Err(Error::ZeroPageSize);
    }
    if page_size > max {
        return Err(Error::PageSizeTooLarge {
            requested: page_size,
            max,
        });
    }
    Ok(())
}
