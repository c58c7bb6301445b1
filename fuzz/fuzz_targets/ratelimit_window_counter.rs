//! `SlidingWindowCounter` (weighted two-window counter) against its full-history reference.
#![no_main]

#[path = "../common/limiter_driver.rs"]
mod driver;

use arbitrary::Arbitrary;
use driver::{drive, reference::RefCounter, Op};
use latchwork::clock::ManualClock;
use latchwork::ratelimit::SlidingWindowCounter;
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

#[derive(Arbitrary, Debug)]
struct Input {
    window: u16,
    limit: u8,
    ops: Vec<Op>,
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
    drive(
        &clock,
        &limiter,
        &mut model,
        limit,
        |d| d % (3 * window),
        input.ops,
    );
});
