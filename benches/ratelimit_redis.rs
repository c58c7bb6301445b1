//! The Redis-backed limiter against the common deployment, same Redis, same
//! run: a plain GCRA Lua script (written here as the anchor) called by
//! `EVALSHA` once per check.
//!
//! - `single/1`: one caller, blocking connection, `check(key, 1)` vs one
//!   anchor `EVALSHA`: checks/s, latency p50/p99.
//! - `single/16`: 16 tokio tasks on one multiplexed `ConnectionManager`.
//! - `batch/100`: `check_many` of 100 keys per round trip vs 100 single
//!   checks: keys/s.
//! - `leased/1`: one hot key, leased mode (leases of 1,000 tokens) vs single
//!   checks: checks/s.
//!
//! Needs `--features redis` and a server in `LATCHWORK_REDIS_URL`; without
//! either it prints that it skipped. Each contender runs for
//! `LATCHWORK_BENCH_SECS` seconds (default 1.5).
//!
//! ```text
//! LATCHWORK_REDIS_URL=redis://127.0.0.1:6390 cargo bench --features redis --bench ratelimit_redis
//! ```

mod common;

#[cfg(not(feature = "redis"))]
fn main() {
    eprintln!("SKIPPED: ratelimit_redis needs `--features redis`");
}

#[cfg(feature = "redis")]
fn main() {
    bench::main();
}

#[cfg(feature = "redis")]
mod bench {
    use super::common::emit;
    use latchwork::ratelimit::RedisLimiter;
    use std::hint::black_box;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// The anchor: GCRA as it is commonly deployed, one key per call, the
    /// TAT in microseconds of Redis `TIME`, expiring when full.
    const ANCHOR: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new = tat + cost * interval
local ahead = new - now
if ahead > interval * burst then
  return {0, ahead - interval * burst}
end
redis.call('SET', KEYS[1], new, 'PX', math.ceil(ahead / 1000) + 1)
return {1, 0}
";

    /// Every contender admits nearly always: 1e6/s in bursts of 1e6.
    const RATE: f64 = 1e6;
    const BURST: u64 = 1_000_000;

