#![cfg(all(not(loom), feature = "pipeline", feature = "serde"))]
//! The log pipeline over generated JSON-lines logs of 100k and 1M lines:
//! exact counts (ERROR records, malformed lines by line number) and a
//! peak heap that does not grow with the file size.
//!
//! The 1M-line run is the default; `LATCHWORK_PIPELINE_LINES` changes the
//! large size (for a quicker local run).

#[path = "common/pipeline_log.rs"]
mod pipeline_log;

use latchwork::pipeline::{ChunkExt, LineError, Pipeline};
use pipeline_log::{enrich, generate, LogRecord};
use std::sync::{Arc, Mutex};
#[path = "common/counting_alloc.rs"]
mod counting_alloc;

/// Runs the pipeline over a generated log of `lines` lines; returns the
/// peak heap growth during the run, in bytes.
fn run(lines: u64) -> usize {
    let dir =
        std::env::temp_dir().join(format!("latchwork-pipeline-{}-{lines}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("service.log");
    let expected = generate(&path, lines).unwrap();

    let bad_lines = Arc::new(Mutex::new(Vec::with_capacity(expected.malformed.len())));
    let sink = bad_lines.clone();
    let base = counting_alloc::live();
    counting_alloc::reset_peak();

    let mut running = Pipeline::<LogRecord>::json_lines(&path)
        .unwrap()
        .filter("errors-only", 2, |r| r.level == "ERROR")
        .map("enrich", 2, enrich)
        .capacity(8)
        .on_error(move |f| {
            let line = f.error.downcast_ref::<LineError>().map_or(0, |e| e.line());
            sink.lock().unwrap().push(line);
        })
        .start()
        .unwrap();
    let (mut batches, mut records, mut bytes) = (0u64, 0u64, 0usize);
    let mut out = Vec::with_capacity(64 * 1024);
    for batch in running.by_ref().chunked(500).unwrap() {
        // A bulk insert: serialise the batch, then let it go.
        out.clear();
        serde_json::to_writer(&mut out, &batch).unwrap();
        bytes += out.len();
        batches += 1;
        records += batch.len() as u64;
    }
    let report = running.finish();
    let peak = (counting_alloc::peak() - base).max(0) as usize;
    std::fs::remove_dir_all(&dir).unwrap();

    println!(
        "{lines} lines: {} read, {} ERROR in {batches} batches ({bytes} bytes out), {} malformed; \
         {:.0} records/s; peak heap +{:.2} MiB\n{report}",
        report.read,
        records,
        report.source_failed,
        report.records_per_sec(),
        peak as f64 / (1 << 20) as f64
    );
    assert_eq!(
        report.read,
        expected.records + expected.malformed.len() as u64
    );
    assert_eq!(report.source_failed, expected.malformed.len() as u64);
    assert_eq!(records, expected.errors);
    assert_eq!(report.emitted, expected.errors);
    assert_eq!(batches, expected.errors.div_ceil(500));
    assert_eq!(report.stages[0].dropped, expected.records - expected.errors);
    let mut bad = bad_lines.lock().unwrap().clone();
    bad.sort_unstable();
    assert_eq!(
        bad, expected.malformed,
        "malformed lines reported with their numbers"
    );
    assert!(!report.stopped_early);
    peak
}

#[test]
fn peak_memory_does_not_grow_with_file_size() {
    let large: u64 = std::env::var("LATCHWORK_PIPELINE_LINES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let small_peak = run(100_000);
    let large_peak = run(large);
    println!(
        "peak heap: 100k lines +{small_peak} B, {large} lines +{large_peak} B (x{:.2} for x{:.0} the lines)",
        large_peak as f64 / small_peak as f64,
        large as f64 / 100_000.0
    );
    // Ten times the input; the peak may wobble with scheduling but must not
    // follow the size (which would be about 10x).
    assert!(
        large_peak < small_peak * 2 + (1 << 20),
        "peak grew with the input: {small_peak} -> {large_peak}"
    );
    assert!(
        large_peak < 16 << 20,
        "peak {large_peak} B is not constant-memory"
    );
}
