//! `TokenBucket` against the integer credit-counter reference.
#![no_main]

#[path = "../common/limiter_driver.rs"]
mod driver;

use arbitrary::Arbitrary;
use driver::{drive, reference::RefBucket, Op};
use latchwork::clock::ManualClock;
use latchwork::ratelimit::TokenBucket;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    rate: u32,
    burst: u8,
    ops: Vec<Op>,
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
    drive(&clock, &bucket, &mut model, burst, |d| d * 16, input.ops);
});
