//! The threads of a run: the source and the stage workers.
use super::chunk::PREALLOC_ITEMS;
use super::error::BoxError;
use super::report::Failure;
use crate::sync::Mutex;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// A batch in flight: its sequence number and its records, each with its
/// source position. Records travel in batches so a queue hop costs one
/// channel operation per batch, not per record. In ordered mode a stage
/// sends on every batch, even one left empty by drops and failures (a
/// hole), so the consumer can move past its sequence number.
pub(crate) type Msg<T> = (u64, Vec<(u64, T)>);

/// The user's error sink, shared by every thread of a run.
pub(crate) type ErrorSink = Arc<Mutex<Box<dyn FnMut(Failure) + Send>>>;

/// What every thread of a run needs to know.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) ordered: bool,
    pub(crate) errors: Option<ErrorSink>,
    /// Never sent on; disconnected when the consumer stops early, which
    /// every worker polls so that stages that forward nothing still stop.
    pub(crate) stop: Receiver<()>,
}

impl Shared {
    fn stopped(&self) -> bool {
        matches!(self.stop.try_recv(), Err(TryRecvError::Disconnected))
    }

    fn report(&self, failure: Failure) {
        if let Some(sink) = &self.errors {
            // A panicking error sink must not kill the worker (its record's
            // hole would never arrive and an ordered run would stall).
            let _ = catch_unwind(AssertUnwindSafe(|| (sink.lock())(failure)));
        }
    }
}

/// Counts one thread keeps and hands back when it is joined.
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

/// The source thread: numbers the records, groups them into batches and,
/// in ordered mode, takes a window token before sending each batch so
/// that at most `window` batches are in flight.
pub(crate) fn run_source<T, E>(
    source: impl Iterator<Item = Result<T, E>>,
    tx: Sender<Msg<T>>,
    tokens: Option<Sender<()>>,
    batch_size: usize,
    shared: Shared,
    name: Arc<str>,
) -> Counts
where
    E: Into<BoxError>,
{
    let mut c = Counts::default();
    let mut seq = 0u64;
    let mut batch = Vec::with_capacity(batch_size.min(PREALLOC_ITEMS));
    let send = |seq: &mut u64, batch: Vec<(u64, T)>| -> bool {
        // Blocks while the window is full; fails once the consumer is gone.
        if let Some(tokens) = &tokens {
            if tokens.send(()).is_err() {
                return false;
            }
        }
        let ok = tx.send((*seq, batch)).is_ok();
        *seq += 1;
        ok
    };
    for (position, record) in (0u64..).zip(source) {
        if shared.stopped() {
            return c;
        }
        c.received += 1;
        match record {
            Ok(item) => {
                c.emitted += 1;
                batch.push((position, item));
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
        if batch.len() == batch_size {
            let full = std::mem::replace(
                &mut batch,
                Vec::with_capacity(batch_size.min(PREALLOC_ITEMS)),
            );
            if !send(&mut seq, full) {
                return c;
            }
        }
    }
    if !batch.is_empty() && !shared.stopped() {
        send(&mut seq, batch);
    }
    c
}

/// One worker of a stage.
pub(crate) fn run_worker<T, U, E, F>(
    rx: Receiver<Msg<T>>,
    tx: Sender<Msg<U>>,
    f: Arc<F>,
    shared: Shared,
    name: Arc<str>,
) -> Counts
where
    F: Fn(T) -> Result<Option<U>, E>,
    E: Into<BoxError>,
{
    let mut c = Counts::default();
    for (seq, batch) in rx.iter() {
        if shared.stopped() {
            break;
        }
        let mut out = Vec::with_capacity(batch.len());
        for (position, item) in batch {
            c.received += 1;
            match catch_unwind(AssertUnwindSafe(|| f(item))) {
                Ok(Ok(Some(item))) => {
                    c.emitted += 1;
                    out.push((position, item));
                }
                Ok(Ok(None)) => c.dropped += 1,
                Ok(Err(e)) => {
                    c.failed += 1;
                    shared.report(Failure {
                        stage: name.clone(),
                        position,
                        error: e.into(),
                    });
                }
                Err(panic) => {
                    c.failed += 1;
                    shared.report(Failure {
                        stage: name.clone(),
                        position,
                        error: format!(
                            "stage panicked: {}",
                            crate::sync::panic_message(panic.as_ref())
                        )
                        .into(),
                    });
                }
            }
        }
        if out.is_empty() && !shared.ordered {
            continue;
        }
        if tx.send((seq, out)).is_err() {
            break; // the consumer stopped: shut down
        }
    }
    c
}
