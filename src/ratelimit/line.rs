//! First-come, first-served waiting on one limiter, for threads
//! ([`acquire`]) and tasks ([`until_ready`]) alike: the waiting loop of
//! every limiter, with or without a line.
//!
//! ```text
//!   queue: [ head | t2 | t3 ... ]     only the head calls try_acquire;
//!            │                        on a denial it sleeps the retry-after
//!            └─ admitted or dropped ─▶ popped, the crate's WaitQueue notified,
//!                                      the next head tries at once
//! ```
//!
//! A caller arriving when nobody waits tries at once and queues only if it
//! is denied, so an uncontended limiter pays one atomic load. Waiters wait
//! on the crate's one [`WaitQueue`] for their turn (a thread parks, a task
//! registers its waker) and the head sleeps through the limiter's
//! [`sleep`](super::Limiter::sleep) hook, its clock (a thread), or the
//! caller's [`Sleeper`](crate::sleep::Sleeper) (a task). Without a line
//! (the keyed limiter, the Redis limiter) each waiter just retries. A
//! ticket is a drop guard: a waiter that gives up (a cancelled future)
//! leaves the queue and, if it was the head, hands the turn on; nothing is
//! consumed until `try_acquire` admits.
use super::Error;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::wait::WaitQueue;
use crate::sync::Mutex;
use std::collections::VecDeque;

#[derive(Default)]
struct Order {
    next_id: u64,
    queue: VecDeque<u64>,
}

/// The waiting line of one limiter: threads in
/// [`Limiter::acquire`](super::Limiter::acquire) and tasks in
/// `AsyncLimiter::until_ready` (feature `async`) are
/// admitted first come, first served. A caller arriving when nobody waits
/// tries at once (one atomic load); otherwise only the head of the line
/// tries, and a newcomer queues behind it.
///
/// Every [`TokenBucket`](super::TokenBucket) and sliding window keeps one;
/// a limiter of your own gets the same fairness by keeping one and
/// returning it from [`Limiter::wait_line`](super::Limiter::wait_line).
pub struct WaitLine {
    /// Tickets in `order.queue`; zero lets a new caller try at once.
    queued: AtomicUsize,
    order: Mutex<Order>,
    turn: WaitQueue,
}

/// A place in the line; dropping it leaves the line.
struct Ticket<'a> {
    fifo: &'a WaitLine,
    id: u64,
}

impl Default for WaitLine {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitLine {
    /// An empty line.
    pub fn new() -> Self {
        WaitLine {
            queued: AtomicUsize::new(0),
            order: Mutex::new(Order::default()),
            turn: WaitQueue::new(),
        }
    }

    /// Whether nobody is in line (a newcomer may then try at once).
    fn is_empty(&self) -> bool {
        // SeqCst: a hint only (a racing newcomer may overtake a waiter
        // joining at the same moment); SeqCst keeps it simple to reason about.
        self.queued.load(Ordering::SeqCst) == 0
    }

    fn join(&self) -> Ticket<'_> {
        let mut o = self.order.lock();
        let id = o.next_id;
        o.next_id += 1;
        o.queue.push_back(id);
        // SeqCst: see `is_empty`.
        self.queued.fetch_add(1, Ordering::SeqCst);
        Ticket { fifo: self, id }
    }

    fn is_head(&self, id: u64) -> bool {
        self.order.lock().queue.front() == Some(&id)
    }

    /// Blocks the thread until admitted, first come first served, sleeping
    /// through `sleep` for each retry-after.
    fn acquire(
        &self,
        mut try_acquire: impl FnMut() -> Result<(), Error>,
        sleep: impl Fn(std::time::Duration),
    ) -> Result<(), Error> {
        if self.is_empty() {
            match try_acquire() {
                Err(Error::RateLimited { .. }) => {}
                other => return other,
            }
        }
        let ticket = self.join();
        loop {
            self.turn.wait_until(|| self.is_head(ticket.id), None);
            match try_acquire() {
                Err(Error::RateLimited { retry_after }) => sleep(retry_after),
                other => return other,
            }
        }
    }

