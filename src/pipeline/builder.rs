//! [`Pipeline`]: the builder, its limits, and how a run is launched
//! (stages fused into segments, threads spawned, or the whole run inline).
use super::error::{BoxError, Error};
#[cfg(feature = "serde")]
use super::jsonl::JsonLines;
use super::report::{Failure, RunReport};
use super::running::Running;
use super::segment::{run_inline, Launch, Segment};
use super::stage::{source_jobs, then_stage, ErrorSink, Job, Shared};
use crate::sync::atomic::AtomicBool;
use crate::sync::Mutex;
use crossbeam_channel::bounded;
#[cfg(feature = "serde")]
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::fmt;
use std::ops::ControlFlow;
#[cfg(feature = "serde")]
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Queue capacity between two steps, in batches, unless
/// [`Pipeline::capacity`] says otherwise.
pub const DEFAULT_CAPACITY: usize = 32;

/// Records per batch unless [`Pipeline::batch_size`] says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// The largest [`Pipeline::capacity`] (batches per queue): each queue's
/// slots are allocated when the run starts.
pub const MAX_CAPACITY: usize = 1 << 16;

/// The largest [`Pipeline::batch_size`] (records per batch).
pub const MAX_BATCH_SIZE: usize = 1 << 20;

/// The most worker threads one stage may have.
pub const MAX_WORKERS: usize = 1024;

/// The largest [`Pipeline::reorder_window`] (batches); the default window
/// is clamped to it too.
pub const MAX_REORDER_WINDOW: usize = 1 << 20;

/// `Err(TooLarge)` if `value > max`.
fn at_most(parameter: &'static str, value: usize, max: usize) -> Result<(), Error> {
    if value > max {
        return Err(Error::TooLarge {
            parameter,
            value,
            max,
        });
    }
    Ok(())
}

/// A launched run.
enum Begun<T> {
    Threads(Box<Running<T>>),
    /// The whole run as one job for the calling thread, with the stages'
    /// names and workers and the start time.
    Inline(Job<T>, Vec<(Arc<str>, usize)>, Instant),
}

/// Builds the run up to its open end when it starts.
type Launcher<T> = Box<dyn FnOnce(&mut Launch) -> Result<Segment<T>, Error> + Send>;

/// A staged parallel pipeline: a source iterator, stages with their own
/// worker threads, and a consumer, joined by bounded queues.
///
/// ```text
///  source ──[cap]──> stage 1 (w1 threads) ──[cap]──> stage 2 (w2) ──[cap]──> consumer
///                        │ Err / panic                    │
///                        └──────────> error sink <────────┘
/// ```
///
/// Stages with equal worker counts (and one-worker stages right after the
/// source) share threads unless [`fuse`](Self::fuse) is off: see the
/// [module docs](super).
///
/// - **Constant memory**: every queue is bounded, so a fast source waits
///   for slow stages (backpressure). Records travel in batches of
///   `batch_size`; batches in flight never exceed the queue capacities
///   plus one per worker and one at the source (in ordered mode the
///   reorder window bounds them all, reorder buffer included), whatever
///   the input size. Emptied batch buffers wait for reuse on a free list
///   of at most `capacity` buffers per queue.
/// - **Per record**, a stage function returns `Ok(Some(out))` to pass a
///   record on, `Ok(None)` to drop it, or `Err(e)` to fail it: the failure
///   goes to the error sink with the record's source position, and the run
///   goes on. A stage that panics fails that record the same way.
/// - **Ordered** (the default) delivers records in source order: records
///   batches carry a sequence number, a batch emptied by drops and failures
///   still travels as a hole marker, and the consumer reorders within a
///   window of batches the source may run ahead. **Unordered** delivers each record as soon as it is ready.
/// - **Shutdown**: workers exit when the source ends and the queues drain,
///   or as soon as the consumer stops early ([`ControlFlow::Break`] from
///   [`run`](Self::run), or dropping [`Running`]): queues disconnect and
///   every thread is joined before the report is returned.
///
/// ```
/// use latchwork::pipeline::Pipeline;
/// use std::ops::ControlFlow;
///
/// let mut out = Vec::new();
/// let report = Pipeline::source(1..=10u32)
///     .stage("odd-only", 2, |n| Ok::<_, String>((n % 2 == 1).then_some(n)))
///     .stage("check", 2, |n| if n == 5 { Err("five") } else { Ok(Some(n * 10)) })
///     .run(|n| {
///         out.push(n);
///         ControlFlow::Continue(())
///     })?;
/// assert_eq!(out, vec![10, 30, 70, 90]); // source order
/// assert_eq!((report.read, report.emitted, report.dropped(), report.failed()), (10, 4, 5, 1));
/// # Ok::<(), latchwork::pipeline::Error>(())
/// ```
pub struct Pipeline<T> {
    launch: Launcher<T>,
    stages: Vec<(Arc<str>, usize)>,
    capacity: usize,
    batch_size: usize,
    ordered: bool,
    window: Option<usize>,
    errors: Option<ErrorSink>,
    fuse: bool,
}

