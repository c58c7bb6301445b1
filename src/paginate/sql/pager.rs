//! `SqlPager`: the driver-free core. It turns a request into a statement
//! ([`SqlPager::plan`]) and the rows read back into a page with its
//! cursors ([`SqlPager::finish`]); the SQLite and PostgreSQL glue only run
//! the statement in between.
use super::spec::{quote_ident, Dialect, KeyColumn, Nulls, Spec};
use super::value::{Position, SqlValue};
use crate::paginate::cursor::CursorCodec;
use crate::paginate::error::{check_page_size, Error};
use crate::paginate::offset::DEFAULT_MAX_PAGE_SIZE;
use crate::paginate::query::{Order, Query};

/// Keyset pages over a SQL table, with signed cursors bound to the query.
///
/// Built once per query shape (table, columns, sort key, filter) and
/// shared; a page reads `limit + 1` rows through an index on the sort key,
/// so its cost is the same at any depth. The sort key must end in a
/// unique, non-`NULL` tie-breaker column, so no two rows share a key and a
/// walk never skips rows with equal values in the leading columns (the
/// `WHERE created_at < $1` bug).
///
/// The feature `sqlite` adds [`page_sqlite`](SqlPager::page_sqlite), the
/// feature `postgres` adds [`page_postgres`](SqlPager::page_postgres);
/// [`plan`](SqlPager::plan) and [`finish`](SqlPager::finish) are for any
/// other driver.
///
/// **The `NULL` rule.** A column declared nullable sorts `NULL` per
/// [`Nulls`] (default [`Nulls::Largest`]: last ascending, first
/// descending, as PostgreSQL orders by default). The statement spells the
/// order out (`NULLS LAST`/`NULLS FIRST`), so both databases agree, and
/// the predicate tests `IS NULL` explicitly instead of comparing with
/// `NULL`. Either rule reads a page by index seeks at any depth: where
/// `NULL`s follow the cursor's non-`NULL` value in a nullable leading
/// column, the page is two index ranges (the values after it, then the
/// `NULL`s) joined by a sort of at most `2 * (limit + 1)` rows, never the
/// table. A plain PostgreSQL index stores `NULL`s last, so use
/// [`Nulls::Largest`] there (or declare the index `NULLS FIRST` for
/// [`Nulls::Smallest`]), else PostgreSQL sorts the range; a plain SQLite
/// index serves both rules.
#[derive(Clone, Debug)]
pub struct SqlPager {
    spec: Spec,
    query: Query,
    codec: CursorCodec,
    max_limit: usize,
}

/// Builds a [`SqlPager`]; see [`SqlPager::builder`].
#[derive(Debug)]
pub struct SqlPagerBuilder {
    table: String,
    columns: Vec<String>,
    key: Vec<(String, Order, bool)>,
    tie_breaker: Option<(String, Order)>,
    nulls: Nulls,
    filter: Option<(String, Vec<SqlValue>)>,
    signing_key: Option<Vec<u8>>,
    max_limit: usize,
}

/// A statement to run for one page: what [`SqlPager::plan`] returns and
/// [`SqlPager::finish`] consumes.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The statement. Its rows are the select list, then the sort key's
    /// columns in key order: the last [`key_len`](Plan::key_len) columns.
    pub sql: String,
    /// The parameters, in placeholder order: the filter's, the cursor's
    /// non-`NULL` key values, the row count (`limit + 1`).
    pub params: Vec<SqlValue>,
    /// How many key columns end each row.
    pub key_len: usize,
    limit: usize,
    at: Option<Position>,
}

/// One page of rows, in the sort order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlPage<T> {
    /// Up to `limit` rows, always in the sort order (a page read backward
    /// is turned around).
    pub items: Vec<T>,
    /// Whether at least one more row followed in the direction read (after
    /// the page for a forward read, before it for a backward one).
    pub has_more: bool,
    /// The token for the page after this one: when rows follow it.
    pub next_cursor: Option<String>,
    /// The token for the page before this one: when rows precede it (the
    /// page was reached by a cursor, or a backward read found more).
    ///
    /// Both tokens are built from the page's boundary rows, so an empty
    /// page (every row after the cursor was deleted) has neither: the
    /// client goes back with the token it came by, or starts over.
    pub prev_cursor: Option<String>,
}

