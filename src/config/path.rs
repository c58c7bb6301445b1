//! Dotted keys and the value trees they address.
use super::error::Error;
use serde_json::{Map, Value};

/// Splits a dotted key into its segments, refusing empty ones.
pub(crate) fn split(key: &str) -> Result<Vec<&str>, Error> {
    let segs: Vec<&str> = key.split('.').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Err(Error::InvalidKey { key: key.into() });
    }
    Ok(segs)
}

/// The value at `segs` under `root`: tables by name, arrays by index.
pub(crate) fn lookup<'a, S: AsRef<str>>(root: &'a Value, segs: &[S]) -> Option<&'a Value> {
    segs.iter().try_fold(root, |v, s| match v {
        Value::Object(m) => m.get(s.as_ref()),
        Value::Array(a) => s.as_ref().parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Puts `value` at `segs`, creating tables on the way and replacing
/// whatever non-table lay on the path.
pub(crate) fn insert(root: &mut Map<String, Value>, segs: &[&str], value: Value) {
    let Some((last, parents)) = segs.split_last() else {
        return;
    };
    let mut table = root;
    for seg in parents {
        let slot = table
            .entry((*seg).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        table = match slot {
            Value::Object(m) => m,
            // Made an object just above.
            _ => return,
        };
    }
    table.insert((*last).to_owned(), value);
}

/// Removes the value at `segs`, returning it, and prunes the tables the
/// removal left empty (an empty table would otherwise hide lower layers).
pub(crate) fn remove(root: &mut Map<String, Value>, segs: &[&str]) -> Option<Value> {
    let (first, rest) = segs.split_first()?;
    if rest.is_empty() {
        return root.remove(*first);
    }
    let child = root.get_mut(*first)?.as_object_mut()?;
    let removed = remove(child, rest)?;
    if child.is_empty() {
        root.remove(*first);
    }
    Some(removed)
}

/// Deep merge: tables merge key by key; anything else in `higher` replaces
/// what `lower` had (arrays are replaced whole, not merged).
pub(crate) fn merge(lower: &mut Value, higher: &Value) {
    match (lower, higher) {
        (Value::Object(lo), Value::Object(hi)) => {
            for (k, hv) in hi {
                match lo.get_mut(k) {
                    Some(lv) => merge(lv, hv),
                    None => {
                        lo.insert(k.clone(), hv.clone());
                    }
                }
            }
        }
        (lo, hi) => *lo = hi.clone(),
    }
}

/// Calls `f(dotted_path, value, is_leaf)` for every node under `root` (not
/// the root itself), tables before their children. Leaves are everything
/// but non-empty tables; arrays are leaves. Table keys that are empty or
/// hold a `.` are skipped: no dotted path can name them.
pub(crate) fn walk(root: &Value, f: &mut impl FnMut(&str, &Value, bool)) {
    fn go(prefix: &mut String, v: &Value, f: &mut impl FnMut(&str, &Value, bool)) {
        if let Value::Object(m) = v {
            for (k, child) in m {
                // Not addressable by a dotted path; `extract` still sees it.
                if k.is_empty() || k.contains('.') {
                    continue;
                }
                let len = prefix.len();
                if len > 0 {
                    prefix.push('.');
                }
                prefix.push_str(k);
                let leaf = !matches!(child, Value::Object(c) if !c.is_empty());
                f(prefix, child, leaf);
                if !leaf {
                    go(prefix, child, f);
                }
                prefix.truncate(len);
            }
        }
    }
    go(&mut String::new(), root, f);
}

/// The JSON type name of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "table",
    }
}
