//! Environment variables as a layer: `APP_DATABASE__POOL__MAX=20` is the
//! key `database.pool.max` with the string value `"20"`.
//!
//! The prefix is the application's name with or without its separator:
//! `APP` and `APP_` both select `APP_*` (an `_` is added to a non-empty
//! prefix that does not end with one), so `APPLE_X` is never read as
//! `le_x`.
use super::error::Error;
use super::path;
use super::source::{Layer, LayerData};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// What one read of the environment found.
#[derive(Debug, Default)]
pub(crate) struct EnvRead {
    /// `(name, value)` pairs that are valid UTF-8.
    pub(crate) vars: Vec<(String, String)>,
    /// The names (decoded lossily) of variables whose name or value is
    /// not UTF-8, which the layer cannot hold.
    pub(crate) unreadable: Vec<String>,
}

/// Where the environment layer reads its variables, called at build and
/// on every reload.
pub(crate) type EnvProvider = Box<dyn Fn() -> EnvRead + Send + Sync>;

/// The process environment: every variable whose name and value are valid
/// UTF-8 (`std::env::vars` would panic on the others, which are listed as
/// unreadable instead).
pub(crate) fn process_env() -> EnvRead {
    let mut read = EnvRead::default();
    for (k, v) in std::env::vars_os() {
        match (k.into_string(), v.into_string()) {
            (Ok(k), Ok(v)) => read.vars.push((k, v)),
            (Ok(k), Err(_)) => read.unreadable.push(k),
            (Err(k), _) => read.unreadable.push(k.to_string_lossy().into_owned()),
        }
    }
    read
}

/// The prefix as matched: `prefix` itself if it is empty or ends with
/// `_`, else `prefix` followed by `_` (`APP` and `APP_` are one prefix).
pub(crate) fn full_prefix(prefix: &str) -> Cow<'_, str> {
    if prefix.is_empty() || prefix.ends_with('_') {
        Cow::Borrowed(prefix)
    } else {
        Cow::Owned(format!("{prefix}_"))
    }
}

/// The dotted key an environment variable sets, if it has the prefix.
///
/// The prefix is matched case-sensitively, with its `_` separator: `APP`
/// and `APP_` are the same prefix (an `_` is added to a non-empty prefix
/// that lacks one; the empty prefix matches every variable). The rest is
/// split at `__` into segments, each lower-cased. `Ok(None)` for a variable
/// without the prefix; an error for one with the prefix that names no key
/// (an empty segment, or a `.`).
///
/// ```
/// use latchwork::config::env_var_to_key;
/// assert_eq!(env_var_to_key("APP_", "APP_DATABASE__POOL__MAX")?.as_deref(), Some("database.pool.max"));
/// assert_eq!(env_var_to_key("APP", "APP_DATABASE__POOL__MAX")?.as_deref(), Some("database.pool.max"));
/// assert_eq!(env_var_to_key("APP_", "APP_LOG_LEVEL")?.as_deref(), Some("log_level"));
/// assert_eq!(env_var_to_key("APP", "APPLE_PIE")?, None);
/// assert_eq!(env_var_to_key("APP_", "HOME")?, None);
/// assert!(env_var_to_key("APP_", "APP_A____B").is_err());
/// # Ok::<(), latchwork::config::Error>(())
/// ```
pub fn env_var_to_key(prefix: &str, var: &str) -> Result<Option<String>, Error> {
    let Some(rest) = var.strip_prefix(&*full_prefix(prefix)) else {
        return Ok(None);
    };
    let invalid = |reason| Error::InvalidEnvVar {
        var: var.into(),
        reason,
    };
    if rest.contains('.') {
        return Err(invalid("a `.` cannot appear in a key segment"));
    }
    let mut key = String::with_capacity(rest.len());
    for (i, seg) in rest.split("__").enumerate() {
        if i == path::MAX_DEPTH {
            return Err(invalid("more segments than config::MAX_DEPTH (128) allows"));
        }
        if seg.is_empty() {
            return Err(invalid(
                "empty segment (nothing after the prefix, or a leading, trailing or extra `__`)",
            ));
        }
        if !key.is_empty() {
            key.push('.');
        }
        key.push_str(&seg.to_lowercase());
    }
    Ok(Some(key))
}

