//! What the threads of a run do with each record: the source loop, the
//! stage steps a segment's threads run one after another on each record,
//! and the per-thread counts.
//!
//! A thread runs a *job*: it pulls records from its input (the source
//! iterator, or batches from the queue before its segment) and pushes each
//! one into a chain of [`Sink`]s, one [`Step`] per fused stage, ending at a
//! queue end (see `segment.rs`) that batches the survivors for the next
//! queue.
use super::chunk::PREALLOC_ITEMS;
use super::error::BoxError;
use super::report::Failure;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::Mutex;
use crossbeam_channel::{Receiver, Sender};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// A batch in flight: its sequence number and its records, each with its
/// source position. Records travel in batches so a queue hop costs one
/// channel operation per batch, not per record. In ordered mode a worker
/// segment sends on every batch, even one left empty by drops and failures
/// (a hole), so the consumer can move past its sequence number.
pub(crate) type Msg<T> = (u64, Vec<(u64, T)>);

/// A queue's receiving end and the sending end of the free list beside it
/// (where the receiver gives emptied batch buffers back).
pub(crate) type Queue<T> = (Receiver<Msg<T>>, Sender<Vec<(u64, T)>>);

/// The user's error sink, shared by every thread of a run.
pub(crate) type ErrorSink = Arc<Mutex<Box<dyn FnMut(Failure) + Send>>>;

/// What every thread of a run needs to know.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) ordered: bool,
    pub(crate) errors: Option<ErrorSink>,
    /// Raised when the consumer stops (early or not), which every thread
    /// polls so that stages that forward nothing still stop.
    pub(crate) stop: Arc<AtomicBool>,
}

impl Shared {
    #[inline]
    pub(crate) fn stopped(&self) -> bool {
        // Relaxed: see `Running::shutdown`; a late read costs a record or a
        // batch more work, never a missed stop (the queues disconnect too).
        self.stop.load(Ordering::Relaxed)
    }

    fn report(&self, failure: Failure) {
        if let Some(sink) = &self.errors {
            // A panicking error sink must not kill the worker (its record's
            // hole would never arrive and an ordered run would stall).
            let _ = catch_unwind(AssertUnwindSafe(|| (sink.lock())(failure)));
        }
    }
}

/// Counts of one step (the source or a stage) on one thread.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counts {
    pub(crate) received: u64,
    pub(crate) emitted: u64,
    pub(crate) dropped: u64,
    pub(crate) failed: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, o: Counts) {
        self.received += o.received;
        self.emitted += o.emitted;
        self.dropped += o.dropped;
        self.failed += o.failed;
    }
}

/// What one thread counted, handed back when it is joined: the source's
/// counts (on the source's thread) and those of every stage it ran, by
/// stage index. Fused stages count separately, so per-stage reports stay
/// exact.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tally {
    pub(crate) source: Counts,
    pub(crate) stages: Vec<Counts>,
}

impl Tally {
    pub(crate) fn stage(&mut self, index: usize) -> &mut Counts {
        if self.stages.len() <= index {
            self.stages.resize(index + 1, Counts::default());
        }
        &mut self.stages[index]
    }

    pub(crate) fn add(&mut self, o: &Tally) {
        self.source.add(o.source);
        for (i, c) in o.stages.iter().enumerate() {
            self.stage(i).add(*c);
        }
    }
}

/// Where a thread pushes records: the next fused stage, or the end of its
/// segment (a queue).
pub(crate) trait Sink<T> {
    /// One record and its source position. `false`: nothing downstream
    /// listens any more; stop.
    fn push(&mut self, position: u64, item: T) -> bool;
    /// The end of input batch `seq` (threads that read from a queue call it
    /// after pushing the batch's records). `false`: stop.
    fn end_batch(&mut self, seq: u64) -> bool;
}

/// One thread's share of a segment: runs its input through the segment's
/// stages into the sink it is given, counting into the tally.
pub(crate) type Job<T> = Box<dyn FnOnce(&mut dyn Sink<T>, &mut Tally) + Send>;

