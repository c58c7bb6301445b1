#![cfg(all(not(loom), feature = "cache", feature = "async"))]
//! Refresh after write, on a manual clock (no sleeping for time to pass):
//!
//! - a read of an entry older than the period gets the current value at
//!   once and queues exactly one reload, however many reads follow;
//! - the reload lands as a write; a failed or panicking reload keeps the
//!   old value and is tried again a quarter period later;
//! - a plain write that lands while a reload runs wins over it;
//! - readers never wait on a reload: a loader that blocks forever on the
//!   refresher's thread leaves every read answering at once;
//! - `run` returns when the cache is dropped; a refresher for a cache
//!   without a period is refused.
use latchwork::cache::{AsyncRefresher, Cache, Error, Refresher, RemovalCause};
use latchwork::clock::ManualClock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const PERIOD: Duration = Duration::from_secs(30);

type Refreshing = Cache<u64, String, latchwork::DefaultHashBuilder, ManualClock>;

fn cache(clock: &ManualClock) -> Arc<Refreshing> {
    Arc::new(
        Cache::builder()
            .max_capacity(1_000)
            .refresh_after_write(PERIOD)
            .clock(clock.clone())
            .build()
            .unwrap(),
    )
}

#[test]
fn a_stale_read_queues_one_reload_and_gets_the_current_value() {
    let clock = ManualClock::new();
    let cache = cache(&clock);
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let refresher = Refresher::new(&cache, move |k: &u64| {
        seen.fetch_add(1, Ordering::SeqCst);
        Ok::<_, ()>(format!("v2-{k}"))
    })
    .unwrap();
    cache.insert(1, "v1".into());
    clock.advance(PERIOD - Duration::from_secs(1));
    assert_eq!(cache.get(&1).as_deref(), Some("v1"));
    assert_eq!(refresher.run_pending(), 0, "not due yet");
    clock.advance(Duration::from_secs(2));
    for _ in 0..100 {
        assert_eq!(
            cache.get(&1).as_deref(),
            Some("v1"),
            "the current value, at once"
        );
    }
    assert_eq!(refresher.run_pending(), 1, "one reload for 100 stale reads");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cache.get(&1).as_deref(), Some("v2-1"));
    // The reload was a write: due again a whole period later.
    clock.advance(PERIOD - Duration::from_secs(1));
    cache.get(&1);
    assert_eq!(refresher.run_pending(), 0);
    clock.advance(Duration::from_secs(1));
    cache.get(&1);
    assert_eq!(refresher.run_pending(), 1);
}

#[test]
fn a_failed_or_panicking_reload_keeps_the_old_value_and_retries_later() {
    let clock = ManualClock::new();
    let cache = cache(&clock);
    let mode = Arc::new(AtomicUsize::new(0));
    let m = mode.clone();
    let refresher = Refresher::new(&cache, move |_: &u64| match m.load(Ordering::SeqCst) {
        0 => Err("database down"),
        1 => panic!("loader bug"),
        _ => Ok("fresh".to_string()),
    })
    .unwrap();
    cache.insert(1, "old".into());
    clock.advance(PERIOD);
    cache.get(&1);
    assert_eq!(refresher.run_pending(), 1);
    assert_eq!(
        cache.get(&1).as_deref(),
        Some("old"),
        "failure keeps the value"
    );
    assert_eq!(refresher.run_pending(), 0, "not retried at once");
    clock.advance(PERIOD / 4);
    mode.store(1, Ordering::SeqCst);
    cache.get(&1);
    assert_eq!(refresher.run_pending(), 1, "retried a quarter period later");
    assert_eq!(
        cache.get(&1).as_deref(),
        Some("old"),
        "a panic keeps it too"
    );
    clock.advance(PERIOD / 4);
    mode.store(2, Ordering::SeqCst);
    cache.get(&1);
    assert_eq!(refresher.run_pending(), 1);
    assert_eq!(cache.get(&1).as_deref(), Some("fresh"));
    assert!(cache.stats().load_errors >= 2);
}

