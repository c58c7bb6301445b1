//! `SlidingWindowLog` (exact log (a ring of timestamps)) against its full-history reference.
#![no_main]

#[path = "../common/limiter_driver.rs"]
mod driver;

use arbitrary::Arbitrary;
use driver::{drive, reference::RefLog, Op};
use latchwork::clock::ManualClock;
use latchwork::ratelimit::SlidingWindowLog;
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
    let limiter = SlidingWindowLog::builder()
        .limit(limit)
        .window(Duration::from_nanos(window))
        .clock(clock.clone())
        .build()
        .expect("valid parameters");
    let mut model = RefLog::new(limit, window);
    drive(
        &clock,
        &limiter,
        &mut model,
        limit,
        |d| d % (3 * window),
        input.ops,
    );
});
