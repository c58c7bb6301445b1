//! The load test's baseline: the gateway of `examples/gateway/main.rs`
//! built on the crates services use today (moka's `future::Cache`,
//! tower_governor, tokio's broadcast channel, an mpsc worker pool), with
//! the same routes, settings and audit.
//!
//! Run with `cargo run --release --example gateway_baseline -- --port 3001`;
//! `scripts/gateway_load` drives both.
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
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio_stream::wrappers::BroadcastStream;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

struct App {
    args: Args,
    cache: moka::future::Cache<u64, String>,
    events: tokio::sync::broadcast::Sender<String>,
    jobs: tokio::sync::mpsc::Sender<u64>,
    done: AtomicU64,
    loads: AtomicU64,
    audit: Audit,
}

/// The API key: the path's second segment (`/k/{key}/...`).
#[derive(Clone)]
struct PathKey;

impl KeyExtractor for PathKey {
    type Key = String;

    fn extract<T>(&self, req: &axum::http::Request<T>) -> Result<String, GovernorError> {
        api_key(req.uri().path())
            .map(str::to_owned)
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

fn api_key(path: &str) -> Option<&str> {
    path.strip_prefix("/k/")?.split('/').next()
}

async fn item(State(app): State<Arc<App>>, Path((key, id)): Path<(String, u64)>) -> Response {
    app.audit.admitted(&key);
    let load_time = app.args.load_time;
    let value = app
        .cache
        .get_with(id, load_item(id, load_time, &app.loads))
        .await;
    let _ = app.events.send(format!("{key} read {id}"));
    value.into_response()
}

async fn job(State(app): State<Arc<App>>, Path((key, _priority)): Path<(String, u8)>) -> Response {
    app.audit.admitted(&key);
    // The mpsc pool has no priorities: every job waits in one FIFO.
    match app.jobs.try_send(1) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn sse(State(app): State<Arc<App>>) -> impl IntoResponse {
    let stream = BroadcastStream::new(app.events.subscribe()).filter_map(|m| async move {
        m.ok()
            .map(|m| Ok::<_, Infallible>(Event::default().data(m)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn stats(State(app): State<Arc<App>>) -> String {
    let audit = app.audit.report(app.args.rate, app.args.burst);
    format!(
        "{{\"audit\":{audit},\"loads\":{},\"jobs_done\":{},\"entries\":{}}}",
        app.loads.load(Ordering::Relaxed),
        app.done.load(Ordering::Relaxed),
        app.cache.entry_count()
    )
}

async fn audit_seen(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if let Some(key) = api_key(req.uri().path()) {
        app.audit.seen(key);
    }
    next.run(req).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let cache = moka::future::Cache::builder()
        .max_capacity(args.capacity)
        .time_to_live(args.ttl)
        .build();
    let (events, _) = tokio::sync::broadcast::channel(1024);
    let (jobs, rx) = tokio::sync::mpsc::channel::<u64>(10_000);
    let app = Arc::new(App {
        args: args.clone(),
        cache,
        events,
        jobs,
        done: AtomicU64::new(0),
        loads: AtomicU64::new(0),
        audit: Audit::default(),
    });
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    for _ in 0..args.workers {
        let (rx, app) = (rx.clone(), app.clone());
        tokio::spawn(async move {
            while let Some(n) = rx.lock().await.recv().await {
                app.done.fetch_add(n, Ordering::Relaxed);
            }
        });
    }

    let governor = GovernorConfigBuilder::default()
        .period(std::time::Duration::from_secs_f64(1.0 / args.rate))
        .burst_size(u32::try_from(args.burst)?)
        .key_extractor(PathKey)
        .use_headers()
        .finish()
        .ok_or("bad governor quota")?;
    let limited = Router::new()
        .route("/k/{key}/item/{id}", get(item))
        .route("/k/{key}/jobs/{priority}", post(job))
        .layer(GovernorLayer::new(governor));
    let router = Router::new()
        .merge(limited)
        .route("/events", get(sse))
        .route("/stats", get(stats))
        .layer(middleware::from_fn_with_state(app.clone(), audit_seen))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    println!("baseline gateway on http://127.0.0.1:{}", args.port);
    axum::serve(listener, router).await?;
    Ok(())
}
