//! Test support for the Redis limiter: a builder on an endpoint with a
//! key prefix no other run shares, and a tokio runtime.
#![allow(dead_code)]
use latchwork::ratelimit::{Endpoint, RedisLimiter, RedisLimiterBuilder};

pub fn builder(e: &Endpoint, test: &str) -> RedisLimiterBuilder {
    RedisLimiter::builder()
        .endpoint(e.clone())
        .key_prefix(&format!(
            "{}:",
            super::redis_server::unique(&format!("lwrl:{test}"))
        ))
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
