//! The rate-limit layer: exact limits on a manual clock, the headers it
//! writes, key extraction, shadow mode, failures, per-route quotas, and the
//! same layer over every limiter type.
#![cfg(all(not(loom), feature = "tower"))]

use futures::executor::block_on;
use http::{Request, Response, StatusCode};
use latchwork::clock::{Clock, ManualClock};
use latchwork::ratelimit::{
    HeaderOptions, HeaderStyle, KeyedLimiter, SlidingWindowLog, TokenBucket,
};
use latchwork::tower::{RateLimitLayer, RateLimitStats};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower::{service_fn, Layer, Service, ServiceExt};

type Req = Request<String>;

fn api_key(req: &Req) -> Option<String> {
    req.headers()
        .get("x-api-key")?
        .to_str()
        .ok()
        .map(str::to_owned)
}

fn request(key: Option<&str>) -> Req {
    let mut b = Request::builder().uri("/items/1");
    if let Some(k) = key {
        b = b.header("x-api-key", k);
    }
    b.body(String::new()).unwrap()
}

/// An inner service counting the requests that reach it.
fn counted(
    reached: &Arc<AtomicU64>,
) -> impl Service<
    Req,
    Response = Response<String>,
    Error = Infallible,
    Future = std::future::Ready<Result<Response<String>, Infallible>>,
> + Clone {
    let reached = reached.clone();
    service_fn(move |_req: Req| {
        reached.fetch_add(1, Ordering::Relaxed);
        std::future::ready(Ok(Response::new("ok".to_owned())))
    })
}

fn keyed(
    clock: &ManualClock,
    rate: f64,
    limit: u64,
) -> Arc<KeyedLimiter<String, latchwork::DefaultHashBuilder, ManualClock>> {
    Arc::new(
        KeyedLimiter::builder()
            .rate(rate)
            .limit(limit)
            .clock(clock.clone())
            .build()
            .unwrap(),
    )
}

fn call<S>(svc: &S, key: Option<&str>) -> Response<String>
where
    S: Service<Req, Response = Response<String>, Error = Infallible> + Clone,
{
    block_on(svc.clone().oneshot(request(key))).unwrap()
}

#[test]
fn admits_exactly_burst_plus_rate_times_t_per_key() {
    let clock = ManualClock::new();
    let reached = Arc::new(AtomicU64::new(0));
    let layer = RateLimitLayer::new(keyed(&clock, 10.0, 5), api_key);
    let svc = layer.layer(counted(&reached));
    // 10 s in steps of 10 ms, 4 requests per step per key: far above the rate.
    let mut admitted = [0u64; 2];
    for _ in 0..1_000 {
        for (i, key) in ["alice", "bob"].iter().enumerate() {
            for _ in 0..4 {
                if call(&svc, Some(key)).status() == StatusCode::OK {
                    admitted[i] += 1;
                }
            }
        }
        clock.advance(Duration::from_millis(10));
    }
    // The last step's refill lands after the last request: 5 + 10 x 9.99.
    assert_eq!(admitted, [5 + 99, 5 + 99]);
    assert_eq!(reached.load(Ordering::Relaxed), 208);
    let stats = layer.stats();
    assert_eq!((stats.admitted, stats.denied), (208, 8_000 - 208));
}

