//! `SlidingWindowLog` (exact log (a ring of timestamps)) against its full-history reference.
#![no_main]

#[path = "../common/limiter_driver.rs"]
mod driver;

use driver::{drive_window, reference::RefLog, WindowInput};
use latchwork::ratelimit::SlidingWindowLog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: WindowInput| {
    drive_window(
        input,
        |limit, window, clock| {
            SlidingWindowLog::builder()
                .limit(limit)
                .window(window)
                .clock(clock)
                .build()
                .expect("valid parameters")
        },
        RefLog::new,
    );
});