impl SqlPager {
    /// A builder for pages of `table` (a name or `schema.name`).
    pub fn builder(table: &str) -> SqlPagerBuilder {
        SqlPagerBuilder {
            table: table.to_owned(),
            columns: Vec::new(),
            key: Vec::new(),
            tie_breaker: None,
            nulls: Nulls::default(),
            filter: None,
            signing_key: None,
            max_limit: DEFAULT_MAX_PAGE_SIZE,
        }
    }

    /// The query a token is bound to (table, columns, key, filter).
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The largest `limit` accepted.
    pub fn max_limit(&self) -> usize {
        self.max_limit
    }

    /// The statement for the page at `cursor` (the first page when `None`)
    /// of up to `limit` rows, written for `dialect`.
    ///
    /// # Errors
    /// A bad `limit`, or a cursor that is malformed, signed wrongly or
    /// issued for another table, column list, sort or filter
    /// ([`Error::CursorQueryMismatch`]).
    pub fn plan(
        &self,
        dialect: Dialect,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Plan, Error> {
        check_page_size(limit, self.max_limit)?;
        let at = cursor.map(|t| self.decode(t)).transpose()?;
        let (sql, params) = self.spec.statement(dialect, at.as_ref(), limit + 1);
        Ok(Plan {
            sql,
            params,
            key_len: self.spec.key.len(),
            limit,
            at,
        })
    }

    /// The page from the rows `plan`'s statement returned, each given as
    /// its key values (in key order) and the caller's item, in the order
    /// read.
    ///
    /// # Errors
    /// [`Error::CursorTooLong`] when a boundary row's key makes a token
    /// longer than [`MAX_CURSOR_LEN`](crate::paginate::MAX_CURSOR_LEN).
    pub fn finish<T>(
        &self,
        plan: &Plan,
        rows: Vec<(Vec<SqlValue>, T)>,
    ) -> Result<SqlPage<T>, Error> {
        let backward = plan.at.as_ref().is_some_and(|p| p.backward);
        let mut rows = rows;
        let has_more = rows.len() > plan.limit;
        rows.truncate(plan.limit);
        if backward {
            rows.reverse();
        }
        let edge = |backward: bool, key: &Vec<SqlValue>| {
            let at = Position {
                backward,
                key: key.clone(),
            };
            self.codec.encode(&self.query, &at)
        };
        // Forward: rows follow iff the look-ahead row was read; rows precede
        // iff we came by a cursor. Backward: the mirror image.
        let (more_after, more_before) = match (&plan.at, backward) {
            (None, _) => (has_more, false),
            (Some(_), false) => (has_more, true),
            (Some(_), true) => (true, has_more),
        };
        let next_cursor = match rows.last() {
            Some((key, _)) if more_after => Some(edge(false, key)?),
            _ => None,
        };
        let prev_cursor = match rows.first() {
            Some((key, _)) if more_before => Some(edge(true, key)?),
            _ => None,
        };
        Ok(SqlPage {
            items: rows.into_iter().map(|(_, item)| item).collect(),
            has_more,
            next_cursor,
            prev_cursor,
        })
    }

    /// A token for the page that starts strictly after the row whose key
    /// is `key` (its sort columns' values, in key order): to resume from a
    /// known row, or to hand out a deep link.
    ///
    /// # Errors
    /// [`Error::MalformedCursor`] when `key` does not fit the sort key (its
    /// length, or a `NULL` in a column not declared nullable);
    /// [`Error::CursorTooLong`].
    pub fn cursor_after(&self, key: &[SqlValue]) -> Result<String, Error> {
        self.cursor_at(false, key)
    }

    /// A token for the page that ends strictly before the row whose key is
    /// `key` (read backward).
    ///
    /// # Errors
    /// As [`cursor_after`](Self::cursor_after).
    pub fn cursor_before(&self, key: &[SqlValue]) -> Result<String, Error> {
        self.cursor_at(true, key)
    }

    fn cursor_at(&self, backward: bool, key: &[SqlValue]) -> Result<String, Error> {
        let at = Position {
            backward,
            key: key.to_vec(),
        };
        self.check_key(&at)?;
        self.codec.encode(&self.query, &at)
    }

    fn decode(&self, token: &str) -> Result<Position, Error> {
        let at: Position = self.codec.decode(&self.query, token)?;
        self.check_key(&at)?;
        Ok(at)
    }

    fn check_key(&self, at: &Position) -> Result<(), Error> {
        if at.key.len() != self.spec.key.len() {
            return Err(Error::MalformedCursor {
                reason: "wrong number of key values for this sort",
            });
        }
        let null_in_not_null = at
            .key
            .iter()
            .zip(&self.spec.key)
            .any(|(v, k)| v.is_null() && !k.nullable);
        if null_in_not_null {
            return Err(Error::MalformedCursor {
                reason: "NULL key value for a column not declared nullable",
            });
        }
        Ok(())
    }
}

impl SqlPagerBuilder {
    /// The select list (default `*`). The key columns are appended after
    /// it in every statement, so the caller's indices `0..n` are its own.
    pub fn columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.columns = columns.into_iter().map(|c| c.as_ref().to_owned()).collect();
        self
    }

