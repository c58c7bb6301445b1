#![cfg(all(not(loom), feature = "retry"))]
//! Backoff schedules: exact nominal delays for each shape, and property
//! tests over seeds that every jittered delay lies in its kind's interval
//! (restated here from the issue, not taken from the library) and never
//! above the cap.
use latchwork::retry::{Backoff, Error, Jitter, RandomSource, SplitMix64};
use proptest::prelude::*;
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

fn ms(v: &[u64]) -> Vec<Duration> {
    v.iter().map(|&m| Duration::from_millis(m)).collect()
}

#[test]
fn exponential_schedule_is_exact_and_capped() {
    let b = Backoff::exponential(100 * MS)
        .factor(2.0)
        .max_delay(1000 * MS)
        .build()
        .unwrap();
    let d: Vec<_> = b.delays_seeded(1).take(7).collect();
    assert_eq!(d, ms(&[100, 200, 400, 800, 1000, 1000, 1000]));
    let b3 = Backoff::exponential(10 * MS)
        .factor(3.0)
        .max_delay(Duration::from_secs(10))
        .build()
        .unwrap();
    let d: Vec<_> = b3.delays_seeded(1).take(5).collect();
    assert_eq!(d, ms(&[10, 30, 90, 270, 810]));
    // Far past any overflow the delay stays at the cap.
    assert_eq!(b.nominal(u32::MAX), 1000 * MS);
    assert_eq!(b.nominal(0), b.nominal(1));
}

#[test]
fn classic_one_two_four() {
    let b = Backoff::exponential(Duration::from_secs(1))
        .factor(2.0)
        .build()
        .unwrap();
    let d: Vec<_> = b.delays_seeded(9).take(3).map(|d| d.as_secs()).collect();
    assert_eq!(d, [1, 2, 4]);
}

#[test]
fn constant_and_linear_schedules_are_exact() {
    let c = Backoff::constant(250 * MS).build().unwrap();
    assert_eq!(
        c.delays_seeded(0).take(4).collect::<Vec<_>>(),
        ms(&[250; 4])
    );
    let l = Backoff::linear(100 * MS)
        .max_delay(350 * MS)
        .build()
        .unwrap();
    assert_eq!(
        l.delays_seeded(0).take(5).collect::<Vec<_>>(),
        ms(&[100, 200, 300, 350, 350])
    );
    let l = Backoff::linear(100 * MS).step(50 * MS).build().unwrap();
    assert_eq!(
        l.delays_seeded(0).take(4).collect::<Vec<_>>(),
        ms(&[100, 150, 200, 250])
    );
}

#[test]
fn default_cap_is_sixty_seconds_or_the_base() {
    let b = Backoff::exponential(Duration::from_secs(1))
        .build()
        .unwrap();
    assert_eq!(b.max_delay(), Duration::from_secs(60));
    assert_eq!(b.nominal(20), Duration::from_secs(60));
    let long = Backoff::constant(Duration::from_secs(90)).build().unwrap();
    assert_eq!(long.max_delay(), Duration::from_secs(90));
}

#[test]
fn bad_parameters_are_typed_errors() {
    for f in [0.0, -2.0, 0.5, f64::NAN, f64::INFINITY] {
        let e = Backoff::exponential(MS).factor(f).build().unwrap_err();
        assert!(matches!(e, Error::InvalidFactor(_)), "{f}: {e}");
    }
    assert_eq!(
        Backoff::exponential(2 * MS).max_delay(MS).build(),
        Err(Error::BaseAboveMax {
            base: 2 * MS,
            max: MS
        })
    );
    for f in [f64::NAN, -0.1, 1.5, f64::INFINITY] {
        let e = Backoff::constant(MS)
            .jitter(Jitter::Proportional(f))
            .build()
            .unwrap_err();
        assert!(matches!(e, Error::InvalidJitter(_)), "{f}: {e}");
        assert!(e.to_string().contains("jitter"));
    }
    // Factor is only checked where it is used.
    assert!(Backoff::constant(MS).factor(f64::NAN).build().is_ok());
}

