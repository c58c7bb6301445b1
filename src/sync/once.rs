//! The one-shot result cell: resolved once, waited for by threads (parked)
//! and tasks (a waker registered), read by cloning or taken once. The
//! cache's single-flight loads (`cache/flight.rs`: many waiters clone one
//! value) and the task pool's handles (`queue/task.rs`: one handle takes
//! the task's outcome) are this cell.
//!
//! A mutex guards the state, a [`WaitQueue`] holds the waiters:
//!
//! | state | meaning |
//! |---|---|
//! | `Pending(p)` | not resolved; `p` is what the owner keeps meanwhile (the thread a loader runs on) |
//! | `Ready(v)` | resolved; readers clone `v`, or one takes it |
//! | `Taken` | resolved, and the value was taken |
//!
//! [`resolve`](OneShot::resolve) stores the value under the mutex, then
//! notifies the queue: a waiter's condition ([`is_resolved`]
//! (OneShot::is_resolved), under the same mutex) either sees the value or
//! the waiter is registered before the notify looks (the wait queue's
//! handshake). Only the first `resolve` has an effect, so a drop guard may
//! resolve as "abandoned" after a normal resolve without harm.
//!
//! [`Take`] and [`Get`] are the two ways of waiting for it, as
//! [`WaitFor`]s: one future ([`Waiting`](super::waiting::Waiting)) and its
//! blocking form serve both.
use super::wait::WaitQueue;
use super::waiting::{WaitFor, WaitOn};
use super::Mutex;
use std::marker::PhantomData;
use std::ops::Deref;

enum State<T, P> {
    Pending(P),
    Ready(T),
    Taken,
}

/// A value resolved once; see the module doc.
pub(crate) struct OneShot<T, P = ()> {
    state: Mutex<State<T, P>>,
    done: WaitQueue,
}

impl<T, P> OneShot<T, P> {
    /// An unresolved cell keeping `pending` until it resolves.
    pub(crate) fn new(pending: P) -> Self {
        OneShot {
            state: Mutex::new(State::Pending(pending)),
            done: WaitQueue::new(),
        }
    }

    /// Resolves the cell with `value` and wakes every waiter; returns
    /// whether this call resolved it (only the first does; a later value
    /// is dropped).
    pub(crate) fn resolve(&self, value: T) -> bool {
        let mut state = self.state.lock();
        let first = matches!(*state, State::Pending(_));
        if first {
            *state = State::Ready(value);
        }
        drop(state);
        if first {
            self.done.notify();
        }
        first
    }

    /// Whether the cell is resolved (its value may have been taken).
    pub(crate) fn is_resolved(&self) -> bool {
        !matches!(*self.state.lock(), State::Pending(_))
    }

    /// Runs `f` on what the pending cell keeps; `None` once resolved.
    pub(crate) fn with_pending<R>(&self, f: impl FnOnce(&mut P) -> R) -> Option<R> {
        match &mut *self.state.lock() {
            State::Pending(p) => Some(f(p)),
            _ => None,
        }
    }

    /// The value, taken: `None` while pending, `Some(None)` if it was taken
    /// before.
    pub(crate) fn try_take(&self) -> Option<Option<T>> {
        let mut state = self.state.lock();
        match &*state {
            State::Pending(_) => None,
            State::Taken => Some(None),
            State::Ready(_) => match std::mem::replace(&mut *state, State::Taken) {
                State::Ready(v) => Some(Some(v)),
                _ => unreachable!("matched Ready above, under the lock"),
            },
        }
    }

    /// A clone of the value; `None` while pending (or once taken).
    pub(crate) fn try_get(&self) -> Option<T>
    where
        T: Clone,
    {
        match &*self.state.lock() {
            State::Ready(v) => Some(v.clone()),
            _ => None,
        }
    }
}

/// Waits for the value and takes it: `None` if it was taken before. `C`
/// is how the waiter holds the cell (`&OneShot`, `Arc<OneShot>`); the
/// marker names the cell's types, so that `&self` outlives them, and adds
/// no auto-trait bound the holder does not already need.
pub(crate) struct Take<C, T, P = ()>(C, PhantomData<OneShot<T, P>>);

impl<C: Deref<Target = OneShot<T, P>>, T, P> Take<C, T, P> {
    pub(crate) fn new(cell: C) -> Self {
        Take(cell, PhantomData)
    }

