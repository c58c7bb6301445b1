//! The SQLite shell of [`SqlPager`]: runs a plan on a `rusqlite`
//! connection (sync).
use super::error::SqlError;
use super::pager::{SqlPage, SqlPager};
use super::spec::Dialect;
use super::value::SqlValue;
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};

impl SqlPager {
    /// The page at `cursor` (the first page when `None`) of up to `limit`
    /// rows, read from `conn` (a `rusqlite::Transaction` derefs to one),
    /// each row turned into an item by `map` (its indices `0..n` are the
    /// builder's columns).
    ///
    /// The statement is prepared once per shape and cached on the
    /// connection (`prepare_cached`).
    ///
    /// ```
    /// use latchwork::paginate::{Order, SqlPager};
    /// use rusqlite::Connection;
    ///
    /// let db = Connection::open_in_memory()?;
    /// db.execute_batch(
    ///     "CREATE TABLE post (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, title TEXT);
    ///      CREATE INDEX post_at ON post (at DESC, id DESC);
    ///      INSERT INTO post (id, at, title) VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 20, 'c');",
    /// )?;
    /// let pager = SqlPager::builder("post")
    ///     .columns(["id", "title"])
    ///     .sort("at", Order::Descending)
    ///     .tie_breaker("id", Order::Descending)
    ///     .signing_key(b"server secret")
    ///     .build()?;
    /// let row = |r: &rusqlite::Row| r.get::<_, i64>(0);
    /// let first = pager.page_sqlite(&db, None, 2, row)?;
    /// assert_eq!(first.items, [3, 2]); // newest first, ties by id
    /// let next = pager.page_sqlite(&db, first.next_cursor.as_deref(), 2, row)?;
    /// assert_eq!(next.items, [1]);
    /// assert!(next.next_cursor.is_none() && next.prev_cursor.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`SqlError::Page`] for a refused request or cursor (before any
    /// statement runs); [`SqlError::Sqlite`] when SQLite or `map` fails.
    pub fn page_sqlite<T, F>(
        &self,
        conn: &rusqlite::Connection,
        cursor: Option<&str>,
        limit: usize,
        mut map: F,
    ) -> Result<SqlPage<T>, SqlError>
    where
        F: FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        let plan = self.plan(Dialect::Sqlite, cursor, limit)?;
        let mut stmt = conn.prepare_cached(&plan.sql)?;
        let end = stmt.column_count();
        let start = end - plan.key_len;
        let mut rows = stmt.query(rusqlite::params_from_iter(plan.params.iter()))?;
        let mut read = Vec::with_capacity(limit.min(1024) + 1);
        while let Some(row) = rows.next()? {
            let key = (start..end)
                .map(|i| row.get_ref(i).map(from_sqlite))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            read.push((key, map(row)?));
        }
        Ok(self.finish(&plan, read)?)
    }
}

fn from_sqlite(v: ValueRef<'_>) -> SqlValue {
    match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Int(i),
        ValueRef::Real(f) => SqlValue::Float(f),
        // SQLite text is UTF-8 unless a program stored otherwise; keep the
        // bytes exactly so the comparison matches the stored value.
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => SqlValue::Text(s.to_owned()),
            Err(_) => SqlValue::Bytes(t.to_vec()),
        },
        ValueRef::Blob(b) => SqlValue::Bytes(b.to_vec()),
    }
}

/// Booleans bind as 0/1 and timestamps as integer microseconds, as SQLite
/// stores them.
impl ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            SqlValue::Null => ValueRef::Null,
            SqlValue::Int(i) | SqlValue::Timestamp(i) => ValueRef::Integer(*i),
            SqlValue::Float(f) => ValueRef::Real(*f),
            SqlValue::Text(s) => ValueRef::Text(s.as_bytes()),
            SqlValue::Bytes(b) => ValueRef::Blob(b),
            SqlValue::Bool(b) => ValueRef::Integer(i64::from(*b)),
        }))
    }
}
