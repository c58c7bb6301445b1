#![cfg(all(
    feature = "cache",
    feature = "lru",
    feature = "ttl",
    feature = "ratelimit",
    feature = "queue",
    feature = "event",
    feature = "retry",
    feature = "pipeline",
    feature = "paginate",
    feature = "config",
    feature = "freq",
    not(loom)
))]
//! `Debug` and `Display` on the public types (docs/internals.md, section 5,
//! the counterpart of `__repr__`/`__str__`): every type formats with `{:?}`
//! to something non-empty; a large structure formats as a summary (its
//! sizes and settings), never its contents; every error type implements
//! `Display` and `std::error::Error` with a message that names the bad
//! parameter.

use latchwork::cache::{Cache, Policy};
use latchwork::clock::{ManualClock, Monotonic, SystemClock};
use latchwork::config::LayeredConfig;
use latchwork::event::broadcast;
use latchwork::event::Emitter;
use latchwork::freq::{FrequencyCounter, HeavyHitters};
use latchwork::lru::LruCache;
use latchwork::paginate::{CursorCodec, KeysetPager, OffsetPager, Query};
use latchwork::pipeline::{Batcher, ChunkExt, Pipeline};
use latchwork::queue::{Level, Priority, PriorityQueue, TaskQueue};
use latchwork::ratelimit::{KeyedLimiter, SlidingWindowCounter, SlidingWindowLog, TokenBucket};
use latchwork::retry::{Backoff, Jitter, Retry, RetryBudget, SplitMix64};
use latchwork::sleep::ClockSleeper;
use latchwork::ttl::Memoized;
use std::fmt::{Debug, Display};
use std::time::Duration;

/// Entries put into each large structure.
const BIG: u64 = 10_000;
/// The most a summary may take.
const SUMMARY_MAX: usize = 1024;

/// `{:?}` is non-empty and (for a structure holding `BIG` entries) a
/// summary shorter than `SUMMARY_MAX`; returns it for the printout.
fn summary(what: &str, v: &impl Debug) -> String {
    let s = format!("{v:?}");
    assert!(!s.is_empty(), "{what}: empty Debug");
    assert!(
        s.len() < SUMMARY_MAX,
        "{what}: Debug is {} bytes, contents dumped? {}",
        s.len(),
        &s[..200.min(s.len())]
    );
    println!("{what:<28} {s}");
    s
}

/// `Display` + `std::error::Error`, with a message naming `parameter`.
fn names_parameter<E: Display + std::error::Error>(
    what: &str,
    r: Result<impl Sized, E>,
    parameter: &str,
) {
    let Err(e) = r else {
        panic!("{what}: accepted, expected an error naming `{parameter}`");
    };
    let msg = e.to_string();
    assert!(
        msg.to_lowercase().contains(parameter),
        "{what}: {msg:?} does not name `{parameter}`"
    );
    assert!(!format!("{e:?}").is_empty());
    println!("{what:<28} {msg}");
}

#[test]
fn large_structures_format_as_summaries() {
    let mut lru = LruCache::new(BIG as usize).unwrap();
    let cache = Cache::builder().max_capacity(BIG).build().unwrap();
    let cache_lru = Cache::builder()
        .max_capacity(BIG)
        .policy(Policy::Lru)
        .time_to_live(Duration::from_secs(60))
        .build()
        .unwrap();
    let keyed: KeyedLimiter<u64, _, _> = KeyedLimiter::builder()
        .rate(10.0)
        .burst(10)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let freq = FrequencyCounter::new();
    let mut heavy = HeavyHitters::new(BIG as usize).unwrap();
    let queue = PriorityQueue::new();
    let emitter = Emitter::<u64>::new();
    let config = LayeredConfig::builder().build().unwrap();
    for k in 0..BIG {
        lru.put(k, k);
        cache.insert(k, k);
        cache_lru.insert(k, k);
        keyed.check(&k).unwrap();
        freq.record(k);
        heavy.record(k);
        queue
            .push(Level::new((k % 4) as u8).unwrap(), k)
            .expect("open");
        let _id = emitter
            .on(&format!("t.{}", k % 100), |_: &u64| ())
            .unwrap()
            .detach();
    }
    cache.run_pending_tasks();
    summary("lru::LruCache", &lru);
    summary("lru::Iter", &lru.iter());
    summary("cache::Cache", &cache);
    summary("cache::Cache (Lru, TTL)", &cache_lru);
    summary("cache::CacheStats", &cache.stats());
    summary("ratelimit::KeyedLimiter", &keyed);
    summary("freq::FrequencyCounter", &freq);
    summary("freq::HeavyHitters", &heavy);
    summary("freq::Estimate", &heavy.top(1)[0]);
    summary("queue::PriorityQueue", &queue);
    summary("event::Emitter", &emitter);
    summary("config::LayeredConfig (empty)", &config);

    let (tx, rx) = broadcast::channel::<u64>(1024, broadcast::Policy::Overwrite).unwrap();
    for k in 0..BIG {
        tx.send(k).unwrap();
    }
    summary("broadcast::Sender", &tx);
    summary("broadcast::Receiver", &rx);

    let memo = Memoized::builder(|k: &u64| Ok::<_, std::io::Error>(*k))
        .capacity(BIG)
        .ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    for k in 0..BIG {
        memo.get(&k).unwrap();
    }
    summary("ttl::Memoized", &memo);
    summary("ttl::MemoStats", &memo.stats());
}

