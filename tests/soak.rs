#![cfg(all(
    not(loom),
    feature = "config",
    feature = "event",
    feature = "queue",
    feature = "ratelimit"
))]
//! Soak test: minutes of mixed concurrent load, then conservation checks.
//! Not part of CI (`#[ignore]`); run it with `scripts/soak.sh`
//! (`SOAK_MINUTES`, default 10; `SOAK_SECONDS` overrides it for short runs).
//!
//! The load runs in epochs of a few seconds. Long-lived structures (a keyed
//! limiter, a task pool, an emitter, a layered config) live through the
//! whole run, so their memory must stay flat; each epoch also makes fresh
//! broadcast channels with lagging and dropping receivers. After each
//! epoch: every task is accounted for, every receiver's received + lagged
//! equals what was sent while it was subscribed, no key was admitted more
//! than `burst + rate x elapsed`, and the config heard of every change.
//! The resident set size is printed every minute (peak and current).

use latchwork::config::LayeredConfig;
use latchwork::event::broadcast::{channel, Policy, RecvError};
use latchwork::event::Emitter;
use latchwork::queue::{Level, TaskQueue};
use latchwork::ratelimit::KeyedLimiter;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const KEYS: u64 = 1_000;
const RATE: f64 = 50.0;
const BURST: u64 = 10;
const EPOCH: Duration = Duration::from_secs(5);

fn run_for() -> Duration {
    if let Some(s) = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return Duration::from_secs(s);
    }
    let minutes: u64 = std::env::var("SOAK_MINUTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    Duration::from_secs(60 * minutes)
}

