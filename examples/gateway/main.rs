//! An API gateway on latchwork, the one the load test measures
//! (`scripts/gateway_load`) against `examples/gateway/baseline.rs`:
//!
//! - `GET /k/{key}/item/{id}`: rate limited per API key by one
//!   `.layer(RateLimitLayer::new(..))` (429 with `RateLimit`/`Retry-After`
//!   headers), then the cache with a single-flight async loader and a TTL
//!   in front of a simulated database; each read is published on the
//!   broadcast channel.
//! - `POST /k/{key}/jobs/{priority}`: a job on the async priority pool
//!   (202, or 503 when its queue is full).
//! - `GET /events`: server-sent events from the broadcast channel.
//! - `GET /metrics`: every structure's figures, Prometheus text.
//! - `GET /stats`: the audit of admissions per key (JSON).
//!
//! Settings come from the command line (see `common.rs`), layered under
//! `GATEWAY_*` environment variables (`GATEWAY_RATE=50`); the limiter
//! takes a new quota from the configuration without a restart. With
//! `LATCHWORK_REDIS_URL` set (and feature `redis`), the limit is shared by
//! every replica through Redis.
//!
//! Run with `cargo run --release --example gateway --features
//! tower,http,metrics,tokio -- --port 3000`.
mod common;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use common::{load_item, Args, Audit};
use futures::StreamExt;
use latchwork::cache::Cache;
use latchwork::config::LayeredConfig;
use latchwork::event::broadcast::{self, Policy};
use latchwork::metrics::Registry;
use latchwork::queue::{AsyncTaskQueue, Level, TokioSpawner};
use latchwork::ratelimit::{
    AsyncLimiter, HeaderOptions, HeaderStyle, KeyedLimiter, RateLimitPolicy, Requota,
};
use latchwork::tower::RateLimitLayer;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct App {
    args: Args,
    cache: Arc<Cache<u64, String>>,
    events: broadcast::Sender<String>,
    jobs: Arc<AsyncTaskQueue>,
    done: Arc<AtomicU64>,
    loads: AtomicU64,
    audit: Audit,
    registry: Registry,
    prometheus: PrometheusHandle,
}

/// The API key: the path's second segment (`/k/{key}/...`).
fn api_key(path: &str) -> Option<&str> {
    path.strip_prefix("/k/")?.split('/').next()
}

async fn item(State(app): State<Arc<App>>, Path((key, id)): Path<(String, u64)>) -> Response {
    app.audit.admitted(&key);
    let load = load_item(id, app.args.load_time, &app.loads);
    let value = app.cache.get_or_insert_async(id, load).await;
    let _ = app.events.try_send(format!("{key} read {id}"));
    value.into_response()
}

async fn job(State(app): State<Arc<App>>, Path((key, priority)): Path<(String, u8)>) -> Response {
    app.audit.admitted(&key);
    let Ok(level) = Level::new(priority) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let done = app.done.clone();
    let work = async move {
        done.fetch_add(1, Ordering::Relaxed);
    };
    match app.jobs.try_submit(level, work) {
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn sse(State(app): State<Arc<App>>) -> impl IntoResponse {
    let stream = app.events.subscribe().filter_map(|m| async move {
        m.ok()
            .map(|m| Ok::<_, Infallible>(Event::default().data(m)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn metrics(State(app): State<Arc<App>>) -> String {
    app.registry.report();
    app.prometheus.render()
}

async fn stats(State(app): State<Arc<App>>) -> String {
    let audit = app.audit.report(app.args.rate, app.args.burst);
    format!(
        "{{\"audit\":{audit},\"loads\":{},\"jobs_done\":{},\"entries\":{}}}",
        app.loads.load(Ordering::Relaxed),
        app.done.load(Ordering::Relaxed),
        app.cache.len()
    )
}

async fn audit_seen(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if let Some(key) = api_key(req.uri().path()) {
        app.audit.seen(key);
    }
    next.run(req).await
}

fn key_of(req: &Request) -> Option<String> {
    api_key(req.uri().path()).map(str::to_owned)
}

/// The routes, rate limited by whichever limiter the deployment uses.
fn serve<L>(app: Arc<App>, limiter: Arc<L>) -> Router
where
    L: AsyncLimiter<String> + Send + Sync + 'static,
{
    let headers = match app.args.headers.as_str() {
        "none" => None,
        "ietf" => Some(HeaderOptions::new(HeaderStyle::Ietf)),
        "legacy" => Some(HeaderOptions::new(HeaderStyle::Legacy)),
        _ => Some(HeaderOptions::new(HeaderStyle::Both)),
    };
    let limit =
        RateLimitLayer::new(limiter, key_of as fn(&Request) -> Option<String>).headers(headers);
    app.registry.register_owned("api", limit.clone());
    let limited = Router::new()
        .route("/k/{key}/item/{id}", get(item))
        .route("/k/{key}/jobs/{priority}", post(job))
        .layer(limit);
    Router::new()
        .merge(limited)
        .route("/events", get(sse))
        .route("/metrics", get(metrics))
        .route("/stats", get(stats))
        .layer(middleware::from_fn_with_state(app.clone(), audit_seen))
        .with_state(app)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Args::parse();
    // The command line's values are the defaults; `GATEWAY_RATE` and
    // `GATEWAY_BURST` override them, and a runtime `set` re-quotas.
    let config = LayeredConfig::builder()
        .set_default("rate", cli.rate)
        .set_default("burst", cli.burst)
        .env("GATEWAY")
        .build()?;
    let args = Args {
        rate: config.get_as("rate")?,
        burst: config.get_as("burst")?,
        ..cli
    };

    let cache = Arc::new(
        Cache::builder()
            .max_capacity(args.capacity)
            .time_to_live(args.ttl)
            .build()?,
    );
    let (events, _) = broadcast::channel(1024, Policy::Overwrite)?;
    let jobs = Arc::new(
        AsyncTaskQueue::builder()
            .workers(args.workers)
            .capacity(10_000)
            .build(TokioSpawner)?,
    );
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let app = Arc::new(App {
        args: args.clone(),
        cache: cache.clone(),
        events,
        jobs: jobs.clone(),
        done: Arc::new(AtomicU64::new(0)),
        loads: AtomicU64::new(0),
        audit: Audit::default(),
        registry: Registry::new(),
        prometheus,
    });
    app.registry.register("items", &cache);
    app.registry.register("jobs", &jobs);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    println!("latchwork gateway on http://127.0.0.1:{}", args.port);
    #[cfg(feature = "redis")]
    if let Ok(url) = std::env::var("LATCHWORK_REDIS_URL") {
        let limiter = latchwork::ratelimit::RedisLimiter::builder()
            .url(&url)
            .rate(args.rate)
            .limit(args.burst)
            .build()
            .await?;
        axum::serve(listener, serve(app, Arc::new(limiter))).await?;
        return Ok(());
    }
    let limiter = Arc::new(
        KeyedLimiter::<String>::builder()
            .rate(args.rate)
            .limit(args.burst)
            .max_keys(100_000)
            .build()?,
    );
    let requota = limiter.clone();
    let _reload = config.subscribe(move |change| {
        let (Ok(rate), Ok(limit)) = (
            change.snapshot().get_as::<f64>("rate"),
            change.snapshot().get_as::<u64>("burst"),
        ) else {
            return;
        };
        if let Ok(policy) =
            RateLimitPolicy::new(limit, Duration::from_secs_f64(limit as f64 / rate))
        {
            let _ = requota.set_policy(policy);
        }
    });
    axum::serve(listener, serve(app, limiter)).await?;
    Ok(())
}
