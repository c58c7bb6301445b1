//! Dotted keys and the value trees they address.
use super::error::Error;
use serde_json::{Map, Value};

/// The deepest configuration data may nest: a dotted key (or an
/// environment variable's `__`-separated name) has at most this many
/// segments, and a value set at a key (or given as defaults) nests at most
/// this many levels counting the key's segments. Deeper input is
/// [`Error::TooDeep`] (or [`Error::InvalidEnvVar`]): the merge and the
/// change detection recurse once per level, so the bound keeps hostile
/// input from overflowing the stack. Files are bounded by their parsers.
pub const MAX_DEPTH: usize = 128;

/// `key` for an error message: at most 64 characters.
pub(crate) fn shorten(key: &str) -> String {
    match key.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &key[..i]),
        None => key.to_owned(),
    }
}

/// Splits a dotted key into its segments, refusing empty ones and keys of
/// more than `MAX_DEPTH` segments.
pub(crate) fn split(key: &str) -> Result<Vec<&str>, Error> {
    let mut segs = Vec::new();
    for seg in key.split('.') {
        if seg.is_empty() {
            return Err(Error::InvalidKey { key: key.into() });
        }
        if segs.len() == MAX_DEPTH {
            return Err(Error::TooDeep {
                key: shorten(key),
                depth: MAX_DEPTH + 1,
                max: MAX_DEPTH,
            });
        }
        segs.push(seg);
    }
    Ok(segs)
}

/// How deep `v` nests (a scalar or empty table is 0, `{"a": 1}` is 1),
/// counted iteratively and only up to `limit + 1`.
pub(crate) fn depth(v: &Value, limit: usize) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        if deepest > limit {
            break;
        }
        match v {
            Value::Object(m) => stack.extend(m.values().map(|c| (c, d + 1))),
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, d + 1))),
            _ => {}
        }
    }
    deepest
}

/// Checks that `value`, put under a key of `key_depth` segments, nests at
/// most `MAX_DEPTH` levels in all. A refused value is dropped iteratively
/// (serde_json's own `Drop` recurses once per level).
pub(crate) fn check_depth(key: &str, key_depth: usize, value: Value) -> Result<Value, Error> {
    let limit = MAX_DEPTH.saturating_sub(key_depth);
    let d = depth(&value, limit);
    if d <= limit {
        return Ok(value);
    }
    drop_iteratively(value);
    Err(Error::TooDeep {
        key: shorten(key),
        depth: key_depth + d,
        max: MAX_DEPTH,
    })
}

/// Drops a value of any depth without recursion.
pub(crate) fn drop_iteratively(value: Value) {
    let mut stack = vec![value];
    while let Some(mut v) = stack.pop() {
        match &mut v {
            Value::Object(m) => stack.extend(std::mem::take(m).into_iter().map(|(_, c)| c)),
            Value::Array(a) => stack.append(a),
            _ => {}
        }
    }
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