impl<T> fmt::Debug for Pipeline<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("stages", &self.stages)
            .field("capacity", &self.capacity)
            .field("batch_size", &self.batch_size)
            .field("ordered", &self.ordered)
            .field("reorder_window", &self.window)
            .field("fuse", &self.fuse)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Pipeline<T> {
    /// A pipeline reading `source`: on a thread of its own, or (with
    /// [`fuse`](Self::fuse) on) in the first stage's workers.
    pub fn source<I>(source: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        Self::fallible_source(source.into_iter().map(Ok::<T, Infallible>))
    }

    /// A pipeline reading a source whose records can fail: each `Err` goes
    /// to the error sink (stage `"source"`) with its position, and reading
    /// goes on.
    pub fn fallible_source<I, E>(source: I) -> Self
    where
        I: IntoIterator<Item = Result<T, E>>,
        I::IntoIter: Send + 'static,
        E: Into<BoxError>,
    {
        let source = source.into_iter();
        let launch: Launcher<T> = Box::new(move |ctx: &mut Launch| {
            let (job, spread) = source_jobs(source, ctx.shared.clone());
            Ok(Segment {
                jobs: vec![job],
                at_source: true,
                label: String::from("source"),
                spread: Some(spread),
            })
        });
        Pipeline {
            launch,
            stages: Vec::new(),
            capacity: DEFAULT_CAPACITY,
            batch_size: DEFAULT_BATCH_SIZE,
            ordered: true,
            window: None,
            errors: None,
            fuse: true,
        }
    }

    /// Adds a stage run by `workers` threads (1 to [`MAX_WORKERS`], checked
    /// by [`start`](Pipeline::start)). For each record, `f` returns
    /// `Ok(Some(out))` to pass `out` on, `Ok(None)` to drop the record, or
    /// `Err(e)` to send it to the error sink.
    pub fn stage<U, E, F>(self, name: impl Into<String>, workers: usize, f: F) -> Pipeline<U>
    where
        U: Send + 'static,
        E: Into<BoxError>,
        F: Fn(T) -> Result<Option<U>, E> + Send + Sync + 'static,
    {
        let name: Arc<str> = Arc::from(name.into());
        let Pipeline {
            launch: upstream,
            mut stages,
            capacity,
            batch_size,
            ordered,
            window,
            errors,
            fuse,
        } = self;
        let index = stages.len();
        stages.push((name.clone(), workers));
        let f = Arc::new(f);
        let launch: Launcher<U> = Box::new(move |ctx: &mut Launch| {
            let mut segment = upstream(ctx)?;
            match segment.spread.take() {
                // A first stage of several workers: they read the source
                // themselves, with no source thread and no queue.
                Some(spread) if ctx.fuse && workers > 1 => {
                    segment = Segment {
                        jobs: spread(workers, ctx.tokens.take(), ctx.batch_size),
                        at_source: false,
                        label: String::new(),
                        spread: None,
                    };
                }
                _ if !ctx.fuse || segment.jobs.len() != workers => {
                    segment = ctx.split(segment, workers)?;
                }
                _ => {}
            }
            let jobs = segment
                .jobs
                .into_iter()
                .map(|job| {
                    let (f, name, shared) = (f.clone(), name.clone(), ctx.shared.clone());
                    then_stage(job, f, index, name, shared)
                })
                .collect();
            let label = match segment.label.is_empty() {
                true => name.to_string(),
                false => format!("{}+{name}", segment.label),
            };
            Ok(Segment {
                jobs,
                at_source: segment.at_source,
                label,
                spread: None,
            })
        });
        Pipeline {
            launch,
            stages,
            capacity,
            batch_size,
            ordered,
            window,
            errors,
            fuse,
        }
    }

    /// A stage that converts every record.
    pub fn map<U, F>(self, name: impl Into<String>, workers: usize, f: F) -> Pipeline<U>
    where
        U: Send + 'static,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        self.stage(name, workers, move |t| Ok::<_, Infallible>(Some(f(t))))
    }

    /// A stage that keeps the records `keep` accepts and drops the rest.
    pub fn filter<F>(self, name: impl Into<String>, workers: usize, keep: F) -> Pipeline<T>
    where
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        self.stage(name, workers, move |t| {
            Ok::<_, Infallible>(if keep(&t) { Some(t) } else { None })
        })
    }

    /// Capacity of every queue between two steps, in batches (default
    /// [`DEFAULT_CAPACITY`], at most [`MAX_CAPACITY`]).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Records the source groups into one batch before sending it on
    /// (default [`DEFAULT_BATCH_SIZE`]). Batches make a queue hop cost one
    /// channel operation per batch; a record waits at the source until its
    /// batch is full or the source ends, so use 1 for a slow live stream
    /// whose records must not wait for later ones. At most
    /// [`MAX_BATCH_SIZE`].
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Whether the consumer sees records in source order (default `true`).
    pub fn ordered(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    /// Whether stages may share threads (default `true`): consecutive
    /// stages with the same number of workers run in the same threads, each
    /// record going through all of them with no queue between; stages
    /// with one worker right after the source run in the source's thread,
    /// and the workers of a first stage with several read the source
    /// themselves, a batch at a time, instead of a source thread.
    /// Per-stage reports, failures and order are the same either way. With
    /// `false` the source and every stage have threads of their own, so
    /// that, say, two slow one-worker stages overlap (at the cost of a
    /// thread hand-off per batch between them).
    pub fn fuse(mut self, fuse: bool) -> Self {
        self.fuse = fuse;
        self
    }

    /// In ordered mode, how many batches the source may run ahead of the
    /// oldest batch the consumer has not yet received; it bounds the
    /// reorder buffer and everything in flight. Default: the sum of the
    /// queue capacities plus the workers, so the window never throttles a
    /// run that could otherwise proceed. At most [`MAX_REORDER_WINDOW`].
    pub fn reorder_window(mut self, window: usize) -> Self {
        self.window = Some(window);
        self
    }

    /// Where failures go. Called from worker threads, one failure at a
    /// time. Without a sink, failures are only counted in the report.
    pub fn on_error<F>(mut self, sink: F) -> Self
    where
        F: FnMut(Failure) + Send + 'static,
    {
        self.errors = Some(Arc::new(Mutex::new(Box::new(sink))));
        self
    }

    /// Starts the threads and returns the output as an iterator. Dropping
    /// it early stops the run; [`Running::finish`] returns the report.
    pub fn start(self) -> Result<Running<T>, Error> {
        match self.begin(false)? {
            Begun::Threads(running) => Ok(*running),
            Begun::Inline(..) => unreachable!("begin(false) starts threads"),
        }
    }

    /// Checks the configuration and launches the run: on threads, or (with
    /// `inline` and a run that fuses into the source's one thread) as a job
    /// for the calling thread.
    fn begin(self, inline: bool) -> Result<Begun<T>, Error> {
        if self.capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        if self.batch_size == 0 {
            return Err(Error::ZeroBatchSize);
        }
        if let Some((name, _)) = self.stages.iter().find(|(_, w)| *w == 0) {
            return Err(Error::ZeroWorkers {
                stage: name.to_string(),
            });
        }
        at_most("capacity", self.capacity, MAX_CAPACITY)?;
        at_most("batch_size", self.batch_size, MAX_BATCH_SIZE)?;
        for (_, w) in &self.stages {
            at_most("workers", *w, MAX_WORKERS)?;
        }
        let workers = self
            .stages
            .iter()
            .fold(0usize, |sum, (_, w)| sum.saturating_add(*w));
        let window = match self.window {
            Some(0) => return Err(Error::ZeroReorderWindow),
            Some(w) => {
                at_most("reorder_window", w, MAX_REORDER_WINDOW)?;
                w
            }
            None => self
                .capacity
                .saturating_mul(self.stages.len().saturating_add(1))
                .saturating_add(workers.saturating_add(1))
                .min(MAX_REORDER_WINDOW),
        };
        // `Instant`, not the crate's calibrated clock: its first reading in
        // a process can take up to 200 ms, too much for a short run.
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let (tokens_tx, tokens_rx) = match self.ordered {
            true => {
                let (tx, rx) = bounded(window);
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        let mut ctx = Launch {
            capacity: self.capacity,
            batch_size: self.batch_size,
            fuse: self.fuse,
            shared: Shared {
                ordered: self.ordered,
                errors: self.errors,
                stop: stop.clone(),
            },
            tokens: tokens_tx,
            threads: Vec::new(),
        };
        let launched = match (self.launch)(&mut ctx) {
            Ok(segment) if inline && segment.at_source && segment.jobs.len() == 1 => {
                if let Some(job) = segment.jobs.into_iter().next() {
                    return Ok(Begun::Inline(job, self.stages, started));
                }
                unreachable!("one job")
            }
            Ok(segment) => ctx.close(segment),
            Err(e) => Err(e),
        };
        let running = Running::new(
            launched.as_ref().ok().cloned(),
            tokens_rx,
            stop,
            self.ordered,
            ctx.threads,
            self.stages,
            started,
        );
        match launched {
            Ok(_) => Ok(Begun::Threads(Box::new(running))),
            Err(e) => {
                drop(running.finish()); // stops and joins what did start
                Err(e)
            }
        }
    }

    /// Runs to the end, or until `sink` returns [`ControlFlow::Break`],
    /// handing each output record to `sink` on the calling thread; returns
    /// the report once every thread has been joined.
    ///
    /// When every stage fuses into the source's thread (each has one
    /// worker, and [`fuse`](Self::fuse) is on), there is nothing to run in
    /// parallel with but the sink: the run then happens on the calling
    /// thread, with no thread or queue at all, and a panic in the source
    /// iterator is counted in [`RunReport::worker_panics`] as on a thread.
    pub fn run<F>(self, mut sink: F) -> Result<RunReport, Error>
    where
        F: FnMut(T) -> ControlFlow<()>,
    {
        match self.begin(true)? {
            Begun::Threads(mut running) => {
                for item in running.by_ref() {
                    if sink(item).is_break() {
                        break;
                    }
                }
                Ok(running.finish())
            }
            Begun::Inline(job, stages, started) => Ok(run_inline(job, stages, started, sink)),
        }
    }
}

#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl<T: DeserializeOwned + Send + 'static> Pipeline<T> {
    /// A pipeline whose source is a [`JsonLines`] reader over the file at
    /// `path`: blank lines skipped, malformed lines sent to the error sink
    /// as [`LineError`](super::LineError)s carrying their line numbers.
    pub fn json_lines(path: impl AsRef<Path>) -> std::io::Result<Self> {
        Ok(Self::fallible_source(JsonLines::<T, _>::open(path)?))
    }
}