    /// Appends a non-`NULL` sort column.
    pub fn sort(mut self, column: &str, order: Order) -> Self {
        self.key.push((column.to_owned(), order, false));
        self
    }

    /// Appends a sort column that may hold `NULL` (sorted per
    /// [`nulls`](Self::nulls)).
    pub fn sort_nullable(mut self, column: &str, order: Order) -> Self {
        self.key.push((column.to_owned(), order, true));
        self
    }

    /// The last sort column: unique and never `NULL` (usually the primary
    /// key). Required: it is what makes every key distinct.
    pub fn tie_breaker(mut self, column: &str, order: Order) -> Self {
        self.tie_breaker = Some((column.to_owned(), order));
        self
    }

    /// Where `NULL` sorts in the nullable columns (default
    /// [`Nulls::Largest`]).
    pub fn nulls(mut self, nulls: Nulls) -> Self {
        self.nulls = nulls;
        self
    }

    /// A condition every row must meet, in the database's SQL with its own
    /// placeholders numbered from 1 (`"kind = ?1"` on SQLite, `"kind = $1"`
    /// on PostgreSQL), and the values bound to them. The text and the
    /// values are part of the query a cursor is bound to.
    pub fn filter<I, V>(mut self, sql: &str, params: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<SqlValue>,
    {
        self.filter = Some((sql.to_owned(), params.into_iter().map(Into::into).collect()));
        self
    }

    /// Signs every token with HMAC-SHA256 under `key` and refuses tokens
    /// that do not verify.
    pub fn signing_key(mut self, key: &[u8]) -> Self {
        self.signing_key = Some(key.to_vec());
        self
    }

    /// The largest `limit` a request may ask for (default
    /// [`DEFAULT_MAX_PAGE_SIZE`]).
    pub fn max_limit(mut self, max_limit: usize) -> Self {
        self.max_limit = max_limit;
        self
    }

    /// The pager, or why it cannot be built.
    ///
    /// # Errors
    /// [`Error::MissingTieBreaker`], [`Error::InvalidIdentifier`],
    /// [`Error::DuplicateSortColumn`], [`Error::ZeroMaxPageSize`],
    /// [`Error::EmptySigningKey`].
    pub fn build(self) -> Result<SqlPager, Error> {
        if self.max_limit == 0 {
            return Err(Error::ZeroMaxPageSize);
        }
        let (tie, tie_order) = self.tie_breaker.ok_or(Error::MissingTieBreaker)?;
        let mut key = Vec::with_capacity(self.key.len() + 1);
        for (name, order, nullable) in self.key.iter().chain(Some(&(tie, tie_order, false))) {
            let name = quote_ident(name)?;
            if key.iter().any(|k: &KeyColumn| k.name == name) {
                return Err(Error::DuplicateSortColumn {
                    name: name.trim_matches('"').to_owned(),
                });
            }
            key.push(KeyColumn {
                name,
                order: *order,
                nullable: *nullable,
            });
        }
        let columns = self
            .columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Result<Vec<_>, _>>()?;
        let spec = Spec {
            table: quote_ident(&self.table)?,
            columns,
            key,
            nulls: self.nulls,
            filter: self.filter,
        };
        let codec = match &self.signing_key {
            Some(k) => CursorCodec::signed(k)?,
            None => CursorCodec::unsigned(),
        };
        Ok(SqlPager {
            query: Query::ascending().with_filter(spec.binding()),
            spec,
            codec,
            max_limit: self.max_limit,
        })
    }
}
