//! A lenient serde `Deserializer` over a borrowed `serde_json::Value`.
//!
//! It behaves like `serde_json::Value`'s own deserializer except that where
//! a bool, integer or float is asked for and the value is a string (as every
//! environment variable is), the string is parsed; and where a sequence is
//! asked for and the value is a table keyed `0`, `1`, ... `n-1` (as
//! `APP_HOSTS__0`, `APP_HOSTS__1` produce), the table is read in index
//! order. Errors carry the dotted path of the value that failed, added
//! segment by segment as the error travels out.
//!
//! A deserializer may also record the values the target type skipped
//! (serde asks for an unknown field through `deserialize_ignored_any`): the
//! environment variables under them are the ones the type never reads
//! (`Snapshot::unused_env`).
use serde::de::{
    self, value::BorrowedStrDeserializer, DeserializeSeed, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

/// A deserialisation failure and the path (innermost segment first) of the
/// value it concerns.
#[derive(Debug)]
pub(crate) struct DeError {
    rev_path: Vec<String>,
    pub(crate) message: String,
}

impl DeError {
    fn within(mut self, seg: &str) -> Self {
        self.rev_path.push(seg.to_owned());
        self
    }

    /// The dotted path below the deserialised root (empty for the root).
    pub(crate) fn path(&self) -> String {
        let mut out = String::new();
        for seg in self.rev_path.iter().rev() {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
        out
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            rev_path: Vec::new(),
            message: msg.to_string(),
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

/// The addresses of the values a deserialisation skipped (compared by
/// identity, never dereferenced).
pub(crate) type Skipped = RefCell<HashSet<*const Value>>;

/// The deserializer: wrap a value and call `T::deserialize` on it; with
/// `Some(skipped)`, the values the target type ignores are recorded there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ValueDe<'de>(pub(crate) &'de Value, pub(crate) Option<&'de Skipped>);

impl<'de> ValueDe<'de> {
    /// A deserializer for `child`, recording into the same set as `self`.
    fn child(self, child: &'de Value) -> Self {
        ValueDe(child, self.1)
    }
}

/// `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`, any case, trimmed.
fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim();
    const TRUE: [&str; 4] = ["true", "yes", "on", "1"];
    const FALSE: [&str; 4] = ["false", "no", "off", "0"];
    if TRUE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Some(false)
    } else {
        None
    }
}

fn unparsable(s: &str, what: &str) -> DeError {
    de::Error::custom(format_args!(
        "expected {what}, found the string {s:?}, which does not parse as one"
    ))
}

macro_rules! lenient_int {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.0 {
                Value::String(s) => {
                    let t = s.trim();
                    if let Ok(i) = t.parse::<i64>() {
                        visitor.visit_i64(i)
                    } else if let Ok(u) = t.parse::<u64>() {
                        visitor.visit_u64(u)
                    } else {
                        Err(unparsable(s, "an integer"))
                    }
                }
                _ => self.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(a) => visitor.visit_seq(SeqDe::new(a.iter().collect(), self.1)),
            Value::Object(m) => visitor.visit_map(MapDe::new(m, self.1)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(s) => match parse_bool(s) {
                Some(b) => visitor.visit_bool(b),
                None => Err(unparsable(s, "a boolean (true/false, yes/no, on/off, 1/0)")),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    lenient_int!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
                 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64);

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(s) => match s.trim().parse::<i128>() {
                Ok(i) => visitor.visit_i128(i),
                Err(_) => Err(unparsable(s, "an integer")),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(s) => match s.trim().parse::<u128>() {
                Ok(u) => visitor.visit_u128(u),
                Err(_) => Err(unparsable(s, "an unsigned integer")),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(f) => visitor.visit_f64(f),
                Err(_) => Err(unparsable(s, "a number")),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Object(m) if !m.is_empty() => match indexed(m) {
                Some(items) => visitor.visit_seq(SeqDe::new(items, self.1)),
                None => self.deserialize_any(visitor),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(BorrowedStrDeserializer::<DeError>::new(s)),
            Value::Object(m) if m.len() == 1 => match m.iter().next() {
                Some((variant, value)) => visitor.visit_enum(EnumDe {
                    variant,
                    value: self.child(value),
                }),
                None => self.deserialize_any(visitor),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Some(skipped) = self.1 {
            skipped.borrow_mut().insert(self.0);
        }
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct map struct identifier
    }
}

/// The values of a table keyed exactly `0..n`, in index order.
fn indexed(m: &Map<String, Value>) -> Option<Vec<&Value>> {
    let mut slots: Vec<Option<&Value>> = vec![None; m.len()];
    for (k, v) in m {
        // Refuse `01`, `+1`: only the canonical spelling of an index.
        let i: usize = k.parse().ok().filter(|i: &usize| i.to_string() == *k)?;
        *slots.get_mut(i)? = Some(v);
    }
    slots.into_iter().collect()
}

struct SeqDe<'de> {
    items: std::vec::IntoIter<&'de Value>,
    index: usize,
    skipped: Option<&'de Skipped>,
}

impl<'de> SeqDe<'de> {
    fn new(items: Vec<&'de Value>, skipped: Option<&'de Skipped>) -> Self {
        SeqDe {
            items: items.into_iter(),
            index: 0,
            skipped,
        }
    }
}

impl<'de> SeqAccess<'de> for SeqDe<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(v) = self.items.next() else {
            return Ok(None);
        };
        let i = self.index;
        self.index += 1;
        seed.deserialize(ValueDe(v, self.skipped))
            .map(Some)
            .map_err(|e| e.within(&i.to_string()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'de> {
    entries: serde_json::map::Iter<'de>,
    pending: Option<(&'de str, &'de Value)>,
    skipped: Option<&'de Skipped>,
}

impl<'de> MapDe<'de> {
    fn new(m: &'de Map<String, Value>, skipped: Option<&'de Skipped>) -> Self {
        MapDe {
            entries: m.iter(),
            pending: None,
            skipped,
        }
    }
}

impl<'de> MapAccess<'de> for MapDe<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((k, v)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((k, v));
        seed.deserialize(BorrowedStrDeserializer::<DeError>::new(k))
            .map(Some)
            .map_err(|e| e.within(k))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DeError> {
        match self.pending.take() {
            Some((k, v)) => seed
                .deserialize(ValueDe(v, self.skipped))
                .map_err(|e| e.within(k)),
            None => Err(de::Error::custom("value asked for before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct EnumDe<'de> {
    variant: &'de str,
    value: ValueDe<'de>,
}

impl<'de> EnumAccess<'de> for EnumDe<'de> {
    type Error = DeError;
    type Variant = ValueDe<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, ValueDe<'de>), DeError> {
        let variant = seed.deserialize(BorrowedStrDeserializer::<DeError>::new(self.variant))?;
        Ok((variant, self.value))
    }
}

impl<'de> VariantAccess<'de> for ValueDe<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.0 {
            Value::Null => Ok(()),
            other => Err(de::Error::custom(format_args!(
                "expected a unit variant, found a {}",
                super::path::kind(other)
            ))),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}