    /// The cell.
    pub(crate) fn cell(&self) -> &OneShot<T, P> {
        &self.0
    }
}

impl<T, P, C: Deref<Target = OneShot<T, P>>> WaitOn for Take<C, T, P> {
    fn queue(&self) -> &WaitQueue {
        &self.0.done
    }
}

impl<T, P, C: Deref<Target = OneShot<T, P>>> WaitFor for Take<C, T, P> {
    type Output = Option<T>;
    fn take(&mut self) -> Option<Option<T>> {
        self.0.try_take()
    }
    fn ready(&self) -> bool {
        self.0.is_resolved()
    }
}

/// Waits for the value and clones it (many waiters read one value; none
/// takes it). A cell is read with `Get` or taken with `Take`, never both:
/// a `Get` of a taken cell would find it resolved but empty, forever.
pub(crate) struct Get<C, T, P = ()>(C, PhantomData<OneShot<T, P>>);

impl<C: Deref<Target = OneShot<T, P>>, T, P> Get<C, T, P> {
    pub(crate) fn new(cell: C) -> Self {
        Get(cell, PhantomData)
    }
}

impl<T, P, C: Deref<Target = OneShot<T, P>>> WaitOn for Get<C, T, P> {
    fn queue(&self) -> &WaitQueue {
        &self.0.done
    }
}

impl<T: Clone, P, C: Deref<Target = OneShot<T, P>>> WaitFor for Get<C, T, P> {
    type Output = T;
    fn take(&mut self) -> Option<T> {
        self.0.try_get()
    }
    fn ready(&self) -> bool {
        self.0.is_resolved()
    }
}

impl<T, P> std::fmt::Debug for OneShot<T, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneShot")
            .field("resolved", &self.is_resolved())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::waiting::Waiting;
    use super::*;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Waker};

    #[test]
    fn resolves_once_and_is_taken_once() {
        let cell = OneShot::<u32>::new(());
        assert_eq!(cell.try_take(), None);
        assert!(cell.resolve(1));
        assert!(!cell.resolve(2), "only the first resolve counts");
        assert_eq!(cell.try_get(), Some(1));
        assert_eq!(cell.try_take(), Some(Some(1)));
        assert_eq!(cell.try_take(), Some(None));
        assert_eq!(cell.try_get(), None);
    }

    #[test]
    fn pending_payload_is_reachable_until_resolved() {
        let cell = OneShot::<u32, u8>::new(7);
        assert_eq!(cell.with_pending(|p| std::mem::replace(p, 8)), Some(7));
        assert_eq!(cell.with_pending(|p| *p), Some(8));
        cell.resolve(0);
        assert_eq!(cell.with_pending(|p| *p), None);
    }

    #[test]
    fn a_thread_and_a_task_wait_for_one_value() {
        let cell = Arc::new(OneShot::<String>::new(()));
        let c2 = cell.clone();
        let thread = std::thread::spawn(move || Waiting::new(Get::new(&*c2)).block());
        let mut fut = Waiting::new(Get::new(cell.clone()));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        cell.resolve("v".into());
        assert_eq!(thread.join().unwrap(), "v");
        assert_eq!(
            Pin::new(&mut fut).poll(&mut cx),
            std::task::Poll::Ready("v".into())
        );
        drop(fut);
        assert_eq!(cell.done.waiters(), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::super::waiting::Waiting;
    use super::*;
    use crate::sync::{thread, Arc};

    /// A resolve races a parked thread and a task waiting for the value:
    /// both get it (neither is left parked or pending), and a take after
    /// them finds it once.
    #[test]
    fn loom_resolve_reaches_thread_and_task() {
        loom::model(|| {
            let cell = Arc::new(OneShot::<u32>::new(()));
            let c2 = cell.clone();
            let parked = thread::spawn(move || Waiting::new(Get::new(&*c2)).block());
            let c3 = cell.clone();
            let resolver = thread::spawn(move || {
                c3.resolve(5);
                c3.resolve(6);
            });
            let got = loom::future::block_on(Waiting::new(Get::new(cell.clone())));
            assert_eq!(got, 5);
            assert_eq!(parked.join().unwrap(), 5);
            resolver.join().unwrap();
            let mut take = Waiting::new(Take::new(cell.clone()));
            assert_eq!(take.block(), Some(5));
            assert_eq!(take.block(), None);
        });
    }
}
