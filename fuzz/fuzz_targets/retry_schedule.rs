//! Arbitrary backoff parameters and seed: building never panics (bad input
//! is a typed error), and every produced delay lies in its jitter kind's
//! interval (restated here from the module docs) and never above the cap.
#![no_main]
use arbitrary::Arbitrary;
use latchwork::retry::{Backoff, Error, Jitter};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

#[derive(Arbitrary, Debug)]
struct Input {
    shape: u8,
    base_nanos: u64,
    max_nanos: Option<u64>,
    factor: f64,
    step_nanos: Option<u64>,
    jitter: u8,
    proportion: f64,
    seed: u64,
    count: u8,
}

fuzz_target!(|input: Input| {
    let base = Duration::from_nanos(input.base_nanos);
    let mut builder = match input.shape % 3 {
        0 => Backoff::exponential(base).factor(input.factor),
        1 => Backoff::constant(base),
        _ => Backoff::linear(base),
    };
    if let Some(step) = input.step_nanos {
        builder = builder.step(Duration::from_nanos(step));
    }
    if let Some(max) = input.max_nanos {
        builder = builder.max_delay(Duration::from_nanos(max));
    }
    let jitter = match input.jitter % 5 {
        0 => Jitter::None,
        1 => Jitter::Full,
        2 => Jitter::Equal,
        3 => Jitter::Decorrelated,
        _ => Jitter::Proportional(input.proportion),
    };
    let backoff = match builder.jitter(jitter).build() {
        Ok(b) => b,
        Err(Error::InvalidFactor(f)) => {
            assert!(input.shape % 3 == 0 && !(f.is_finite() && f >= 1.0));
            return;
        }
        Err(Error::InvalidJitter(f)) => {
            assert!(!(0.0..=1.0).contains(&f));
            return;
        }
        Err(Error::BaseAboveMax { base, max }) => {
            assert!(base > max);
            return;
        }
        Err(e) => panic!("unexpected error {e}"),
    };
    let (b, cap) = (backoff.base().as_nanos(), backoff.max_delay().as_nanos());
    assert!(b <= cap);
    let mut prev = b;
    for (i, d) in backoff
        .delays_seeded(input.seed)
        .take(usize::from(input.count))
        .enumerate()
    {
        let n = backoff.nominal(i as u32 + 1).as_nanos();
        let got = d.as_nanos();
        assert!(
            n <= cap && got <= cap,
            "delay {got} or nominal {n} above cap {cap}"
        );
        let (lo, hi) = match jitter {
            Jitter::None => (n, n),
            Jitter::Full => (0, n),
            Jitter::Equal => (n / 2, n),
            Jitter::Decorrelated => (b, (prev * 3).min(cap).max(b)),
            Jitter::Proportional(f) => {
                // A nanosecond of slack each side for float rounding, more
                // above 2^53 ns where f64 cannot hold every integer.
                let slack = (n >> 52) + 1;
                let lo = ((n as f64) * (1.0 - f)) as u128;
                let hi = ((n as f64) * (1.0 + f)) as u128;
                (lo.saturating_sub(slack), (hi + slack).min(cap))
            }
            _ => unreachable!(),
        };
        assert!(
            lo <= got && got <= hi,
            "retry {}: {got} not in [{lo}, {hi}] for {jitter:?}",
            i + 1
        );
        prev = got;
    }
});
