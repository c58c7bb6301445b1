//! What the two gateways of the load test share, so that they differ only
//! in the crates under test: the command line, the simulated database, and
//! the audit that checks every key's admissions against its quota.
#![allow(dead_code)] // each binary uses its own part

use dashmap::DashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The gateway's settings: `--port 3000 --rate 200 --burst 50 --ttl-ms
/// 60000 --capacity 100000 --workers 4 --load-us 500`.
#[derive(Clone, Debug)]
pub struct Args {
    pub port: u16,
    /// Requests per second admitted per API key.
    pub rate: f64,
    /// Burst per API key.
    pub burst: u64,
    /// Time to live of cached items.
    pub ttl: Duration,
    /// Cache capacity in entries.
    pub capacity: u64,
    /// Job workers.
    pub workers: usize,
    /// Time the simulated database takes per load.
    pub load_time: Duration,
    /// Which rate-limit headers the latchwork gateway writes: `ietf`,
    /// `legacy`, `both` or `none` (tower_governor writes its own two).
    pub headers: String,
}

impl Args {
    pub fn parse() -> Args {
        let mut a = Args {
            port: 3000,
            rate: 200.0,
            burst: 50,
            ttl: Duration::from_secs(60),
            capacity: 100_000,
            workers: 4,
            load_time: Duration::from_micros(500),
            headers: "both".to_owned(),
        };
        let argv: Vec<String> = std::env::args().skip(1).collect();
        for pair in argv.chunks(2) {
            let flag = pair[0].as_str();
            let value = pair.get(1).map(String::as_str).unwrap_or("");
            match flag {
                "--port" => a.port = num(flag, value),
                "--rate" => a.rate = num(flag, value),
                "--burst" => a.burst = num(flag, value),
                "--ttl-ms" => a.ttl = Duration::from_millis(num(flag, value)),
                "--capacity" => a.capacity = num(flag, value),
                "--workers" => a.workers = num(flag, value),
                "--load-us" => a.load_time = Duration::from_micros(num(flag, value)),
                "--headers" => a.headers = value.to_owned(),
                other => panic!("unknown option {other}"),
            }
        }
        a
    }
}

fn num<T: std::str::FromStr>(flag: &str, value: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| panic!("bad value {value:?} for {flag}"))
}

/// The database behind the cache: one row per id, `load_time` to fetch.
pub async fn load_item(id: u64, load_time: Duration, loads: &AtomicU64) -> String {
    loads.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(load_time).await;
    format!("{{\"id\":{id},\"name\":\"item {id}\"}}")
}

/// Every key's admissions since its first request, to check after a run
/// that no key got more than `burst + rate x t`.
#[derive(Default)]
pub struct Audit {
    keys: DashMap<String, (Instant, u64)>,
}

impl Audit {
    /// Notes a request for `key` (the first one starts its clock).
    pub fn seen(&self, key: &str) {
        if !self.keys.contains_key(key) {
            self.keys
                .entry(key.to_owned())
                .or_insert((Instant::now(), 0));
        }
    }

    /// Notes an admitted request for `key`.
    pub fn admitted(&self, key: &str) {
        if let Some(mut e) = self.keys.get_mut(key) {
            e.1 += 1;
        }
    }

    /// JSON: keys seen, admissions, and the largest excess of any key over
    /// `burst + rate x (time since its first request)` (0 or less: exact).
    pub fn report(&self, rate: f64, burst: u64) -> String {
        let mut admitted = 0u64;
        let mut worst = f64::NEG_INFINITY;
        for e in self.keys.iter() {
            let (first, n) = *e.value();
            admitted += n;
            let bound = burst as f64 + rate * first.elapsed().as_secs_f64();
            worst = worst.max(n as f64 - bound);
        }
        format!(
            "{{\"keys\":{},\"admitted\":{},\"max_excess\":{:.3}}}",
            self.keys.len(),
            admitted,
            if worst.is_finite() { worst } else { 0.0 }
        )
    }
}
