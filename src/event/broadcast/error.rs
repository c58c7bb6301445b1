//! Why a send or a receive on a broadcast channel did not deliver: the
//! error types of the channel's operations (construction errors are the
//! module's [`Error`](crate::event::Error)).
use std::fmt;

/// Why [`Sender::send`](super::Sender::send) (or
/// [`send_async`](super::Sender::send_async)) sent nothing: no receiver was
/// alive to see the message. The message is handed back, not published
/// (as with `tokio::sync::broadcast::error::SendError`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcast channel has no receivers (the message was handed back)")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`Sender::try_send`](super::Sender::try_send) sent nothing; each
/// hands the value back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// `Backpressure`: the slowest receiver has not taken the message this
    /// one would replace.
    Full(T),
    /// No receiver is alive to see it.
    NoReceivers(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::NoReceivers(v) => v,
        }
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::NoReceivers(e.0)
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::NoReceivers(_) => f.write_str("NoReceivers(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => {
                f.write_str("broadcast channel is full (a receiver has not caught up)")
            }
            TrySendError::NoReceivers(_) => f.write_str("broadcast channel has no receivers"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// A receiver's stream item for messages it missed: `Lagged(n)`, `n`
/// messages were overwritten before it read them (`Overwrite` only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lagged(pub u64);

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "receiver lagged and missed {} messages", self.0)
    }
}

impl std::error::Error for Lagged {}

/// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no
/// message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing to receive yet.
    Empty,
    /// This many messages were overwritten before this receiver read them
    /// (`Overwrite` only); receiving continues from the oldest retained.
    Lagged(u64),
    /// Every sender is gone and every message was received.
    Closed,
}

/// Why [`Receiver::recv`](super::Receiver::recv) returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// See [`TryRecvError::Lagged`].
    Lagged(u64),
    /// Every sender is gone and every message was received.
    Closed,
}

/// Why [`Receiver::recv_timeout`](super::Receiver::recv_timeout) returned
/// no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing arrived before the timeout.
    Timeout,
    /// See [`TryRecvError::Lagged`].
    Lagged(u64),
    /// Every sender is gone and every message was received.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("broadcast channel is empty"),
            TryRecvError::Lagged(n) => write!(f, "receiver lagged and missed {n} messages"),
            TryRecvError::Closed => f.write_str("broadcast channel is closed"),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Lagged(n) => write!(f, "receiver lagged and missed {n} messages"),
            RecvError::Closed => f.write_str("broadcast channel is closed"),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting on a broadcast channel"),
            RecvTimeoutError::Lagged(n) => write!(f, "receiver lagged and missed {n} messages"),
            RecvTimeoutError::Closed => f.write_str("broadcast channel is closed"),
        }
    }
}

impl std::error::Error for TryRecvError {}
impl std::error::Error for RecvError {}
impl std::error::Error for RecvTimeoutError {}
