//! [`RateLimitLayer`]: any [`AsyncLimiter`] in front of an HTTP service,
//! with the rate-limit headers, a 429 on denial and a shadow mode.
use crate::counter::StripedCounters;
use crate::ratelimit::{AsyncLimiter, HeaderOptions, RateLimitInfo, RateLimitPolicy};
use http::{Request, Response, StatusCode};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

const ADMITTED: usize = 0;
const DENIED: usize = 1;
const SHADOW_DENIED: usize = 2;
const ERRORS: usize = 3;
const UNKEYED: usize = 4;

/// What a [`RateLimitLayer`] decided, summed over every service it built.
/// Exact once requests are quiet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[non_exhaustive]
pub struct RateLimitStats {
    /// Requests the limiter admitted (passed to the inner service).
    pub admitted: u64,
    /// Requests denied with a 429.
    pub denied: u64,
    /// In shadow mode, requests the limiter would have denied (they were
    /// passed on).
    pub shadow_denied: u64,
    /// Requests the limiter could not judge (a cost above its limit, a
    /// store's failure): answered 503, or passed on with
    /// [`fail_open`](RateLimitLayer::fail_open).
    pub errors: u64,
    /// Requests the key extractor gave no key: passed on unlimited.
    pub unkeyed: u64,
}

struct Shared {
    headers: Option<HeaderOptions>,
    shadow: bool,
    fail_open: bool,
    cost: u64,
    counts: StripedCounters<5>,
}

/// Rate limits an HTTP service per key with any limiter of the crate.
///
/// For each request, `key` extracts the key (an API key header, the peer
/// address, a path segment, a route and client pair; `None` passes the
/// request unlimited), and the limiter's
/// [`throttle_async`](AsyncLimiter::throttle_async) decides. Admitted
/// requests go to the inner service and their responses carry the
/// rate-limit headers; denied ones get a `429 Too Many Requests` with the
/// headers and `Retry-After` (seconds, rounded up, never 0), and never
/// reach the inner service. Which headers are written is an option
/// ([`headers`](Self::headers); by default the IETF draft's `RateLimit` and
/// `RateLimit-Policy` and the `RateLimit-Limit`/`-Remaining`/`-Reset`
/// trio).
///
/// - **Any limiter**: a global [`TokenBucket`](crate::ratelimit::TokenBucket)
///   or window (the key is ignored), a per-client
///   [`KeyedLimiter`](crate::ratelimit::KeyedLimiter), or a Redis limiter
///   shared by every replica (feature `redis`): the layer is written once
///   over [`AsyncLimiter`].
/// - **Per-route quotas**: one layer per route (axum's `route_layer`) with
///   its own limiter, or one keyed limiter whose key includes the route.
/// - **Shadow mode** ([`shadow`](Self::shadow), Envoy's): decide and count,
///   but pass every request on and write no header: to size a quota on
///   real traffic before enforcing it.
/// - **Errors**: a request the limiter cannot judge is answered `503` (or
///   passed on with [`fail_open`](Self::fail_open)) and counted.
///
/// ```
/// use http::{Request, Response, StatusCode};
/// use latchwork::clock::ManualClock;
/// use latchwork::ratelimit::KeyedLimiter;
/// use latchwork::tower::RateLimitLayer;
/// use std::sync::Arc;
/// use tower::{service_fn, Layer, ServiceExt};
///
/// let limiter = Arc::new(
///     KeyedLimiter::<String, _, _>::builder().rate(1.0).limit(2).clock(ManualClock::new()).build()?,
/// );
/// let api_key = |req: &Request<String>| {
///     req.headers().get("x-api-key")?.to_str().ok().map(str::to_owned)
/// };
/// let layer = RateLimitLayer::new(limiter, api_key);
/// let hello = service_fn(|_req: Request<String>| async {
///     Ok::<_, std::convert::Infallible>(Response::new(String::from("hello")))
/// });
/// let svc = layer.layer(hello);
/// let call = || {
///     let req = Request::builder().header("x-api-key", "alice").body(String::new()).unwrap();
///     futures::executor::block_on(svc.clone().oneshot(req)).unwrap()
/// };
/// let ok = call();
/// assert_eq!(ok.status(), StatusCode::OK);
/// assert_eq!(ok.headers()["ratelimit"], r#""default";r=1;t=1"#);
/// call();
/// let denied = call();
/// assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
/// assert_eq!(denied.headers()["retry-after"], "1");
/// assert_eq!(layer.stats().denied, 1);
/// # Ok::<(), latchwork::ratelimit::Error>(())
/// ```
pub struct RateLimitLayer<L, F> {
    limiter: Arc<L>,
    key: F,
    shared: Arc<Shared>,
}

