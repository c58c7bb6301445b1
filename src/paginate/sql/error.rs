//! `SqlError`: a page refused before the database was asked, or the
//! database's own error.
use crate::paginate::error::Error;
use std::fmt;

/// Why a SQL page could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum SqlError {
    /// The request was refused before it reached the database: a bad
    /// `limit`, or a cursor that is malformed, tampered with, or issued for
    /// another table, column list, sort or filter. Answer the client with a
    /// 400 and let it start from the first page.
    Page(Error),
    /// SQLite failed (or the row mapping closure did).
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    Sqlite(rusqlite::Error),
    /// PostgreSQL failed (or the row mapping closure did).
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    Postgres(tokio_postgres::Error),
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlError::Page(e) => write!(f, "page refused: {e}"),
            #[cfg(feature = "sqlite")]
            SqlError::Sqlite(e) => write!(f, "sqlite: {e}"),
            #[cfg(feature = "postgres")]
            SqlError::Postgres(e) => write!(f, "postgres: {e}"),
        }
    }
}

impl std::error::Error for SqlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SqlError::Page(e) => Some(e),
            #[cfg(feature = "sqlite")]
            SqlError::Sqlite(e) => Some(e),
            #[cfg(feature = "postgres")]
            SqlError::Postgres(e) => Some(e),
        }
    }
}

impl From<Error> for SqlError {
    fn from(e: Error) -> Self {
        SqlError::Page(e)
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> Self {
        SqlError::Sqlite(e)
    }
}

#[cfg(feature = "postgres")]
impl From<tokio_postgres::Error> for SqlError {
    fn from(e: tokio_postgres::Error) -> Self {
        SqlError::Postgres(e)
    }
}
