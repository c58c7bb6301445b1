#![cfg(all(not(loom), feature = "clock", feature = "ratelimit"))]
//! Model tests: random sequences of (advance time, acquire cost) against
//! the sequential references in `common/ratelimit_reference.rs`, on a manual clock. Every
//! decision, every reported wait and every `available()` must match.

#[path = "common/ratelimit_reference.rs"]
mod ratelimit_ref;

use latchwork::clock::ManualClock;
use latchwork::ratelimit::{
    Error, KeyedLimiter, SlidingWindowCounter, SlidingWindowLog, TokenBucket,
};
use proptest::prelude::*;
use ratelimit_ref::{RefBucket, RefCounter, RefLog};
use std::time::Duration;

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Acquire(u64),
    Available,
    WaitTime(u64),
}

fn ops(max_advance: u64, max_cost: u64) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0..max_advance).prop_map(Op::Advance),
            5 => (0..=max_cost).prop_map(Op::Acquire),
            1 => Just(Op::Available),
            1 => (0..=max_cost).prop_map(Op::WaitTime),
        ],
        1..80,
    )
}

/// Maps the library's result to the reference's shape.
fn shape(r: Result<(), Error>) -> Option<Result<(), u64>> {
    match r {
        Ok(()) => Some(Ok(())),
        Err(Error::RateLimited { retry_after }) => Some(Err(retry_after.as_nanos() as u64)),
        Err(Error::CostExceedsCapacity { .. }) => None,
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn wait_of(r: Option<Result<(), u64>>) -> Option<Duration> {
    r.map(|r| Duration::from_nanos(r.err().unwrap_or(0)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn token_bucket_matches_reference(
        rate in prop_oneof![1u64..20, 1u64..2_000, Just(3), Just(7), Just(1_000_000_000)],
        burst in 1u64..12,
        ops in ops(400_000_000, 14),
    ) {
        let clock = ManualClock::new();
        let bucket = TokenBucket::builder().rate(rate as f64).burst(burst).clock(clock.clone()).build().unwrap();
        let mut model = RefBucket::per_second(rate, burst);
        prop_assert_eq!(bucket.interval().as_nanos(), model.interval);
        for op in ops {
            let now = clock.now_nanos_for_test();
            match op {
                Op::Advance(d) => clock.advance(Duration::from_nanos(d)),
                Op::Acquire(c) => prop_assert_eq!(shape(bucket.try_acquire(c)), model.acquire(now, c)),
                Op::Available => prop_assert_eq!(bucket.available(), model.available(now)),
                Op::WaitTime(c) => {
                    let expect = wait_of(model.clone().acquire(now, c));
                    prop_assert_eq!(bucket.wait_time(c).ok(), expect);
                }
            }
        }
    }

    #[test]
    fn keyed_matches_one_reference_per_key(
        rate in 1u64..50,
        burst in 1u64..6,
        ops in prop::collection::vec((0u8..4, 0u64..200_000_000, 0u64..7), 1..120),
    ) {
        let clock = ManualClock::new();
        let keyed: KeyedLimiter<u8, _, _> = KeyedLimiter::builder()
            .rate(rate as f64).burst(burst).shards(2).clock(clock.clone()).build().unwrap();
        let mut models: Vec<RefBucket> = (0..4).map(|_| RefBucket::per_second(rate, burst)).collect();
        for (key, advance, cost) in ops {
            clock.advance(Duration::from_nanos(advance));
            let now = clock.now_nanos_for_test();
            let expect = models[key as usize].clone().acquire(now, cost);
            prop_assert_eq!(keyed.wait_time(&key, cost).ok(), wait_of(expect));
            prop_assert_eq!(shape(keyed.try_acquire(&key, cost)), models[key as usize].acquire(now, cost));
            prop_assert_eq!(keyed.available(&key), models[key as usize].available(now));
            if advance % 5 == 0 {
                keyed.sweep();
            }
            prop_assert_eq!(keyed.check_invariants(), Ok(()));
        }
    }

    #[test]
    fn window_log_matches_reference(
        limit in 1u64..10,
        window in 1u64..1_000,
        ops in ops(700, 11),
    ) {
        let clock = ManualClock::new();
        let log = SlidingWindowLog::builder().limit(limit).window(Duration::from_nanos(window)).clock(clock.clone()).build().unwrap();
        let mut model = RefLog::new(limit, window);
        for op in ops {
            let now = clock.now_nanos_for_test();
            match op {
                Op::Advance(d) => clock.advance(Duration::from_nanos(d)),
                Op::Acquire(c) => prop_assert_eq!(shape(log.try_acquire(c)), model.acquire(now, c)),
                Op::Available => prop_assert_eq!(log.available(), model.available(now)),
                Op::WaitTime(c) => {
                    let expect = wait_of(model.clone().acquire(now, c));
                    prop_assert_eq!(log.wait_time(c).ok(), expect);
                }
            }
            prop_assert_eq!(log.check_invariants(), Ok(()));
        }
    }

    #[test]
    fn window_counter_matches_reference(
        limit in 1u64..10,
        window in 1u64..1_000,
        ops in ops(1_500, 11),
    ) {
        let clock = ManualClock::new();
        let counter = SlidingWindowCounter::builder().limit(limit).window(Duration::from_nanos(window)).clock(clock.clone()).build().unwrap();
        let mut model = RefCounter::new(limit, window);
        for op in ops {
            let now = clock.now_nanos_for_test();
            match op {
                Op::Advance(d) => clock.advance(Duration::from_nanos(d)),
                Op::Acquire(c) => prop_assert_eq!(shape(counter.try_acquire(c)), model.acquire(now, c)),
                Op::Available => prop_assert_eq!(counter.available(), model.available(now)),
                Op::WaitTime(c) => {
                    let expect = wait_of(model.clone().acquire(now, c));
                    prop_assert_eq!(counter.wait_time(c).ok(), expect);
                }
            }
        }
    }
}

/// `Clock::now_nanos` without importing the trait at every call site.
trait NowForTest {
    fn now_nanos_for_test(&self) -> u64;
}

impl NowForTest for ManualClock {
    fn now_nanos_for_test(&self) -> u64 {
        latchwork::clock::Clock::now_nanos(self)
    }
}