impl<L, F> RateLimitLayer<L, F> {
    /// A layer admitting through `limiter`, keyed by `key`, writing the
    /// default headers, enforcing, answering 503 when the limiter fails,
    /// one unit of cost per request.
    pub fn new(limiter: Arc<L>, key: F) -> Self {
        RateLimitLayer {
            limiter,
            key,
            shared: Arc::new(Shared {
                headers: Some(HeaderOptions::default()),
                shadow: false,
                fail_open: false,
                cost: 1,
                counts: StripedCounters::new(),
            }),
        }
    }

    fn with(mut self, f: impl FnOnce(&mut Shared)) -> Self {
        // Options are set while building, before any service shares them;
        // a layer already cloned keeps its own copy of the counters.
        let s = &*self.shared;
        let mut fresh = Shared {
            headers: s.headers.clone(),
            shadow: s.shadow,
            fail_open: s.fail_open,
            cost: s.cost,
            counts: StripedCounters::new(),
        };
        f(&mut fresh);
        self.shared = Arc::new(fresh);
        self
    }

    /// Which headers to write (`None`: none).
    pub fn headers(self, headers: Option<HeaderOptions>) -> Self {
        self.with(|s| s.headers = headers)
    }

    /// Shadow mode: count what would be denied, deny nothing, write no
    /// header.
    pub fn shadow(self, shadow: bool) -> Self {
        self.with(|s| s.shadow = shadow)
    }

    /// Pass requests on when the limiter cannot judge them (its store is
    /// down), instead of answering 503.
    pub fn fail_open(self, fail_open: bool) -> Self {
        self.with(|s| s.fail_open = fail_open)
    }

    /// The cost of each request (default 1).
    pub fn cost(self, cost: u64) -> Self {
        self.with(|s| s.cost = cost)
    }

    /// The limiter.
    pub fn limiter(&self) -> &Arc<L> {
        &self.limiter
    }

    /// What the layer's services decided so far.
    pub fn stats(&self) -> RateLimitStats {
        self.shared.stats()
    }
}

impl Shared {
    fn stats(&self) -> RateLimitStats {
        let c = &self.counts;
        RateLimitStats {
            admitted: c.sum(ADMITTED),
            denied: c.sum(DENIED),
            shadow_denied: c.sum(SHADOW_DENIED),
            errors: c.sum(ERRORS),
            unkeyed: c.sum(UNKEYED),
        }
    }
}

impl<L, F: Clone> Clone for RateLimitLayer<L, F> {
    fn clone(&self) -> Self {
        RateLimitLayer {
            limiter: self.limiter.clone(),
            key: self.key.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<L, F> fmt::Debug for RateLimitLayer<L, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("shadow", &self.shared.shadow)
            .field("fail_open", &self.shared.fail_open)
            .field("cost", &self.shared.cost)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "metrics")]
impl<L: Send + Sync, F: Send + Sync> crate::metrics::Report for RateLimitLayer<L, F> {
    fn report(&self, name: &str) {
        let s = self.stats();
        let m = "latchwork_ratelimit_requests_total";
        crate::metrics::counter(m, name, &[("decision", "admitted")], s.admitted);
        crate::metrics::counter(m, name, &[("decision", "denied")], s.denied);
        crate::metrics::counter(m, name, &[("decision", "shadow_denied")], s.shadow_denied);
        crate::metrics::counter(m, name, &[("decision", "error")], s.errors);
        crate::metrics::counter(m, name, &[("decision", "unkeyed")], s.unkeyed);
    }
}

impl<S, L, F: Clone> Layer<S> for RateLimitLayer<L, F> {
    type Service = RateLimitService<S, L, F>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            limiter: self.limiter.clone(),
            key: self.key.clone(),
            shared: self.shared.clone(),
        }
    }
}