    /// The task form of [`acquire`](Self::acquire): waits for its turn on
    /// the wait queue and sleeps on `sleeper`.
    #[cfg(feature = "async")]
    async fn until_ready<S: crate::sleep::Sleeper>(
        &self,
        mut try_acquire: impl FnMut() -> Result<(), Error>,
        sleeper: &S,
    ) -> Result<(), Error> {
        if self.is_empty() {
            match try_acquire() {
                Err(Error::RateLimited { .. }) => {}
                other => return other,
            }
        }
        let ticket = self.join();
        loop {
            crate::sync::waiting::Waiting::new(Turn {
                fifo: self,
                id: ticket.id,
            })
            .await;
            match try_acquire() {
                Err(Error::RateLimited { retry_after }) => sleeper.sleep(retry_after).await,
                other => return other,
            }
        }
    }

    /// Callers in line now.
    pub fn waiting(&self) -> usize {
        // SeqCst: see `is_empty`.
        self.queued.load(Ordering::SeqCst)
    }
}

/// The blocking wait of every limiter: retries `try_acquire`, sleeping
/// through `sleep` for each denial's retry-after, until it is admitted or
/// fails for another reason; in `line`, first come first served.
pub(crate) fn acquire(
    line: Option<&WaitLine>,
    mut try_acquire: impl FnMut() -> Result<(), Error>,
    sleep: impl Fn(std::time::Duration),
) -> Result<(), Error> {
    if let Some(line) = line {
        return line.acquire(try_acquire, sleep);
    }
    loop {
        match try_acquire() {
            Err(Error::RateLimited { retry_after }) => sleep(retry_after),
            other => return other,
        }
    }
}

/// The async form of [`acquire`]: nothing is taken until `try_acquire`
/// admits, so it is cancel safe at every await.
#[cfg(feature = "async")]
pub(crate) async fn until_ready<S: crate::sleep::Sleeper>(
    line: Option<&WaitLine>,
    mut try_acquire: impl FnMut() -> Result<(), Error>,
    sleeper: &S,
) -> Result<(), Error> {
    if let Some(line) = line {
        return line.until_ready(try_acquire, sleeper).await;
    }
    loop {
        match try_acquire() {
            Err(Error::RateLimited { retry_after }) => sleeper.sleep(retry_after).await,
            other => return other,
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let was_head = {
            let mut o = self.fifo.order.lock();
            let pos = o.queue.iter().position(|&t| t == self.id);
            if let Some(p) = pos {
                o.queue.remove(p);
            }
            // SeqCst: see `is_empty`.
            self.fifo.queued.fetch_sub(1, Ordering::SeqCst);
            pos == Some(0)
        };
        if was_head {
            self.fifo.turn.notify();
        }
    }
}

/// What a task in the line waits for: `id` heads the line (the kernel's
/// one future waits for it and removes its waker when dropped).
#[cfg(feature = "async")]
struct Turn<'a> {
    fifo: &'a WaitLine,
    id: u64,
}

#[cfg(feature = "async")]
impl crate::sync::waiting::WaitOn for Turn<'_> {
    fn queue(&self) -> &crate::sync::wait::WaitQueue {
        &self.fifo.turn
    }
}

#[cfg(feature = "async")]
impl crate::sync::waiting::WaitFor for Turn<'_> {
    type Output = ();

    fn take(&mut self) -> Option<()> {
        self.ready().then_some(())
    }

    fn ready(&self) -> bool {
        self.fifo.is_head(self.id)
    }
}

impl std::fmt::Debug for WaitLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitLine")
            .field("waiting", &self.waiting())
            .finish()
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use crate::clock::{Clock, ManualClock};
    use crate::ratelimit::TokenBucket;
    use crate::sleep::ClockSleeper;
    use crate::sync::{thread, Arc};

    /// A thread in `acquire` and a task in `until_ready` share one line on
    /// a bucket of one token: both are admitted (the head hands the turn
    /// on; a lost hand-over deadlocks), and the clock shows exactly one
    /// refill interval slept.
    #[test]
    fn loom_thread_and_task_share_the_line() {
        loom::model(|| {
            let clock = ManualClock::new();
            let bucket = Arc::new(
                TokenBucket::builder()
                    .rate(1.0)
                    .burst(1)
                    .clock(clock.clone())
                    .build()
                    .unwrap(),
            );
            let t = {
                let bucket = bucket.clone();
                thread::spawn(move || bucket.acquire(1))
            };
            let sleeper = ClockSleeper::new(clock.clone());
            let r = loom::future::block_on(bucket.until_ready(1, &sleeper));
            assert_eq!((r, t.join().unwrap()), (Ok(()), Ok(())));
            assert_eq!(clock.now_nanos(), 1_000_000_000);
        });
    }
}
