//! A synthetic JSON-lines service log, shared by the pipeline memory test
//! and the pipeline bench: every 10th record is an ERROR, every 1000th line
//! is malformed, every 5000th line is blank.
#![allow(dead_code)]

use serde::{Deserialize, Serialize};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// One log record as it is on disk.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogRecord {
    pub ts: u64,
    pub level: String,
    pub service: String,
    pub msg: String,
}

/// An ERROR record after enrichment.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Enriched {
    pub ts: u64,
    pub service: String,
    pub msg: String,
    pub region: &'static str,
    pub minute: u64,
}

/// What a generated log holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogCounts {
    pub lines: u64,
    pub records: u64,
    pub errors: u64,
    pub blank: u64,
    /// 1-based line numbers of the malformed lines.
    pub malformed: Vec<u64>,
}

const LEVELS: [&str; 4] = ["INFO", "DEBUG", "WARN", "INFO"];

/// The text of line `i` (0-based) and what it is.
pub fn line(i: u64, out: &mut String) -> LineKind {
    use std::fmt::Write as _;
    out.clear();
    if i % 5_000 == 2_500 {
        out.push_str("   ");
        return LineKind::Blank;
    }
    if i % 1_000 == 999 {
        let _ = write!(out, "{{\"ts\":{i},\"level\":\"ERROR\",\"service\":");
        return LineKind::Malformed;
    }
    let level = if i % 10 == 0 {
        "ERROR"
    } else {
        LEVELS[(i % 4) as usize]
    };
    let _ = write!(
        out,
        "{{\"ts\":{},\"level\":\"{level}\",\"service\":\"svc-{}\",\"msg\":\"request {i} done\"}}",
        1_700_000_000_000 + i * 7,
        i % 13
    );
    if level == "ERROR" {
        LineKind::Error
    } else {
        LineKind::Other
    }
}

/// What a generated line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Error,
    Other,
    Blank,
    Malformed,
}

/// Writes `lines` lines to `path` and returns what they hold.
pub fn generate(path: &Path, lines: u64) -> io::Result<LogCounts> {
    let mut w = BufWriter::with_capacity(1 << 16, std::fs::File::create(path)?);
    let mut counts = LogCounts {
        lines,
        ..LogCounts::default()
    };
    let mut buf = String::new();
    for i in 0..lines {
        match line(i, &mut buf) {
            LineKind::Error => {
                counts.records += 1;
                counts.errors += 1;
            }
            LineKind::Other => counts.records += 1,
            LineKind::Blank => counts.blank += 1,
            LineKind::Malformed => counts.malformed.push(i + 1),
        }
        w.write_all(buf.as_bytes())?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(counts)
}

/// The enrichment step of the log pipeline.
pub fn enrich(r: LogRecord) -> Enriched {
    let region = if r.service.ends_with(['0', '2', '4', '6', '8']) {
        "eu-west"
    } else {
        "us-east"
    };
    Enriched {
        minute: r.ts / 60_000,
        ts: r.ts,
        service: r.service,
        msg: r.msg,
        region,
    }
}
