//! An immutable, consistent view of every layer and their merge.
use super::de::{Skipped, ValueDe};
use super::error::Error;
use super::path;
use super::source::{Layer, LayerData, Provenance};
use crate::sync::Arc;
use crate::DefaultHashBuilder;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;

/// One addressable node of the merged tree.
#[derive(Debug)]
struct Node {
    /// The value, for leaves (anything but a non-empty table); tables are
    /// looked up in the merged tree.
    leaf: Option<Value>,
    provenance: Provenance,
}

#[derive(Debug)]
pub(crate) struct SnapshotInner {
    merged: Value,
    /// Every dotted path of the merged tree (tables and leaves).
    index: HashMap<Box<str>, Node, DefaultHashBuilder>,
    /// The environment layer, for `unused_env`.
    env: Option<std::sync::Arc<LayerData>>,
    generation: u64,
}

impl SnapshotInner {
    /// Merges `layers` (lowest priority first) and indexes the result.
    pub(crate) fn build(layers: &[std::sync::Arc<LayerData>], generation: u64) -> Self {
        let mut merged = Value::Object(Map::new());
        for l in layers {
            path::merge(&mut merged, &l.tree);
        }
        let mut index = HashMap::with_hasher(DefaultHashBuilder::default());
        path::walk(&merged, &mut |key, value, leaf| {
            let segs: Vec<&str> = key.split('.').collect();
            // The highest layer holding anything at a path supplied it: a
            // lower layer's value there is hidden by the merge, except for
            // tables, which the highest such layer shares with lower ones.
            let supplier = layers
                .iter()
                .rev()
                .find(|l| path::lookup(&l.tree, &segs).is_some());
            if let Some(l) = supplier {
                index.insert(
                    key.into(),
                    Node {
                        leaf: leaf.then(|| value.clone()),
                        provenance: l.provenance(key, leaf),
                    },
                );
            }
        });
        SnapshotInner {
            merged,
            index,
            env: layers
                .iter()
                .find(|l| l.layer == Layer::Env)
                .map(std::sync::Arc::clone),
            generation,
        }
    }
}

/// A consistent, immutable view of the configuration at one moment: every
/// read through one snapshot sees the same values, whatever reloads or
/// `set`s happen meanwhile. Cheap to clone (one reference count).
///
/// ```
/// use latchwork::config::{LayeredConfig, Layer};
/// let config = LayeredConfig::builder().set_default("server.port", 8080).build()?;
/// let snap = config.snapshot();
/// config.set("server.port", 9090)?;
/// assert_eq!(snap.get_as::<u16>("server.port")?, 8080); // the old view
/// assert_eq!(config.snapshot().get_as::<u16>("server.port")?, 9090);
/// assert_eq!(config.source_of("server.port").map(|p| p.layer()), Some(Layer::Runtime));
/// # Ok::<(), latchwork::config::Error>(())
/// ```
#[derive(Clone)]
pub struct Snapshot(pub(crate) Arc<SnapshotInner>);

