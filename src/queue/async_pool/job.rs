//! One task of the async pool: the caller's future, the end that resolves
//! its [`TaskHandle`] and the pool's counters, erased to one boxed future
//! that never unwinds.
//!
//! The body counts its own outcome before it resolves the handle, so a
//! caller that awaited every handle reads exact [`stats`](super::AsyncTaskQueue::stats).
//! It holds the counters, not the pool: a queued task that refers to the
//! pool would keep it alive from inside its own queue.
use crate::counter::StripedCounters;
use crate::queue::pool::{CANCELLED, COMPLETED, PANICKED};
use crate::queue::task::{Resolver, TaskError, TaskHandle, TaskId};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::panic_message;
use crate::sync::Arc;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

/// The pool's counters, shared with every task body.
pub(super) struct Counts {
    /// `SUBMITTED`, `COMPLETED`, `PANICKED`, `CANCELLED` (as `TaskQueue`).
    pub(super) stats: StripedCounters<4>,
    /// Bodies polled at least once and not finished or dropped.
    running: AtomicUsize,
}

impl Counts {
    pub(super) fn new() -> Counts {
        Counts {
            stats: StripedCounters::new(),
            running: AtomicUsize::new(0),
        }
    }

    pub(super) fn running(&self) -> usize {
        // Relaxed: a statistic; publishes nothing.
        self.running.load(Ordering::Relaxed)
    }
}

/// A queued task. Dropped unpolled, its handle reports
/// [`TaskError::Cancelled`] (whoever drops it counts it); dropped half-run,
/// it counts itself as cancelled.
pub(super) struct Job {
    body: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Job {
    /// The task `fut` and its handle.
    pub(super) fn new<F>(id: TaskId, fut: F, counts: Arc<Counts>) -> (Job, TaskHandle<F::Output>)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (resolver, handle) = Resolver::new(id);
        let body = async move {
            let started = Started::new(&counts);
            let mut fut = pin!(Some(fut));
            let outcome = poll_fn(|cx| poll_caught(fut.as_mut(), cx)).await;
            started.finish(outcome.is_ok());
            resolver.resolve(outcome);
        };
        let job = Job {
            body: Box::pin(body),
        };
        (job, handle)
    }

    /// Polls the task; `Ready` once its handle is resolved.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.body.as_mut().poll(cx)
    }
}

/// Marks a body running from its first poll; counts it out as it finishes,
/// or as cancelled if it is dropped half-run.
struct Started<'a> {
    counts: &'a Counts,
    finished: bool,
}

impl<'a> Started<'a> {
    fn new(counts: &'a Counts) -> Started<'a> {
        // Relaxed: a statistic; publishes nothing.
        counts.running.fetch_add(1, Ordering::Relaxed);
        Started {
            counts,
            finished: false,
        }
    }

    fn finish(mut self, ok: bool) {
        self.counts
            .stats
            .incr(if ok { COMPLETED } else { PANICKED });
        self.finished = true;
    }
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.counts.stats.incr(CANCELLED);
        }
        // Relaxed: a statistic; publishes nothing.
        self.counts.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Polls the task's future with its panics caught; drops it (still inside
/// the catch) as soon as it has an outcome, so that whatever it holds is
/// released before the handle resolves.
fn poll_caught<F: Future>(
    mut fut: Pin<&mut Option<F>>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, TaskError>> {
    // AssertUnwindSafe: the future is dropped right after a panic and never
    // polled again; nothing of the pool is borrowed across the call.
    let polled = catch_unwind(AssertUnwindSafe(|| match fut.as_mut().as_pin_mut() {
        Some(f) => match f.poll(cx) {
            Poll::Ready(value) => {
                fut.set(None);
                Poll::Ready(Some(value))
            }
            Poll::Pending => Poll::Pending,
        },
        // Not reached: the body stops polling once it has an outcome.
        None => Poll::Ready(None),
    }));
    match polled {
        Ok(Poll::Ready(Some(value))) => Poll::Ready(Ok(value)),
        Ok(Poll::Ready(None)) => Poll::Ready(Err(TaskError::Cancelled)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(payload) => {
            // A panic in the broken future's destructor is swallowed too:
            // the task already has its outcome.
            let _ = catch_unwind(AssertUnwindSafe(|| fut.set(None)));
            Poll::Ready(Err(TaskError::Panicked(panic_message(payload.as_ref()))))
        }
    }
}