/// The service [`RateLimitLayer`] builds.
pub struct RateLimitService<S, L, F> {
    inner: S,
    limiter: Arc<L>,
    key: F,
    shared: Arc<Shared>,
}

impl<S: Clone, L, F: Clone> Clone for RateLimitService<S, L, F> {
    fn clone(&self) -> Self {
        RateLimitService {
            inner: self.inner.clone(),
            limiter: self.limiter.clone(),
            key: self.key.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S, L, F> fmt::Debug for RateLimitService<S, L, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitService")
            .field("stats", &self.shared.stats())
            .finish_non_exhaustive()
    }
}

impl<S, L, F, K, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimitService<S, L, F>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    L: AsyncLimiter<K> + Send + Sync + 'static,
    F: Fn(&Request<ReqBody>) -> Option<K>,
    K: Send + Sync + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let shared = self.shared.clone();
        let Some(key) = (self.key)(&req) else {
            shared.counts.incr(UNKEYED);
            return Box::pin(self.inner.call(req));
        };
        // An in-process limiter answers at once: decide here and call the
        // inner service made ready by `poll_ready`, without cloning it.
        if let Some(answer) = self.limiter.throttle_now(&key, shared.cost) {
            return match judge(&*self.limiter, &shared, answer) {
                Verdict::Answer(response) => Box::pin(std::future::ready(Ok(response))),
                Verdict::Pass(headers) => {
                    let response = self.inner.call(req);
                    Box::pin(async move {
                        let mut response = response.await?;
                        write(&shared, headers, &mut response);
                        Ok(response)
                    })
                }
            };
        }
        // A shared store answers after a round trip: the clone-and-swap
        // idiom keeps the service made ready by `poll_ready` for this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limiter = self.limiter.clone();
        Box::pin(async move {
            let answer = limiter.throttle_async(&key, shared.cost).await;
            match judge(&*limiter, &shared, answer) {
                Verdict::Answer(response) => Ok(response),
                Verdict::Pass(headers) => {
                    let mut response = inner.call(req).await?;
                    write(&shared, headers, &mut response);
                    Ok(response)
                }
            }
        })
    }
}

/// What the layer does with a request, once the limiter has answered.
enum Verdict<B> {
    /// Answer without the inner service (a 429 or a 503).
    Answer(Response<B>),
    /// Pass it on; write these headers on its response.
    Pass(Option<(RateLimitInfo, RateLimitPolicy)>),
}

/// Decides and counts: one place for both paths of `call`.
fn judge<K: ?Sized, L: AsyncLimiter<K>, B: Default>(
    limiter: &L,
    shared: &Shared,
    answer: Result<RateLimitInfo, crate::ratelimit::Error>,
) -> Verdict<B> {
    let counts = &shared.counts;
    let info = match answer {
        Ok(info) => info,
        Err(_) => {
            counts.incr(ERRORS);
            return if shared.fail_open || shared.shadow {
                Verdict::Pass(None)
            } else {
                Verdict::Answer(status(StatusCode::SERVICE_UNAVAILABLE))
            };
        }
    };
    if shared.shadow {
        counts.incr(if info.allowed {
            ADMITTED
        } else {
            SHADOW_DENIED
        });
        return Verdict::Pass(None);
    }
    let headers = shared.headers.as_ref().map(|_| (info, limiter.policy()));
    if info.allowed {
        counts.incr(ADMITTED);
        return Verdict::Pass(headers);
    }
    counts.incr(DENIED);
    let mut response = status(StatusCode::TOO_MANY_REQUESTS);
    write(shared, headers, &mut response);
    Verdict::Answer(response)
}

fn status<B: Default>(code: StatusCode) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = code;
    response
}

fn write<B>(
    shared: &Shared,
    headers: Option<(RateLimitInfo, RateLimitPolicy)>,
    response: &mut Response<B>,
) {
    if let (Some(options), Some((info, policy))) = (&shared.headers, headers) {
        info.write_headers(&policy, options, response.headers_mut());
    }
}
