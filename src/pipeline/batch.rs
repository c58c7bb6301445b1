//! [`Batcher`]: groups a stream into batches by size or by age.
use super::chunk::PREALLOC_ITEMS;
use super::error::Error;
use crate::clock::{duration_to_nanos, Clock, MonotonicClamp, SystemClock};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// Groups a stream into batches by size or by age, whichever comes first:
/// a batch is due when it holds `max_items`, or when its oldest item has
/// waited `max_wait` on the batcher's [`Clock`].
///
/// A clock reading earlier than the last one seen counts as no time passed
/// (see [`clock`](crate::clock#time-that-goes-backwards)): a batch's age
/// never shrinks, so a clock stepping back delays a batch by at most the
/// time since the batcher last looked, never by the size of the step.
///
/// `push` and `poll` never block; drive it from an event loop, or use
/// [`Batcher::batches`] over a channel. Tests use a
/// [`ManualClock`](crate::clock::ManualClock), so no test waits for time.
///
/// ```
/// use latchwork::clock::ManualClock;
/// use latchwork::pipeline::Batcher;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let mut b = Batcher::with_clock(3, Duration::from_millis(100), clock.clone())?;
/// assert_eq!(b.push(1), None);
/// assert_eq!(b.push(2), None);
/// assert_eq!(b.push(3), Some(vec![1, 2, 3])); // full
/// b.push(4);
/// clock.advance(Duration::from_millis(100));
/// assert_eq!(b.poll(), Some(vec![4])); // old enough
/// # Ok::<(), latchwork::pipeline::Error>(())
/// ```
#[derive(Debug)]
pub struct Batcher<T, C: Clock = SystemClock> {
    max_items: usize,
    max_wait: u64,
    clock: C,
    items: Vec<T>,
    /// Clock reading when the oldest pending item arrived.
    oldest: u64,
    /// Clamps readings that go backwards: one earlier than the last seen
    /// counts as no time passed, so a batch's age never shrinks.
    clamp: MonotonicClamp,
}

impl<T> Batcher<T, SystemClock> {
    /// A batcher on the system clock.
    pub fn new(max_items: usize, max_wait: Duration) -> Result<Self, Error> {
        Self::with_clock(max_items, max_wait, SystemClock)
    }
}

impl<T, C: Clock> Batcher<T, C> {
    /// A batcher on `clock`.
    pub fn with_clock(max_items: usize, max_wait: Duration, clock: C) -> Result<Self, Error> {
        if max_items == 0 {
            return Err(Error::ZeroBatchSize);
        }
        if max_wait.is_zero() {
            return Err(Error::ZeroMaxWait);
        }
        Ok(Batcher {
            max_items,
            max_wait: duration_to_nanos(max_wait),
            clock,
            items: Vec::new(),
            oldest: 0,
            clamp: MonotonicClamp::new(),
        })
    }

    /// Adds an item; returns the pending batch (this item included) if it
    /// is now full or old enough.
    pub fn push(&mut self, item: T) -> Option<Vec<T>> {
        if self.items.is_empty() {
            self.oldest = self.now();
            self.items.reserve(self.max_items.min(PREALLOC_ITEMS));
        }
        self.items.push(item);
        if self.items.len() >= self.max_items || self.is_due() {
            return self.flush();
        }
        None
    }

    /// The pending batch, if its oldest item has waited `max_wait`.
    pub fn poll(&mut self) -> Option<Vec<T>> {
        if self.is_due() {
            return self.flush();
        }
        None
    }

    /// The pending batch whatever its size or age, or `None` when empty
    /// (for the end of a stream).
    pub fn flush(&mut self) -> Option<Vec<T>> {
        if self.items.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.items))
    }

    /// How long until the pending batch is due by age; `None` when nothing
    /// is pending. Zero when it is already due.
    pub fn time_left(&self) -> Option<Duration> {
        if self.items.is_empty() {
            return None;
        }
        let deadline = self.oldest.saturating_add(self.max_wait);
        Some(Duration::from_nanos(deadline.saturating_sub(self.now())))
    }

    /// Items pending.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn is_due(&self) -> bool {
        !self.items.is_empty() && self.now().saturating_sub(self.oldest) >= self.max_wait
    }

    #[inline]
    fn now(&self) -> u64 {
        self.clamp.now(&self.clock)
    }

    /// Batches of the items received on `rx`: waits for the next item at
    /// most until the pending batch is due, and yields the last partial
    /// batch when every sender is gone.
    ///
    /// The wait itself is real time (`recv_timeout`); the batcher's clock
    /// decides when a batch is due.
    pub fn batches(self, rx: Receiver<T>) -> Batches<T, C> {
        Batches {
            batcher: self,
            rx,
            done: false,
        }
    }
}

/// The iterator [`Batcher::batches`] returns.
#[derive(Debug)]
pub struct Batches<T, C: Clock = SystemClock> {
    batcher: Batcher<T, C>,
    rx: Receiver<T>,
    done: bool,
}

impl<T, C: Clock> Iterator for Batches<T, C> {
    type Item = Vec<T>;

    fn next(&mut self) -> Option<Vec<T>> {
        if self.done {
            return None;
        }
        loop {
            let received = match self.batcher.time_left() {
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(wait) => self.rx.recv_timeout(wait),
            };
            match received {
                Ok(item) => {
                    if let Some(batch) = self.batcher.push(item) {
                        return Some(batch);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(batch) = self.batcher.poll() {
                        return Some(batch);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.done = true;
                    return self.batcher.flush();
                }
            }
        }
    }
}
