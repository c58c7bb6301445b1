//! The real-trace suite: the traces of `../shared/traces/` (or a directory
//! given with `--real DIR`), recorded from real systems, replayed at the
//! capacities their README lists.
//!
//! The directory holds `NAME.u64.gz` files (gzip-compressed little-endian
//! `u64` keys, one per request) and a `README.md` whose table has one row
//! per trace: `` | `NAME` | requests | distinct keys | cap, cap, ... | ``.
//! The capacities are read from that table, so a directory with other
//! traces works unchanged.
#![allow(dead_code)]

use flate2::read::GzDecoder;
use std::error::Error;
use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Where the suite looks when no directory is given.
pub const DEFAULT_DIR: &str = "../shared/traces";

/// One recorded trace and the capacities to replay it at.
pub struct RealTrace {
    pub name: String,
    pub capacities: Vec<usize>,
    pub path: PathBuf,
}

/// The traces listed in `dir/README.md`, in table order. An error says what
/// is missing, so a run without the traces fails with a clear message.
pub fn list(dir: &Path) -> Result<Vec<RealTrace>, Box<dyn Error>> {
    let readme = dir.join("README.md");
    let text = fs::read_to_string(&readme).map_err(|e| {
        format!(
            "real traces not found: cannot read {} ({e}); pass --real DIR with the \
             traces and their README, or see docs/benchmarks.md",
            readme.display()
        )
    })?;
    let mut out = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "", "`name`", requests, distinct, capacities, ""
        if cells.len() != 6 || !cells[1].starts_with('`') {
            continue;
        }
        let name = cells[1].trim_matches('`').to_string();
        let Ok(capacities) = cells[4]
            .split(',')
            .map(|c| c.trim().replace('_', "").parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
        else {
            continue;
        };
        let path = dir.join(format!("{name}.u64.gz"));
        if !path.exists() {
            return Err(format!(
                "{} is listed in {} but absent",
                path.display(),
                readme.display()
            )
            .into());
        }
        out.push(RealTrace {
            name,
            capacities,
            path,
        });
    }
    if out.is_empty() {
        return Err(format!("{} lists no trace", readme.display()).into());
    }
    Ok(out)
}

/// Reads a whole trace (at most `limit` requests).
pub fn read(path: &Path, limit: usize) -> Result<Vec<u64>, Box<dyn Error>> {
    let mut bytes = Vec::new();
    GzDecoder::new(BufReader::new(File::open(path)?)).read_to_end(&mut bytes)?;
    if bytes.len() % 8 != 0 {
        return Err(format!(
            "{}: {} bytes, not a whole number of u64 keys",
            path.display(),
            bytes.len()
        )
        .into());
    }
    Ok(bytes
        .chunks_exact(8)
        .take(limit)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect())
}
