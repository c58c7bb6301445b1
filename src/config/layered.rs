//! The shared, reloadable configuration handle and its builder.
use super::env::{self, EnvProvider};
use super::error::Error;
use super::path;
use super::snapshot::{FirstKeys, Snapshot, SnapshotInner, DEBUG_KEYS};
use super::source::{FileSpec, Format, Layer, LayerData, Provenance};
use crate::sync::{Arc, ArcCell, Mutex};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::PathBuf;

type Callback = std::sync::Arc<dyn Fn(&ConfigChange) + Send + Sync>;

/// What a subscriber is told after a swap that changed something.
#[derive(Debug)]
pub struct ConfigChange {
    keys: Vec<String>,
    snapshot: Snapshot,
}

impl ConfigChange {
    /// The sorted dotted keys of the leaves whose effective value changed
    /// (added, removed or different).
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The configuration as it is after the change.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }
}

#[derive(Default)]
struct Subscribers {
    next_id: u64,
    list: Vec<(u64, Callback)>,
}

/// Unsubscribes when dropped (see [`LayeredConfig::subscribe`]).
#[must_use = "dropping the subscription unsubscribes at once"]
pub struct Subscription {
    id: u64,
    subscribers: std::sync::Arc<Mutex<Subscribers>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.subscribers
            .lock()
            .list
            .retain(|(id, _)| *id != self.id);
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .finish()
    }
}

struct EnvSpec {
    prefix: String,
    provider: EnvProvider,
}

/// What the writers (`set`, `unset`, `reload`) share, behind one mutex.
struct Sources {
    defaults: std::sync::Arc<LayerData>,
    files: Vec<FileSpec>,
    file_layers: Vec<std::sync::Arc<LayerData>>,
    env: Option<EnvSpec>,
    env_layer: Option<std::sync::Arc<LayerData>>,
    runtime: Map<String, Value>,
    runtime_layer: std::sync::Arc<LayerData>,
}

impl Sources {
    fn layers(&self) -> Vec<std::sync::Arc<LayerData>> {
        let mut v = Vec::with_capacity(self.file_layers.len() + 3);
        v.push(std::sync::Arc::clone(&self.defaults));
        v.extend(self.file_layers.iter().cloned());
        v.extend(self.env_layer.iter().cloned());
        v.push(std::sync::Arc::clone(&self.runtime_layer));
        v
    }

    fn read_files_and_env(&self) -> Result<ReadLayers, Error> {
        let files = self
            .files
            .iter()
            .map(|f| f.load().map(std::sync::Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let env = match &self.env {
            Some(e) => Some(std::sync::Arc::new(env::load(&e.prefix, (e.provider)())?)),
            None => None,
        };
        Ok((files, env))
    }
}

type ReadLayers = (
    Vec<std::sync::Arc<LayerData>>,
    Option<std::sync::Arc<LayerData>>,
);

/// Layered configuration: runtime overrides, then environment variables,
/// then files, then defaults, the first layer with a key winning; read
/// lock-free from many threads and reloaded atomically.
///
/// Share it by reference or in an `Arc`; every method takes `&self`.
///
/// ```
/// use latchwork::config::{LayeredConfig, Layer};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Pool { max: u32, idle_secs: u64 }
///
/// let config = LayeredConfig::builder()
///     .set_default("database.pool.max", 10)
///     .set_default("database.pool.idle_secs", 300)
///     // The process environment in a service: `.env("APP_")`.
///     .env_from("APP_", || vec![("APP_DATABASE__POOL__MAX".into(), "20".into())])
///     .build()?;
/// let pool: Pool = config.get_as("database.pool")?;
/// assert_eq!((pool.max, pool.idle_secs), (20, 300)); // "20" parsed as u32
/// let from = config.source_of("database.pool.max").unwrap();
/// assert_eq!((from.layer(), from.source()), (Layer::Env, "APP_DATABASE__POOL__MAX"));
/// # Ok::<(), latchwork::config::Error>(())
/// ```
pub struct LayeredConfig {
    current: ArcCell<SnapshotInner>,
    sources: Mutex<Sources>,
    subscribers: std::sync::Arc<Mutex<Subscribers>>,
}

impl LayeredConfig {
    /// A builder with no layers filled in.
    pub fn builder() -> LayeredConfigBuilder {
        LayeredConfigBuilder::default()
    }

    /// The current configuration, without taking a lock: one atomic load
    /// and a reference-count increment. Reads through one snapshot are
    /// mutually consistent.
    #[inline]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(self.current.load_full())
    }

    /// The effective value at a dotted key, cloned from the current
    /// snapshot. To read several keys consistently, take one
    /// [`snapshot`](Self::snapshot).
    pub fn get(&self, key: &str) -> Option<Value> {
        self.snapshot().get(key).cloned()
    }

    /// [`Snapshot::get_as`] on the current snapshot.
    pub fn get_as<T: DeserializeOwned>(&self, key: &str) -> Result<T, Error> {
        self.snapshot().get_as(key)
    }

    /// [`Snapshot::extract`] on the current snapshot.
    pub fn extract<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.snapshot().extract()
    }

