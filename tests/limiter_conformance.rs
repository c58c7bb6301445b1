#![cfg(all(not(loom), feature = "clock", feature = "ratelimit"))]
//! One sequence of calls through the `Limiter` trait, every limiter.
//!
//! - The token bucket and the keyed limiter (per key) model the same quota,
//!   so they must give *identical* answers to the same calls on one
//!   `ManualClock`, re-quotas included.
//! - The sliding windows are checked against their own semantics: the
//!   limit is never exceeded, a denial is `Ok(allowed: false)` with a
//!   `retry_after` after which the same request is admitted, `Err` only for
//!   what is not a denial.
//! - Re-quota through `&self`: exact on a manual clock, and under threads.
//! - The Redis limiters (with `LATCHWORK_REDIS_URL`) answer a burst as the
//!   bucket does.
//! - The rate-limit headers (feature `http`).

use latchwork::clock::{Clock, ManualClock};
use latchwork::ratelimit::{
    AsyncLimiter, Error, KeyedLimiter, Limiter, RateLimitInfo, RateLimitPolicy, Requota,
    SlidingWindowCounter, SlidingWindowLog, TokenBucket,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

const MS: u64 = 1_000_000;

/// A small deterministic generator (no dependency, reproducible by seed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below.max(1)
    }
}

fn policy(limit: u64, window: Duration) -> RateLimitPolicy {
    RateLimitPolicy::new(limit, window).unwrap()
}

/// One call through the trait.
#[derive(Clone, Copy, Debug)]
enum Op {
    Throttle(u64),
    Probe(u64),
    WaitTime(u64),
    TryAcquire(u64),
    Check,
}

/// What a call answered, comparable across limiters.
#[derive(Debug, PartialEq)]
enum Answer {
    Info(Result<RateLimitInfo, Error>),
    Wait(Result<Duration, Error>),
    Unit(Result<(), Error>),
}

fn call<K: ?Sized, L: Limiter<K>>(l: &L, key: &K, op: Op) -> Answer {
    match op {
        Op::Throttle(c) => Answer::Info(l.throttle(key, c)),
        Op::Probe(c) => Answer::Info(l.probe(key, c)),
        Op::WaitTime(c) => Answer::Wait(l.wait_time(key, c)),
        Op::TryAcquire(c) => Answer::Unit(l.try_acquire(key, c)),
        Op::Check => Answer::Unit(l.check(key)),
    }
}

