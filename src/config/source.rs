//! Layers, where their values come from, and the file formats.
use super::error::Error;
use super::path;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The four layers, lowest priority first: a value in a later layer hides
/// the same key in every earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// Built-in defaults given to the builder.
    Defaults,
    /// Configuration files (a later file beats an earlier one).
    File,
    /// Environment variables with the configured prefix.
    Env,
    /// Runtime overrides written with `set`.
    Runtime,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Defaults => "defaults",
            Layer::File => "file",
            Layer::Env => "environment",
            Layer::Runtime => "runtime",
        })
    }
}

/// Which layer and which source within it supplied a value: the file path,
/// the environment variable's name, `defaults` or `set`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Provenance {
    layer: Layer,
    source: Arc<str>,
}

impl Provenance {
    pub(crate) fn new(layer: Layer, source: Arc<str>) -> Self {
        Provenance { layer, source }
    }

    /// The layer.
    pub fn layer(&self) -> Layer {
        self.layer
    }

    /// The source within the layer: a file path, an environment variable
    /// name (`APP_DATABASE__POOL__MAX`; for a table supplied by several
    /// variables, `APP_DATABASE__*`), `defaults` or `set`.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layer {
            Layer::Defaults => f.write_str("defaults"),
            Layer::File => write!(f, "file {}", self.source),
            Layer::Env => write!(f, "environment variable {}", self.source),
            Layer::Runtime => f.write_str("runtime override (set)"),
        }
    }
}

/// A configuration file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// TOML (`*.toml`). Datetimes become strings in their TOML spelling;
    /// `nan` and `inf` floats become the strings `"NaN"`, `"inf"`, `"-inf"`
    /// (which typed reads parse back to `f64`).
    Toml,
    /// JSON (`*.json`).
    Json,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Toml => "TOML",
            Format::Json => "JSON",
        })
    }
}

impl Format {
    /// The format a file name's extension names (`toml` or `json`, any case).
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// Parses `text` into a value tree whose root is a table.
    ///
    /// ```
    /// use latchwork::config::Format;
    /// let v = Format::Toml.parse("[database.pool]\nmax = 20")?;
    /// assert_eq!(v["database"]["pool"]["max"], 20);
    /// assert!(Format::Json.parse("[1, 2]").is_err()); // not a table
    /// # Ok::<(), latchwork::config::Error>(())
    /// ```
    pub fn parse(self, text: &str) -> Result<Value, Error> {
        self.parse_named(text, "<text>")
    }

    pub(crate) fn parse_named(self, text: &str, source: &str) -> Result<Value, Error> {
        let parse_err = |message: String| Error::Parse {
            source: source.into(),
            format: self,
            message,
        };
        let value = match self {
            Format::Toml => toml::from_str::<toml::Table>(text)
                .map(|t| toml_to_json(toml::Value::Table(t)))
                .map_err(|e| parse_err(e.to_string().trim_end().to_owned()))?,
            Format::Json => {
                serde_json::from_str::<Value>(text).map_err(|e| parse_err(e.to_string()))?
            }
        };
        if !value.is_object() {
            return Err(Error::NotATable {
                source: source.into(),
                found: path::kind(&value),
            });
        }
        Ok(value)
    }
}

fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map_or_else(|| Value::String(f.to_string()), Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// One layer's (or one file's) values as they were read.
#[derive(Debug)]
pub(crate) struct LayerData {
    pub(crate) layer: Layer,
    /// A table.
    pub(crate) tree: Value,
    /// The source of everything in this layer ...
    pub(crate) source: Arc<str>,
    /// ... unless a key is listed here (environment variables: key -> name).
    pub(crate) per_key: HashMap<String, Arc<str>>,
    /// Environment: the variables under the prefix that could not be read
    /// (not UTF-8), by lossily decoded name, sorted.
    pub(crate) unreadable: Vec<String>,
}

impl LayerData {
    pub(crate) fn new(layer: Layer, tree: Value, source: &str) -> Self {
        LayerData {
            layer,
            tree,
            source: source.into(),
            per_key: HashMap::new(),
            unreadable: Vec::new(),
        }
    }

    pub(crate) fn empty(layer: Layer, source: &str) -> Self {
        Self::new(layer, Value::Object(Map::new()), source)
    }

    /// The provenance of the node at `key` in this layer (which has one).
    pub(crate) fn provenance(&self, key: &str, leaf: bool) -> Provenance {
        let source = match self.per_key.get(key) {
            Some(var) => Arc::clone(var),
            None if self.layer == Layer::Env && !leaf => {
                let mut s = String::from(&*self.source);
                for seg in key.split('.') {
                    s.push_str(&seg.to_uppercase());
                    s.push_str("__");
                }
                s.push('*');
                s.into()
            }
            None => Arc::clone(&self.source),
        };
        Provenance::new(self.layer, source)
    }
}

/// A configuration file to (re)read.
#[derive(Clone, Debug)]
pub(crate) struct FileSpec {
    pub(crate) path: PathBuf,
    pub(crate) format: Option<Format>,
    pub(crate) required: bool,
}

impl FileSpec {
    pub(crate) fn load(&self) -> Result<LayerData, Error> {
        let name = self.path.display().to_string();
        let format = self
            .format
            .or_else(|| Format::from_path(&self.path))
            .ok_or_else(|| Error::UnknownFormat {
                path: self.path.clone(),
            })?;
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if !self.required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(LayerData::empty(Layer::File, &name));
            }
            Err(e) => {
                return Err(Error::Io {
                    path: self.path.clone(),
                    kind: e.kind(),
                    message: e.to_string(),
                })
            }
        };
        let tree = format.parse_named(&text, &name)?;
        Ok(LayerData::new(Layer::File, tree, &name))
    }
}
