//! The sequential reference for `LayeredConfig`: each layer a flat map from
//! dotted leaf key to value, looked up through the chain highest layer
//! first. Shared by the model tests.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;

/// One layer: dotted leaf keys (no key a prefix of another) to values.
pub type Flat = BTreeMap<String, Value>;

/// What the reference finds at a key.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// A leaf, and the index of the layer it came from.
    Leaf(Value, usize),
    /// A table; the index of the highest layer contributing to it.
    Table(usize),
    Missing,
}

fn under(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix).is_some_and(|r| r.starts_with('.'))
}

/// `layers` lowest priority first (defaults, file, env, runtime).
pub fn lookup(layers: &[Flat], key: &str) -> Found {
    for (i, layer) in layers.iter().enumerate().rev() {
        if let Some(v) = layer.get(key) {
            return Found::Leaf(v.clone(), i);
        }
        // A leaf above the key hides the key and everything lower.
        if layer.keys().any(|k| under(key, k)) {
            return Found::Missing;
        }
        if layer.keys().any(|k| under(k, key)) {
            return Found::Table(i);
        }
    }
    Found::Missing
}

/// Every effective leaf.
pub fn leaves(layers: &[Flat]) -> BTreeMap<String, Value> {
    let mut all: Vec<&String> = layers.iter().flat_map(|l| l.keys()).collect();
    all.sort();
    all.dedup();
    all.into_iter()
        .filter_map(|k| match lookup(layers, k) {
            Found::Leaf(v, _) => Some((k.clone(), v)),
            _ => None,
        })
        .collect()
}

/// Sorted keys whose effective leaf differs.
pub fn changed(before: &BTreeMap<String, Value>, after: &BTreeMap<String, Value>) -> Vec<String> {
    let mut keys: Vec<String> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .chain(after.keys().filter(|k| !before.contains_key(*k)).cloned())
        .collect();
    keys.sort();
    keys
}

/// `set` in a layer: whatever lay on the path, or under it, goes.
pub fn set(layer: &mut Flat, key: &str, v: Value) {
    layer.retain(|k, _| !(k == key || under(k, key) || under(key, k)));
    layer.insert(key.to_owned(), v);
}

/// `unset` in a layer: the key and everything under it; whether any went.
pub fn unset(layer: &mut Flat, key: &str) -> bool {
    let before = layer.len();
    layer.retain(|k, _| !(k == key || under(k, key)));
    layer.len() != before
}

/// Drops keys that have another key of the same layer as a prefix.
pub fn consistent(mut layer: Flat) -> Flat {
    let keys: Vec<String> = layer.keys().cloned().collect();
    layer.retain(|k, _| !keys.iter().any(|p| under(k, p)));
    layer
}