fn random_op(rng: &mut Lcg, max_cost: u64) -> Op {
    let cost = rng.next(max_cost + 2); // up to one above the limit
    match rng.next(8) {
        0 => Op::Probe(cost),
        1 => Op::WaitTime(cost),
        2 => Op::TryAcquire(cost),
        3 => Op::Check,
        _ => Op::Throttle(cost),
    }
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn traits_and_types_pin_their_auto_traits() {
    assert_send_sync::<RateLimitPolicy>();
    assert_send_sync::<latchwork::ratelimit::WaitLine>();
    assert_send_sync::<TokenBucket<ManualClock>>();
    assert_send_sync::<KeyedLimiter<String>>();
    // The sync trait is dyn-compatible: one boxed limiter per route works.
    let limiters: Vec<Box<dyn Limiter<str>>> = vec![
        Box::new(TokenBucket::new(1.0, 1).unwrap()),
        Box::new(KeyedLimiter::<String>::builder().rate(1.0).build().unwrap()),
        Box::new(
            SlidingWindowLog::builder()
                .limit(1)
                .window(Duration::from_secs(1))
                .build()
                .unwrap(),
        ),
    ];
    for l in &limiters {
        assert!(l.throttle("k", 1).unwrap().allowed);
        assert!(!l.throttle("k", 1).unwrap().allowed);
        assert_eq!(l.limit(), 1);
    }
}

// ---- the bucket and the keyed limiter: identical answers ------------------

/// A keyed limiter over 3 keys against one bucket per key, the same calls
/// through the trait, with re-quotas of all of them at the same instants.
fn bucket_vs_keyed(seed: u64, rate: f64, limit: u64) {
    let clock = ManualClock::new();
    clock.set(Duration::from_nanos(seed.wrapping_mul(7_919) % (1 << 40)));
    let keyed = KeyedLimiter::<String>::builder()
        .rate(rate)
        .limit(limit)
        .shards(2)
        .clock(clock.clone())
        .build()
        .unwrap();
    let buckets: Vec<TokenBucket<ManualClock>> = (0..3)
        .map(|_| {
            TokenBucket::builder()
                .rate(rate)
                .limit(limit)
                .clock(clock.clone())
                .build()
                .unwrap()
        })
        .collect();
    let keys = ["alice", "bob", "carol"];
    let interval = (1e9 / rate).ceil() as u64;
    let mut rng = Lcg(seed);
    let mut current = keyed.policy();
    let mut admitted = 0;
    for step in 0..600 {
        clock.advance(Duration::from_nanos(rng.next(interval)));
        if step % 150 == 149 {
            // Re-quota everyone at this instant, through `&self`.
            let to = policy(
                1 + rng.next(2 * limit),
                Duration::from_nanos(1 + rng.next(4 * interval * limit)),
            );
            let r = keyed.set_policy(to);
            for b in &buckets {
                assert_eq!(b.set_policy(to), r, "re-quota to {to:?}");
            }
            if r.is_ok() {
                current = keyed.policy();
            }
        }
        let k = rng.next(3) as usize;
        let op = random_op(&mut rng, current.limit());
        let (a, b) = (call(&keyed, keys[k], op), call(&buckets[k], &(), op));
        assert_eq!(a, b, "seed {seed} step {step} key {} {op:?}", keys[k]);
        if matches!(a, Answer::Info(Ok(i)) if i.allowed) {
            admitted += 1;
        }
        assert_eq!(keyed.policy(), buckets[k].policy());
        assert_eq!(Requota::limit(&keyed), current.limit());
    }
    assert!(admitted > 20, "seed {seed}: only {admitted} admitted");
    assert_eq!(keyed.check_invariants(), Ok(()));
}

#[test]
fn bucket_and_keyed_give_identical_answers() {
    for seed in 0..24 {
        let (rate, limit) = [(10.0, 3), (1_000.0, 20), (3.0, 1), (1e9, 7)][seed as usize % 4];
        bucket_vs_keyed(seed, rate, limit);
    }
}

/// The async form of a sync limiter is the same answer, ready at once; the
/// blocking and async waits through the trait sleep exactly the wait.
#[test]
fn async_form_and_waits_match() {
    let clock = ManualClock::new();
    let bucket = TokenBucket::builder()
        .rate(4.0)
        .limit(2)
        .clock(clock.clone())
        .build()
        .unwrap();
    let keyed = KeyedLimiter::<u32>::builder()
        .rate(4.0)
        .limit(2)
        .clock(clock.clone())
        .build()
        .unwrap();
    for _ in 0..3 {
        let a = futures::executor::block_on(AsyncLimiter::throttle_async(&bucket, &(), 1));
        let b = futures::executor::block_on(AsyncLimiter::throttle_async(&keyed, &7, 1));
        assert_eq!(a, b);
    }
    // Both are empty: the blocking wait sleeps the manual clock 250 ms.
    let t0 = clock.now();
    Limiter::acquire(&bucket, &(), 1).unwrap();
    assert_eq!(clock.now() - t0, Duration::from_millis(250));
    Limiter::acquire(&keyed, &7, 1).unwrap();
    assert_eq!(
        clock.now() - t0,
        Duration::from_millis(250),
        "keyed had refilled too"
    );
    let sleeper = latchwork::sleep::ClockSleeper::new(clock.clone());
    futures::executor::block_on(AsyncLimiter::until_ready(&bucket, &(), 2, &sleeper)).unwrap();
    assert_eq!(clock.now() - t0, Duration::from_millis(750));
    assert_eq!(
        futures::executor::block_on(AsyncLimiter::until_ready(&keyed, &7, 3, &sleeper)),
        Err(Error::CostExceedsCapacity {
            cost: 3,
            capacity: 2
        })
    );
}

// ---- every local limiter: the one convention -------------------------------

/// The convention and the retry-after promise, for any limiter: a denial is
/// `Ok(allowed: false)` with a positive `retry_after`, the `Err` forms
/// agree, and advancing the clock by the `retry_after` admits the same
/// request. Returns the admissions `(time, cost)` for the semantic checks.
fn convention<L: Limiter<()>>(
    l: &L,
    clock: &ManualClock,
    seed: u64,
    max_advance: u64,
) -> Vec<(u64, u64)> {
    let limit = Requota::limit(l);
    let mut rng = Lcg(seed);
    let mut admitted = Vec::new();
    let mut denials = 0;
    for step in 0..400 {
        clock.advance(Duration::from_nanos(rng.next(max_advance)));
        let cost = rng.next(limit + 2);
        let now = clock.now_nanos();
        if cost > limit {
            let too_much = Err(Error::CostExceedsCapacity {
                cost,
                capacity: limit,
            });
            assert_eq!(l.throttle(&(), cost), too_much);
            assert_eq!(l.probe(&(), cost), too_much);
            assert_eq!(l.try_acquire(&(), cost), too_much.clone().map(drop));
            assert_eq!(
                l.acquire(&(), cost),
                too_much.map(drop),
                "acquire returns at once"
            );
            continue;
        }
        let probe = l.probe(&(), cost).unwrap();
        let wait = l.wait_time(&(), cost).unwrap();
        assert_eq!(wait, probe.retry_after.unwrap_or_default(), "step {step}");
        let info = l.throttle(&(), cost).unwrap();
        assert_eq!(
            info.allowed, probe.allowed,
            "step {step}: probe and throttle differ"
        );
        assert_eq!(info.limit, limit);
        assert!(info.remaining <= limit);
        if info.allowed {
            assert_eq!(info.retry_after, None);
            assert!(info.remaining <= probe.remaining);
            if cost > 0 {
                admitted.push((now, cost));
            }
            continue;
        }
        denials += 1;
        let retry = info.retry_after.expect("a denial says when to retry");
        assert!(retry > Duration::ZERO, "step {step}: zero retry-after");
        assert_eq!(retry, wait);
        assert_eq!(
            l.try_acquire(&(), cost),
            Err(Error::RateLimited { retry_after: retry }),
            "the Err convention answers the same wait"
        );
        assert_eq!(
            info.into_result(),
            Err(Error::RateLimited { retry_after: retry })
        );
        clock.advance(retry);
        let again = l.throttle(&(), cost).unwrap();
        assert!(
            again.allowed,
            "step {step}: denied again after its retry-after {retry:?}"
        );
        admitted.push((clock.now_nanos(), cost));
    }
    assert!(
        denials > 10,
        "seed {seed}: the sequence never reached the limit"
    );
    admitted
}

#[test]
fn sliding_log_never_exceeds_its_limit() {
    for seed in 0..8 {
        let clock = ManualClock::new();
        let (limit, window) = (1 + seed % 5, 1_000 + seed * 37);
        let log = SlidingWindowLog::builder()
            .limit(limit)
            .window(Duration::from_nanos(window))
            .clock(clock.clone())
            .build()
            .unwrap();
        let admitted = convention(&log, &clock, seed, window / 3);
        // Exact: at most `limit` in any window `(t - W, t]`.
        for (i, &(t, _)) in admitted.iter().enumerate() {
            let inside: u64 = admitted[..=i]
                .iter()
                .filter(|&&(s, _)| t - s < window)
                .map(|&(_, c)| c)
                .sum();
            assert!(
                inside <= limit,
                "seed {seed}: {inside} in the window ending at {t}"
            );
        }
        assert_eq!(log.check_invariants(), Ok(()));
    }
}

#[test]
fn sliding_counter_never_exceeds_its_limit() {
    for seed in 0..8 {
        let clock = ManualClock::new();
        let (limit, window) = (1 + seed % 5, 1_000 + seed * 37);
        let counter = SlidingWindowCounter::builder()
            .limit(limit)
            .window(Duration::from_nanos(window))
            .clock(clock.clone())
            .build()
            .unwrap();
        let admitted = convention(&counter, &clock, seed, window / 3);
        // At most `limit` per fixed window, `2 x limit` per sliding one.
        let mut per_fixed = std::collections::BTreeMap::<u64, u64>::new();
        for &(t, c) in &admitted {
            *per_fixed.entry(t / window).or_default() += c;
        }
        assert!(
            per_fixed.values().all(|&n| n <= limit),
            "seed {seed}: {per_fixed:?}"
        );
        for &(t, _) in &admitted {
            let inside: u64 = admitted
                .iter()
                .filter(|&&(s, _)| s <= t && t - s < window)
                .map(|&(_, c)| c)
                .sum();
            assert!(inside <= 2 * limit);
        }
    }
}

#[test]
fn buckets_never_exceed_limit_plus_refill() {
    for seed in 0..8 {
        let clock = ManualClock::new();
        let (limit, interval) = (1 + seed % 4, 100 * MS);
        let bucket = TokenBucket::builder()
            .rate(10.0)
            .limit(limit)
            .clock(clock.clone())
            .build()
            .unwrap();
        let keyed_clock = ManualClock::new();
        let keyed = KeyedLimiter::<()>::builder()
            .rate(10.0)
            .limit(limit)
            .clock(keyed_clock.clone())
            .build()
            .unwrap();
        for admitted in [
            convention(&bucket, &clock, seed, interval),
            convention(&keyed, &keyed_clock, seed, interval),
        ] {
            let start = admitted.first().map_or(0, |a| a.0);
            let mut total = 0;
            for &(t, c) in &admitted {
                total += c;
                assert!(total <= limit + (t - start) / interval, "seed {seed}");
            }
        }
    }
}

// ---- re-quota through &self --------------------------------------------------

#[test]
fn requota_on_a_manual_clock_is_exact() {
    let clock = ManualClock::new();
    let bucket = TokenBucket::builder()
        .rate(10.0)
        .limit(10)
        .clock(clock.clone())
        .build()
        .unwrap();
    let keyed = KeyedLimiter::<&str>::builder()
        .rate(10.0)
        .limit(10)
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(bucket.policy(), policy(10, Duration::from_secs(1)));
    assert_eq!(bucket.throttle(&(), 4).unwrap().remaining, 6);
    assert_eq!(keyed.throttle(&"k", 4).unwrap().remaining, 6);
    // 20 per second in bursts of 20: the 6 tokens are kept, not refilled.
    let faster = policy(20, Duration::from_secs(1));
    bucket.set_policy(faster).unwrap();
    keyed.set_policy(faster).unwrap();
    let p = bucket.probe(&(), 7).unwrap();
    assert_eq!((p.allowed, p.limit, p.remaining), (false, 20, 6));
    assert_eq!(p.retry_after, Some(Duration::from_millis(50)));
    assert_eq!(p.reset_after, Duration::from_millis(700));
    let p = keyed.probe(&"k", 7).unwrap();
    assert_eq!((p.allowed, p.limit, p.remaining), (false, 20, 6));
    assert_eq!(p.retry_after, Some(Duration::from_millis(50)));
    // An unknown key, and a full bucket, are full under the new limit.
    assert_eq!(keyed.probe(&"new", 0).unwrap().remaining, 20);
    clock.advance(Duration::from_millis(50));
    assert!(bucket.throttle(&(), 7).unwrap().allowed);
    assert!(keyed.throttle(&"k", 7).unwrap().allowed);
    // Shrinking caps the tokens kept; the old `set_quota` is `&self` too.
    bucket.set_quota(1.0, 1).unwrap();
    keyed.set_quota(1.0, 1).unwrap();
    assert_eq!(bucket.capacity(), 1);
    assert_eq!(Requota::limit(&keyed), 1);
    assert_eq!(bucket.throttle(&(), 1).unwrap().remaining, 0);
    assert_eq!(keyed.throttle(&"k", 1).unwrap().remaining, 0);
    // A failed re-quota changes nothing.
    let huge = policy(2, Duration::MAX);
    assert!(matches!(
        bucket.set_policy(huge),
        Err(Error::CapacityOverflow { .. })
    ));
    assert!(matches!(
        keyed.set_policy(huge),
        Err(Error::CapacityOverflow { .. })
    ));
    assert_eq!(bucket.policy(), policy(1, Duration::from_secs(1)));

    // The log keeps its entries: a lower limit counts them until they leave.
    let log = SlidingWindowLog::builder()
        .limit(5)
        .window(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    let t0 = clock.now();
    assert!(log.throttle(&(), 3).unwrap().allowed);
    clock.advance(Duration::from_millis(400));
    log.set_policy(policy(2, Duration::from_secs(1))).unwrap();
    let d = log.throttle(&(), 1).unwrap();
    assert_eq!((d.allowed, d.limit, d.remaining), (false, 2, 0));
    assert_eq!(d.retry_after, Some(Duration::from_millis(600)));
    assert_eq!(log.check_invariants(), Ok(()));
    // A shorter window lets the entry leave sooner.
    log.set_policy(policy(2, Duration::from_millis(500)))
        .unwrap();
    assert_eq!(log.wait_time(1), Ok(Duration::from_millis(100)));
    clock.advance(Duration::from_millis(100));
    let a = log.throttle(&(), 2).unwrap();
    assert_eq!(
        (a.allowed, a.remaining, a.reset_after),
        (true, 0, Duration::from_millis(500))
    );
    assert_eq!(log.check_invariants(), Ok(()));
    assert_eq!(clock.now() - t0, Duration::from_millis(500));

    // The counter keeps its counts.
    let counter = SlidingWindowCounter::builder()
        .limit(10)
        .window(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    assert!(counter.throttle(&(), 6).unwrap().allowed);
    counter
        .set_policy(policy(4, Duration::from_secs(1)))
        .unwrap();
    assert_eq!(counter.policy(), policy(4, Duration::from_secs(1)));
    let d = counter.throttle(&(), 1).unwrap();
    assert_eq!((d.allowed, d.limit, d.remaining), (false, 4, 0));
}

/// Threads throttle while another re-quotas back and forth between two
/// quotas of the same limit and different windows, the clock standing
/// still: every re-quota keeps the whole units left exactly (no refill, no
/// fraction), so exactly `limit` are admitted in all, whatever the
/// interleaving. A check decided under one quota but charged to the state
/// of the other would admit half a unit too many or too few.
fn requota_stress<L: Limiter<u8> + Sync>(l: &L, keys: u8, limit: u64) {
    let a = policy(limit, Duration::from_secs(limit));
    let b = policy(limit, Duration::from_secs(limit / 2));
    let done = AtomicBool::new(false);
    let requotas = AtomicU64::new(0);
    let per_key: Vec<AtomicU64> = (0..keys).map(|_| AtomicU64::new(0)).collect();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut flip = false;
            while !done.load(Ordering::Relaxed) {
                l.set_policy(if flip { a } else { b }).unwrap();
                flip = !flip;
                requotas.fetch_add(1, Ordering::Relaxed);
                std::thread::yield_now();
            }
        });
        let workers: Vec<_> = (0..4u8)
            .map(|t| {
                let per_key = &per_key;
                let requotas = &requotas;
                s.spawn(move || {
                    // Start once the re-quotas have: the race is the point.
                    while requotas.load(Ordering::Relaxed) == 0 {
                        std::thread::yield_now();
                    }
                    let mut misses = 0;
                    let mut i = 0u64;
                    while misses < 2_000 {
                        let key = ((i + u64::from(t)) % u64::from(keys)) as u8;
                        i += 1;
                        let info = l.throttle(&key, 1).unwrap();
                        assert_eq!(info.limit, limit);
                        assert!(info.remaining < limit);
                        if info.allowed {
                            per_key[key as usize].fetch_add(1, Ordering::Relaxed);
                        } else {
                            misses += 1;
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    assert!(requotas.load(Ordering::Relaxed) > 0);
    for (k, n) in per_key.iter().enumerate() {
        assert_eq!(n.load(Ordering::Relaxed), limit, "key {k}");
        assert_eq!(l.probe(&(k as u8), 1).unwrap().remaining, 0);
    }
}

#[test]
fn requota_under_threads_loses_and_leaks_nothing() {
    let clock = ManualClock::new();
    clock.set(Duration::from_secs(1_000));
    let limit = 20_000;
    // Each round is a few milliseconds; several make a lost race likely to
    // show.
    let with = |l: &dyn Fn()| (0..6).for_each(|_| l());
    with(&|| {
        let bucket = TokenBucket::builder()
            .rate(1.0)
            .limit(limit)
            .clock(clock.clone())
            .build()
            .unwrap();
        requota_stress(&bucket, 1, limit);
    });
    with(&|| {
        let keyed = KeyedLimiter::<u8>::builder()
            .rate(1.0)
            .limit(limit / 4)
            .shards(2)
            .clock(clock.clone())
            .build()
            .unwrap();
        requota_stress(&keyed, 3, limit / 4);
    });
    with(&|| {
        let log = SlidingWindowLog::builder()
            .limit(limit)
            .window(Duration::from_secs(limit))
            .clock(clock.clone())
            .build()
            .unwrap();
        requota_stress(&log, 1, limit);
        assert_eq!(log.check_invariants(), Ok(()));
    });
    with(&|| {
        let counter = SlidingWindowCounter::builder()
            .limit(limit)
            .window(Duration::from_secs(limit))
            .clock(clock.clone())
            .build()
            .unwrap();
        requota_stress(&counter, 1, limit);
    });
}

// ---- headers (feature `http`) -------------------------------------------------

#[cfg(feature = "http")]
mod headers {
    use super::*;
    use http::HeaderMap;
    use latchwork::ratelimit::{HeaderOptions, HeaderStyle};

    fn info(
        allowed: bool,
        limit: u64,
        remaining: u64,
        retry: Option<Duration>,
        reset: Duration,
    ) -> RateLimitInfo {
        RateLimitInfo {
            allowed,
            limit,
            remaining,
            retry_after: retry,
            reset_after: reset,
        }
    }

    fn written(i: &RateLimitInfo, p: &RateLimitPolicy, o: &HeaderOptions) -> Vec<(String, String)> {
        let mut h = HeaderMap::new();
        i.write_headers(p, o, &mut h);
        let mut v: Vec<_> = h
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        v.sort();
        v
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<_> = p
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn exact_values_for_known_answers() {
        let p = policy(100, Duration::from_secs(60));
        let ok = info(true, 100, 42, None, Duration::from_millis(34_200));
        assert_eq!(
            written(&ok, &p, &HeaderOptions::default()),
            pairs(&[
                ("ratelimit", "\"default\";r=42;t=35"),
                ("ratelimit-policy", "\"default\";q=100;w=60"),
                ("ratelimit-limit", "100"),
                ("ratelimit-remaining", "42"),
                ("ratelimit-reset", "35"),
            ])
        );
        let denied = info(
            false,
            100,
            0,
            Some(Duration::from_millis(600)),
            Duration::from_secs(60),
        );
        assert_eq!(
            written(&denied, &p, &HeaderOptions::new(HeaderStyle::Ietf)),
            pairs(&[
                ("ratelimit", "\"default\";r=0;t=60"),
                ("ratelimit-policy", "\"default\";q=100;w=60"),
                ("retry-after", "1"),
            ])
        );
        let named = HeaderOptions::new(HeaderStyle::Legacy)
            .policy_name("api")
            .unwrap();
        assert_eq!(
            written(&denied, &p, &named),
            pairs(&[
                ("ratelimit-limit", "100"),
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", "60"),
                ("retry-after", "1"),
            ])
        );
        let named = HeaderOptions::new(HeaderStyle::Ietf)
            .policy_name("per \"client\" \\ 1")
            .unwrap();
        assert_eq!(
            written(&ok, &p, &named)[0],
            (
                "ratelimit".to_owned(),
                r#""per \"client\" \\ 1";r=42;t=35"#.to_owned()
            )
        );
    }

    #[test]
    fn seconds_round_up_and_a_denial_never_says_zero() {
        let p = policy(1, Duration::from_nanos(1));
        // 1 ns of window is 1 s; a zero reset of an admission stays 0.
        let full = info(true, 1, 1, None, Duration::ZERO);
        let h = written(&full, &p, &HeaderOptions::default());
        assert!(h.contains(&("ratelimit-reset".into(), "0".into())));
        assert!(h.contains(&("ratelimit-policy".into(), "\"default\";q=1;w=1".into())));
        for retry in [Some(Duration::ZERO), Some(Duration::from_nanos(1)), None] {
            let d = info(false, 1, 0, retry, Duration::ZERO);
            let h = written(&d, &p, &HeaderOptions::default());
            assert!(
                h.contains(&("retry-after".into(), "1".into())),
                "{retry:?}: {h:?}"
            );
            assert!(h.contains(&("ratelimit-reset".into(), "1".into())));
            assert!(h.contains(&("ratelimit".into(), "\"default\";r=0;t=1".into())));
        }
        let d = info(
            false,
            5,
            2,
            Some(Duration::from_millis(1_001)),
            Duration::from_millis(2_000),
        );
        let h = written(&d, &p, &HeaderOptions::new(HeaderStyle::Legacy));
        assert!(h.contains(&("retry-after".into(), "2".into())));
        assert!(h.contains(&("ratelimit-reset".into(), "2".into())));
    }

    #[test]
    fn huge_values_neither_panic_nor_overflow_the_field() {
        let p = policy(u64::MAX, Duration::MAX);
        let d = info(
            false,
            u64::MAX,
            u64::MAX,
            Some(Duration::MAX),
            Duration::MAX,
        );
        let h = written(&d, &p, &HeaderOptions::default());
        let max = "999999999999999";
        assert!(h.contains(&("ratelimit".into(), format!("\"default\";r={max};t={max}"))));
        assert!(h.contains(&(
            "ratelimit-policy".into(),
            format!("\"default\";q={max};w={max}")
        )));
        assert!(h.contains(&("ratelimit-limit".into(), u64::MAX.to_string())));
        // `Duration::MAX` is u64::MAX seconds and a fraction: rounded up it
        // saturates.
        assert!(
            h.contains(&("retry-after".into(), u64::MAX.to_string())),
            "{h:?}"
        );
    }

    #[test]
    fn policy_names_are_checked() {
        for bad in ["", "caf\u{e9}", "tab\there", &"x".repeat(257)] {
            assert!(matches!(
                HeaderOptions::default().policy_name(bad),
                Err(Error::InvalidKey {
                    parameter: "policy_name",
                    ..
                })
            ));
        }
        assert_eq!(HeaderOptions::default().style(), HeaderStyle::Both);
    }

    /// Every limiter's answer and policy write the same way.
    #[test]
    fn from_every_limiter() {
        let clock = ManualClock::new();
        let bucket = TokenBucket::builder()
            .rate(2.0)
            .limit(4)
            .clock(clock.clone())
            .build()
            .unwrap();
        let log = SlidingWindowLog::builder()
            .limit(4)
            .window(Duration::from_secs(2))
            .clock(clock.clone())
            .build()
            .unwrap();
        for (l, reset) in [(&bucket as &dyn Limiter<()>, "2"), (&log, "2")] {
            let i = l.throttle(&(), 4).unwrap();
            let d = l.throttle(&(), 1).unwrap();
            let mut h = HeaderMap::new();
            i.write_headers(&l.policy(), &HeaderOptions::default(), &mut h);
            assert_eq!(h["ratelimit-policy"], "\"default\";q=4;w=2");
            assert_eq!(h["ratelimit-reset"], reset);
            assert!(h.get("retry-after").is_none());
            d.write_headers(&l.policy(), &HeaderOptions::default(), &mut h);
            assert_eq!(h["ratelimit-remaining"], "0");
            assert_ne!(h["retry-after"], "0");
        }
    }
}

// ---- Redis (feature `redis`, `LATCHWORK_REDIS_URL`) ---------------------------

#[cfg(feature = "redis")]
mod redis_backed {
    use super::*;
    use latchwork::ratelimit::{BlockingRedisLimiter, RedisLimiter};

    fn url() -> Option<String> {
        match std::env::var("LATCHWORK_REDIS_URL") {
            Ok(u) if !u.is_empty() => Some(u),
            _ => {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: LATCHWORK_REDIS_URL is unset; no Redis to test against"
                );
                None
            }
        }
    }

    fn prefix(test: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("lwconf:{test}:{}:{nanos}:", std::process::id())
    }

    /// `(allowed, limit, remaining)`: what a burst answers on any clock.
    fn shape(i: &RateLimitInfo) -> (bool, u64, u64) {
        (i.allowed, i.limit, i.remaining)
    }

    /// A burst on a bucket that refills once a minute: server time passes
    /// between the calls, but not a minute, so Redis answers as the
    /// in-process bucket on a clock standing still.
    #[test]
    fn blocking_limiter_answers_a_burst_as_the_bucket() {
        let Some(url) = url() else { return };
        let redis: BlockingRedisLimiter = RedisLimiter::builder()
            .url(&url)
            .rate(1.0 / 60.0)
            .limit(5)
            .key_prefix(&prefix("burst"))
            .build_blocking()
            .unwrap();
        let bucket = TokenBucket::builder()
            .rate(1.0 / 60.0)
            .limit(5)
            .clock(ManualClock::new())
            .build()
            .unwrap();
        assert_eq!(Requota::policy(&redis), bucket.policy());
        let costs = [1, 2, 0, 1, 3, 1, 0, 2, 6];
        for (i, &cost) in costs.iter().enumerate() {
            let (r, b) = (
                Limiter::<str>::throttle(&redis, "k", cost),
                Limiter::<()>::throttle(&bucket, &(), cost),
            );
            match (&r, &b) {
                (Ok(r), Ok(b)) => {
                    assert_eq!(shape(r), shape(b), "call {i}, cost {cost}");
                    assert_eq!(r.retry_after.is_some(), !r.allowed);
                }
                _ => assert_eq!(r, b, "call {i}, cost {cost}"),
            }
            let (pr, pb) = (
                Limiter::<str>::probe(&redis, "k", 1).unwrap(),
                Limiter::<()>::probe(&bucket, &(), 1).unwrap(),
            );
            assert_eq!(shape(&pr), shape(&pb), "probe after call {i}");
        }
        // A denial is an answer; the Err convention on top of it.
        assert!(matches!(
            Limiter::<str>::check(&redis, "k"),
            Err(Error::RateLimited { .. })
        ));
        // Re-quota through `&self`: the key keeps its (zero) tokens.
        redis
            .set_policy(policy(10, Duration::from_secs(600)))
            .unwrap();
        bucket
            .set_policy(policy(10, Duration::from_secs(600)))
            .unwrap();
        assert_eq!(Requota::policy(&redis), bucket.policy());
        assert_eq!(
            shape(&Limiter::<String>::throttle(&redis, &"k".to_owned(), 1).unwrap()),
            shape(&bucket.throttle(&(), 1).unwrap())
        );
        assert_eq!(
            shape(&Limiter::<str>::throttle(&redis, "fresh", 10).unwrap()),
            (true, 10, 0)
        );
    }

    #[test]
    fn async_limiter_answers_a_burst_as_the_bucket() {
        let Some(url) = url() else { return };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let redis = RedisLimiter::builder()
                .url(&url)
                .rate(1.0 / 60.0)
                .limit(3)
                .key_prefix(&prefix("async"))
                .build()
                .await
                .unwrap();
            let bucket = TokenBucket::builder()
                .rate(1.0 / 60.0)
                .limit(3)
                .clock(ManualClock::new())
                .build()
                .unwrap();
            /// Generic over the async form, as a tower layer is.
            async fn burst<L: AsyncLimiter<String>>(l: &L, n: usize) -> Vec<(bool, u64, u64)> {
                let mut v = Vec::new();
                for _ in 0..n {
                    v.push(shape(
                        &l.throttle_async(&"key".to_owned(), 1).await.unwrap(),
                    ));
                }
                v
            }
            assert_eq!(burst(&redis, 5).await, burst(&bucket, 5).await);
            assert_eq!(Requota::limit(&redis), 3);
            assert!(matches!(
                AsyncLimiter::<str>::throttle_async(&redis, "key", 4).await,
                Err(Error::CostExceedsCapacity { .. })
            ));
        });
    }
}