/// (current, peak) resident set size in KiB, from /proc (Linux only).
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A tiny xorshift so the load does not depend on `rand`'s API.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
#[ignore = "minutes long; run scripts/soak.sh"]
fn soak() {
    let total = run_for();
    // The planned task panics are part of the load, not news.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| p.downcast_ref::<String>().map(String::as_str));
        let planned = msg.is_some_and(|m| m.contains("planned task panic"));
        if !planned {
            default_hook(info);
        }
    }));
    let started = Instant::now();
    let limiter = Arc::new(
        KeyedLimiter::<u64>::builder()
            .rate(RATE)
            .burst(BURST)
            .max_keys(100_000) // above the key space: no eviction resets a key
            .build()
            .unwrap(),
    );
    let admitted: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
    let pool = Arc::new(TaskQueue::new(2).unwrap());
    let emitter = Arc::new(Emitter::<u64>::new());
    let config = Arc::new(
        LayeredConfig::builder()
            .set_default("n", 0)
            .build()
            .unwrap(),
    );
    let heard = Arc::new(AtomicU64::new(0));
    let h = Arc::clone(&heard);
    let _sub = config.subscribe(move |_| {
        h.fetch_add(1, Ordering::Relaxed);
    });
    let mut sets = 0u64;
    let mut handles = Vec::new();
    let mut minute_marks = Vec::new();
    let mut next_mark = Duration::from_secs(60);
    let mut epochs = 0u64;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;

    while started.elapsed() < total {
        epochs += 1;
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();

        // Keyed limiter checks on random keys.
        for t in 0..2u64 {
            let (limiter, admitted, stop) = (limiter.clone(), admitted.clone(), stop.clone());
            workers.push(thread::spawn(move || {
                let mut s = seed ^ (t + 1);
                while !stop.load(Ordering::Relaxed) {
                    let k = next(&mut s) % KEYS;
                    if limiter.check(&k).is_ok() {
                        admitted[k as usize].fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }

        // Broadcast: one producer, a fast receiver, a lagging one, and one
        // that drops and resubscribes; each tallies received + lagged.
        let (tx, rx) = channel::<Arc<String>>(8, Policy::Overwrite).unwrap();
        // (receiver kind, received, lagged, whole epoch?)
        let tallies = Arc::new(Mutex::new(Vec::<(u32, u64, u64, bool)>::new()));
        let mut receivers = Vec::new();
        for kind in 0..3u32 {
            let mut rx = rx.resubscribe();
            let tallies = tallies.clone();
            receivers.push(thread::spawn(move || {
                let (mut got, mut lagged, mut n) = (0u64, 0u64, 0u64);
                let mut whole = true;
                loop {
                    n += 1;
                    if kind == 1 && n % 64 == 0 {
                        thread::yield_now(); // lag behind
                    }
                    if kind == 2 && n % 500 == 0 {
                        // Drop and resubscribe: close this tally, start anew.
                        tallies.lock().unwrap().push((kind, got, lagged, whole));
                        rx = rx.resubscribe();
                        (got, lagged, whole) = (0, 0, false);
                    }
                    match rx.recv() {
                        Ok(_) => got += 1,
                        Err(RecvError::Lagged(k)) => lagged += k,
                        Err(RecvError::Closed) => break,
                    }
                }
                tallies.lock().unwrap().push((kind, got, lagged, whole));
            }));
        }
        drop(rx);

        // Emitter: subscribe/unsubscribe while emitting.
        {
            let (emitter, stop) = (emitter.clone(), stop.clone());
            workers.push(thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let sub = emitter.on("t.x", |_| ()).unwrap();
                    let _ = emitter.emit("t.x", &i);
                    drop(sub);
                    let _ = emitter.emit("t.*", &i);
                    i += 1;
                }
            }));
        }

        // Producer, tasks (some panic) and config writes on this thread.
        let epoch_start = Instant::now();
        let mut sent = 0u64;
        while epoch_start.elapsed() < EPOCH {
            for _ in 0..64 {
                tx.send(Arc::new(sent.to_string()))
                    .expect("the whole-epoch receivers are alive");
                sent += 1;
            }
            let r = next(&mut seed);
            handles.push(pool.submit(Level::new((r % 64) as u8).unwrap(), move || {
                assert!(r % 7 != 0, "planned task panic");
                r
            }));
            if r % 16 == 0 {
                let changed = config.set("n", sent).unwrap();
                sets += !changed.is_empty() as u64;
            }
            // Join finished task handles so they do not pile up.
            if handles.len() > 1_000 {
                handles.retain(|h| !h.is_finished());
            }
        }
        stop.store(true, Ordering::Relaxed);
        drop(tx);
        for w in workers {
            w.join().unwrap();
        }
        for r in receivers {
            r.join().unwrap();
        }

        // Broadcast conservation: a receiver subscribed for the whole epoch
        // saw every message, received or as lagged; the partial tallies of
        // the one that drops and resubscribes are bounded by what was sent.
        for &(kind, got, lagged, whole) in tallies.lock().unwrap().iter() {
            if whole && kind != 2 {
                assert_eq!(got + lagged, sent, "receiver {kind} lost messages");
            } else {
                assert!(
                    got + lagged <= sent,
                    "receiver {kind}: {got} + {lagged} > {sent}"
                );
            }
        }

        // Limiter: no key above burst + rate x elapsed (10 % slack for the
        // clock being read before and after the checks).
        let secs = started.elapsed().as_secs_f64();
        let bound = BURST as f64 + RATE * secs * 1.1 + 1.0;
        for (k, a) in admitted.iter().enumerate() {
            let a = a.load(Ordering::Relaxed) as f64;
            assert!(a <= bound, "key {k} admitted {a} > {bound}");
        }
        assert_eq!(
            heard.load(Ordering::Relaxed),
            sets,
            "config changes unheard"
        );

        if started.elapsed() >= next_mark {
            let (rss, peak) = rss_kib();
            println!(
                "soak: {:>3} min, epoch {epochs}: RSS {rss} KiB, peak {peak} KiB, keys {}",
                next_mark.as_secs() / 60,
                limiter.len()
            );
            minute_marks.push((next_mark, rss));
            next_mark += Duration::from_secs(60);
        }
        seed = next(&mut seed);
    }

    // Every task accounted for: shut down, join every handle.
    pool.shutdown();
    let (mut ok, mut panicked, mut cancelled) = (0u64, 0u64, 0u64);
    for h in handles {
        match h.join() {
            Ok(_) => ok += 1,
            Err(latchwork::queue::TaskError::Panicked(_)) => panicked += 1,
            Err(_) => cancelled += 1,
        }
    }
    let stats = pool.stats();
    assert_eq!(
        stats.submitted,
        stats.completed + stats.panicked + stats.cancelled,
        "{stats:?}"
    );
    assert!(ok + panicked + cancelled <= stats.submitted);
    let (rss, peak) = rss_kib();
    println!(
        "soak: done after {:.0?}, {epochs} epochs; tasks {stats:?}; RSS {rss} KiB, peak {peak} KiB; minute marks {minute_marks:?}",
        started.elapsed()
    );
    // Flat after warm-up: the last reading within 1.5x of the first.
    if let (Some(first), Some(last)) = (minute_marks.first(), minute_marks.last()) {
        assert!(
            last.1 <= first.1 * 3 / 2 + 16 * 1024,
            "RSS grew from {} KiB at {:?} to {} KiB at {:?}",
            first.1,
            first.0,
            last.1,
            last.0
        );
    }
}