/// A stage inside a segment: applies the stage function to each record
/// and pushes what it keeps to the next sink.
struct Step<'a, F, U> {
    f: &'a F,
    next: &'a mut dyn Sink<U>,
    counts: Counts,
    shared: &'a Shared,
    name: &'a Arc<str>,
}

impl<T, U, E, F> Sink<T> for Step<'_, F, U>
where
    F: Fn(T) -> Result<Option<U>, E>,
    E: Into<BoxError>,
{
    #[inline]
    fn push(&mut self, position: u64, item: T) -> bool {
        self.counts.received += 1;
        let error: BoxError = match catch_unwind(AssertUnwindSafe(|| (self.f)(item))) {
            Ok(Ok(Some(item))) => {
                self.counts.emitted += 1;
                return self.next.push(position, item);
            }
            Ok(Ok(None)) => {
                self.counts.dropped += 1;
                return true;
            }
            Ok(Err(e)) => e.into(),
            Err(panic) => format!(
                "stage panicked: {}",
                crate::sync::panic_message(panic.as_ref())
            )
            .into(),
        };
        self.counts.failed += 1;
        self.shared.report(Failure {
            stage: self.name.clone(),
            position,
            error,
        });
        true
    }

    fn end_batch(&mut self, seq: u64) -> bool {
        self.next.end_batch(seq)
    }
}

/// `job` followed by stage number `index` (`f`, called `name`): what a
/// thread runs once the stage is fused into its segment.
pub(crate) fn then_stage<T, U, E, F>(
    job: Job<T>,
    f: Arc<F>,
    index: usize,
    name: Arc<str>,
    shared: Shared,
) -> Job<U>
where
    T: 'static,
    U: 'static,
    E: Into<BoxError>,
    F: Fn(T) -> Result<Option<U>, E> + Send + Sync + 'static,
{
    Box::new(move |sink: &mut dyn Sink<U>, tally: &mut Tally| {
        let mut step = Step {
            f: &*f,
            next: sink,
            counts: Counts::default(),
            shared: &shared,
            name: &name,
        };
        job(&mut step, tally);
        let counts = step.counts;
        tally.stage(index).add(counts);
    })
}

/// The source iterator and the numbers handed out so far, shared when the
/// first segment's threads read the source themselves.
struct SourceState<I> {
    /// `None` once it has ended (or panicked).
    iter: Option<I>,
    position: u64,
    seq: u64,
}

/// The first segment's threads, reading the source themselves: makes
/// `workers` jobs from the window tokens (ordered mode) and the batch size.
pub(crate) type Spread<T> = Box<dyn FnOnce(usize, Option<Sender<()>>, usize) -> Vec<Job<T>> + Send>;

/// The source as one job (for a source thread, or the calling thread), and
/// as the alternative of several jobs that share it.
pub(crate) fn source_jobs<T, E, I>(source: I, shared: Shared) -> (Job<T>, Spread<T>)
where
    T: 'static,
    I: Iterator<Item = Result<T, E>> + Send + 'static,
    E: Into<BoxError>,
{
    let state = Arc::new(Mutex::new(SourceState {
        iter: Some(source),
        position: 0,
        seq: 0,
    }));
    let spread_state = state.clone();
    let spread_shared = shared.clone();
    let job: Job<T> = Box::new(move |sink: &mut dyn Sink<T>, tally: &mut Tally| {
        let Some(source) = state.lock().iter.take() else {
            return;
        };
        let name: Arc<str> = Arc::from("source");
        let c = &mut tally.source;
        for (position, record) in (0u64..).zip(source) {
            if shared.stopped() {
                return;
            }
            c.received += 1;
            match record {
                Ok(item) => {
                    c.emitted += 1;
                    if !sink.push(position, item) {
                        return;
                    }
                }
                Err(e) => {
                    c.failed += 1;
                    shared.report(Failure {
                        stage: name.clone(),
                        position,
                        error: e.into(),
                    });
                }
            }
        }
    });
    let spread: Spread<T> = Box::new(move |workers, tokens, batch_size| {
        (0..workers)
            .map(|_| {
                let (state, shared, tokens) =
                    (spread_state.clone(), spread_shared.clone(), tokens.clone());
                let job: Job<T> = Box::new(move |sink: &mut dyn Sink<T>, tally: &mut Tally| {
                    read_shared(&state, &shared, tokens.as_ref(), batch_size, sink, tally)
                });
                job
            })
            .collect()
    });
    (job, spread)
}

