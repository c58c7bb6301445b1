//! The PostgreSQL shell of [`SqlPager`]: runs a plan on a `tokio_postgres`
//! client or transaction (async), and maps [`SqlValue`] to and from the
//! column types a sort key uses.
use super::error::SqlError;
use super::pager::{SqlPage, SqlPager};
use super::spec::Dialect;
use super::value::SqlValue;
use bytes::BytesMut;
use std::error::Error as StdError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::{GenericClient, Row};

type BoxError = Box<dyn StdError + Sync + Send>;

impl SqlPager {
    /// The page at `cursor` (the first page when `None`) of up to `limit`
    /// rows, read through `client` (a `Client` or a `Transaction`), each
    /// row turned into an item by `map` (its indices `0..n` are the
    /// builder's columns).
    ///
    /// Key columns may be `int2`/`int4`/`int8`, `float4`/`float8`, `text`
    /// and the other string types, `bytea`, `uuid`, `bool`, `timestamp`
    /// and `timestamptz`.
    ///
    /// # Cancel safety
    /// Dropping the future abandons the query; nothing is written, so the
    /// same request can simply be made again.
    ///
    /// # Errors
    /// [`SqlError::Page`] for a refused request or cursor (before any
    /// statement is sent); [`SqlError::Postgres`] when PostgreSQL or `map`
    /// fails.
    pub async fn page_postgres<C, T, F>(
        &self,
        client: &C,
        cursor: Option<&str>,
        limit: usize,
        mut map: F,
    ) -> Result<SqlPage<T>, SqlError>
    where
        C: GenericClient + Sync,
        F: FnMut(&Row) -> Result<T, tokio_postgres::Error>,
    {
        let plan = self.plan(Dialect::Postgres, cursor, limit)?;
        let params: Vec<&(dyn ToSql + Sync)> = plan
            .params
            .iter()
            .map(|p| p as &(dyn ToSql + Sync))
            .collect();
        let rows = client.query(plan.sql.as_str(), &params).await?;
        let mut read = Vec::with_capacity(rows.len());
        for row in &rows {
            let end = row.len();
            let key = (end - plan.key_len..end)
                .map(|i| row.try_get::<_, SqlValue>(i))
                .collect::<Result<Vec<_>, _>>()?;
            read.push((key, map(row)?));
        }
        Ok(self.finish(&plan, read)?)
    }
}

fn is_text(ty: &Type) -> bool {
    <&str as ToSql>::accepts(ty)
}

fn wrong(value: &SqlValue, ty: &Type) -> BoxError {
    format!("cannot bind {value} to a column of type {ty}").into()
}

fn to_micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |us| -us),
    }
}

fn from_micros(us: i64) -> SystemTime {
    let d = Duration::from_micros(us.unsigned_abs());
    if us >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

impl ToSql for SqlValue {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Int(v) if *ty == Type::INT8 => v.to_sql(ty, out),
            SqlValue::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            SqlValue::Int(v) if *ty == Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
            SqlValue::Float(v) if *ty == Type::FLOAT8 => v.to_sql(ty, out),
            // Exact for values read from a float4 column.
            SqlValue::Float(v) if *ty == Type::FLOAT4 => (*v as f32).to_sql(ty, out),
            SqlValue::Text(v) if is_text(ty) => v.as_str().to_sql(ty, out),
            SqlValue::Bytes(v) if *ty == Type::BYTEA => v.as_slice().to_sql(ty, out),
            SqlValue::Bytes(v) if *ty == Type::UUID && v.len() == 16 => {
                // uuid's binary form is its 16 bytes.
                out.extend_from_slice(v);
                Ok(IsNull::No)
            }
            SqlValue::Bool(v) if *ty == Type::BOOL => v.to_sql(ty, out),
            SqlValue::Timestamp(us) if *ty == Type::TIMESTAMP || *ty == Type::TIMESTAMPTZ => {
                from_micros(*us).to_sql(ty, out)
            }
            other => Err(wrong(other, ty)),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <SqlValue as FromSql>::accepts(ty)
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for SqlValue {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(if *ty == Type::INT8 {
            SqlValue::Int(i64::from_sql(ty, raw)?)
        } else if *ty == Type::INT4 {
            SqlValue::Int(i32::from_sql(ty, raw)?.into())
        } else if *ty == Type::INT2 {
            SqlValue::Int(i16::from_sql(ty, raw)?.into())
        } else if *ty == Type::FLOAT8 {
            SqlValue::Float(f64::from_sql(ty, raw)?)
        } else if *ty == Type::FLOAT4 {
            SqlValue::Float(f32::from_sql(ty, raw)?.into())
        } else if *ty == Type::BOOL {
            SqlValue::Bool(bool::from_sql(ty, raw)?)
        } else if *ty == Type::BYTEA || *ty == Type::UUID {
            SqlValue::Bytes(raw.to_vec())
        } else if *ty == Type::TIMESTAMP || *ty == Type::TIMESTAMPTZ {
            SqlValue::Timestamp(to_micros(SystemTime::from_sql(ty, raw)?))
        } else {
            SqlValue::Text(String::from_sql(ty, raw)?)
        })
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(SqlValue::Null)
    }

    fn accepts(ty: &Type) -> bool {
        [
            Type::INT2,
            Type::INT4,
            Type::INT8,
            Type::FLOAT4,
            Type::FLOAT8,
            Type::BOOL,
            Type::BYTEA,
            Type::UUID,
            Type::TIMESTAMP,
            Type::TIMESTAMPTZ,
        ]
        .contains(ty)
            || is_text(ty)
    }
}
