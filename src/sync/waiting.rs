//! The one future that waits on a [`WaitQueue`]: it owns its [`WaitKey`]
//! and does the poll / re-register / release-on-drop dance, so that no
//! module writes it.
//!
//! What a future waits for is a [`WaitFor`]: the queue where its outcome is
//! announced, a `take` that hands the outcome out if it is there, and the
//! condition `ready` that says `take` would find it. [`Waiting`] polls:
//!
//! 1. `take()`; an outcome ends the wait (no lock on this path);
//! 2. otherwise [`WaitQueue::poll_until`] with `ready` (registers the
//!    task's waker, the SeqCst fence, `ready` again: the wait queue's
//!    handshake, which loses no wake-up); `Pending` if it does not hold,
//!    else back to 1 (the outcome may have been taken by another waiter in
//!    between, as for a queue's item);
//! 3. when dropped, whether it finished or not, the key's slot goes back
//!    to the queue.
//!
//! An owner polled for one wait after another (a `Stream`) keeps a
//! [`Registration`] instead, which runs the same steps.
//!
//! A blocking caller waits for the same `WaitFor` with [`Waiting::block`]:
//! `take`, then `wait_until(ready)`, in a loop, so the thread and the task
//! run one protocol.
use super::wait::{WaitKey, WaitQueue};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Where a wait waits: the queue whose `notify` follows every change that
/// can end it. Apart from [`WaitFor`] so that a [`Waiting`] can be named
/// (and dropped) without the bounds its outcome needs (a broadcast
/// receive's `T: Clone`).
pub(crate) trait WaitOn {
    /// The queue.
    fn queue(&self) -> &WaitQueue;
}

/// What a [`Waiting`] future waits for (module doc).
pub(crate) trait WaitFor: WaitOn {
    /// What the wait ends with.
    type Output;
    /// Hands the outcome out if it is there. Runs without the queue's lock.
    fn take(&mut self) -> Option<Self::Output>;
    /// Whether `take` would find the outcome now. Runs after the
    /// handshake's SeqCst fence (its loads may be Acquire); it may stash
    /// what it finds (in a `Cell`) for the `take` that follows.
    fn ready(&self) -> bool;
}

/// The future of a [`WaitFor`]: owns its wait key; dropping it removes the
/// task's waker. `Unpin` whatever it waits for: it never pins its parts.
pub(crate) struct Waiting<W: WaitOn> {
    wait: W,
    key: WaitKey,
}

impl<W: WaitOn> Waiting<W> {
    pub(crate) fn new(wait: W) -> Self {
        Waiting {
            wait,
            key: WaitKey::default(),
        }
    }

    /// What it waits for.
    pub(crate) fn get(&self) -> &W {
        &self.wait
    }
}

impl<W: WaitFor> Waiting<W> {
    /// The thread's form: blocks until `take` hands out the outcome.
    pub(crate) fn block(&mut self) -> W::Output {
        loop {
            if let Some(out) = self.wait.take() {
                return out;
            }
            let wait = &self.wait;
            wait.queue().wait_until(|| wait.ready(), None);
        }
    }
}

// No structural pinning: `poll` only ever takes `&mut` of the parts.
impl<W: WaitOn> Unpin for Waiting<W> {}

impl<W: WaitFor> Future for Waiting<W> {
    type Output = W::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<W::Output> {
        let this = self.get_mut();
        poll_wait(&mut this.wait, &mut this.key, cx)
    }
}

/// The dance itself (module doc, steps 1 and 2), for [`Waiting`] and
/// [`Registration`].
fn poll_wait<W: WaitFor>(wait: &mut W, key: &mut WaitKey, cx: &mut Context<'_>) -> Poll<W::Output> {
    loop {
        if let Some(out) = wait.take() {
            key.done();
            return Poll::Ready(out);
        }
        let w = &*wait;
        if w.queue().poll_until(key, cx, || w.ready()).is_pending() {
            return Poll::Pending;
        }
    }
}

/// The wait key of a long-lived owner that is polled for one wait after
/// another and is no future itself (a broadcast receiver as a `Stream`):
/// the slot is kept between waits, and the owner's `Drop` gives it back
/// with [`release`](Self::release). (A future polled for one outcome
/// after another is a [`Waiting`] awaited again: `(&mut w).await`.)
#[derive(Debug, Default)]
pub(crate) struct Registration {
    key: WaitKey,
}

