//! The async shells of the channel (feature `async`): the futures of
//! [`Receiver::recv_async`] and [`Sender::send_async`] and the `Stream` impl
//! of [`Receiver`]. Each only waits: the decision (take a message, claim a
//! slot) is the blocking form's, and a task registers its waker on the wait
//! queue where a thread would park, through the kernel's one future
//! (`sync::waiting`).
use super::channel::{Receiver, Sender};
use super::error::{Lagged, RecvError, SendError, TryRecvError, TrySendError};
use crate::sync::atomic::Ordering;
use crate::sync::wait::WaitQueue;
use crate::sync::waiting::{WaitFor, WaitOn, Waiting};
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
        RecvFuture(Waiting::new(Recv { receiver: self }))
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
        SendFuture(Waiting::new(Send {
            sender: self,
            value: Some(value),
        }))
    }
}

/// What a receive waits for: a message, a lag or the close (taken in the
/// poll that returns it).
struct Recv<'a, T> {
    receiver: &'a mut Receiver<T>,
}

impl<T> WaitOn for Recv<'_, T> {
    fn queue(&self) -> &WaitQueue {
        &self.receiver.shared.readable
    }
}

impl<T: Clone> WaitFor for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn take(&mut self) -> Option<Self::Output> {
        match self.receiver.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
            Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
            Err(TryRecvError::Empty) => None,
        }
    }

    fn ready(&self) -> bool {
        let sh = &*self.receiver.shared;
        // SeqCst: the wait queue's condition (runs after its fence).
        sh.ring.is_ready(self.receiver.next) || sh.closed.load(Ordering::SeqCst)
    }
}

/// What a send waits for under `Backpressure`: room at the gate (the
/// sequence number is claimed in the poll that writes).
struct Send<'a, T> {
    sender: &'a Sender<T>,
    /// `None` once sent or handed back.
    value: Option<T>,
}

impl<T> WaitOn for Send<'_, T> {
    fn queue(&self) -> &WaitQueue {
        &self.sender.shared.writable
    }
}

impl<T> WaitFor for Send<'_, T> {
    type Output = Result<usize, SendError<T>>;

    fn take(&mut self) -> Option<Self::Output> {
        // Polled again after it completed: nothing to take, and `ready`
        // stays false, so it stays pending, as a fused future does.
        match self.sender.try_send(self.value.take()?) {
            Ok(n) => Some(Ok(n)),
            Err(TrySendError::NoReceivers(value)) => Some(Err(SendError(value))),
            Err(TrySendError::Full(value)) => {
                self.value = Some(value);
                None
            }
        }
    }

    fn ready(&self) -> bool {
        let sh = &*self.sender.shared;
        // SeqCst: a tail to test the gate for (the condition runs after
        // the wait queue's fence). A receiver dropped meanwhile frees its
        // cursor, which opens the gate: the retry then finds no receiver
        // and completes with the value.
        self.value.is_some() && sh.gate_open(sh.tail.load(Ordering::SeqCst))
    }
}

/// The future of [`Receiver::recv_async`].
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T>(Waiting<Recv<'a, T>>);

impl<T: Clone> Future for RecvFuture<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture")
            .field("next", &self.0.get().receiver.next)
            .finish()
    }
}

/// A receiver is a stream of messages that ends when the channel closes;
/// a lag is an item (`Err(Lagged(n))`), never swallowed, and the stream
/// goes on from the oldest message retained. Cancel safe as
/// [`Receiver::recv_async`]. The receiver keeps its registration between
/// items (the kernel's `Registration`) and gives it back when dropped.
impl<T: Clone> futures_core::Stream for Receiver<T> {
    type Item = Result<T, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // Checked out for the poll (it and `Recv` both borrow the
        // receiver). A panic in `T::clone` drops it unreleased: its slot
        // is not reused, and the publish that follows clears its waker.
        let mut stream = std::mem::take(&mut this.stream);
        let polled = stream.poll(&mut Recv { receiver: this }, cx);
        this.stream = stream;
        match polled {
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
pub struct SendFuture<'a, T>(Waiting<Send<'a, T>>);

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<usize, SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("pending", &self.0.get().value.is_some())
            .finish()
    }
}