#[test]
fn same_seed_same_delays_and_unjittered_draws_nothing() {
    let b = Backoff::exponential(MS)
        .jitter(Jitter::Full)
        .build()
        .unwrap();
    let a: Vec<_> = b.delays_seeded(5).take(20).collect();
    assert_eq!(a, b.delays_seeded(5).take(20).collect::<Vec<_>>());
    assert_ne!(a, b.delays_seeded(6).take(20).collect::<Vec<_>>());

    #[derive(Debug)]
    struct Counting(u64);
    impl RandomSource for Counting {
        fn next_u64(&mut self) -> u64 {
            self.0 += 1;
            0
        }
    }
    let mut rng = Counting(0);
    let plain = Backoff::exponential(MS).build().unwrap();
    assert_eq!(plain.delays(&mut rng).take(10).count(), 10);
    assert_eq!(rng.0, 0);
    // A source of all zeros gives the bottom of each interval.
    let full: Vec<_> = b.delays(Counting(0)).take(3).collect();
    assert_eq!(full, [Duration::ZERO; 3]);
}

fn jitter_strategy() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
        (0.0f64..=1.0).prop_map(Jitter::Proportional),
    ]
}

/// The interval each kind must draw from, restated from the issue.
fn expected_interval(j: Jitter, d: u128, prev: u128, base: u128, cap: u128) -> (u128, u128) {
    match j {
        Jitter::None => (d, d),
        Jitter::Full => (0, d),
        Jitter::Equal => (d / 2, d),
        Jitter::Decorrelated => (base, (prev * 3).min(cap).max(base)),
        Jitter::Proportional(f) => {
            // One nanosecond of slack for float rounding of d(1 +- f).
            let lo = ((d as f64) * (1.0 - f)).floor() as u128;
            let hi = ((d as f64) * (1.0 + f)).ceil() as u128;
            (lo.saturating_sub(1), (hi + 1).min(cap))
        }
        _ => unreachable!(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_jittered_delay_is_in_its_interval(
        shape in 0u8..3,
        base_us in 0u64..5_000_000,
        extra_us in 0u64..60_000_000,
        factor in 1.0f64..5.0,
        jitter in jitter_strategy(),
        seed in any::<u64>(),
    ) {
        let base = Duration::from_micros(base_us);
        let cap = base + Duration::from_micros(extra_us);
        let builder = match shape {
            0 => Backoff::exponential(base).factor(factor),
            1 => Backoff::constant(base),
            _ => Backoff::linear(base),
        };
        let b = builder.max_delay(cap).jitter(jitter).build().unwrap();
        let mut prev = base.as_nanos();
        for (i, d) in b.delays_seeded(seed).take(40).enumerate() {
            let n = b.nominal(i as u32 + 1).as_nanos();
            prop_assert!(n <= cap.as_nanos());
            let (lo, hi) = expected_interval(jitter, n, prev, base.as_nanos(), cap.as_nanos());
            let got = d.as_nanos();
            prop_assert!(lo <= got && got <= hi, "retry {}: {got} not in [{lo}, {hi}] ({jitter:?})", i + 1);
            prop_assert!(d <= cap, "above cap");
            prev = got;
        }
    }

    #[test]
    fn full_jitter_spreads_over_the_interval(seed in any::<u64>()) {
        // Not a bound but a sanity check that jitter is random at all:
        // 200 draws of Full over [0, 1 s] cover both halves.
        let b = Backoff::constant(Duration::from_secs(1)).jitter(Jitter::Full).build().unwrap();
        let low = b.delays_seeded(seed).take(200).filter(|d| d.as_millis() < 500).count();
        prop_assert!((40..160).contains(&low), "{low} of 200 in the low half");
    }
}

#[test]
fn splitmix_is_the_reference_stream() {
    // First outputs of SplitMix64 seeded with 0 (Vigna's reference code).
    let mut r = SplitMix64::new(0);
    assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
}
