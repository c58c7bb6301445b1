//! `SlidingWindowCounter` against the full-history reference: every
//! decision, every reported wait and `available()` after every operation.
#![no_main]

use arbitrary::Arbitrary;
use latchwork::clock::{Clock, ManualClock};
use latchwork::ratelimit::{Error, SlidingWindowCounter};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

#[path = "../../tests/ratelimit_ref/mod.rs"]
mod reference;
use reference::RefCounter;

#[derive(Arbitrary, Debug)]
enum Op {
    Advance(u32),
    Acquire(u8),
    WaitTime(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    window: u16,
    limit: u8,
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
    if input.ops.len() > 512 {
        return; // the reference is quadratic
    }
    let window = u64::from(input.window.max(1));
    let limit = u64::from(input.limit.max(1)) % 32 + 1;
    let clock = ManualClock::new();
    let limiter = SlidingWindowCounter::builder()
        .limit(limit)
        .window(Duration::from_nanos(window))
        .clock(clock.clone())
        .build()
        .expect("valid parameters");
    let mut model = RefCounter::new(limit, window);
    for op in input.ops {
        let now = clock.now_nanos();
        match op {
            Op::Advance(d) => clock.advance(Duration::from_nanos(u64::from(d) % (3 * window))),
            Op::Acquire(c) => {
                let c = u64::from(c) % (limit + 2);
                assert_eq!(shape(limiter.try_acquire(c)), model.acquire(now, c));
            }
            Op::WaitTime(c) => {
                let c = u64::from(c) % (limit + 2);
                let expect = model.clone().acquire(now, c).map(|r| r.err().unwrap_or(0));
                assert_eq!(
                    limiter.wait_time(c).ok().map(|d| d.as_nanos() as u64),
                    expect
                );
            }
        }
        let now = clock.now_nanos();
        assert_eq!(limiter.available(), model.available(now));
    }
});