#[test]
fn headers_on_admission_and_on_denial() {
    let clock = ManualClock::new();
    let svc = RateLimitLayer::new(keyed(&clock, 0.5, 3), api_key).layer(counted(&Arc::default()));
    let ok = call(&svc, Some("k"));
    assert_eq!(ok.status(), StatusCode::OK);
    let h = ok.headers();
    assert_eq!(h["ratelimit"], r#""default";r=2;t=2"#);
    assert_eq!(h["ratelimit-policy"], r#""default";q=3;w=6"#);
    assert_eq!(h["ratelimit-limit"], "3");
    assert_eq!(h["ratelimit-remaining"], "2");
    assert_eq!(h["ratelimit-reset"], "2");
    assert!(h.get("retry-after").is_none());
    call(&svc, Some("k"));
    call(&svc, Some("k"));
    clock.advance(Duration::from_millis(500));
    let denied = call(&svc, Some("k"));
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(denied.body(), "", "a 429 never reaches the inner service");
    // The next token comes 1.5 s later: rounded up, never 0.
    assert_eq!(denied.headers()["retry-after"], "2");
    assert_eq!(denied.headers()["ratelimit-remaining"], "0");

    // Options: one style, a named policy, or none at all.
    let options = HeaderOptions::new(HeaderStyle::Ietf)
        .policy_name("per-key")
        .unwrap();
    let svc = RateLimitLayer::new(keyed(&clock, 1.0, 1), api_key)
        .headers(Some(options))
        .layer(counted(&Arc::default()));
    let h = call(&svc, Some("k")).headers().clone();
    assert_eq!(h["ratelimit"], r#""per-key";r=0;t=1"#);
    assert!(h.get("ratelimit-limit").is_none());
    let svc = RateLimitLayer::new(keyed(&clock, 1.0, 1), api_key)
        .headers(None)
        .layer(counted(&Arc::default()));
    assert!(call(&svc, Some("k")).headers().is_empty());
}

#[test]
fn keys_are_limited_apart_and_unkeyed_requests_pass() {
    let clock = ManualClock::new();
    let reached = Arc::new(AtomicU64::new(0));
    let layer = RateLimitLayer::new(keyed(&clock, 1.0, 1), api_key);
    let svc = layer.layer(counted(&reached));
    assert_eq!(call(&svc, Some("a")).status(), StatusCode::OK);
    assert_eq!(
        call(&svc, Some("a")).status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(call(&svc, Some("b")).status(), StatusCode::OK);
    for _ in 0..10 {
        assert_eq!(call(&svc, None).status(), StatusCode::OK);
    }
    let s: RateLimitStats = layer.stats();
    assert_eq!(
        (s.admitted, s.denied, s.unkeyed, s.errors, s.shadow_denied),
        (2, 1, 10, 0, 0)
    );
}

#[test]
fn shadow_mode_counts_but_denies_nothing_and_writes_no_header() {
    let clock = ManualClock::new();
    let reached = Arc::new(AtomicU64::new(0));
    let layer = RateLimitLayer::new(keyed(&clock, 1.0, 2), api_key).shadow(true);
    let svc = layer.layer(counted(&reached));
    for _ in 0..10 {
        let r = call(&svc, Some("k"));
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().is_empty());
    }
    assert_eq!(reached.load(Ordering::Relaxed), 10);
    let s = layer.stats();
    assert_eq!((s.admitted, s.shadow_denied, s.denied), (2, 8, 0));
}

#[test]
fn a_request_the_limiter_cannot_judge_is_a_503_or_passes_when_failing_open() {
    let clock = ManualClock::new();
    let reached = Arc::new(AtomicU64::new(0));
    // A cost above the limit can never pass: an error, not a denial.
    let layer = RateLimitLayer::new(keyed(&clock, 1.0, 2), api_key).cost(3);
    let svc = layer.layer(counted(&reached));
    assert_eq!(
        call(&svc, Some("k")).status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(reached.load(Ordering::Relaxed), 0);
    let layer = layer.fail_open(true);
    let svc = layer.layer(counted(&reached));
    assert_eq!(call(&svc, Some("k")).status(), StatusCode::OK);
    assert_eq!(reached.load(Ordering::Relaxed), 1);
    assert_eq!(layer.stats().errors, 1);
}

#[test]
fn per_route_quotas_with_one_layer_per_route() {
    let clock = ManualClock::new();
    let search =
        RateLimitLayer::new(keyed(&clock, 1.0, 1), api_key).layer(counted(&Arc::default()));
    let items = RateLimitLayer::new(keyed(&clock, 1.0, 3), api_key).layer(counted(&Arc::default()));
    let ok = |svc: &_| {
        (0..5)
            .filter(|_| call(svc, Some("k")).status() == StatusCode::OK)
            .count()
    };
    assert_eq!(ok(&search), 1);
    assert_eq!(ok(&items), 3);
}

#[test]
fn unkeyed_limiters_take_any_key_global_bucket_and_window() {
    let clock = ManualClock::new();
    let bucket = Arc::new(
        TokenBucket::builder()
            .rate(1.0)
            .limit(3)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let svc = RateLimitLayer::new(bucket, api_key).layer(counted(&Arc::default()));
    let keys = ["a", "b", "c", "d", "e"];
    let ok = keys
        .iter()
        .filter(|k| call(&svc, Some(k)).status() == StatusCode::OK)
        .count();
    assert_eq!(ok, 3, "one global bucket for every key");

    let window = Arc::new(
        SlidingWindowLog::builder()
            .limit(2)
            .window(Duration::from_secs(10))
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let svc = RateLimitLayer::new(window, api_key).layer(counted(&Arc::default()));
    let ok = keys
        .iter()
        .filter(|k| call(&svc, Some(k)).status() == StatusCode::OK)
        .count();
    assert_eq!(ok, 2);
    let denied = call(&svc, Some("z"));
    assert_eq!(denied.headers()["retry-after"], "10");
    clock.advance(Duration::from_secs(10));
    assert_eq!(call(&svc, Some("z")).status(), StatusCode::OK);
}

#[test]
fn many_threads_never_get_more_than_the_burst_with_time_stopped() {
    let clock = ManualClock::new();
    let layer = RateLimitLayer::new(keyed(&clock, 1.0, 100), api_key);
    let svc = layer.layer(counted(&Arc::default()));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..1_000 {
                    call(&svc, Some("shared"));
                }
            });
        }
    });
    assert_eq!(layer.stats().admitted, 100);
    assert_eq!(layer.stats().denied, 3_900);
    assert_eq!(clock.now(), Duration::ZERO);
}

#[cfg(feature = "redis")]
#[test]
fn the_same_layer_over_the_shared_redis_limiter() {
    let Ok(url) = std::env::var("LATCHWORK_REDIS_URL") else {
        eprintln!("SKIPPED: LATCHWORK_REDIS_URL is not set");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let prefix = format!("tower-test-{}", std::process::id());
        let limiter = latchwork::ratelimit::RedisLimiter::builder()
            .url(&url)
            .key_prefix(&prefix)
            .rate(0.001)
            .limit(3)
            .build()
            .await
            .unwrap();
        let svc = RateLimitLayer::new(Arc::new(limiter), api_key).layer(counted(&Arc::default()));
        let mut statuses = vec![];
        for _ in 0..5 {
            statuses.push(
                svc.clone()
                    .oneshot(request(Some("k")))
                    .await
                    .unwrap()
                    .status(),
            );
        }
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, 3, "{statuses:?}");
    });
}
