//! The driver shared by the single-limiter fuzz targets: one operation
//! stream, applied to a limiter and to its sequential reference on the same
//! manual clock, comparing every decision, every reported wait and
//! `available()` after every operation.
// Each target uses the part of the driver that fits its limiter.
#![allow(dead_code)]

use arbitrary::Arbitrary;
use latchwork::clock::{Clock, ManualClock};
use latchwork::ratelimit::{Error, SlidingWindowCounter, SlidingWindowLog, TokenBucket};
use std::time::Duration;

#[path = "../../tests/common/ratelimit_reference.rs"]
pub mod reference;

#[derive(Arbitrary, Debug)]
pub enum Op {
    Advance(u32),
    Acquire(u8),
    WaitTime(u8),
}

/// What the drivers need of a limiter.
pub trait Limiter {
    fn try_acquire(&self, cost: u64) -> Result<(), Error>;
    fn wait_time(&self, cost: u64) -> Result<Duration, Error>;
    fn available(&self) -> u64;
    /// Internal invariants, where the limiter exposes them.
    fn check_invariants(&self) -> Result<(), &'static str> {
        Ok(())
    }
}

/// What the drivers need of a reference.
pub trait Model: Clone {
    fn acquire(&mut self, now: u64, cost: u64) -> Option<Result<(), u64>>;
    fn available(&mut self, now: u64) -> u64;
}

macro_rules! forward {
    ($($t:ty),*) => {$(
        impl Limiter for $t {
            fn try_acquire(&self, cost: u64) -> Result<(), Error> { <$t>::try_acquire(self, cost) }
            fn wait_time(&self, cost: u64) -> Result<Duration, Error> { <$t>::wait_time(self, cost) }
            fn available(&self) -> u64 { <$t>::available(self) }
        }
    )*};
}
forward!(TokenBucket<ManualClock>, SlidingWindowCounter<ManualClock>);

impl Limiter for SlidingWindowLog<ManualClock> {
    fn try_acquire(&self, cost: u64) -> Result<(), Error> {
        SlidingWindowLog::try_acquire(self, cost)
    }
    fn wait_time(&self, cost: u64) -> Result<Duration, Error> {
        SlidingWindowLog::wait_time(self, cost)
    }
    fn available(&self) -> u64 {
        SlidingWindowLog::available(self)
    }
    fn check_invariants(&self) -> Result<(), &'static str> {
        SlidingWindowLog::check_invariants(self)
    }
}

impl Model for reference::RefBucket {
    fn acquire(&mut self, now: u64, cost: u64) -> Option<Result<(), u64>> {
        reference::RefBucket::acquire(self, now, cost)
    }
    fn available(&mut self, now: u64) -> u64 {
        reference::RefBucket::available(self, now)
    }
}

macro_rules! model {
    ($($t:ty),*) => {$(
        impl Model for $t {
            fn acquire(&mut self, now: u64, cost: u64) -> Option<Result<(), u64>> { <$t>::acquire(self, now, cost) }
            fn available(&mut self, now: u64) -> u64 { <$t>::available(self, now) }
        }
    )*};
}
model!(reference::RefLog, reference::RefCounter);

/// A decision as the references state it: admitted, denied with a wait in
/// nanoseconds, or refused outright (`None`: cost above capacity).
fn shape(r: Result<(), Error>) -> Option<Result<(), u64>> {
    match r {
        Ok(()) => Some(Ok(())),
        Err(Error::RateLimited { retry_after }) => Some(Err(retry_after.as_nanos() as u64)),
        Err(Error::CostExceedsCapacity { .. }) => None,
        Err(e) => panic!("unexpected {e}"),
    }
}

/// Applies `ops`; costs are taken modulo `capacity + 2` (so some exceed
/// it), advances through `advance(raw)` nanoseconds.
pub fn drive(
    clock: &ManualClock,
    limiter: &impl Limiter,
    model: &mut impl Model,
    capacity: u64,
    advance: impl Fn(u64) -> u64,
    ops: Vec<Op>,
) {
    for op in ops {
        let now = clock.now_nanos();
        match op {
            Op::Advance(d) => clock.advance(Duration::from_nanos(advance(u64::from(d)))),
            Op::Acquire(c) => {
                let c = u64::from(c) % (capacity + 2);
                assert_eq!(shape(limiter.try_acquire(c)), model.acquire(now, c));
            }
            Op::WaitTime(c) => {
                let c = u64::from(c) % (capacity + 2);
                let expect = model.clone().acquire(now, c).map(|r| r.err().unwrap_or(0));
                assert_eq!(
                    limiter.wait_time(c).ok().map(|d| d.as_nanos() as u64),
                    expect
                );
            }
        }
        let now = clock.now_nanos();
        assert_eq!(limiter.available(), model.available(now));
        assert_eq!(limiter.check_invariants(), Ok(()));
    }
}

/// The input of both sliding-window targets.
#[derive(Arbitrary, Debug)]
pub struct WindowInput {
    window: u16,
    limit: u8,
    ops: Vec<Op>,
}

/// Drives a sliding-window limiter built by `build(limit, window, clock)`
/// against the reference built by `model(limit, window)`.
pub fn drive_window<L: Limiter, M: Model>(
    input: WindowInput,
    build: impl FnOnce(u64, Duration, ManualClock) -> L,
    model: impl FnOnce(u64, u64) -> M,
) {
    if input.ops.len() > 512 {
        return; // the references are quadratic
    }
    let window = u64::from(input.window.max(1));
    let limit = u64::from(input.limit.max(1)) % 32 + 1;
    let clock = ManualClock::new();
    let limiter = build(limit, Duration::from_nanos(window), clock.clone());
    let mut model = model(limit, window);
    drive(
        &clock,
        &limiter,
        &mut model,
        limit,
        |d| d % (3 * window),
        input.ops,
    );
}
