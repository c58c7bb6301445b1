//! Segments: runs of stages that share threads, and the queue ends that
//! batch their output.
//!
//! Consecutive stages with the same worker count are *fused* into one
//! segment: each of its threads takes a batch from the queue before the
//! segment and runs every record through all of the segment's stages, so
//! records make no thread hand-off between them (and are freed on the
//! thread that made them). Stages with one worker right after the source
//! are fused into the source's thread. Each segment ends at a queue:
//!
//! ```text
//!  source [+ 1-worker stages] ─q─> stages of w workers ─q─> stages of v ─q─> consumer
//! ```
//!
//! The source's segment numbers its output batches (and takes a window
//! token for each in ordered mode); a worker segment keeps the number of the
//! batch it read. Each queue has a free list beside it: a thread that
//! emptied a batch gives the buffer back to the queue's senders, which
//! reuse it, so batch buffers are not allocated on one thread and freed on
//! another.
use super::chunk::PREALLOC_ITEMS;
use super::error::Error;
use super::report::RunReport;
use super::running::stage_reports;
use super::stage::{queue_job, Job, Msg, Queue, Shared, Sink, Spread, Tally};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::ops::ControlFlow;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

/// The open end of a pipeline under construction: the jobs of the last
/// segment's threads (one at the source's segment), not yet spawned, so
/// that a following stage can still be fused into them.
pub(crate) struct Segment<T> {
    pub(crate) jobs: Vec<Job<T>>,
    pub(crate) at_source: bool,
    /// The names of the segment's stages, joined with `+`, for thread
    /// names.
    pub(crate) label: String,
    /// While the segment is the bare source: the alternative of several
    /// threads reading it themselves.
    pub(crate) spread: Option<Spread<T>>,
}

/// What starting a run builds up.
pub(crate) struct Launch {
    pub(crate) capacity: usize,
    pub(crate) batch_size: usize,
    pub(crate) fuse: bool,
    pub(crate) shared: Shared,
    /// Ordered mode: the window tokens, for the source's segment.
    pub(crate) tokens: Option<Sender<()>>,
    /// Every thread spawned so far.
    pub(crate) threads: Vec<JoinHandle<Tally>>,
}

impl Launch {
    /// Spawns `segment`'s threads, ending at a new queue; returns the
    /// queue's receiving end and the sending end of its free list.
    pub(crate) fn close<T: Send + 'static>(
        &mut self,
        segment: Segment<T>,
    ) -> Result<Queue<T>, Error> {
        let (tx, rx) = bounded(self.capacity);
        let (free_tx, free_rx) = bounded(self.capacity);
        let prealloc = self.batch_size.min(PREALLOC_ITEMS);
        for (w, job) in segment.jobs.into_iter().enumerate() {
            let (tx, free, shared) = (tx.clone(), free_rx.clone(), self.shared.clone());
            let handle = if segment.at_source {
                let end = SourceEnd {
                    tx,
                    free,
                    tokens: self.tokens.take(),
                    batch: Vec::with_capacity(prealloc),
                    batch_size: self.batch_size,
                    prealloc,
                    seq: 0,
                };
                thread::Builder::new()
                    .name("latchwork-pipeline-source".into())
                    .spawn(move || run(job, end, &shared))
            } else {
                let end = WorkerEnd {
                    tx,
                    free,
                    batch: Vec::with_capacity(prealloc),
                    prealloc,
                    ordered: shared.ordered,
                };
                thread::Builder::new()
                    .name(format!("latchwork-pipeline-{}-{w}", segment.label))
                    .spawn(move || run(job, end, &shared))
            };
            self.threads.push(handle.map_err(Error::Spawn)?);
        }
        Ok((rx, free_tx))
    }

    /// The jobs of a new segment of `workers` threads reading the queue
    /// after `segment`.
    pub(crate) fn split<T: Send + 'static>(
        &mut self,
        segment: Segment<T>,
        workers: usize,
    ) -> Result<Segment<T>, Error> {
        let (rx, free) = self.close(segment)?;
        let jobs = (0..workers)
            .map(|_| queue_job(rx.clone(), Some(free.clone()), self.shared.clone()))
            .collect();
        Ok(Segment {
            jobs,
            at_source: false,
            label: String::new(),
            spread: None,
        })
    }
}

/// A queue end as a sink: what a thread does at the end of its segment.
trait End<T>: Sink<T> {
    /// After the job: send what is left.
    fn finish(&mut self, shared: &Shared);
}

fn run<T>(job: Job<T>, mut end: impl End<T>, shared: &Shared) -> Tally {
    let mut tally = Tally::default();
    job(&mut end, &mut tally);
    end.finish(shared);
    tally
}

