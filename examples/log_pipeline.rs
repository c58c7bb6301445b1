//! A constant-memory log pipeline: read a JSON-lines service log far larger
//! than you want in memory, keep the ERROR records, enrich them, and write
//! them out in batches of 500 (a bulk insert), counting malformed lines
//! instead of dying on them.
//!
//! ```text
//! cargo run --release --example log_pipeline             # generates a 1M-line log
//! cargo run --release --example log_pipeline -- 5000000  # or any size
//! cargo run --release --example log_pipeline -- path/to/service.log
//! ```
//!
//! Reports records/s and the process's peak resident memory (Linux), which
//! stays flat as the file grows: try two sizes.
use latchwork::pipeline::{ChunkExt, LineError, Pipeline};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A record as the service logs it.
#[derive(Debug, Deserialize)]
struct LogRecord {
    ts: u64,
    level: String,
    service: String,
    msg: String,
}

/// What we load into the incident store.
#[derive(Debug, Serialize)]
struct Incident {
    ts: u64,
    minute: u64,
    service: String,
    team: &'static str,
    msg: String,
}

fn enrich(r: LogRecord) -> Incident {
    let team = match r.service.as_bytes().last() {
        Some(b'0'..=b'4') => "payments",
        _ => "search",
    };
    Incident {
        minute: r.ts / 60_000,
        ts: r.ts,
        service: r.service,
        team,
        msg: r.msg,
    }
}

/// Writes a synthetic log: every 10th record an ERROR, every 1000th line
/// malformed, every 5000th blank.
fn generate(path: &Path, lines: u64) -> std::io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    for i in 0..lines {
        if i % 5_000 == 2_500 {
            writeln!(w)?;
        } else if i % 1_000 == 999 {
            writeln!(w, "{{\"ts\":{i},\"level\":\"ERROR\",\"service\":")?;
        } else {
            let level = ["ERROR", "INFO", "INFO", "WARN", "DEBUG"][(i % 10).min(4) as usize];
            writeln!(
                w,
                "{{\"ts\":{},\"level\":\"{level}\",\"service\":\"svc-{}\",\"msg\":\"request {i} failed upstream\"}}",
                1_700_000_000_000 + i * 7,
                i % 13
            )?;
        }
    }
    w.flush()
}

/// Peak resident set size in MiB, from /proc (Linux only).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    let dir = std::env::temp_dir().join(format!("latchwork-log-pipeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let input: PathBuf = match arg.as_deref().map(|a| (a, a.parse::<u64>())) {
        Some((path, Err(_))) => PathBuf::from(path),
        other => {
            let lines = other.and_then(|(_, n)| n.ok()).unwrap_or(1_000_000);
            let path = dir.join("service.log");
            let t0 = Instant::now();
            generate(&path, lines)?;
            println!(
                "generated {lines} lines ({:.0} MB) in {:.2} s",
                std::fs::metadata(&path)?.len() as f64 / 1e6,
                t0.elapsed().as_secs_f64()
            );
            path
        }
    };
    let rss_before = peak_rss_mib();

    // Malformed lines: count them, keep the first few line numbers.
    let bad = Arc::new(Mutex::new((0u64, Vec::new())));
    let sink = bad.clone();
    let mut running = Pipeline::<LogRecord>::json_lines(&input)?
        .filter("errors-only", 2, |r| r.level == "ERROR")
        .map("enrich", 2, enrich)
        .on_error(move |failure| {
            let mut bad = sink.lock().unwrap_or_else(|e| e.into_inner());
            bad.0 += 1;
            if bad.1.len() < 5 {
                let line = failure
                    .error
                    .downcast_ref::<LineError>()
                    .map(LineError::line);
                bad.1.push(line.unwrap_or(0));
            }
        })
        .start()?;

    let out_path = dir.join("incidents.jsonl");
    let mut out = BufWriter::new(File::create(&out_path)?);
    let mut batches = 0u64;
    for batch in running.by_ref().chunked(500)? {
        // One line per batch: what a bulk insert would send.
        serde_json::to_writer(&mut out, &batch)?;
        out.write_all(b"\n")?;
        batches += 1;
    }
    out.flush()?;
    let report = running.finish();
    let (malformed, first_bad) = bad.lock().unwrap_or_else(|e| e.into_inner()).clone();

    println!("{report}");
    println!(
        "{} ERROR records in {batches} batches of up to 500 -> {} ({:.1} MB)",
        report.emitted,
        out_path.display(),
        std::fs::metadata(&out_path)?.len() as f64 / 1e6
    );
    println!("{malformed} malformed lines skipped, first at lines {first_bad:?}");
    println!("{:.0} records/s", report.records_per_sec());
    match (rss_before, peak_rss_mib()) {
        (Some(before), Some(after)) => {
            println!("peak resident memory: {after:.1} MiB (before the pipeline: {before:.1} MiB)")
        }
        _ => println!("peak resident memory: not available on this platform"),
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
