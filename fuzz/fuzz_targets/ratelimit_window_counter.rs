//! `SlidingWindowCounter` (weighted two-window counter) against its full-history reference.
#![no_main]

#[path = "../common/limiter_driver.rs"]
mod driver;

use driver::{drive_window, reference::RefCounter, WindowInput};
use latchwork::ratelimit::SlidingWindowCounter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: WindowInput| {
    drive_window(
        input,
        |limit, window, clock| {
            SlidingWindowCounter::builder()
                .limit(limit)
                .window(window)
                .clock(clock)
                .build()
                .expect("valid parameters")
        },
        RefCounter::new,
    );
});
