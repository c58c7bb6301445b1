use super::backoff::DelayState;
use super::rng::{RandomSource, SplitMix64};
use super::{Backoff, Error, GiveUp, RetryBudget, RetryError};
use crate::clock::{Clock, MonotonicClamp, SystemClock};
use crate::sleep::Sleeper;
use crate::sync::Mutex;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// An error that can say how long the server asked the caller to wait
/// (an HTTP `Retry-After` header, a gRPC pushback, a throttling response).
///
/// Enable it with [`RetryBuilder::honor_retry_after`]; for error types of
/// other crates, pass a function to [`RetryBuilder::retry_after_with`].
pub trait RetryAfter {
    /// The wait the server asked for, if any.
    fn retry_after(&self) -> Option<Duration>;
}

type Predicate<E> = Box<dyn Fn(&E) -> bool + Send + Sync>;
type Hint<E> = Box<dyn Fn(&E) -> Option<Duration> + Send + Sync>;
type Notify<E> = Box<dyn Fn(&E, u32, Duration) + Send + Sync>;

/// The default number of attempts, the first call included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// A retry policy: which errors to retry, how long to wait between
/// attempts, when to stop, and an optional shared [`RetryBudget`].
///
/// One policy serves many calls, from many threads (`&self`). Time and
/// sleeping go through the policy's [`Clock`], so tests drive it with a
/// [`ManualClock`](crate::clock::ManualClock) and never wait. A reading
/// earlier than the last one a call saw counts as no time passed (see
/// [`clock`](crate::clock#time-that-goes-backwards)): elapsed time never
/// shrinks, so a clock stepping back cannot extend `max_elapsed`.
///
/// Between failed attempt `n` and attempt `n + 1` the policy waits the
/// backoff's `n`th delay, raised to the error's retry-after hint if it has
/// one (a hint capped by `max_retry_after`, by default the backoff's
/// `max_delay`), and shortened so as never to sleep past `max_elapsed`. It stops at
/// a non-retryable error, after `max_attempts`, at the deadline, or when
/// the budget refuses a retry; the [`RetryError`] says which.
///
/// ```
/// use latchwork::clock::{Clock, ManualClock};
/// use latchwork::retry::{Backoff, GiveUp, Retry};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let policy = Retry::builder()
///     .backoff(Backoff::exponential(Duration::from_secs(1)).factor(2.0).build()?)
///     .max_attempts(4)
///     .when(|e: &&str| *e != "forbidden")
///     .clock(clock.clone())
///     .build()?;
///
/// let mut calls = vec![];
/// let err = policy
///     .call(|| {
///         calls.push(clock.now().as_secs());
///         Err::<(), _>("unavailable")
///     })
///     .unwrap_err();
/// assert_eq!(calls, [0, 1, 3, 7]); // waits of 1 s, 2 s, 4 s
/// assert_eq!((err.attempts(), err.elapsed()), (4, Duration::from_secs(7)));
/// assert_eq!(err.reason(), GiveUp::AttemptsExhausted);
///
/// // A non-retryable error returns at once.
/// let err = policy.call(|| Err::<(), _>("forbidden")).unwrap_err();
/// assert_eq!((err.attempts(), err.reason()), (1, GiveUp::NotRetryable));
/// # Ok::<(), latchwork::retry::Error>(())
/// ```
pub struct Retry<E, C = SystemClock> {
    backoff: Backoff,
    max_attempts: u32,
    max_elapsed: Option<Duration>,
    when: Option<Predicate<E>>,
    is_timeout: Option<Predicate<E>>,
    retry_after: Option<Hint<E>>,
    /// The longest retry-after hint honoured; `None`: the backoff's
    /// `max_delay`.
    max_retry_after: Option<Duration>,
    notify: Option<Notify<E>>,
    budget: Option<Arc<RetryBudget>>,
    clock: C,
    /// Shared by concurrent calls; held only for the draws of one delay.
    rng: Mutex<Box<dyn RandomSource + Send>>,
    _error: PhantomData<fn(&E)>,
}