    /// [`Snapshot::source_of`] on the current snapshot.
    pub fn source_of(&self, key: &str) -> Option<Provenance> {
        self.snapshot().source_of(key)
    }

    /// [`Snapshot::unused_env`] on the current snapshot: the environment
    /// variables under the prefix that a `T` would not read.
    pub fn unused_env<T: DeserializeOwned>(&self) -> Result<Vec<String>, Error> {
        self.snapshot().unused_env::<T>()
    }

    /// Writes `value` at `key` in the runtime layer (replacing whatever
    /// that layer had on the path) and swaps in a new snapshot. Returns the
    /// keys whose effective value changed, as subscribers are told.
    ///
    /// Copy-on-write: costs a re-merge of all layers, so it suits
    /// occasional overrides, not a hot path.
    pub fn set(&self, key: &str, value: impl Serialize) -> Result<Vec<String>, Error> {
        let segs = path::split(key)?;
        let value = serde_json::to_value(value).map_err(|e| Error::Serialize {
            key: key.into(),
            message: e.to_string(),
        })?;
        let value = path::check_depth(key, segs.len(), value)?;
        let mut sources = self.sources.lock();
        path::insert(&mut sources.runtime, &segs, value);
        Ok(self.commit_runtime(&mut sources))
    }

    /// Removes `key` from the runtime layer, so lower layers show through
    /// again. Returns the keys whose effective value changed (empty if the
    /// runtime layer did not have `key`; nothing is swapped then).
    pub fn unset(&self, key: &str) -> Result<Vec<String>, Error> {
        let segs = path::split(key)?;
        let mut sources = self.sources.lock();
        if path::remove(&mut sources.runtime, &segs).is_none() {
            return Ok(Vec::new());
        }
        Ok(self.commit_runtime(&mut sources))
    }

    fn commit_runtime(&self, sources: &mut Sources) -> Vec<String> {
        sources.runtime_layer = std::sync::Arc::new(LayerData::new(
            Layer::Runtime,
            Value::Object(sources.runtime.clone()),
            "set",
        ));
        self.commit(sources)
    }

    /// Re-reads every file and the environment, then swaps the new
    /// configuration in with one atomic store: a reader sees the old
    /// configuration or the new one, never a mix. Defaults and runtime
    /// overrides are kept. On an error (a missing required file, a parse
    /// error, a conflicting variable) nothing changes and the old
    /// configuration stays in force. Returns the keys whose effective value
    /// changed, as subscribers are told.
    pub fn reload(&self) -> Result<Vec<String>, Error> {
        let mut sources = self.sources.lock();
        let (files, env) = sources.read_files_and_env()?;
        sources.file_layers = files;
        sources.env_layer = env;
        Ok(self.commit(&mut sources))
    }