/// The environment variable that sets a dotted key: the prefix (with its
/// `_` separator, added if missing as in [`env_var_to_key`]), then the
/// segments upper-cased and joined by `__`. Inverse of [`env_var_to_key`]
/// for keys whose segments are ASCII `[a-z0-9_]` without leading, trailing
/// or doubled `_`; other keys are refused.
///
/// ```
/// use latchwork::config::key_to_env_var;
/// assert_eq!(key_to_env_var("APP_", "database.pool.max")?, "APP_DATABASE__POOL__MAX");
/// assert_eq!(key_to_env_var("APP", "database.pool.max")?, "APP_DATABASE__POOL__MAX");
/// assert!(key_to_env_var("APP_", "Database").is_err());
/// # Ok::<(), latchwork::config::Error>(())
/// ```
pub fn key_to_env_var(prefix: &str, key: &str) -> Result<String, Error> {
    let segs = path::split(key)?;
    let mut var = full_prefix(prefix).into_owned();
    for (i, seg) in segs.iter().enumerate() {
        let ok = seg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !seg.starts_with('_')
            && !seg.ends_with('_')
            && !seg.contains("__");
        if !ok {
            return Err(Error::NotEnvMappable { key: key.into() });
        }
        if i > 0 {
            var.push_str("__");
        }
        var.push_str(&seg.to_ascii_uppercase());
    }
    Ok(var)
}

/// Builds the environment layer from what a read found. Values stay
/// strings; typed reads coerce them. Variables are taken in name order so
/// the result, and which conflict is reported, do not depend on the order
/// the environment lists them. Unreadable variables under the prefix are
/// kept by name for `Snapshot::unused_env`.
pub(crate) fn load(prefix: &str, read: EnvRead) -> Result<LayerData, Error> {
    let full = full_prefix(prefix);
    let mut mapped: Vec<(String, String, String)> = Vec::new();
    for (var, value) in read.vars {
        if let Some(key) = env_var_to_key(prefix, &var)? {
            mapped.push((key, var, value));
        }
    }
    mapped.sort_by(|a, b| a.1.cmp(&b.1));
    let mut tree = Map::new();
    let mut per_key: HashMap<String, Arc<str>> = HashMap::with_capacity(mapped.len());
    for (key, var, value) in mapped {
        let segs: Vec<&str> = key.split('.').collect();
        if let Err(clash) = insert_new(&mut tree, &segs, Value::String(value)) {
            // `clash` is the key already set where ours needs room; for a
            // table, name any variable under it (error path only).
            let other = per_key.get(&clash).cloned().or_else(|| {
                let under = format!("{clash}.");
                per_key
                    .iter()
                    .find(|(k, _)| k.starts_with(&under))
                    .map(|(_, v)| Arc::clone(v))
            });
            return Err(Error::EnvConflict {
                var,
                other: other.map_or_else(|| clash.clone(), |o| o.to_string()),
            });
        }
        per_key.insert(key, var.into());
    }
    let mut unreadable: Vec<String> = read
        .unreadable
        .into_iter()
        .filter(|name| name.starts_with(&*full))
        .collect();
    unreadable.sort_unstable();
    Ok(LayerData {
        layer: Layer::Env,
        tree: Value::Object(tree),
        source: (*full).into(),
        per_key,
        unreadable,
    })
}

/// Inserts a value at a path that must be free: no value on the way, nothing
/// at the end. On a clash returns the dotted key of what is in the way.
fn insert_new(root: &mut Map<String, Value>, segs: &[&str], value: Value) -> Result<(), String> {
    let Some((last, parents)) = segs.split_last() else {
        return Ok(());
    };
    let mut table = root;
    for (i, seg) in parents.iter().enumerate() {
        let slot = table
            .entry((*seg).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        table = match slot {
            Value::Object(m) => m,
            _ => return Err(segs[..=i].join(".")),
        };
    }
    if table.contains_key(*last) {
        return Err(segs.join("."));
    }
    table.insert((*last).to_owned(), value);
    Ok(())
}