/// A buffer for the next batch: one given back through the free list if
/// there is one, else a new one.
fn fresh<T>(free: &Receiver<Vec<(u64, T)>>, prealloc: usize) -> Vec<(u64, T)> {
    free.try_recv()
        .unwrap_or_else(|_| Vec::with_capacity(prealloc))
}

/// The end of the source's segment: groups the records that come through
/// into batches of `batch_size`, numbers them and, in ordered mode, takes
/// a window token before sending each, so that at most a window of batches
/// is in flight.
struct SourceEnd<T> {
    tx: Sender<Msg<T>>,
    free: Receiver<Vec<(u64, T)>>,
    tokens: Option<Sender<()>>,
    batch: Vec<(u64, T)>,
    batch_size: usize,
    prealloc: usize,
    seq: u64,
}

impl<T> SourceEnd<T> {
    fn send(&mut self) -> bool {
        // Blocks while the window is full; fails once the consumer is gone.
        if let Some(tokens) = &self.tokens {
            if tokens.send(()).is_err() {
                return false;
            }
        }
        let full = std::mem::replace(&mut self.batch, fresh(&self.free, self.prealloc));
        let ok = self.tx.send((self.seq, full)).is_ok();
        self.seq += 1;
        ok
    }
}

impl<T> Sink<T> for SourceEnd<T> {
    #[inline]
    fn push(&mut self, position: u64, item: T) -> bool {
        self.batch.push((position, item));
        self.batch.len() < self.batch_size || self.send()
    }

    fn end_batch(&mut self, _seq: u64) -> bool {
        true // the source's segment reads no batches
    }
}

impl<T> End<T> for SourceEnd<T> {
    fn finish(&mut self, shared: &Shared) {
        if !self.batch.is_empty() && !shared.stopped() {
            self.send();
        }
    }
}

/// The end of a worker segment: collects what comes out of each input
/// batch and sends it on under the input batch's number (in ordered mode
/// even when empty, as a hole).
struct WorkerEnd<T> {
    tx: Sender<Msg<T>>,
    free: Receiver<Vec<(u64, T)>>,
    batch: Vec<(u64, T)>,
    prealloc: usize,
    ordered: bool,
}

impl<T> Sink<T> for WorkerEnd<T> {
    #[inline]
    fn push(&mut self, position: u64, item: T) -> bool {
        self.batch.push((position, item));
        true
    }

    fn end_batch(&mut self, seq: u64) -> bool {
        if self.batch.is_empty() && !self.ordered {
            return true;
        }
        let out = std::mem::replace(&mut self.batch, fresh(&self.free, self.prealloc));
        self.tx.send((seq, out)).is_ok()
    }
}

impl<T> End<T> for WorkerEnd<T> {
    fn finish(&mut self, _shared: &Shared) {}
}

/// The end of a run that happens on the calling thread: hands each record
/// straight to the caller's sink.
struct InlineEnd<F> {
    sink: F,
    emitted: u64,
    stopped: bool,
    /// A panic of the caller's sink, to go on unwinding in the caller once
    /// the job is out of the way (it is not a worker panic).
    panic: Option<Box<dyn std::any::Any + Send>>,
}

impl<T, F: FnMut(T) -> ControlFlow<()>> Sink<T> for InlineEnd<F> {
    #[inline]
    fn push(&mut self, _position: u64, item: T) -> bool {
        self.emitted += 1;
        match catch_unwind(AssertUnwindSafe(|| (self.sink)(item))) {
            Ok(ControlFlow::Continue(())) => true,
            Ok(ControlFlow::Break(())) => {
                self.stopped = true;
                false
            }
            Err(panic) => {
                self.panic = Some(panic);
                false
            }
        }
    }

    fn end_batch(&mut self, _seq: u64) -> bool {
        true // a run on the calling thread is the source's segment
    }
}

/// Runs `job` (the source and every stage, fused) on the calling thread,
/// handing its output to `sink`.
pub(crate) fn run_inline<T, F>(
    job: Job<T>,
    stages: Vec<(Arc<str>, usize)>,
    started: Instant,
    sink: F,
) -> RunReport
where
    F: FnMut(T) -> ControlFlow<()>,
{
    let mut end = InlineEnd {
        sink,
        emitted: 0,
        stopped: false,
        panic: None,
    };
    let mut tally = Tally::default();
    // A panic here is the source iterator's (stage functions and the sink
    // catch their own): counted like a worker thread that panicked.
    let panicked = catch_unwind(AssertUnwindSafe(|| job(&mut end, &mut tally))).is_err();
    if let Some(panic) = end.panic.take() {
        resume_unwind(panic);
    }
    RunReport {
        read: tally.source.received,
        source_failed: tally.source.failed,
        stages: stage_reports(stages, &mut tally),
        emitted: end.emitted,
        elapsed: started.elapsed(),
        stopped_early: end.stopped,
        peak_reorder_buffer: 0,
        worker_panics: usize::from(panicked),
    }
}