    /// Builds the snapshot of `sources`, swaps it in and tells subscribers.
    /// Runs with the sources lock held, so swaps and notifications happen
    /// in one order.
    fn commit(&self, sources: &mut Sources) -> Vec<String> {
        let old = self.snapshot();
        let new = Snapshot(Arc::new(SnapshotInner::build(
            &sources.layers(),
            old.generation() + 1,
        )));
        self.current.store(Arc::clone(&new.0));
        let keys = old.changed_keys(&new);
        if !keys.is_empty() {
            let callbacks: Vec<Callback> = self
                .subscribers
                .lock()
                .list
                .iter()
                .map(|(_, c)| std::sync::Arc::clone(c))
                .collect();
            let change = ConfigChange {
                keys: keys.clone(),
                snapshot: new,
            };
            // A panicking subscriber must not keep the others from hearing
            // of the change: each runs under `catch_unwind`, and the first
            // panic resumes once every subscriber has run (the snapshot is
            // already swapped in, and the writers' lock is released by the
            // unwinding guard).
            let mut first_panic = None;
            for c in callbacks {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| c(&change))) {
                    first_panic.get_or_insert(payload);
                }
            }
            if let Some(payload) = first_panic {
                resume_unwind(payload);
            }
        }
        keys
    }

    /// Calls `f` after every swap that changed at least one key's effective
    /// value, with the sorted changed keys and the new snapshot, until the
    /// returned [`Subscription`] is dropped.
    ///
    /// Callbacks run on the thread that called `set`, `unset` or `reload`,
    /// after the new snapshot is visible and before that call returns, in
    /// swap order, each change exactly once. They run while the writers'
    /// lock is held: a callback may read (`snapshot`, `get`) and subscribe,
    /// but must not call `set`, `unset` or `reload` on the same
    /// configuration (that would deadlock).
    ///
    /// A callback that panics does not keep the others from running: every
    /// subscriber hears of the change, then the first panic resumes on the
    /// writer's thread (the change itself is already applied).
    pub fn subscribe(&self, f: impl Fn(&ConfigChange) + Send + Sync + 'static) -> Subscription {
        let mut subs = self.subscribers.lock();
        let id = subs.next_id;
        subs.next_id += 1;
        subs.list.push((id, std::sync::Arc::new(f)));
        Subscription {
            id,
            subscribers: std::sync::Arc::clone(&self.subscribers),
        }
    }
}

/// A summary, never the contents: the layers and their sources (files by
/// path, at most a few; the environment prefix; how many runtime
/// overrides), the subscriber count, then the current snapshot's summary
/// (generation, key counts, first keys). Its length does not grow with the
/// configuration. It takes the writers' lock only if it is free (a
/// subscriber callback runs under it), printing `"<locked>"` otherwise.
impl fmt::Debug for LayeredConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("LayeredConfig");
        match self.sources.try_lock() {
            Some(s) => {
                let paths: Vec<String> = s
                    .files
                    .iter()
                    .take(DEBUG_KEYS)
                    .map(|spec| spec.path.display().to_string())
                    .collect();
                let shown: Vec<&str> = paths.iter().map(String::as_str).collect();
                d.field(
                    "files",
                    &FirstKeys {
                        shown: &shown,
                        total: s.files.len(),
                    },
                )
                .field("env_prefix", &s.env.as_ref().map(|e| &e.prefix))
                .field("runtime_overrides", &s.runtime.len());
            }
            None => {
                d.field("sources", &format_args!("<locked>"));
            }
        }
        if let Some(subs) = self.subscribers.try_lock() {
            d.field("subscribers", &subs.list.len());
        }
        self.snapshot().0.fmt_summary(d)
    }
}

/// Builds a [`LayeredConfig`]: defaults, files and the environment source.
/// Errors (defaults that do not serialise, unreadable files) are reported
/// by [`build`](Self::build).
#[derive(Default)]
pub struct LayeredConfigBuilder {
    defaults: Map<String, Value>,
    error: Option<Error>,
    files: Vec<FileSpec>,
    env: Option<EnvSpec>,
}

