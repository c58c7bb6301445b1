use super::source::{Format, Provenance};
use std::fmt;
use std::path::PathBuf;

/// Why a configuration could not be built, reloaded, changed or read.
///
/// Every variant names what was wrong: the key, the file or environment
/// variable, and for typed reads the layer and source the value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A key that is not a dotted path: empty, or with an empty segment
    /// (`a..b`, `.a`, `a.`).
    InvalidKey {
        /// The key given.
        key: String,
    },
    /// No layer has a value at this key.
    Missing {
        /// The dotted key asked for.
        key: String,
    },
    /// A value exists but does not have the type asked for (after the
    /// string coercion described in the module docs).
    Type {
        /// The dotted key of the offending value (`""` for the root of an
        /// `extract`).
        key: String,
        /// Which layer and source supplied the value, if one did.
        provenance: Option<Provenance>,
        /// What was expected and what was found, from serde.
        message: String,
    },
    /// A configuration file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error kind.
        kind: std::io::ErrorKind,
        /// The I/O error message.
        message: String,
    },
    /// A configuration file (or text) is not valid TOML or JSON.
    Parse {
        /// The file path, or `<text>` for [`Format::parse`].
        source: String,
        /// The format it was parsed as.
        format: Format,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A file, or the defaults, did not have a table at the top level.
    NotATable {
        /// The file path, or `defaults`.
        source: String,
        /// What it held instead (`array`, `string`, ...).
        found: &'static str,
    },
    /// A file name whose extension is neither `.toml` nor `.json`.
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// Defaults or a runtime value could not be turned into a config value.
    Serialize {
        /// The key being set, or `defaults`.
        key: String,
        /// serde's message.
        message: String,
    },
    /// An environment variable with the prefix that does not map to a key:
    /// an empty segment (`APP_`, `APP_A____B`, a trailing `__`) or a `.`.
    InvalidEnvVar {
        /// The variable's name.
        var: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two environment variables that cannot both hold: one names a value
    /// the other needs as a table (`APP_DB` and `APP_DB__HOST`), or both map
    /// to the same key (`APP_Db` and `APP_DB`).
    EnvConflict {
        /// One variable.
        var: String,
        /// The variable it conflicts with.
        other: String,
    },
    /// A key cannot be spelled as an environment variable that maps back to
    /// it (segments must be ASCII `[a-z0-9_]`, with no leading, trailing or
    /// doubled `_`).
    NotEnvMappable {
        /// The key given.
        key: String,
    },
    /// A key with more than [`MAX_DEPTH`](super::MAX_DEPTH) segments, or a
    /// value (defaults, a runtime value) nested deeper than that under its
    /// key: the merge and the change detection walk the tree, so the depth
    /// is bounded rather than left to overflow the stack.
    TooDeep {
        /// The key (its first 64 characters and `...` if longer), or
        /// `defaults`.
        key: String,
        /// How deep it was (counted up to `max + 1`).
        depth: usize,
        /// The maximum.
        max: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidKey { key } => write!(
                f,
                "invalid config key {key:?}: expected dotted segments like `database.pool.max`, none empty"
            ),
            Error::Missing { key } => write!(f, "config key `{key}` is not set in any layer"),
            Error::Type {
                key,
                provenance,
                message,
            } => {
                let key = if key.is_empty() { "(root)" } else { key };
                match provenance {
                    Some(p) => write!(f, "config key `{key}` (from {p}): {message}"),
                    None => write!(f, "config key `{key}`: {message}"),
                }
            }
            Error::Io {
                path,
                message,
                kind: _,
            } => write!(f, "cannot read config file {}: {message}", path.display()),
            Error::Parse {
                source,
                format,
                message,
            } => write!(f, "config file {source} is not valid {format}: {message}"),
            Error::NotATable { source, found } => write!(
                f,
                "config {source} must hold a table at the top level, found {found}"
            ),
            Error::UnknownFormat { path } => write!(
                f,
                "cannot tell the format of config file {}: name it *.toml or *.json, or give the format",
                path.display()
            ),
            Error::Serialize { key, message } => {
                write!(f, "cannot serialise config value for {key}: {message}")
            }
            Error::InvalidEnvVar { var, reason } => {
                write!(f, "environment variable {var} does not map to a config key: {reason}")
            }
            Error::EnvConflict { var, other } => write!(
                f,
                "environment variables {var} and {other} conflict: one sets a value where the other needs a table, or both map to the same key"
            ),
            Error::TooDeep { key, depth, max } => write!(
                f,
                "config key {key:?} nests {depth} levels deep, more than the maximum of {max}"
            ),
            Error::NotEnvMappable { key } => write!(
                f,
                "config key {key:?} has no environment variable name: segments must be ASCII [a-z0-9_] without leading, trailing or doubled `_`"
            ),
        }
    }
}

impl std::error::Error for Error {}
