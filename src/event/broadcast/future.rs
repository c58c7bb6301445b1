//! The async shells of the channel (feature `async`): the futures of
//! [`Receiver::recv_async`] and [`Sender::send_async`] and the `Stream` impl
//! of [`Receiver`]. Each only waits: the decision (take a message, claim a
//! slot) is the blocking form's, and a task registers its waker on the wait
//! queue where a thread would park.
use super::channel::{Receiver, Sender};
use super::error::{Lagged, RecvError, SendError, TryRecvError, TrySendError};
use crate::sync::atomic::Ordering;
use crate::wait::WaitKey;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

impl<T: Clone> Receiver<T> {
    /// The async form of [`recv`](Self::recv): the next message, or the
    /// lag / close, registering this task's waker where a thread would
    /// park. Works on any executor.
    ///
    /// # Cancel safety
    /// Cancel safe: a message is taken only in the poll that returns it,
    /// so dropping the future at any await point loses no message (the
    /// next receive gets it) and removes this receiver's waker.
    pub fn recv_async(&mut self) -> RecvFuture<'_, T> {
        RecvFuture { receiver: self }
    }

    /// One receive attempt for a task; `Closed` maps to `Err(Closed)`.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        loop {
            match self.try_recv() {
                Ok(v) => {
                    self.wait.done();
                    return Poll::Ready(Ok(v));
                }
                Err(TryRecvError::Lagged(n)) => {
                    self.wait.done();
                    return Poll::Ready(Err(RecvError::Lagged(n)));
                }
                Err(TryRecvError::Closed) => {
                    self.wait.done();
                    return Poll::Ready(Err(RecvError::Closed));
                }
                Err(TryRecvError::Empty) => {}
            }
            let sh = &*self.shared;
            let next = self.next;
            // SeqCst: the wait queue's condition (runs after its fence).
            let ready = || sh.ring.is_ready(next) || sh.closed.load(Ordering::SeqCst);
            if sh
                .readable
                .poll_until(&mut self.wait, cx, ready)
                .is_pending()
            {
                return Poll::Pending;
            }
        }
    }
}

impl<T> Sender<T> {
    /// The async form of [`send`](Self::send): under `Backpressure` it
    /// waits for the slowest receiver without blocking a thread (the task
    /// registers a waker on the queue blocked producers park on); under
    /// `Overwrite` it completes on its first poll. Resolves to what `send`
    /// returns: `Ok(n)`, published to the `n` receivers alive when it was
    /// sent, or `Err(SendError(value))` if there were none, in which case
    /// nothing was published (also when the last receiver is dropped while
    /// the future waits).
    ///
    /// # Cancel safety
    /// A sequence number is claimed only once the message can be written
    /// at once, so dropping the future before it completes sends nothing,
    /// loses no other message and leaves no waker behind; the value is
    /// dropped with the future. It never makes a receiver see a gap.
    pub fn send_async(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            sender: self,
            value: Some(value),
            wait: WaitKey::default(),
        }
    }
}

/// The future of [`Receiver::recv_async`].
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T> {
    receiver: &'a mut Receiver<T>,
}

impl<T: Clone> Future for RecvFuture<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.receiver.poll_recv(cx)
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        let rx = &mut *self.receiver;
        // Keeps the slot: the receiver's next receive reuses it.
        rx.shared.readable.cancel(&mut rx.wait);
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture")
            .field("next", &self.receiver.next)
            .finish()
    }
}

/// A receiver is a stream of messages that ends when the channel closes;
/// a lag is an item (`Err(Lagged(n))`), never swallowed, and the stream
/// goes on from the oldest message retained. Cancel safe as
/// [`Receiver::recv_async`].
impl<T: Clone> futures_core::Stream for Receiver<T> {
    type Item = Result<T, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.poll_recv(cx) {
            Poll::Ready(Ok(v)) => Poll::Ready(Some(Ok(v))),
            Poll::Ready(Err(RecvError::Lagged(n))) => Poll::Ready(Some(Err(Lagged(n)))),
            Poll::Ready(Err(RecvError::Closed)) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The future of [`Sender::send_async`]. Polled again after it has
/// completed, it stays pending (like a fused future).
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    sender: &'a Sender<T>,
    value: Option<T>,
    wait: WaitKey,
}

impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<usize, SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let sh = &*this.sender.shared;
        loop {
            // Polled again after it completed: it stays pending, as a
            // fused future does (the value was sent or handed back).
            let Some(value) = this.value.take() else {
                return Poll::Pending;
            };
            match this.sender.try_send(value) {
                Ok(n) => {
                    this.wait.done();
                    return Poll::Ready(Ok(n));
                }
                Err(TrySendError::NoReceivers(value)) => {
                    this.wait.done();
                    return Poll::Ready(Err(SendError(value)));
                }
                Err(TrySendError::Full(value)) => this.value = Some(value),
            }
            // SeqCst: a tail to test the gate for (the condition runs
            // after the wait queue's fence). A receiver dropped meanwhile
            // frees its cursor, which opens the gate: the retry then finds
            // no receiver and completes with the value.
            let ready = || sh.gate_open(sh.tail.load(Ordering::SeqCst));
            if sh
                .writable
                .poll_until(&mut this.wait, cx, ready)
                .is_pending()
            {
                return Poll::Pending;
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        self.sender.shared.writable.release(&mut self.wait);
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("pending", &self.value.is_some())
            .finish()
    }
}
