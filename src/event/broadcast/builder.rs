//! How a broadcast channel is configured and built: the slow-receiver
//! [`Policy`], the size limits, the [`Builder`] that checks them and the
//! [`channel`] shorthand.
use super::channel::{open, Receiver, Sender};
use super::ring::Ring;
use crate::event::Error;

/// The largest ring a channel may have, in slots (2^24, about 16.8
/// million). A ring is allocated whole when the channel is built (a slot is
/// 16 bytes plus the message), so a larger request would commit gigabytes
/// up front; within this bound the slots are still reserved fallibly, so a
/// ring the process cannot hold is [`Error::CapacityTooLarge`], not an
/// out-of-memory abort.
pub const MAX_CAPACITY: usize = 1 << 24;

/// The most receivers a `Backpressure` channel may be built for (2^16):
/// each takes a cache-padded cursor that a producer scans when the ring is
/// full, so the registry is 8 MiB at this maximum.
pub const MAX_RECEIVERS: usize = 1 << 16;

/// What happens when a receiver falls a full ring behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// Producers never wait for receivers: the oldest message is replaced,
    /// and a lagging receiver's next call returns `Lagged(n)` with the
    /// number it missed, then continues from the oldest message retained
    /// (as `tokio::sync::broadcast`).
    #[default]
    Overwrite,
    /// Producers wait until the slowest receiver has taken the message
    /// they would replace (LMAX Disruptor gating): nobody misses anything,
    /// and one stalled receiver stalls every producer.
    Backpressure,
}

/// Builds a broadcast channel: `Builder::new(1024).policy(..).build()`.
#[derive(Clone, Debug)]
pub struct Builder {
    capacity: usize,
    policy: Policy,
    max_receivers: usize,
}

impl Builder {
    /// A builder for a ring of at least `capacity` slots (rounded up to a
    /// power of two), `Overwrite` policy, at most 64 receivers under
    /// `Backpressure`.
    pub fn new(capacity: usize) -> Self {
        Builder {
            capacity,
            policy: Policy::Overwrite,
            max_receivers: 64,
        }
    }

    /// The slow-receiver policy.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// How many receivers a `Backpressure` channel can have at once (each
    /// has a cursor that producers scan when the ring is full), from 1 to
    /// [`MAX_RECEIVERS`]. `Overwrite` channels have unlimited receivers and
    /// do not use it, but a value outside that range is still refused by
    /// [`build`](Self::build), whatever the policy: it is a mistake either
    /// way, and switching the policy later should not reveal it.
    ///
    /// ```
    /// use latchwork::event::{broadcast::Builder, Error};
    /// assert_eq!(Builder::new(8).max_receivers(0).build::<u8>().err(), Some(Error::ZeroMaxReceivers));
    /// ```
    pub fn max_receivers(mut self, max: usize) -> Self {
        self.max_receivers = max;
        self
    }

    /// The channel and its first receiver.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`]; [`Error::CapacityTooLarge`] for a capacity
    /// above [`MAX_CAPACITY`] or a ring this process cannot allocate (the
    /// slots are reserved fallibly, so an oversized ring is an error, not
    /// an out-of-memory abort); [`Error::ZeroMaxReceivers`] and
    /// [`Error::MaxReceiversTooLarge`] for a `max_receivers` outside
    /// `1..=MAX_RECEIVERS`, under either policy.
    pub fn build<T>(self) -> Result<(Sender<T>, Receiver<T>), Error> {
        if self.capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        if self.max_receivers == 0 {
            return Err(Error::ZeroMaxReceivers);
        }
        if self.max_receivers > MAX_RECEIVERS {
            return Err(Error::MaxReceiversTooLarge {
                requested: self.max_receivers,
                max: MAX_RECEIVERS,
            });
        }
        let too_large = Error::CapacityTooLarge {
            requested: self.capacity,
        };
        let cap = self
            .capacity
            .checked_next_power_of_two()
            .filter(|&c| c <= MAX_CAPACITY)
            .ok_or(too_large.clone())?;
        let ring = Ring::try_new(cap).ok_or(too_large)?;
        Ok(open(ring, self.policy, self.max_receivers))
    }
}

/// A broadcast channel of at least `capacity` slots with the given policy.
///
/// ```
/// use latchwork::event::broadcast::{channel, Policy, TryRecvError};
///
/// let (tx, mut rx) = channel::<u64>(4, Policy::Overwrite)?;
/// for i in 0..6 {
///     assert_eq!(tx.send(i), Ok(1)); // published to one receiver
/// }
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(2)));
/// assert_eq!(rx.try_recv(), Ok(2));
/// drop(tx);
/// assert_eq!(rx.recv().ok(), Some(3));
/// # Ok::<(), latchwork::event::Error>(())
/// ```
pub fn channel<T>(capacity: usize, policy: Policy) -> Result<(Sender<T>, Receiver<T>), Error> {
    Builder::new(capacity).policy(policy).build()
}
