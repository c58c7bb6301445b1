//! A synthetic JSON-lines service log, shared by the pipeline memory test
//! and the pipeline bench: every 10th record is an ERROR, every 1000th line
//! is malformed, every 5000th line is blank; and a heavy variant of about
//! 1 KiB per line for stages whose per-record work is microseconds.
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

/// One record of the heavy log: about 1 KiB of JSON per line, so parsing it
/// costs microseconds rather than the ~100 ns of a [`LogRecord`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HeavyRecord {
    pub ts: u64,
    pub level: String,
    pub service: String,
    pub host: String,
    pub trace_id: String,
    pub span_id: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub user_agent: String,
    pub msg: String,
    pub latency_ms: Vec<f64>,
    pub tags: Vec<String>,
    pub headers: std::collections::BTreeMap<String, String>,
}

/// A heavy ERROR record reduced to what an incident needs.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct HeavySummary {
    pub ts: u64,
    pub service: String,
    pub status: u16,
    pub worst_ms: f64,
    pub mean_ms: f64,
    pub tags: usize,
}

/// The text of heavy line `i` (0-based): one JSON object of about 1 KiB;
/// every 10th is an ERROR.
pub fn heavy_line(i: u64, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    let level = if i % 10 == 0 {
        "ERROR"
    } else {
        LEVELS[(i % 4) as usize]
    };
    let _ = write!(
        out,
        "{{\"ts\":{},\"level\":\"{level}\",\"service\":\"svc-{}\",\"host\":\"host-{}.eu-west-1.compute.internal\",\
         \"trace_id\":\"{:032x}\",\"span_id\":\"{:016x}\",\"method\":\"POST\",\"path\":\"/api/v2/accounts/{}/orders/{}/items\",\
         \"status\":{},\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\",\
         \"msg\":\"request {i} finished after retrying the upstream inventory service\",\"latency_ms\":[",
        1_700_000_000_000 + i * 7,
        i % 13,
        i % 97,
        (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
        i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        i % 10_007,
        i,
        if level == "ERROR" { 503 } else { 200 },
    );
    for k in 0..24u64 {
        let sep = if k == 0 { "" } else { "," };
        let _ = write!(out, "{sep}{}.{}", (i * 31 + k * 17) % 900, (i + k) % 10);
    }
    out.push_str("],\"tags\":[");
    for k in 0..8u64 {
        let sep = if k == 0 { "" } else { "," };
        let _ = write!(out, "{sep}\"tag-{}\"", (i + k * 7) % 50);
    }
    out.push_str("],\"headers\":{");
    for (k, name) in [
        "accept",
        "content-type",
        "x-request-id",
        "x-forwarded-for",
        "x-tenant",
    ]
    .iter()
    .enumerate()
    {
        let sep = if k == 0 { "" } else { "," };
        let _ = write!(out, "{sep}\"{name}\":\"value-{}-{}\"", i % 1_000, k * 7_919);
    }
    out.push_str("}}");
}

/// The enrichment step of the heavy pipeline.
pub fn summarize(r: HeavyRecord) -> HeavySummary {
    let worst_ms = r.latency_ms.iter().copied().fold(0.0, f64::max);
    let mean_ms = r.latency_ms.iter().sum::<f64>() / r.latency_ms.len().max(1) as f64;
    HeavySummary {
        ts: r.ts,
        service: r.service,
        status: r.status,
        worst_ms,
        mean_ms,
        tags: r.tags.len(),
    }
}
