//! [`RetryLayer`]: the crate's [`Retry`] policy (backoff with jitter,
//! deadline, retry-after hints, a shared [`RetryBudget`]) as a tower
//! middleware.
//!
//! [`RetryBudget`]: crate::retry::RetryBudget
use crate::clock::{Clock, SystemClock};
use crate::retry::{Retry, RetryError, Run};
use crate::sleep::Sleeper;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// Retries a service's failed calls under a [`Retry`] policy.
///
/// Each request is cloned before every attempt (`Req: Clone`), so a body
/// that cannot be replayed must be buffered first. The inner service's
/// errors go through the policy's classifier
/// ([`when`](crate::retry::RetryBuilder::when)), hints
/// ([`retry_after_with`](crate::retry::RetryBuilder::retry_after_with)) and
/// shared budget, exactly as [`Retry::call_async`] would treat them; the
/// sleeps between attempts go through `sleeper` (for example
/// [`TokioSleeper`](crate::sleep::TokioSleeper) with feature `tokio`).
/// When the policy gives up, the call fails with the [`RetryError`]
/// holding the last error, the attempts made and why it stopped.
///
/// To retry on a response rather than an error (a 503, say), map such
/// responses to errors in the inner service (`tower::ServiceExt::and_then`),
/// so that the policy, its budget and its hints see them.
///
/// ```
/// use latchwork::clock::ManualClock;
/// use latchwork::retry::{Backoff, Retry, RetryBudget};
/// use latchwork::tower::RetryLayer;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tower::{service_fn, Layer, ServiceExt};
///
/// let clock = ManualClock::new();
/// let budget = Arc::new(RetryBudget::new());
/// let policy = Retry::builder()
///     .backoff(Backoff::constant(Duration::from_millis(100)).build()?)
///     .max_attempts(3)
///     .budget(budget.clone())
///     .clock(clock.clone())
///     .build()?;
/// // Sleeping on the manual clock: tests never wait.
/// let sleeper = move |d: Duration| { clock.advance(d); std::future::ready(()) };
/// let calls = Arc::new(AtomicU32::new(0));
/// let flaky = service_fn({
///     let calls = calls.clone();
///     move |req: u32| {
///         let n = calls.fetch_add(1, Ordering::Relaxed);
///         async move { if n < 2 { Err("503") } else { Ok(req * 2) } }
///     }
/// });
/// let svc = RetryLayer::new(policy, sleeper).layer(flaky);
/// let answer = futures::executor::block_on(svc.oneshot(21));
/// assert_eq!(answer.map_err(|e| e.into_last_error()), Ok(42));
/// assert_eq!(calls.load(Ordering::Relaxed), 3);
/// assert_eq!(budget.available(), 500 - 2 * 5 + 1);
/// # Ok::<(), latchwork::retry::Error>(())
/// ```
pub struct RetryLayer<E, C = SystemClock, Sl = ()> {
    policy: Arc<Retry<E, C>>,
    sleeper: Sl,
}

impl<E, C, Sl: Clone> RetryLayer<E, C, Sl> {
    /// A layer retrying under `policy`, sleeping through `sleeper`. Wrap
    /// the policy in an `Arc` yourself ([`from_arc`](Self::from_arc)) to
    /// share it, and its budget, with other code.
    pub fn new(policy: Retry<E, C>, sleeper: Sl) -> Self {
        Self::from_arc(Arc::new(policy), sleeper)
    }

    /// A layer over a shared policy.
    pub fn from_arc(policy: Arc<Retry<E, C>>, sleeper: Sl) -> Self {
        RetryLayer { policy, sleeper }
    }
}

impl<E, C, Sl: Clone> Clone for RetryLayer<E, C, Sl> {
    fn clone(&self) -> Self {
        RetryLayer {
            policy: self.policy.clone(),
            sleeper: self.sleeper.clone(),
        }
    }
}

impl<E, C, Sl> fmt::Debug for RetryLayer<E, C, Sl> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer").finish_non_exhaustive()
    }
}

impl<S, E, C, Sl: Clone> Layer<S> for RetryLayer<E, C, Sl> {
    type Service = RetryService<S, E, C, Sl>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService {
            inner,
            policy: self.policy.clone(),
            sleeper: self.sleeper.clone(),
        }
    }
}

/// The service [`RetryLayer`] builds.
pub struct RetryService<S, E, C = SystemClock, Sl = ()> {
    inner: S,
    policy: Arc<Retry<E, C>>,
    sleeper: Sl,
}

impl<S: Clone, E, C, Sl: Clone> Clone for RetryService<S, E, C, Sl> {
    fn clone(&self) -> Self {
        RetryService {
            inner: self.inner.clone(),
            policy: self.policy.clone(),
            sleeper: self.sleeper.clone(),
        }
    }
}

impl<S, E, C, Sl> fmt::Debug for RetryService<S, E, C, Sl> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryService").finish_non_exhaustive()
    }
}

impl<S, Req, E, C, Sl> Service<Req> for RetryService<S, E, C, Sl>
where
    S: Service<Req, Error = E> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send,
    Req: Clone + Send + 'static,
    E: Send + 'static,
    C: Clock + Send + Sync + 'static,
    Sl: Sleeper + Clone + Send + 'static,
    Sl::Sleep: Send,
{
    type Response = S::Response;
    type Error = RetryError<E>;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, RetryError<E>>> + Send>>;

    /// Always ready: readiness of the inner service is awaited before each
    /// attempt, inside the call.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let mut inner = self.inner.clone();
        let policy = self.policy.clone();
        let sleeper = self.sleeper.clone();
        Box::pin(async move {
            let mut run = Run::new(&policy);
            loop {
                // A service that fails to become ready failed this attempt.
                let attempt = match poll_fn(|cx| inner.poll_ready(cx)).await {
                    Ok(()) => inner.call(req.clone()).await,
                    Err(e) => Err(e),
                };
                match attempt {
                    Ok(response) => return Ok(run.succeeded(response)),
                    Err(e) => {
                        let delay = run.failed(e)?;
                        sleeper.sleep(delay).await;
                    }
                }
            }
        })
    }
}
