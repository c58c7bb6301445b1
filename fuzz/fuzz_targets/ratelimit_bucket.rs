//! `TokenBucket` against the integer credit-counter reference: every
//! decision, every reported wait and `available()` after every operation.
#![no_main]

use arbitrary::Arbitrary;
use latchwork::clock::{Clock, ManualClock};
use latchwork::ratelimit::{Error, TokenBucket};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

#[path = "../../tests/ratelimit_ref/mod.rs"]
mod reference;
use reference::RefBucket;

#[derive(Arbitrary, Debug)]
enum Op {
    Advance(u32),
    Acquire(u8),
    WaitTime(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    rate: u32,
    burst: u8,
    ops: Vec<Op>,
}

fn shape(r: Result<(), Error>) -> Option<Result<(), u64>> {
    match r {
        Ok(()) => Some(Ok(())),
        Err(Error::RateLimited { retry_after }) => Some(Err(retry_after.as_nanos() as u64)),
        Err(Error::CostExceedsCapacity { .. }) => None,
        Err(e) => panic!("unexpected {e}"),
    }
}

fuzz_target!(|input: Input| {
    let rate = u64::from(input.rate.clamp(1, 1_000_000_000));
    let burst = u64::from(input.burst.max(1));
    let clock = ManualClock::new();
    let bucket = TokenBucket::builder()
        .rate(rate as f64)
        .burst(burst)
        .clock(clock.clone())
        .build()
        .expect("valid parameters");
    let mut model = RefBucket::per_second(rate, burst);
    for op in input.ops {
        let now = clock.now_nanos();
        match op {
            Op::Advance(d) => clock.advance(Duration::from_nanos(u64::from(d) * 16)),
            Op::Acquire(c) => {
                let c = u64::from(c) % (burst + 2);
                assert_eq!(shape(bucket.try_acquire(c)), model.acquire(now, c));
            }
            Op::WaitTime(c) => {
                let c = u64::from(c) % (burst + 2);
                let expect = model.clone().acquire(now, c).map(|r| r.err().unwrap_or(0));
                assert_eq!(
                    bucket.wait_time(c).ok().map(|d| d.as_nanos() as u64),
                    expect
                );
            }
        }
        let now = clock.now_nanos();
        assert_eq!(bucket.available(), model.available(now));
    }
});