#[test]
fn a_plain_write_during_a_reload_wins() {
    let clock = ManualClock::new();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let log = heard.clone();
    let cache: Arc<Refreshing> = Arc::new(
        Cache::builder()
            .max_capacity(100)
            .refresh_after_write(PERIOD)
            .clock(clock.clone())
            .eviction_listener(move |k: &u64, v: &String, c| {
                log.lock().unwrap().push((*k, v.clone(), c))
            })
            .build()
            .unwrap(),
    );
    let writer = cache.clone();
    // The loader itself writes the key, as another request would while the
    // reload runs: the newer write wins and the reload is dropped.
    let refresher = Refresher::new(&cache, move |k: &u64| {
        writer.insert(*k, "written meanwhile".into());
        Ok::<_, ()>("reloaded".to_string())
    })
    .unwrap();
    cache.insert(1, "v1".into());
    clock.advance(PERIOD);
    cache.get(&1);
    assert_eq!(refresher.run_pending(), 1);
    assert_eq!(cache.get(&1).as_deref(), Some("written meanwhile"));
    assert_eq!(
        *heard.lock().unwrap(),
        vec![(1, "v1".to_string(), RemovalCause::Replaced)],
        "the reload was not stored over the write"
    );
}

#[test]
fn readers_never_wait_for_a_reload_that_hangs() {
    let clock = ManualClock::new();
    let cache = cache(&clock);
    let (entered_tx, entered) = mpsc::channel();
    let release = Arc::new(AtomicBool::new(false));
    let gate = release.clone();
    let refresher = Refresher::new(&cache, move |_: &u64| {
        entered_tx.send(()).ok();
        while !gate.load(Ordering::SeqCst) {
            thread::park_timeout(Duration::from_millis(5));
        }
        Ok::<_, ()>("late".to_string())
    })
    .unwrap();
    cache.insert(1, "v1".into());
    clock.advance(PERIOD);
    cache.get(&1);
    let runner = thread::spawn(move || refresher.run());
    entered.recv().unwrap();
    // The reload is stuck in the loader: reads keep answering at once.
    let start = Instant::now();
    for _ in 0..10_000 {
        assert_eq!(cache.get(&1).as_deref(), Some("v1"));
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    release.store(true, Ordering::SeqCst);
    // `run` returns once the cache is dropped (after the reload lands).
    let weak = Arc::downgrade(&cache);
    let deadline = Instant::now() + Duration::from_secs(60);
    while cache.get(&1).as_deref() != Some("late") {
        assert!(Instant::now() < deadline, "the reload never landed");
        thread::yield_now();
    }
    drop(cache);
    runner.join().unwrap();
    assert!(weak.upgrade().is_none());
}

#[test]
fn a_refresher_needs_a_period() {
    let plain: Arc<Cache<u64, String>> = Arc::new(Cache::new(10).unwrap());
    let r = Refresher::new(&plain, |_: &u64| Ok::<_, ()>(String::new()));
    assert_eq!(r.err(), Some(Error::NoRefreshPeriod));
    let zero = Cache::<u64, u64>::builder()
        .refresh_after_write(Duration::ZERO)
        .build();
    assert!(matches!(
        zero,
        Err(Error::ZeroDuration {
            parameter: "refresh_after_write"
        })
    ));
}

#[test]
fn the_async_refresher_awaits_its_loader_and_survives_a_panic() {
    let clock = ManualClock::new();
    let cache = cache(&clock);
    let refresher = AsyncRefresher::new(&cache, |k: u64| async move {
        if k == 2 {
            panic!("loader bug");
        }
        Ok::<_, ()>(format!("async-{k}"))
    })
    .unwrap();
    cache.insert(1, "v1".into());
    cache.insert(2, "v1".into());
    clock.advance(PERIOD);
    cache.get(&1);
    cache.get(&2);
    assert_eq!(futures::executor::block_on(refresher.run_pending()), 2);
    assert_eq!(cache.get(&1).as_deref(), Some("async-1"));
    assert_eq!(
        cache.get(&2).as_deref(),
        Some("v1"),
        "a panicking reload keeps the value"
    );
    // `run` waits without a thread and returns once the cache is dropped.
    let runner = thread::spawn(move || futures::executor::block_on(refresher.run()));
    clock.advance(PERIOD);
    cache.get(&1);
    let deadline = Instant::now() + Duration::from_secs(60);
    while cache.get(&1).as_deref() != Some("async-1") || cache.stats().loads < 3 {
        assert!(Instant::now() < deadline, "the queued reload never ran");
        thread::yield_now();
    }
    drop(cache);
    runner.join().unwrap();
}