impl Snapshot {
    /// The effective value at a dotted key: the highest-priority layer's
    /// value, where tables merge across layers. Path segments index arrays
    /// too (`servers.0.host`). `None` if no layer has it or the key is not a
    /// valid dotted path.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&Value> {
        let inner = &*self.0;
        match inner.index.get(key) {
            Some(Node { leaf: Some(v), .. }) => Some(v),
            _ => path::lookup(&inner.merged, &path::split(key).ok()?),
        }
    }

    /// Whether any layer has a value at `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The value at `key` as a `T`, with strings parsed where `T` (or a
    /// field of it) wants a bool or a number (see the module docs).
    ///
    /// Errors: [`Error::Missing`] if no layer has the key,
    /// [`Error::InvalidKey`] if it is not a dotted path, [`Error::Type`]
    /// naming the key, its provenance and what was expected otherwise.
    pub fn get_as<T: DeserializeOwned>(&self, key: &str) -> Result<T, Error> {
        path::split(key)?;
        let v = self
            .get(key)
            .ok_or_else(|| Error::Missing { key: key.into() })?;
        self.deserialize(ValueDe(v, None), key)
    }

    /// The whole merged configuration as a `T` (typically a struct with
    /// `#[derive(Deserialize)]`), with the same string coercion as
    /// [`get_as`](Self::get_as). An error names the innermost failing key.
    pub fn extract<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.deserialize(ValueDe(&self.0.merged, None), "")
    }

    /// The environment variables under the prefix whose value a `T`
    /// extracted from this snapshot would not read, sorted by name: a
    /// misspelt `APP_DATABSE__URL`, a key the type has no field for, or
    /// one dropped by `#[serde(skip)]`, which serde otherwise ignores
    /// without a word. Listed too: a variable whose value a runtime
    /// override replaces or hides (`set("database.url", ..)` or
    /// `set("database", ..)` over `APP_DATABASE__URL`), and one under the
    /// prefix whose name or value is not UTF-8 (read by
    /// [`env`](super::LayeredConfigBuilder::env); its name decoded
    /// lossily). Empty without an environment layer.
    ///
    /// It extracts a `T` to find out (serde reports the keys a type skips),
    /// so it fails as [`extract`](Self::extract) does. A type that buffers
    /// its input (`#[serde(flatten)]`, untagged enums) takes every key
    /// below that point, so nothing under it is reported.
    ///
    /// ```
    /// use latchwork::config::LayeredConfig;
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize)]
    /// struct Database { url: String }
    /// #[derive(Deserialize)]
    /// struct App { database: Database }
    ///
    /// let config = LayeredConfig::builder()
    ///     .env_from("APP", || vec![
    ///         ("APP_DATABASE__URL".into(), "postgres://db".into()),
    ///         ("APP_DATABASE__POOL".into(), "8".into()), // no such field
    ///         ("APP_DATABSE__URL".into(), "typo".into()),
    ///     ])
    ///     .build()?;
    /// assert_eq!(config.extract::<App>()?.database.url, "postgres://db");
    /// assert_eq!(config.unused_env::<App>()?, ["APP_DATABASE__POOL", "APP_DATABSE__URL"]);
    /// # Ok::<(), latchwork::config::Error>(())
    /// ```
    pub fn unused_env<T: DeserializeOwned>(&self) -> Result<Vec<String>, Error> {
        let skipped = Skipped::default();
        self.deserialize::<T>(ValueDe(&self.0.merged, Some(&skipped)), "")?;
        let Some(env) = &self.0.env else {
            return Ok(Vec::new());
        };
        let skipped = skipped.into_inner();
        let mut unused: Vec<String> = env
            .per_key
            .iter()
            .filter(|(key, _)| {
                // Unused if a higher layer supplies the key (or hides it),
                // or if its path passes through a value the type skipped.
                let supplied = self.0.index.get(key.as_str());
                if supplied.is_none_or(|n| n.provenance.layer() != Layer::Env) {
                    return true;
                }
                let mut node = &self.0.merged;
                if skipped.contains(&(node as *const Value)) {
                    return true;
                }
                for seg in key.split('.') {
                    match path::lookup(node, &[seg]) {
                        Some(child) if !skipped.contains(&(child as *const Value)) => {
                            node = child;
                        }
                        _ => return true,
                    }
                }
                false
            })
            .map(|(_, var)| var.to_string())
            .chain(env.unreadable.iter().cloned())
            .collect();
        unused.sort_unstable();
        Ok(unused)
    }

    fn deserialize<T: DeserializeOwned>(&self, de: ValueDe<'_>, base: &str) -> Result<T, Error> {
        T::deserialize(de).map_err(|e| {
            let below = e.path();
            let key = match (base.is_empty(), below.is_empty()) {
                (_, true) => base.to_owned(),
                (true, false) => below,
                (false, false) => format!("{base}.{below}"),
            };
            Error::Type {
                provenance: self.source_of(&key),
                key,
                message: e.message,
            }
        })
    }

    /// Which layer and source supplied the value at `key`: for a leaf, the
    /// layer it came from; for a table merged from several layers, the
    /// highest of them; for an array element, the layer of the array.
    pub fn source_of(&self, key: &str) -> Option<Provenance> {
        self.get(key)?;
        let mut k = key;
        loop {
            if let Some(n) = self.0.index.get(k) {
                return Some(n.provenance.clone());
            }
            k = &k[..k.rfind('.')?];
        }
    }

    /// Every dotted key of a leaf (a value that is not a non-empty table),
    /// sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .0
            .index
            .iter()
            .filter(|(_, n)| n.leaf.is_some())
            .map(|(k, _)| &**k)
            .collect();
        keys.sort_unstable();
        keys
    }

    /// The whole merged tree.
    pub fn as_value(&self) -> &Value {
        &self.0.merged
    }

    /// How many times the configuration has been swapped before this
    /// snapshot was taken: 0 for the one `build` made, then one more per
    /// `set`, `unset` and `reload`.
    pub fn generation(&self) -> u64 {
        self.0.generation
    }

    /// The sorted dotted keys of the leaves whose effective value differs
    /// between `self` and `other` (added, removed or changed).
    pub fn changed_keys(&self, other: &Snapshot) -> Vec<String> {
        let (a, b) = (&self.0.index, &other.0.index);
        let mut out: Vec<String> = Vec::new();
        for (k, n) in a.iter().filter(|(_, n)| n.leaf.is_some()) {
            if b.get(k).and_then(|m| m.leaf.as_ref()) != n.leaf.as_ref() {
                out.push(k.to_string());
            }
        }
        for (k, _) in b.iter().filter(|(_, n)| n.leaf.is_some()) {
            if a.get(k).and_then(|m| m.leaf.as_ref()).is_none() {
                out.push(k.to_string());
            }
        }
        out.sort_unstable();
        out
    }
}

