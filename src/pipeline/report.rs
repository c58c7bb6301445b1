//! What a run reports: [`Failure`]s to the error sink, and the
//! [`RunReport`] with one [`StageReport`] per stage.
use super::error::BoxError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A record that a source or stage failed on, sent to the error sink.
#[derive(Debug)]
pub struct Failure {
    /// The stage that failed: its name, or `"source"`.
    pub stage: Arc<str>,
    /// The record's position in the source, from 0.
    pub position: u64,
    /// What went wrong (a stage that panicked reports its panic message).
    pub error: BoxError,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed record {}: {}",
            self.stage, self.position, self.error
        )
    }
}

/// What one stage did during a run.
///
/// With the `serde` feature it (de)serializes as a map of its fields; a
/// field missing on input reads as its default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct StageReport {
    /// The stage's name.
    pub name: String,
    /// Its worker threads.
    pub workers: usize,
    /// Records it received.
    pub received: u64,
    /// Records it passed on.
    pub emitted: u64,
    /// Records it dropped (returned `Ok(None)` for).
    pub dropped: u64,
    /// Records it failed on (returned `Err` for, or panicked on).
    pub failed: u64,
}

/// What a pipeline run did: counts per stage, time taken, and how it ended.
///
/// With the `serde` feature it (de)serializes as a map of its fields, the
/// stages as a list and [`elapsed`](Self::elapsed) as a whole number of
/// nanoseconds (as every duration the crate serializes); a field missing on
/// input reads as its default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct RunReport {
    /// Records the source produced, failed ones included.
    pub read: u64,
    /// Records the source itself failed on (malformed lines, for a reader).
    pub source_failed: u64,
    /// One entry per stage, in pipeline order.
    pub stages: Vec<StageReport>,
    /// Records delivered to the sink.
    pub emitted: u64,
    /// Wall time from start to finish.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_nanos"))]
    pub elapsed: Duration,
    /// Whether the consumer stopped before it had seen all the output.
    pub stopped_early: bool,
    /// Most records the ordered sink held back at once, waiting for an
    /// earlier one (0 when unordered).
    pub peak_reorder_buffer: usize,
    /// Worker threads that ended by panicking outside a stage function
    /// (stage panics are caught and reported as failures). Normally 0.
    pub worker_panics: usize,
}

impl RunReport {
    /// Failures at the source and at every stage.
    pub fn failed(&self) -> u64 {
        self.source_failed + self.stages.iter().map(|s| s.failed).sum::<u64>()
    }

    /// Records dropped by every stage.
    pub fn dropped(&self) -> u64 {
        self.stages.iter().map(|s| s.dropped).sum()
    }

    /// Source records per second of wall time.
    pub fn records_per_sec(&self) -> f64 {
        self.read as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {} ({} failed at source), emitted {}, in {:.3} s ({:.0} records/s){}",
            self.read,
            self.source_failed,
            self.emitted,
            self.elapsed.as_secs_f64(),
            self.records_per_sec(),
            if self.stopped_early {
                ", stopped early"
            } else {
                ""
            }
        )?;
        for s in &self.stages {
            write!(
                f,
                "\n  {} x{}: received {}, emitted {}, dropped {}, failed {}",
                s.name, s.workers, s.received, s.emitted, s.dropped, s.failed
            )?;
        }
        Ok(())
    }
}