    fn secs() -> Duration {
        let s = std::env::var("LATCHWORK_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(1.5);
        Duration::from_secs_f64(s)
    }

    struct Result {
        ops_per_s: f64,
        p50_us: f64,
        p99_us: f64,
    }

    impl Result {
        fn from(ops: u64, elapsed: Duration, mut lat: Vec<Duration>) -> Self {
            lat.sort_unstable();
            let q = |p: f64| {
                lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                    .map_or(0.0, |d| d.as_secs_f64() * 1e6)
            };
            Result {
                ops_per_s: ops as f64 / elapsed.as_secs_f64(),
                p50_us: q(0.50),
                p99_us: q(0.99),
            }
        }
    }

    fn prefix(name: &str) -> String {
        format!("lwbench:{name}:{}:", std::process::id())
    }

    /// Slices per contender: the two contenders alternate slice by slice,
    /// so drift in the machine's load (shared, noisy) hits both alike.
    const SLICES: u32 = 6;

    /// Operations, time spent, per-operation latencies.
    type Samples = (u64, Duration, Vec<Duration>);

    /// Runs `op` for one slice on this thread, adding to `acc`.
    fn slice(acc: &mut Samples, mut op: impl FnMut()) {
        let run = secs() / SLICES;
        let start = Instant::now();
        while start.elapsed() < run {
            let t = Instant::now();
            op();
            acc.2.push(t.elapsed());
            acc.0 += 1;
        }
        acc.1 += start.elapsed();
    }

    /// Alternates `a` and `b` for `SLICES` slices each.
    fn alternate(mut a: impl FnMut(), mut b: impl FnMut()) -> (Samples, Samples) {
        let (mut ra, mut rb) = Default::default();
        for _ in 0..SLICES {
            slice(&mut ra, &mut a);
            slice(&mut rb, &mut b);
        }
        (ra, rb)
    }

    fn report(name: &str, unit: &str, ours: &Result, anchor: &Result, anchor_name: &str) {
        println!(
            "{name:<12} latchwork {:>10.0} {unit}  p50 {:>7.1} us  p99 {:>7.1} us | {anchor_name} {:>10.0} {unit}  p50 {:>7.1} us  p99 {:>7.1} us | ratio {:.2}x",
            ours.ops_per_s,
            ours.p50_us,
            ours.p99_us,
            anchor.ops_per_s,
            anchor.p50_us,
            anchor.p99_us,
            ours.ops_per_s / anchor.ops_per_s
        );
        for (who, r) in [("latchwork", ours), (anchor_name, anchor)] {
            emit(&format!("{name}/{who}"), r.ops_per_s, unit);
            // Leased runs record no per-check latencies (0 here).
            if r.p50_us > 0.0 {
                emit(&format!("{name}/{who} p50"), r.p50_us, "µs");
                emit(&format!("{name}/{who} p99"), r.p99_us, "µs");
            }
        }
    }

    pub(super) fn main() {
        let Ok(url) = std::env::var("LATCHWORK_REDIS_URL") else {
            eprintln!("SKIPPED: LATCHWORK_REDIS_URL is unset; no Redis to benchmark against");
            return;
        };
        let client = redis::Client::open(url.as_str()).expect("a valid LATCHWORK_REDIS_URL");
        let mut raw = client.get_connection().expect("Redis reachable");
        let anchor_sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(ANCHOR)
            .query(&mut raw)
            .expect("anchor script loads");
        let anchor_interval_us = (1e6 / RATE).ceil().max(1.0) as u64;

        // single/1
        let ours = RedisLimiter::builder()
            .url(&url)
            .rate(RATE)
            .burst(BURST)
            .key_prefix(&prefix("single"))
            .build_blocking()
            .expect("limiter");
        let akey = format!("{}{{hot}}", prefix("anchor"));
        let ((n, e, lat), (bn, be, blat)) = alternate(
            || {
                black_box(ours.check("hot", 1).expect("check").allowed);
            },
            || {
                let r: Vec<i64> = redis::cmd("EVALSHA")
                    .arg(&anchor_sha)
                    .arg(1)
                    .arg(&akey)
                    .arg(anchor_interval_us)
                    .arg(BURST)
                    .arg(1)
                    .query(&mut raw)
                    .expect("anchor");
                black_box(r);
            },
        );
        let a = Result::from(n, e, lat);
        let b = Result::from(bn, be, blat);
        report("single/1", "checks/s", &a, &b, "plain-lua");

        // single/16 (async)
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (a, b) = rt.block_on(async {
            let ours = Arc::new(
                RedisLimiter::builder()
                    .url(&url)
                    .rate(RATE)
                    .burst(BURST)
                    .key_prefix(&prefix("single16"))
                    .build()
                    .await
                    .expect("limiter"),
            );
            let manager = redis::aio::ConnectionManager::new(client.clone())
                .await
                .expect("manager");
            let run = secs() / SLICES;
            let (mut ours_lat, mut ours_time) = (Vec::new(), Duration::ZERO);
            let (mut anchor_lat, mut anchor_time) = (Vec::new(), Duration::ZERO);
            let akey = format!("{}{{hot}}", prefix("anchor16"));
            for _ in 0..SLICES {
                let start = Instant::now();
                let tasks: Vec<_> = (0..16)
                    .map(|_| {
                        let l = Arc::clone(&ours);
                        tokio::spawn(async move {
                            let mut lat = Vec::new();
                            while start.elapsed() < run {
                                let t = Instant::now();
                                black_box(l.check("hot", 1).await.expect("check").allowed);
                                lat.push(t.elapsed());
                            }
                            lat
                        })
                    })
                    .collect();
                for t in tasks {
                    ours_lat.extend(t.await.expect("task"));
                }
                ours_time += start.elapsed();
                let start = Instant::now();
                let tasks: Vec<_> = (0..16)
                    .map(|_| {
                        let mut m = manager.clone();
                        let sha = anchor_sha.clone();
                        let key = akey.clone();
                        tokio::spawn(async move {
                            let mut lat = Vec::new();
                            while start.elapsed() < run {
                                let t = Instant::now();
                                let r: Vec<i64> = redis::cmd("EVALSHA")
                                    .arg(&sha)
                                    .arg(1)
                                    .arg(&key)
                                    .arg(anchor_interval_us)
                                    .arg(BURST)
                                    .arg(1)
                                    .query_async(&mut m)
                                    .await
                                    .expect("anchor");
                                black_box(r);
                                lat.push(t.elapsed());
                            }
                            lat
                        })
                    })
                    .collect();
                for t in tasks {
                    anchor_lat.extend(t.await.expect("task"));
                }
                anchor_time += start.elapsed();
            }
            let a = Result::from(ours_lat.len() as u64, ours_time, ours_lat);
            let b = Result::from(anchor_lat.len() as u64, anchor_time, anchor_lat);
            (a, b)
        });
        report("single/16", "checks/s", &a, &b, "plain-lua");

        // batch/100: keys per second
        let keys: Vec<(String, u64)> = (0..100).map(|i| (format!("k{i}"), 1)).collect();
        let ((n, e, lat), (bn, be, blat)) = alternate(
            || {
                black_box(ours.check_many(&keys).expect("check_many").len());
            },
            || {
                for (k, c) in &keys {
                    black_box(ours.check(k, *c).expect("check").allowed);
                }
            },
        );
        let a = Result::from(n * 100, e, lat);
        let b = Result::from(bn * 100, be, blat);
        report("batch/100", "keys/s", &a, &b, "100-single");

        // leased/1: one hot key
        let leased = RedisLimiter::builder()
            .url(&url)
            .rate(RATE)
            .burst(BURST)
            .key_prefix(&prefix("leased"))
            .lease(1_000, Duration::from_secs(1))
            .build_blocking()
            .expect("limiter");
        let ((n, e, _), (bn, be, blat)) = alternate(
            || {
                for _ in 0..1_000 {
                    black_box(leased.check("hot", 1).expect("check").allowed);
                }
            },
            || {
                black_box(ours.check("hot", 1).expect("check").allowed);
            },
        );
        let a = Result::from(n * 1_000, e, Vec::new());
        let b = Result::from(bn, be, blat);
        report("leased/1", "checks/s", &a, &b, "single");
    }
}