/// Keys a `Debug` summary names, and the most characters shown of each.
pub(crate) const DEBUG_KEYS: usize = 4;
const DEBUG_KEY_CHARS: usize = 48;

impl SnapshotInner {
    /// The `Debug` summary's figures, gathered in one pass over the index:
    /// leaves per layer (lowest first) and the first few leaf keys, sorted.
    fn summary(&self) -> ([usize; 4], Vec<&str>) {
        let mut per_layer = [0usize; 4];
        let mut first: Vec<&str> = Vec::with_capacity(DEBUG_KEYS + 1);
        for (k, n) in self.index.iter().filter(|(_, n)| n.leaf.is_some()) {
            per_layer[n.provenance.layer() as usize] += 1;
            // Keeps the DEBUG_KEYS smallest: bounded work per key.
            let at = first.partition_point(|f| *f < &**k);
            if at < DEBUG_KEYS {
                first.insert(at, k);
                first.truncate(DEBUG_KEYS);
            }
        }
        (per_layer, first)
    }

    /// Fills the summary fields into `d` (shared with `LayeredConfig`'s
    /// `Debug`) and finishes it.
    pub(crate) fn fmt_summary(&self, mut d: fmt::DebugStruct<'_, '_>) -> fmt::Result {
        let (per_layer, first) = self.summary();
        let total: usize = per_layer.iter().sum();
        d.field("generation", &self.generation)
            .field("keys", &total)
            .field("keys_by_layer", &LayerCounts(per_layer))
            .field(
                "first_keys",
                &FirstKeys {
                    shown: &first,
                    total,
                },
            )
            .finish_non_exhaustive()
    }
}

/// Formats a bounded list: at most [`DEBUG_KEYS`] keys, each cut to
/// [`DEBUG_KEY_CHARS`] characters, then how many more there are.
pub(crate) struct FirstKeys<'a> {
    pub(crate) shown: &'a [&'a str],
    pub(crate) total: usize,
}

impl fmt::Debug for FirstKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, k) in self.shown.iter().take(DEBUG_KEYS).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match k.char_indices().nth(DEBUG_KEY_CHARS) {
                Some((cut, _)) => write!(f, "{:?}...", &k[..cut])?,
                None => write!(f, "{k:?}")?,
            }
        }
        let more = self.total.saturating_sub(self.shown.len().min(DEBUG_KEYS));
        if more > 0 {
            write!(f, ", ... {more} more")?;
        }
        f.write_str("]")
    }
}

/// A summary, never the contents: the generation, the number of leaf keys,
/// how many each layer supplied, and the first few keys in sorted order.
/// Its length does not grow with the configuration.
impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_summary(f.debug_struct("Snapshot"))
    }
}

/// Leaf counts per layer, as `{defaults: 3, runtime: 1}` (empty layers
/// left out).
struct LayerCounts([usize; 4]);

impl fmt::Debug for LayerCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layers = [Layer::Defaults, Layer::File, Layer::Env, Layer::Runtime];
        let mut m = f.debug_map();
        for (layer, &n) in layers.iter().zip(&self.0).filter(|(_, &n)| n > 0) {
            m.entry(&format_args!("{layer}"), &n);
        }
        m.finish()
    }
}