/// Found by this test: `LayeredConfig`'s and `Snapshot`'s `Debug` printed
/// the whole merged tree (about 20 KiB for 1,000 keys); they now print a
/// summary whose length does not depend on the number of keys.
#[test]
fn config_formats_as_a_summary() {
    let config = LayeredConfig::builder()
        .set_default("server.port", 8080)
        .build()
        .unwrap();
    for k in 0..1_000u64 {
        config.set(&format!("k{k}"), k).unwrap();
    }
    // A key far longer than a summary is cut, not printed whole.
    config.set(&"a".repeat(10_000), 1).unwrap();
    let whole = summary("config::LayeredConfig", &config);
    let snap = summary("config::Snapshot", &config.snapshot());
    for s in [&whole, &snap] {
        assert!(s.contains("generation: 1001"), "{s}");
        assert!(s.contains("keys: 1002"), "{s}");
        assert!(s.contains("runtime: 1001"), "{s}");
    }
    assert!(whole.contains("runtime_overrides: 1001"), "{whole}");
    // Same length with 10 keys as with 1,000 (the digits aside).
    let small = LayeredConfig::builder().build().unwrap();
    for k in 0..10u64 {
        small.set(&format!("k{k}"), k).unwrap();
    }
    let small = format!("{small:?}");
    assert!(small.len() + 128 > whole.len(), "{small}\n{whole}");
}

