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
//!
//! The way through the line is one sans-IO state machine (`Attempt`, which
//! answers the next `Step`: done, sleep this long, or wait for your turn);
//! [`acquire`] and [`until_ready`] only carry the steps out, a thread by
//! parking and sleeping, a task by awaiting.
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

    /// Callers in line now.
    pub fn waiting(&self) -> usize {
        // SeqCst: see `is_empty`.
        self.queued.load(Ordering::SeqCst)
    }
}

/// What a waiting caller does next; see [`Attempt`].
enum Step<'a> {
    /// Return this.
    Done(Result<(), Error>),
    /// Sleep the retry-after, then ask again.
    Sleep(std::time::Duration),
    /// Wait until ticket `id` heads `line`, then ask again.
    Turn(&'a WaitLine, u64),
}

/// Where a caller stands: the sans-IO core of [`acquire`] and
/// [`until_ready`], which only carry out its [`Step`]s (a thread parks and
/// sleeps, a task awaits).
enum Place<'a> {
    /// Not tried yet.
    Arriving,
    /// No line: each denial is slept off and retried.
    Free,
    /// In line, waiting for (or at) the head.
    Queued(Ticket<'a>),
    /// In line, at the head, denied: its turn comes straight back.
    Denied(Ticket<'a>),
}

/// A caller's way through the line (module doc), one step at a time. The
/// ticket it holds is a drop guard: dropping the attempt (a cancelled
/// future) leaves the line and hands the turn on.
struct Attempt<'a> {
    line: Option<&'a WaitLine>,
    place: Place<'a>,
}

impl<'a> Attempt<'a> {
    fn new(line: Option<&'a WaitLine>) -> Self {
        Attempt {
            line,
            place: Place::Arriving,
        }
    }

    fn turn(ticket: &Ticket<'a>) -> Step<'a> {
        Step::Turn(ticket.fifo, ticket.id)
    }

    fn step(&mut self, try_acquire: &mut impl FnMut() -> Result<(), Error>) -> Step<'a> {
        match std::mem::replace(&mut self.place, Place::Free) {
            Place::Arriving => match self.line {
                // Somebody waits: queue behind them without trying.
                Some(line) if !line.is_empty() => {
                    let ticket = line.join();
                    let step = Self::turn(&ticket);
                    self.place = Place::Queued(ticket);
                    step
                }
                line => match try_acquire() {
                    Err(Error::RateLimited { retry_after }) => match line {
                        // Denied at the door: join, and try again at once
                        // when it is our turn.
                        Some(line) => {
                            let ticket = line.join();
                            let step = Self::turn(&ticket);
                            self.place = Place::Queued(ticket);
                            step
                        }
                        None => Step::Sleep(retry_after),
                    },
                    other => Step::Done(other),
                },
            },
            Place::Free => match try_acquire() {
                Err(Error::RateLimited { retry_after }) => Step::Sleep(retry_after),
                other => Step::Done(other),
            },
            Place::Queued(ticket) => match try_acquire() {
                Err(Error::RateLimited { retry_after }) => {
                    self.place = Place::Denied(ticket);
                    Step::Sleep(retry_after)
                }
                // Admitted or failed: the ticket drops here and the next
                // head is told.
                other => Step::Done(other),
            },
            Place::Denied(ticket) => {
                let step = Self::turn(&ticket);
                self.place = Place::Queued(ticket);
                step
            }
        }
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
    let mut attempt = Attempt::new(line);
    loop {
        match attempt.step(&mut try_acquire) {
            Step::Done(result) => return result,
            Step::Sleep(wait) => sleep(wait),
            Step::Turn(line, id) => {
                line.turn.wait_until(|| line.is_head(id), None);
            }
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
    let mut attempt = Attempt::new(line);
    loop {
        match attempt.step(&mut try_acquire) {
            Step::Done(result) => return result,
            Step::Sleep(wait) => sleeper.sleep(wait).await,
            Step::Turn(line, id) => {
                crate::sync::waiting::Waiting::new(Turn { fifo: line, id }).await;
            }
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
