//! Rate limiting: an API gateway with a global token bucket and per-client
//! limits, first on simulated time (deterministic admitted/denied counts),
//! then on the system clock from several threads for throughput.
use crate::{heading, threads, timed};
use latchwork::clock::ManualClock;
use latchwork::ratelimit::{Error, KeyedLimiter, SlidingWindowLog, TokenBucket};
use rand::{rngs::SmallRng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CLIENTS: u64 = 10_000;
const REQUESTS: usize = 1_000_000;

fn clients(seed: u64) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
    let zipf = Zipf::new(CLIENTS, 1.1)?;
    let mut rng = SmallRng::seed_from_u64(seed);
    Ok((0..REQUESTS)
        .map(|_| zipf.sample(&mut rng) as u64)
        .collect())
}

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    heading("ratelimit: token bucket, sliding window, keyed limiter");
    let trace = clients(11)?;

    // 1M requests over 100 simulated seconds (one every 100 us) from 10k
    // clients: each client may do 5/s with bursts of 10, the whole service
    // 3,000/s with bursts of 300, logins 3 per minute.
    let clock = ManualClock::new();
    let per_client = KeyedLimiter::<u64>::builder()
        .rate(5.0)
        .burst(10)
        .max_keys(100_000)
        .clock(clock.clone())
        .build()?;
    let global = TokenBucket::builder()
        .rate(3_000.0)
        .burst(300)
        .clock(clock.clone())
        .build()?;
    let logins = SlidingWindowLog::builder()
        .limit(3)
        .window(Duration::from_secs(60))
        .clock(clock.clone())
        .build()?;
    let (mut admitted, mut client_denied, mut global_denied, mut max_retry) =
        (0u64, 0u64, 0u64, Duration::ZERO);
    for &client in &trace {
        clock.advance(Duration::from_micros(100));
        match per_client.check(&client).and_then(|()| global.check()) {
            Ok(()) => admitted += 1,
            Err(Error::RateLimited { retry_after }) => {
                max_retry = max_retry.max(retry_after);
                if per_client.available(&client) == 0 {
                    client_denied += 1;
                } else {
                    global_denied += 1;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    println!(
        "simulated 100 s  : {admitted} admitted, {client_denied} denied per client, {global_denied} by the global bucket (longest Retry-After {max_retry:?})"
    );
    println!(
        "keyed limiter    : {} clients held (full buckets are swept), {} evicted",
        per_client.len(),
        per_client.evictions()
    );
    let login_ok = (0..10).filter(|_| logins.check().is_ok()).count();
    println!("login window     : {login_ok} of 10 rapid logins admitted (3 per minute)");

    // Real time, many threads, one shared keyed limiter.
    let n = threads();
    let live = Arc::new(
        KeyedLimiter::<u64>::builder()
            .rate(1_000.0)
            .burst(1_000)
            .build()?,
    );
    let ok = Arc::new(AtomicU64::new(0));
    let traces: Vec<_> = (0..n)
        .map(|t| clients(200 + t as u64).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let (_, secs) = timed(|| {
        std::thread::scope(|s| {
            for t in &traces {
                let (live, t, ok) = (Arc::clone(&live), Arc::clone(t), Arc::clone(&ok));
                s.spawn(move || {
                    let mine = t.iter().filter(|k| live.check(*k).is_ok()).count();
                    ok.fetch_add(mine as u64, Ordering::Relaxed);
                });
            }
        })
    });
    // The anchor: governor's keyed limiter (DashMap state), same traces,
    // same quota, measured now.
    let quota = governor::Quota::per_second(std::num::NonZeroU32::new(1_000).ok_or("quota")?)
        .allow_burst(std::num::NonZeroU32::new(1_000).ok_or("burst")?);
    let gov = governor::RateLimiter::<u64, _, _>::keyed(quota);
    let (_, gov_secs) = timed(|| {
        std::thread::scope(|s| {
            for t in &traces {
                let gov = &gov;
                s.spawn(move || t.iter().filter(|k| gov.check_key(k).is_ok()).count());
            }
        })
    });
    println!(
        "KeyedLimiter {n:>2} threads: {:.1} M checks/s = {:.2}x governor keyed measured now, {} of {} admitted, {} clients held",
        (n * REQUESTS) as f64 / secs / 1e6,
        gov_secs / secs,
        ok.load(Ordering::Relaxed),
        n * REQUESTS,
        live.len()
    );
    Ok(())
}