impl<E> Retry<E, SystemClock> {
    /// A builder with the defaults: [`Backoff::default`] (exponential from
    /// 100 ms, factor 2, cap 20 s, full jitter), 3 attempts, no deadline,
    /// every error retryable, no budget, the system clock and an
    /// entropy-seeded [`SplitMix64`].
    pub fn builder() -> RetryBuilder<E, SystemClock> {
        RetryBuilder {
            backoff: Backoff::default(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_elapsed: None,
            when: None,
            is_timeout: None,
            retry_after: None,
            max_retry_after: None,
            notify: None,
            budget: None,
            clock: SystemClock,
            rng: None,
            _error: PhantomData,
        }
    }
}

impl<E, C: Clock> Retry<E, C> {
    /// Runs `op` until it succeeds or the policy gives up, sleeping on the
    /// policy's clock between attempts.
    ///
    /// # Errors
    /// A [`RetryError`] with the last error, the attempts made, the time
    /// taken and the [`GiveUp`] reason.
    pub fn call<T, F>(&self, mut op: F) -> Result<T, RetryError<E>>
    where
        F: FnMut() -> Result<T, E>,
    {
        let mut run = Run::new(self);
        loop {
            match op() {
                Ok(v) => return Ok(run.succeeded(v)),
                Err(e) => {
                    let delay = run.failed(e)?;
                    self.clock.sleep(delay);
                }
            }
        }
    }

    /// The async form of [`call`](Retry::call), tied to no runtime: `op`
    /// makes each attempt's future and `sleep`, the crate's one
    /// [`Sleeper`] abstraction, makes the future that waits between
    /// attempts (`sleep::TokioSleeper` with feature `tokio`, a closure
    /// over `async_io::Timer::after`, a simulated timer...). Elapsed time and the deadline are read from the
    /// policy's clock, which should be the clock `sleep` waits on.
    ///
    /// ```
    /// use latchwork::clock::ManualClock;
    /// use latchwork::retry::Retry;
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    ///
    /// let clock = ManualClock::new();
    /// let policy = Retry::builder().max_attempts(5).clock(clock.clone()).build()?;
    /// let mut left = 2;
    /// let answer = block_on(policy.call_async(
    ///     || {
    ///         left -= 1;
    ///         let r = if left < 0 { Ok(42) } else { Err("busy") };
    ///         async move { r }
    ///     },
    ///     |delay| {
    ///         clock.advance(delay); // tokio: tokio::time::sleep(delay)
    ///         std::future::ready(())
    ///     },
    /// ));
    /// assert_eq!(answer, Ok(42));
    /// # Ok::<(), latchwork::retry::Error>(())
    /// ```
    ///
    /// # Errors
    /// As for [`call`](Retry::call).
    ///
    /// # Cancel safety
    /// Dropping the future drops the attempt or the sleep in progress and
    /// nothing else: the policy holds no state per call. A retry budget is
    /// charged when a retry is decided, before its sleep, so a call
    /// cancelled during that sleep keeps the budget it spent.
    pub async fn call_async<T, F, Fut, S>(&self, mut op: F, sleep: S) -> Result<T, RetryError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        S: Sleeper,
    {
        let mut run = Run::new(self);
        loop {
            match op().await {
                Ok(v) => return Ok(run.succeeded(v)),
                Err(e) => {
                    let delay = run.failed(e)?;
                    sleep.sleep(delay).await;
                }
            }
        }
    }

    /// The backoff schedule.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// The most attempts per call, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The total deadline per call, if any.
    pub fn max_elapsed(&self) -> Option<Duration> {
        self.max_elapsed
    }

    /// The shared budget, if any.
    pub fn budget(&self) -> Option<&Arc<RetryBudget>> {
        self.budget.as_ref()
    }

    /// The clock the policy reads and sleeps on.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

/// The state of one `call`: the decisions shared by the blocking and async
/// forms.
pub(crate) struct Run<'p, E, C> {
    policy: &'p Retry<E, C>,
    /// Clock nanoseconds at the first attempt.
    start: u64,
    /// Clamps readings that go backwards: elapsed time never shrinks, so a
    /// clock stepping back cannot extend the deadline.
    clamp: MonotonicClamp,
    attempts: u32,
    delays: DelayState,
}

impl<'p, E, C: Clock> Run<'p, E, C> {
    pub(crate) fn new(policy: &'p Retry<E, C>) -> Self {
        let clamp = MonotonicClamp::new();
        Run {
            policy,
            start: clamp.now(&policy.clock),
            clamp,
            attempts: 1,
            delays: DelayState::new(&policy.backoff),
        }
    }

