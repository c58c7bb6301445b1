//! Frequency analysis: top endpoints counted from several threads, anomaly
//! detection, and bounded-memory heavy hitters merged across workers.
use crate::{heading, threads, timed};
use latchwork::freq::{FrequencyCounter, HeavyHitters};
use std::sync::Arc;

const ENDPOINTS: [&str; 8] = [
    "GET /api/items",
    "GET /api/items/:id",
    "POST /api/cart",
    "GET /api/user",
    "POST /api/login",
    "GET /health",
    "POST /api/checkout",
    "GET /api/search",
];

/// A skewed pick of an endpoint, with a burst of logins in the middle.
fn endpoint(i: u64, x: &mut u64) -> &'static str {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    if (400_000..430_000).contains(&i) && *x % 3 == 0 {
        return "POST /api/login"; // a credential-stuffing burst
    }
    let r = (*x % 1000) as f64 / 1000.0;
    ENDPOINTS[((r * r * r) * ENDPOINTS.len() as f64) as usize]
}

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    heading("freq: top endpoints, anomalies, heavy hitters");
    let n = threads();
    let per_thread = 1_000_000u64;
    let counter = Arc::new(FrequencyCounter::new());
    let ((), secs) = timed(|| {
        std::thread::scope(|s| {
            for t in 0..n as u64 {
                let counter = Arc::clone(&counter);
                s.spawn(move || {
                    let mut x = 0xC0FFEE + t;
                    for i in 0..per_thread {
                        counter.record(endpoint(i, &mut x));
                    }
                });
            }
        })
    });
    // The anchor (benches/freq.rs): a DashMap of counts, same streams,
    // same threads, measured now.
    let dash = dashmap::DashMap::<&'static str, u64>::new();
    let ((), dash_secs) = timed(|| {
        std::thread::scope(|s| {
            for t in 0..n as u64 {
                let dash = &dash;
                s.spawn(move || {
                    let mut x = 0xC0FFEE + t;
                    for i in 0..per_thread {
                        *dash.entry(endpoint(i, &mut x)).or_insert(0) += 1;
                    }
                });
            }
        })
    });
    for e in ENDPOINTS {
        let theirs = dash.get(e).map_or(0, |c| *c);
        assert_eq!(
            counter.count(&e),
            theirs,
            "same streams: same count for {e}"
        );
    }
    println!(
        "FrequencyCounter {n:>2} threads: {:.1} M records/s = {:.2}x dashmap measured now ({} requests, same counts)",
        counter.total() as f64 / secs / 1e6,
        dash_secs / secs,
        counter.total()
    );
    for (endpoint, count, pct) in counter.top(4) {
        println!("  {endpoint:<22} {count:>9}  {pct:5.1}%");
    }
    let anomalies: Vec<_> = counter.anomalies(2.0)?.into_iter().map(|a| a.0).collect();
    println!("  above 2x the mean: {anomalies:?}");

    // Heavy hitters of user ids with 64 counters per worker, merged.
    let mut merged = HeavyHitters::new(64)?;
    for worker in 0..2u64 {
        let mut hh = HeavyHitters::new(64)?;
        let mut x = 0xFEED + worker;
        for _ in 0..500_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // One abusive user makes 5% of requests; the rest spread over 1M.
            let user = if x % 20 == 0 { 4242 } else { x % 1_000_000 };
            hh.record(user);
        }
        merged.merge(&hh);
    }
    let top = &merged.top(1)[0];
    println!(
        "heavy hitters (64 counters x 2 workers, merged, 1M requests): user {} with {}..={} requests (error bound {})",
        top.item,
        top.lower_bound(),
        top.count,
        merged.error_bound()
    );
    Ok(())
}
