//! [`Running`]: a started pipeline as an iterator over its output, which
//! reorders batches in ordered mode and joins every thread at the end.
use super::report::{RunReport, StageReport};
use super::stage::{Msg, Queue, Tally};
use crate::sync::atomic::{AtomicBool, Ordering};
use crossbeam_channel::{Receiver, Sender};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// A started [`Pipeline`](super::Pipeline): an iterator over its output.
///
/// Dropping it (or calling [`finish`](Self::finish)) before the end stops
/// the run: the queues disconnect, every worker exits after at most the
/// record in its hands, and all threads are joined. Joining waits for the
/// source's current `next()` call to return.
pub struct Running<T> {
    rx: Option<Receiver<Msg<T>>>,
    /// The last queue's free list: emptied batch buffers go back to the
    /// threads that send on it.
    free: Option<Sender<Vec<(u64, T)>>>,
    /// Ordered mode: one token per position the source has sent; taken back
    /// as the consumer moves past each position.
    tokens: Option<Receiver<()>>,
    /// Raised when the run stops, for the threads to poll.
    stop: Arc<AtomicBool>,
    ordered: bool,
    /// Ordered mode: the sequence number of the next batch to hand out.
    next: u64,
    /// Ordered mode: batches that arrived before their turn.
    buffer: BTreeMap<u64, Vec<(u64, T)>>,
    buffered: usize,
    peak_buffer: usize,
    /// The batch being handed out, reversed (so `pop` hands out the next
    /// record and the emptied buffer can go back to the free list).
    current: Vec<(u64, T)>,
    emitted: u64,
    exhausted: bool,
    threads: Vec<JoinHandle<Tally>>,
    /// Each stage's name and workers.
    stages: Vec<(Arc<str>, usize)>,
    started: Instant,
    finished: Option<RunReport>,
}

impl<T> fmt::Debug for Running<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Running")
            .field("ordered", &self.ordered)
            .field("emitted", &self.emitted)
            .field("buffered", &self.buffered)
            .field("exhausted", &self.exhausted)
            .finish_non_exhaustive()
    }
}

impl<T> Running<T> {
    pub(crate) fn new(
        queue: Option<Queue<T>>,
        tokens: Option<Receiver<()>>,
        stop: Arc<AtomicBool>,
        ordered: bool,
        threads: Vec<JoinHandle<Tally>>,
        stages: Vec<(Arc<str>, usize)>,
        started: Instant,
    ) -> Self {
        let (rx, free) = queue.unzip();
        Running {
            exhausted: rx.is_none(),
            rx,
            free,
            tokens,
            stop,
            ordered,
            next: 0,
            buffer: BTreeMap::new(),
            buffered: 0,
            peak_buffer: 0,
            current: Vec::new(),
            emitted: 0,
            threads,
            stages,
            started,
            finished: None,
        }
    }

    /// Stops the run if it is still going, joins every thread and returns
    /// the report.
    pub fn finish(mut self) -> RunReport {
        self.shutdown()
    }

    fn shutdown(&mut self) -> RunReport {
        if let Some(report) = &self.finished {
            return report.clone();
        }
        // Disconnect everything the threads may block on or poll.
        // Relaxed: the flag publishes no data; a thread that reads it late
        // stops a record or a batch later, and the disconnects below (which
        // do synchronize) end every blocking wait.
        self.stop.store(true, Ordering::Relaxed);
        self.rx = None;
        self.free = None;
        self.tokens = None;
        let mut panics = 0;
        let mut total = Tally::default();
        for h in std::mem::take(&mut self.threads) {
            match h.join() {
                Ok(tally) => total.add(&tally),
                Err(_) => panics += 1,
            }
        }
        let stages = stage_reports(std::mem::take(&mut self.stages), &mut total);
        let source = total.source;
        let report = RunReport {
            read: source.received,
            source_failed: source.failed,
            stages,
            emitted: self.emitted,
            elapsed: self.started.elapsed(),
            stopped_early: !self.exhausted || !self.current.is_empty() || self.buffered > 0,
            peak_reorder_buffer: self.peak_buffer,
            worker_panics: panics,
        };
        self.buffer.clear();
        self.current = Vec::new();
        self.finished = Some(report.clone());
        report
    }

    /// Moves past batch `self.next`, returning its window token.
    fn advance(&mut self) {
        self.next += 1;
        if let Some(tokens) = &self.tokens {
            // The source sent this batch's token before the batch, so it is
            // there; taking it lets the source run one batch further.
            let _ = tokens.try_recv();
        }
    }

    /// The next batch to hand out, or `None` at the end of the run.
    fn next_batch(&mut self) -> Option<Vec<(u64, T)>> {
        loop {
            if self.ordered {
                if let Some(entry) = self.buffer.first_entry() {
                    if *entry.key() == self.next {
                        let batch = entry.remove();
                        self.buffered -= batch.len();
                        self.advance();
                        return Some(batch);
                    }
                }
            }
            let Some(rx) = &self.rx else {
                // The run has ended. Batches still buffered exist only if a
                // worker died holding one: hand out the rest in order.
                let (seq, batch) = self.buffer.pop_first()?;
                self.buffered -= batch.len();
                self.next = seq + 1;
                return Some(batch);
            };
            match rx.recv() {
                Ok((seq, batch)) => {
                    if !self.ordered {
                        return Some(batch);
                    }
                    if seq == self.next {
                        self.advance();
                        return Some(batch);
                    }
                    self.buffered += batch.len();
                    self.peak_buffer = self.peak_buffer.max(self.buffered);
                    self.buffer.insert(seq, batch);
                }
                Err(_) => {
                    self.rx = None;
                    self.exhausted = true;
                }
            }
        }
    }
}

impl<T> Iterator for Running<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        loop {
            if let Some((_, item)) = self.current.pop() {
                self.emitted += 1;
                return Some(item);
            }
            let mut batch = self.next_batch()?;
            batch.reverse();
            let done = std::mem::replace(&mut self.current, batch);
            if let (Some(free), true) = (&self.free, done.capacity() > 0) {
                let _ = free.try_send(done);
            }
        }
    }
}

impl<T> Drop for Running<T> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The per-stage reports from the counts of every thread.
pub(crate) fn stage_reports(stages: Vec<(Arc<str>, usize)>, total: &mut Tally) -> Vec<StageReport> {
    stages
        .into_iter()
        .enumerate()
        .map(|(i, (name, workers))| {
            let c = *total.stage(i);
            StageReport {
                name: name.to_string(),
                workers,
                received: c.received,
                emitted: c.emitted,
                dropped: c.dropped,
                failed: c.failed,
            }
        })
        .collect()
}