impl Registration {
    /// One poll of `wait`, as [`Waiting`] polls.
    pub(crate) fn poll<W: WaitFor>(
        &mut self,
        wait: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<W::Output> {
        poll_wait(wait, &mut self.key, cx)
    }

    /// Gives the slot back to `queue` (the one every poll waited on).
    pub(crate) fn release(&mut self, queue: &WaitQueue) {
        queue.release(&mut self.key);
    }
}

impl<W: WaitOn> Drop for Waiting<W> {
    fn drop(&mut self) {
        self.wait.queue().release(&mut self.key);
    }
}

impl<W: WaitOn> std::fmt::Debug for Waiting<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiting").field("key", &self.key).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::atomic::{AtomicBool, Ordering};
    use std::task::Waker;

    struct Flag<'a>(&'a WaitQueue, &'a AtomicBool);
    impl WaitOn for Flag<'_> {
        fn queue(&self) -> &WaitQueue {
            self.0
        }
    }
    impl WaitFor for Flag<'_> {
        type Output = ();
        fn take(&mut self) -> Option<()> {
            self.ready().then_some(())
        }
        fn ready(&self) -> bool {
            self.1.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn pending_then_ready_then_released() {
        let (q, flag) = (WaitQueue::new(), AtomicBool::new(false));
        let mut fut = Waiting::new(Flag(&q, &flag));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        assert_eq!(q.waiters(), 1);
        flag.store(true, Ordering::SeqCst);
        q.notify();
        assert!(Pin::new(&mut fut).poll(&mut cx).is_ready());
        drop(fut);
        assert_eq!(q.waiters(), 0);
    }

    #[test]
    fn dropped_while_pending_leaves_no_waiter() {
        let (q, flag) = (WaitQueue::new(), AtomicBool::new(false));
        let mut fut = Waiting::new(Flag(&q, &flag));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        drop(fut);
        assert_eq!(q.waiters(), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::atomic::{AtomicUsize, Ordering};
    use crate::sync::{thread, Arc};
    use std::task::Waker;

    /// Takes one unit of a count (as a queue's pop takes an item).
    struct Unit(Arc<(WaitQueue, AtomicUsize)>);
    impl WaitOn for Unit {
        fn queue(&self) -> &WaitQueue {
            &self.0 .0
        }
    }
    impl WaitFor for Unit {
        type Output = ();
        fn take(&mut self) -> Option<()> {
            // SeqCst: one total order with the producer's store and the
            // handshake's fences.
            let n = &self.0 .1;
            let cur = n.load(Ordering::SeqCst);
            (cur > 0
                && n.compare_exchange(cur, cur - 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok())
            .then_some(())
        }
        fn ready(&self) -> bool {
            // SeqCst: runs after the handshake's fence.
            self.0 .1.load(Ordering::SeqCst) > 0
        }
    }

    /// Two units arrive from two threads; a future awaited twice (the
    /// worker loop's reuse) takes both, and a future dropped while pending
    /// swallows neither and leaves no waiter.
    #[test]
    fn loom_reused_future_takes_every_unit() {
        loom::model(|| {
            let shared = Arc::new((WaitQueue::new(), AtomicUsize::new(0)));
            let mut dropped = Waiting::new(Unit(shared.clone()));
            let mut cx = Context::from_waker(Waker::noop());
            let _ = Pin::new(&mut dropped).poll(&mut cx);
            let producers: Vec<_> = (0..2)
                .map(|_| {
                    let s = shared.clone();
                    thread::spawn(move || {
                        // SeqCst: see `take`.
                        s.1.fetch_add(1, Ordering::SeqCst);
                        s.0.notify_one();
                    })
                })
                .collect();
            drop(dropped);
            let mut fut = Waiting::new(Unit(shared.clone()));
            loom::future::block_on(&mut fut);
            loom::future::block_on(&mut fut);
            drop(fut);
            for p in producers {
                p.join().unwrap();
            }
            assert_eq!(shared.0.waiters(), 0);
        });
    }
}