#[test]
fn small_types_format() {
    summary("clock::SystemClock", &SystemClock::new());
    summary("clock::ManualClock", &ManualClock::new());
    summary("clock::Monotonic", &Monotonic::new(ManualClock::new()));
    summary(
        "sleep::ClockSleeper",
        &ClockSleeper::new(ManualClock::new()),
    );
    summary("cache::Policy", &Policy::TinyLfu);
    summary("cache::CacheBuilder", &Cache::<u64, u64>::builder());
    summary(
        "ratelimit::TokenBucket",
        &TokenBucket::builder().rate(10.0).burst(5).build().unwrap(),
    );
    summary("ratelimit::TokenBucketBuilder", &TokenBucket::builder());
    summary(
        "ratelimit::SlidingWindowLog",
        &SlidingWindowLog::builder()
            .limit(5)
            .window(Duration::from_secs(1))
            .build()
            .unwrap(),
    );
    summary(
        "ratelimit::SlidingWindowCounter",
        &SlidingWindowCounter::builder()
            .limit(5)
            .window(Duration::from_secs(1))
            .build()
            .unwrap(),
    );
    summary(
        "ratelimit::KeyedLimiterBuilder",
        &KeyedLimiter::<u64>::builder(),
    );
    summary("queue::Level", &Level::MOST_URGENT);
    summary("queue::Priority", &Priority::High);
    let tasks = TaskQueue::builder().workers(1).build().unwrap();
    let handle = tasks.submit(Priority::High, || 1u32);
    summary("queue::TaskHandle", &handle);
    summary("queue::TaskId", &handle.id());
    summary("queue::TaskQueue", &tasks);
    summary("queue::TaskStats", &tasks.stats());
    summary("queue::TaskQueueBuilder", &TaskQueue::builder());
    let emitter = Emitter::<u64>::new();
    let sub = emitter.on("a.*", |_: &u64| ()).unwrap();
    summary("event::Subscription", &sub);
    summary("event::SubscriptionId", &sub.id());
    summary("event::EmitReport", &emitter.emit("a.b", &1));
    summary(
        "broadcast::Builder",
        &broadcast::Builder::new(8).policy(broadcast::Policy::Backpressure),
    );
    summary(
        "retry::Backoff",
        &Backoff::exponential(Duration::from_millis(10))
            .jitter(Jitter::Full)
            .build()
            .unwrap(),
    );
    summary("retry::Jitter", &Jitter::Full);
    summary("retry::SplitMix64", &SplitMix64::new(1));
    summary(
        "retry::RetryBudget",
        &RetryBudget::builder().build().unwrap(),
    );
    summary(
        "retry::Retry",
        &Retry::<&str, _>::builder()
            .max_attempts(3)
            .clock(ManualClock::new())
            .build()
            .unwrap(),
    );
    summary(
        "pipeline::Pipeline",
        &Pipeline::source(0..10u32).map("double", 1, |x| x * 2),
    );
    summary("pipeline::Chunked", &(0..10u32).chunked(3).unwrap());
    summary(
        "pipeline::Batcher",
        &Batcher::<u32, _>::with_clock(4, Duration::from_millis(5), ManualClock::new()).unwrap(),
    );
    let report = Pipeline::source(0..100u32)
        .map("double", 2, |x| x * 2)
        .run(|_| std::ops::ControlFlow::Continue(()))
        .unwrap();
    summary("pipeline::RunReport", &report);
    summary("paginate::OffsetPager", &OffsetPager::new(100).unwrap());
    summary(
        "paginate::KeysetPager",
        &KeysetPager::builder().signing_key(b"k").build().unwrap(),
    );
    summary("paginate::CursorCodec", &CursorCodec::unsigned());
    summary("paginate::Query", &Query::ascending());
}

#[test]
fn every_error_names_its_parameter() {
    names_parameter("lru::Error", LruCache::<u64, u64>::new(0), "capacity");
    names_parameter(
        "cache::Error",
        Cache::<u64, u64>::builder().max_capacity(0).build(),
        "max_capacity",
    );
    names_parameter("ttl::Error", latchwork::ttl::ttl_from_secs_f64(-1.0), "ttl");
    names_parameter(
        "ratelimit::Error",
        TokenBucket::builder().rate(-1.0).burst(1).build(),
        "rate",
    );
    names_parameter("queue::Error", Level::new(200), "level");
    names_parameter(
        "event::Error",
        broadcast::channel::<u8>(usize::MAX, broadcast::Policy::Overwrite),
        "capacity",
    );
    names_parameter(
        "retry::Error",
        RetryBudget::builder().capacity(0).build(),
        "capacity",
    );
    names_parameter("pipeline::Error", (0..1u32).chunked(0), "chunk");
    names_parameter("paginate::Error", OffsetPager::new(0), "page");
    names_parameter(
        "config::Error",
        latchwork::config::env_var_to_key("APP_", "APP_"),
        "segment",
    );
    names_parameter("freq::Error", HeavyHitters::<u64>::new(0), "capacity");

    // The operational errors: Display + Error, and non-empty.
    let (tx, mut rx) = broadcast::channel::<u8>(2, broadcast::Policy::Backpressure).unwrap();
    let err = rx.try_recv().unwrap_err();
    assert_error(&err);
    drop(tx);
    assert_error(&rx.recv().unwrap_err());
    let retry = Retry::<std::io::Error, _>::builder()
        .max_attempts(1)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let down = || Err::<(), _>(std::io::Error::other("down"));
    assert_error(&retry.call(down).unwrap_err());
}

fn assert_error<E: Display + Debug + std::error::Error>(e: &E) {
    assert!(!e.to_string().is_empty() && !format!("{e:?}").is_empty());
    println!(
        "{:<28} {e}",
        std::any::type_name::<E>().rsplit("::").next().unwrap_or("")
    );
}