impl LayeredConfigBuilder {
    /// Merges a serialisable value into the defaults: a struct with
    /// `#[derive(Serialize)]` or a map; nested structs and maps become
    /// tables. It must serialise to a table.
    pub fn defaults<T: Serialize + ?Sized>(mut self, defaults: &T) -> Self {
        let value = serde_json::to_value(defaults)
            .map_err(|e| Error::Serialize {
                key: "defaults".into(),
                message: e.to_string(),
            })
            .and_then(|v| path::check_depth("defaults", 0, v));
        match value {
            Ok(v @ Value::Object(_)) => {
                let mut merged = Value::Object(std::mem::take(&mut self.defaults));
                path::merge(&mut merged, &v);
                if let Value::Object(m) = merged {
                    self.defaults = m;
                }
            }
            Ok(other) => {
                self.error.get_or_insert(Error::NotATable {
                    source: "defaults".into(),
                    found: path::kind(&other),
                });
            }
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Sets one default at a dotted key.
    pub fn set_default(mut self, key: &str, value: impl Serialize) -> Self {
        let result = path::split(key).and_then(|segs| {
            let v = serde_json::to_value(value).map_err(|e| Error::Serialize {
                key: key.into(),
                message: e.to_string(),
            })?;
            let v = path::check_depth(key, segs.len(), v)?;
            path::insert(&mut self.defaults, &segs, v);
            Ok(())
        });
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
        self
    }

    /// Adds a configuration file that must exist, its format told by its
    /// extension (`.toml`, `.json`). Files added later beat earlier ones.
    /// Read at build and on every reload.
    pub fn file(self, path: impl Into<PathBuf>) -> Self {
        self.add_file(path.into(), None, true)
    }

    /// Adds a configuration file that may be absent (then it contributes
    /// nothing; it is looked for again on every reload).
    pub fn optional_file(self, path: impl Into<PathBuf>) -> Self {
        self.add_file(path.into(), None, false)
    }

    /// Adds a configuration file that must exist, in the given format
    /// whatever its name.
    pub fn file_with_format(self, path: impl Into<PathBuf>, format: Format) -> Self {
        self.add_file(path.into(), Some(format), true)
    }

    fn add_file(mut self, path: PathBuf, format: Option<Format>, required: bool) -> Self {
        self.files.push(FileSpec {
            path,
            format,
            required,
        });
        self
    }

    /// Reads the process environment (at build and on every reload):
    /// variables starting with the prefix, the rest lower-cased with `__`
    /// separating segments: `APP_DATABASE__POOL__MAX` sets
    /// `database.pool.max`. `env("APP")` and `env("APP_")` are the same
    /// source (an `_` is added to a prefix that does not end with one), so
    /// `APPLE_X` is never read. Variables under the prefix whose name or
    /// value is not UTF-8 cannot be held; they are not dropped silently but
    /// listed by [`LayeredConfig::unused_env`], with the variables the
    /// configuration type does not read.
    pub fn env(mut self, prefix: &str) -> Self {
        self.env = Some(EnvSpec {
            prefix: env::full_prefix(prefix).into_owned(),
            provider: Box::new(env::process_env),
        });
        self
    }

    /// Like [`env`](Self::env) (the same prefix rule), but the variables
    /// come from `provider`, called at build and on every reload: for
    /// tests, or a service that reads its variables elsewhere.
    pub fn env_from(
        mut self,
        prefix: &str,
        provider: impl Fn() -> Vec<(String, String)> + Send + Sync + 'static,
    ) -> Self {
        self.env = Some(EnvSpec {
            prefix: env::full_prefix(prefix).into_owned(),
            provider: Box::new(move || env::EnvRead {
                vars: provider(),
                unreadable: Vec::new(),
            }),
        });
        self
    }

    /// Reads the files and the environment and builds the configuration.
    pub fn build(self) -> Result<LayeredConfig, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut sources = Sources {
            defaults: std::sync::Arc::new(LayerData::new(
                Layer::Defaults,
                Value::Object(self.defaults),
                "defaults",
            )),
            files: self.files,
            file_layers: Vec::new(),
            env: self.env,
            env_layer: None,
            runtime: Map::new(),
            runtime_layer: std::sync::Arc::new(LayerData::empty(Layer::Runtime, "set")),
        };
        let (files, env) = sources.read_files_and_env()?;
        sources.file_layers = files;
        sources.env_layer = env;
        let first = SnapshotInner::build(&sources.layers(), 0);
        Ok(LayeredConfig {
            current: ArcCell::new(Arc::new(first)),
            sources: Mutex::new(sources),
            subscribers: std::sync::Arc::new(Mutex::new(Subscribers::default())),
        })
    }
}

impl fmt::Debug for LayeredConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayeredConfigBuilder")
            .field("defaults", &self.defaults)
            .field("files", &self.files)
            .field("env_prefix", &self.env.as_ref().map(|e| &e.prefix))
            .finish_non_exhaustive()
    }
}
