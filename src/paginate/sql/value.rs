//! The values a SQL cursor carries, and their byte encoding in a token.
use crate::paginate::cursor::CursorKey;
use std::fmt;

/// One column value of a sort key or a filter parameter, as it travels
/// between the database driver and a cursor token.
///
/// Only the types that make sensible sort keys: integers (any width; the
/// PostgreSQL glue narrows to `int2`/`int4` where the column asks, and
/// refuses a value that does not fit), floats, text, bytes, booleans and
/// timestamps (PostgreSQL `timestamp`/`timestamptz`; SQLite has no such
/// type and stores times as integers or text, which travel as
/// [`Int`](SqlValue::Int) or [`Text`](SqlValue::Text)).
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    /// SQL `NULL` (only in a column declared nullable).
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(String),
    /// Bytes (SQLite `BLOB`, PostgreSQL `bytea`, `uuid`).
    Bytes(Vec<u8>),
    /// A boolean.
    Bool(bool),
    /// A timestamp: microseconds since 1970-01-01 00:00:00 UTC.
    Timestamp(i64),
}

impl SqlValue {
    /// Whether this is [`SqlValue::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, SqlValue::Null)
    }

    /// Appends the tagged, self-delimiting encoding of this value.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            SqlValue::Null => out.push(TAG_NULL),
            SqlValue::Int(v) => {
                out.push(TAG_INT);
                out.extend_from_slice(&v.to_be_bytes());
            }
            SqlValue::Float(v) => {
                out.push(TAG_FLOAT);
                out.extend_from_slice(&v.to_bits().to_be_bytes());
            }
            SqlValue::Text(v) => {
                out.push(TAG_TEXT);
                put_len_prefixed(out, v.as_bytes());
            }
            SqlValue::Bytes(v) => {
                out.push(TAG_BYTES);
                put_len_prefixed(out, v);
            }
            SqlValue::Bool(v) => {
                out.push(TAG_BOOL);
                out.push(u8::from(*v));
            }
            SqlValue::Timestamp(v) => {
                out.push(TAG_TIMESTAMP);
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
    }

    /// Reads one value from the front of `bytes`; `None` on any malformed
    /// input (never panics: tokens come from clients).
    pub(crate) fn decode(bytes: &mut &[u8]) -> Option<SqlValue> {
        let (&tag, rest) = bytes.split_first()?;
        *bytes = rest;
        Some(match tag {
            TAG_NULL => SqlValue::Null,
            TAG_INT => SqlValue::Int(i64::from_be_bytes(take(bytes, 8)?.try_into().ok()?)),
            TAG_FLOAT => SqlValue::Float(f64::from_bits(u64::from_be_bytes(
                take(bytes, 8)?.try_into().ok()?,
            ))),
            TAG_TEXT => SqlValue::Text(String::from_utf8(take_len_prefixed(bytes)?.to_vec()).ok()?),
            TAG_BYTES => SqlValue::Bytes(take_len_prefixed(bytes)?.to_vec()),
            TAG_BOOL => match take(bytes, 1)? {
                [0] => SqlValue::Bool(false),
                [1] => SqlValue::Bool(true),
                _ => return None,
            },
            TAG_TIMESTAMP => {
                SqlValue::Timestamp(i64::from_be_bytes(take(bytes, 8)?.try_into().ok()?))
            }
            _ => return None,
        })
    }
}

const TAG_NULL: u8 = 0;
const TAG_INT: u8 = 1;
const TAG_FLOAT: u8 = 2;
const TAG_TEXT: u8 = 3;
const TAG_BYTES: u8 = 4;
const TAG_BOOL: u8 = 5;
const TAG_TIMESTAMP: u8 = 6;

fn put_len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..len as usize]);
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if bytes.len() < n {
        return None;
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Some(head)
}

fn take_len_prefixed<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_be_bytes(take(bytes, 4)?.try_into().ok()?) as usize;
    take(bytes, len)
}

impl fmt::Display for SqlValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlValue::Null => f.write_str("NULL"),
            SqlValue::Int(v) => write!(f, "{v}"),
            SqlValue::Float(v) => write!(f, "{v}"),
            SqlValue::Text(v) => write!(f, "{v:?}"),
            SqlValue::Bytes(v) => write!(f, "{} bytes", v.len()),
            SqlValue::Bool(v) => write!(f, "{v}"),
            SqlValue::Timestamp(v) => write!(f, "{v} us since the epoch"),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for SqlValue {
            fn from(v: $t) -> Self {
                SqlValue::Int(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Float(v)
    }
}

impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Bool(v)
    }
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

impl From<Vec<u8>> for SqlValue {
    fn from(v: Vec<u8>) -> Self {
        SqlValue::Bytes(v)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// Where a page starts: strictly after a row's key (reading forward) or
/// strictly before it (reading backward). What a SQL cursor token holds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Position {
    pub(crate) backward: bool,
    pub(crate) key: Vec<SqlValue>,
}

impl CursorKey for Position {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.backward));
        for v in &self.key {
            v.encode(out);
        }
    }

    fn decode_key(bytes: &[u8]) -> Option<Self> {
        let (&dir, mut rest) = bytes.split_first()?;
        let backward = match dir {
            0 => false,
            1 => true,
            _ => return None,
        };
        let mut key = Vec::new();
        while !rest.is_empty() {
            key.push(SqlValue::decode(&mut rest)?);
        }
        Some(Position { backward, key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_refuse_garbage() {
        let p = Position {
            backward: true,
            key: vec![
                SqlValue::Null,
                SqlValue::Int(-3),
                SqlValue::Float(1.5),
                SqlValue::Text("é".into()),
                SqlValue::Bytes(vec![0, 255]),
                SqlValue::Bool(true),
                SqlValue::Timestamp(1_700_000_000_000_000),
            ],
        };
        let mut bytes = Vec::new();
        p.encode_key(&mut bytes);
        assert_eq!(Position::decode_key(&bytes), Some(p));
        for cut in 1..bytes.len() {
            // Every strict prefix either fails or decodes to fewer values.
            if let Some(q) = Position::decode_key(&bytes[..cut]) {
                assert!(q.key.len() < 7);
            }
        }
        assert_eq!(Position::decode_key(&[2]), None);
        assert_eq!(Position::decode_key(&[0, 9]), None);
    }
}