/// One of the threads sharing the source: takes a window token (ordered
/// mode), reads a batch under the lock, numbering its records and the
/// batch, and runs it through its segment; until the source ends.
fn read_shared<T, E, I>(
    state: &Mutex<SourceState<I>>,
    shared: &Shared,
    tokens: Option<&Sender<()>>,
    batch_size: usize,
    sink: &mut dyn Sink<T>,
    tally: &mut Tally,
) where
    I: Iterator<Item = Result<T, E>>,
    E: Into<BoxError>,
{
    let name: Arc<str> = Arc::from("source");
    let mut batch = Vec::with_capacity(batch_size.min(PREALLOC_ITEMS));
    let mut errors: Vec<(u64, BoxError)> = Vec::new();
    loop {
        if shared.stopped() {
            return;
        }
        // Blocks while the window is full, outside the lock.
        if let Some(tokens) = tokens {
            if tokens.send(()).is_err() {
                return;
            }
        }
        let (seq, ended) = {
            let mut guard = state.lock();
            let s = &mut *guard;
            let Some(iter) = s.iter.as_mut() else {
                return;
            };
            let mut ended = false;
            while batch.len() + errors.len() < batch_size {
                match catch_unwind(AssertUnwindSafe(|| iter.next())) {
                    Ok(Some(record)) => {
                        let position = s.position;
                        s.position += 1;
                        let c = &mut tally.source;
                        c.received += 1;
                        match record {
                            Ok(item) => {
                                c.emitted += 1;
                                batch.push((position, item));
                            }
                            Err(e) => {
                                c.failed += 1;
                                errors.push((position, e.into()));
                            }
                        }
                    }
                    Ok(None) => {
                        ended = true;
                        break;
                    }
                    Err(panic) => {
                        // The source is done for every thread; this one
                        // dies as a source thread would.
                        s.iter = None;
                        drop(guard);
                        resume_unwind(panic);
                    }
                }
            }
            if ended {
                s.iter = None;
            }
            if batch.is_empty() && errors.is_empty() {
                return;
            }
            s.seq += 1;
            (s.seq - 1, ended)
        };
        for (position, error) in errors.drain(..) {
            shared.report(Failure {
                stage: name.clone(),
                position,
                error,
            });
        }
        for (position, item) in batch.drain(..) {
            sink.push(position, item);
        }
        if !sink.end_batch(seq) || ended {
            return;
        }
    }
}

/// A worker's job at the start of a segment that reads from a queue: each
/// batch's records in order, then the batch's end. The emptied batch
/// buffers go back to the queue's sender through `free` (if it has room)
/// so that the sender reuses them instead of allocating new ones.
pub(crate) fn queue_job<T: Send + 'static>(
    rx: Receiver<Msg<T>>,
    free: Option<Sender<Vec<(u64, T)>>>,
    shared: Shared,
) -> Job<T> {
    Box::new(move |sink: &mut dyn Sink<T>, _tally: &mut Tally| {
        for (seq, mut batch) in rx.iter() {
            if shared.stopped() {
                return;
            }
            for (position, item) in batch.drain(..) {
                sink.push(position, item);
            }
            if let Some(free) = &free {
                let _ = free.try_send(batch);
            }
            if !sink.end_batch(seq) {
                return;
            }
        }
    })
}
