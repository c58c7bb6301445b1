//! `KeyedLimiter` against one credit-counter reference per key, with sweeps
//! interleaved: every decision and wait matches, and the shard invariants
//! hold after every operation (no eviction: `max_keys` is not reached).
#![no_main]

use arbitrary::Arbitrary;
use latchwork::clock::{Clock, ManualClock};
use latchwork::ratelimit::{Error, KeyedLimiter};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

#[path = "../../tests/common/ratelimit_reference.rs"]
mod reference;
use reference::RefBucket;

#[derive(Arbitrary, Debug)]
enum Op {
    Advance(u32),
    Acquire(u8, u8),
    WaitTime(u8, u8),
    Sweep,
}

#[derive(Arbitrary, Debug)]
struct Input {
    rate: u16,
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
    let rate = u64::from(input.rate.max(1));
    let burst = u64::from(input.burst.max(1));
    let clock = ManualClock::new();
    let keyed: KeyedLimiter<u8, _, _> = KeyedLimiter::builder()
        .rate(rate as f64)
        .burst(burst)
        .shards(4)
        .clock(clock.clone())
        .build()
        .expect("valid parameters");
    let mut models: Vec<RefBucket> = (0..=255)
        .map(|_| RefBucket::per_second(rate, burst))
        .collect();
    for op in input.ops {
        let now = clock.now_nanos();
        match op {
            Op::Advance(d) => clock.advance(Duration::from_nanos(u64::from(d) * 1_000)),
            Op::Acquire(k, c) => {
                let c = u64::from(c) % (burst + 2);
                assert_eq!(
                    shape(keyed.try_acquire(&k, c)),
                    models[k as usize].acquire(now, c)
                );
                assert_eq!(keyed.available(&k), models[k as usize].available(now));
            }
            Op::WaitTime(k, c) => {
                let c = u64::from(c) % (burst + 2);
                let expect = models[k as usize]
                    .clone()
                    .acquire(now, c)
                    .map(|r| r.err().unwrap_or(0));
                assert_eq!(
                    keyed.wait_time(&k, c).ok().map(|d| d.as_nanos() as u64),
                    expect
                );
            }
            Op::Sweep => {
                keyed.sweep();
            }
        }
        assert_eq!(keyed.check_invariants(), Ok(()));
        assert_eq!(keyed.evictions(), 0);
    }
});