    pub(crate) fn succeeded<T>(&self, value: T) -> T {
        if let Some(b) = &self.policy.budget {
            b.record_success();
        }
        value
    }

    /// Decides after failed attempt `self.attempts`: the delay before the
    /// next attempt, or the final error.
    pub(crate) fn failed(&mut self, err: E) -> Result<Duration, RetryError<E>> {
        let p = self.policy;
        let elapsed = Duration::from_nanos(self.clamp.now(&p.clock).saturating_sub(self.start));
        let attempts = self.attempts;
        let give_up = |last, reason| RetryError {
            last,
            attempts,
            elapsed,
            reason,
        };
        if p.when.as_ref().is_some_and(|when| !when(&err)) {
            return Err(give_up(err, GiveUp::NotRetryable));
        }
        if self.attempts >= p.max_attempts {
            return Err(give_up(err, GiveUp::AttemptsExhausted));
        }
        let mut delay = {
            let mut rng = p.rng.lock();
            self.delays.next(&p.backoff, &mut **rng)
        };
        // The server's hint is a floor ("not before"), but a hostile or
        // broken server must not park the caller for days: the hint is
        // capped by `max_retry_after` (default: the backoff's cap).
        if let Some(hint) = p.retry_after.as_ref().and_then(|h| h(&err)) {
            let cap = p.max_retry_after.unwrap_or_else(|| p.backoff.max_delay());
            delay = delay.max(hint.min(cap));
        }
        if let Some(limit) = p.max_elapsed {
            let left = limit.saturating_sub(elapsed);
            if left.is_zero() {
                return Err(give_up(err, GiveUp::DeadlineExceeded));
            }
            // Never sleep past the deadline: the last attempt runs at it.
            delay = delay.min(left);
        }
        if let Some(budget) = &p.budget {
            let timeout = p.is_timeout.as_ref().is_some_and(|t| t(&err));
            let paid = if timeout {
                budget.try_spend_timeout()
            } else {
                budget.try_spend_retry()
            };
            if !paid {
                return Err(give_up(err, GiveUp::BudgetExhausted));
            }
        }
        if let Some(notify) = &p.notify {
            notify(&err, self.attempts, delay);
        }
        self.attempts += 1;
        Ok(delay)
    }
}

impl<E, C: fmt::Debug> fmt::Debug for Retry<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("backoff", &self.backoff)
            .field("max_attempts", &self.max_attempts)
            .field("max_elapsed", &self.max_elapsed)
            .field("when", &self.when.as_ref().map(|_| "fn"))
            .field("retry_after", &self.retry_after.as_ref().map(|_| "fn"))
            .field("max_retry_after", &self.max_retry_after)
            .field("budget", &self.budget)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Retry`] policy; see [`Retry::builder`].
pub struct RetryBuilder<E, C = SystemClock> {
    backoff: Backoff,
    max_attempts: u32,
    max_elapsed: Option<Duration>,
    when: Option<Predicate<E>>,
    is_timeout: Option<Predicate<E>>,
    retry_after: Option<Hint<E>>,
    max_retry_after: Option<Duration>,
    notify: Option<Notify<E>>,
    budget: Option<Arc<RetryBudget>>,
    clock: C,
    rng: Option<Box<dyn RandomSource + Send>>,
    _error: PhantomData<fn(&E)>,
}

impl<E, C: Clock> RetryBuilder<E, C> {
    /// The delay schedule (default [`Backoff::default`]).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The most attempts per call, the first included (default 3); 0 is
    /// rejected by [`build`](RetryBuilder::build).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// A total deadline per call, measured from the first attempt: the
    /// policy never sleeps past it, and gives up once it is reached.
    pub fn max_elapsed(mut self, limit: Duration) -> Self {
        self.max_elapsed = Some(limit);
        self
    }

    /// Which errors are worth retrying (default: all). A `false` ends the
    /// call at once with [`GiveUp::NotRetryable`].
    pub fn when(mut self, retryable: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.when = Some(Box::new(retryable));
        self
    }

    /// Which errors are timeouts: their retries cost the budget's
    /// `timeout_cost` instead of `retry_cost` (default: none).
    pub fn timeout_when(mut self, is_timeout: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.is_timeout = Some(Box::new(is_timeout));
        self
    }

    /// Called before each sleep with the error, the number of the attempt
    /// that failed (1-based) and the delay about to be slept: for logs and
    /// metrics.
    pub fn notify(mut self, hook: impl Fn(&E, u32, Duration) + Send + Sync + 'static) -> Self {
        self.notify = Some(Box::new(hook));
        self
    }

    /// Reads a retry-after hint from each error with `hint`; a hint raises
    /// the delay to at least that much, capped by
    /// [`max_retry_after`](RetryBuilder::max_retry_after) and clamped to
    /// the deadline.
    pub fn retry_after_with(
        mut self,
        hint: impl Fn(&E) -> Option<Duration> + Send + Sync + 'static,
    ) -> Self {
        self.retry_after = Some(Box::new(hint));
        self
    }

    /// The longest retry-after hint honoured (default: the backoff's
    /// [`max_delay`](Backoff::max_delay)): a longer hint, say days from a
    /// hostile server, waits this long instead.
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = Some(cap);
        self
    }

    /// Shares `budget` with every other policy holding it: each retry
    /// withdraws tokens, each success refunds some, and an empty budget
    /// ends the call with [`GiveUp::BudgetExhausted`].
    pub fn budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Seeds the jitter with a [`SplitMix64`]: the same seed and the same
    /// sequence of calls give the same delays.
    pub fn seed(mut self, seed: u64) -> Self {
        self.rng = Some(Box::new(SplitMix64::new(seed)));
        self
    }

    /// Draws jitter from `rng` instead of an entropy-seeded [`SplitMix64`].
    pub fn random_source(mut self, rng: impl RandomSource + Send + 'static) -> Self {
        self.rng = Some(Box::new(rng));
        self
    }

    /// The clock to read and sleep on (default [`SystemClock`]).
    pub fn clock<C2: Clock>(self, clock: C2) -> RetryBuilder<E, C2> {
        RetryBuilder {
            backoff: self.backoff,
            max_attempts: self.max_attempts,
            max_elapsed: self.max_elapsed,
            when: self.when,
            is_timeout: self.is_timeout,
            retry_after: self.retry_after,
            max_retry_after: self.max_retry_after,
            notify: self.notify,
            budget: self.budget,
            clock,
            rng: self.rng,
            _error: PhantomData,
        }
    }

    /// Validates the parameters.
    ///
    /// # Errors
    /// [`Error::ZeroMaxAttempts`] for `max_attempts(0)`. (Schedules and
    /// budgets are validated by their own builders.)
    pub fn build(self) -> Result<Retry<E, C>, Error> {
        if self.max_attempts == 0 {
            return Err(Error::ZeroMaxAttempts);
        }
        let rng = self
            .rng
            .unwrap_or_else(|| Box::new(SplitMix64::from_entropy()));
        Ok(Retry {
            backoff: self.backoff,
            max_attempts: self.max_attempts,
            max_elapsed: self.max_elapsed,
            when: self.when,
            is_timeout: self.is_timeout,
            retry_after: self.retry_after,
            max_retry_after: self.max_retry_after,
            notify: self.notify,
            budget: self.budget,
            clock: self.clock,
            rng: Mutex::new(rng),
            _error: PhantomData,
        })
    }
}

impl<E: RetryAfter + 'static, C: Clock> RetryBuilder<E, C> {
    /// Honours the error's own [`RetryAfter`] hint; see
    /// [`retry_after_with`](RetryBuilder::retry_after_with).
    pub fn honor_retry_after(self) -> Self {
        self.retry_after_with(E::retry_after)
    }
}

impl<E, C: fmt::Debug> fmt::Debug for RetryBuilder<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBuilder")
            .field("backoff", &self.backoff)
            .field("max_attempts", &self.max_attempts)
            .field("max_elapsed", &self.max_elapsed)
            .field("budget", &self.budget)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}
