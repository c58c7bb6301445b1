#![cfg(all(not(loom), feature = "clock", feature = "retry"))]
//! The retry policy on a manual clock: schedules between attempts, the
//! deadline, classification, retry-after hints, the notify hook, the budget,
//! the async form and builder validation.
use latchwork::clock::{Clock, ManualClock};
use latchwork::retry::{
    Backoff, Error, GiveUp, Jitter, Retry, RetryAfter, RetryBudget, RetryError,
};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq)]
enum ApiError {
    Unavailable,
    Throttled(Duration),
    Timeout,
    Forbidden,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for ApiError {}

impl RetryAfter for ApiError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Throttled(d) => Some(*d),
            _ => None,
        }
    }
}

fn exp(base: Duration) -> Backoff {
    Backoff::exponential(base).factor(2.0).build().unwrap()
}

/// Runs `op` under `policy`, recording the clock at every attempt.
fn attempt_times<T>(
    policy: &Retry<ApiError, ManualClock>,
    mut op: impl FnMut(u32) -> Result<T, ApiError>,
) -> (Vec<Duration>, Result<T, RetryError<ApiError>>) {
    let mut times = vec![];
    let clock = policy.clock().clone();
    let r = policy.call(|| {
        times.push(clock.now());
        op(times.len() as u32)
    });
    (times, r)
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn classic_schedule_one_two_four_then_the_error() {
    let policy = Retry::builder()
        .backoff(exp(SEC))
        .max_attempts(4)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let (times, r) = attempt_times(&policy, |_| Err::<(), _>(ApiError::Unavailable));
    let gaps: Vec<_> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, [SEC, 2 * SEC, 4 * SEC]);
    let err = r.unwrap_err();
    assert_eq!(err.attempts(), 4);
    assert_eq!(err.elapsed(), 7 * SEC);
    assert_eq!(err.reason(), GiveUp::AttemptsExhausted);
    assert_eq!(err.last_error(), &ApiError::Unavailable);
    // The last error is the source, and Display says what happened.
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(source.to_string(), "Unavailable");
    assert_eq!(
        err.to_string(),
        "gave up after 4 attempts in 7s: all attempts failed"
    );
}

#[test]
fn success_after_failures_returns_the_value() {
    let policy = Retry::builder()
        .backoff(exp(SEC))
        .max_attempts(5)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let (times, r) = attempt_times(&policy, |n| {
        if n < 3 {
            Err(ApiError::Unavailable)
        } else {
            Ok(n)
        }
    });
    assert_eq!(r.unwrap(), 3);
    assert_eq!(times, [Duration::ZERO, SEC, 3 * SEC]);
}

#[test]
fn non_retryable_error_returns_at_once() {
    let policy = Retry::builder()
        .backoff(exp(SEC))
        .max_attempts(10)
        .when(|e: &ApiError| *e != ApiError::Forbidden)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let (times, r) = attempt_times(&policy, |_| Err::<(), _>(ApiError::Forbidden));
    let err = r.unwrap_err();
    assert_eq!((err.attempts(), err.reason()), (1, GiveUp::NotRetryable));
    assert_eq!(err.elapsed(), Duration::ZERO);
    assert_eq!(times.len(), 1);
    // Retryable first, then not: stops at the second attempt.
    let (_, r) = attempt_times(&policy, |n| {
        Err::<(), _>(if n == 1 {
            ApiError::Unavailable
        } else {
            ApiError::Forbidden
        })
    });
    assert_eq!(r.unwrap_err().attempts(), 2);
}

#[test]
fn deadline_is_never_slept_past() {
    // Waits 1, 2, 4, 8 ... with a 5 s deadline: attempts at 0, 1, 3 and a
    // last one at 5 (the 4 s wait is clamped to the 2 s left).
    let policy = Retry::builder()
        .backoff(exp(SEC))
        .max_attempts(100)
        .max_elapsed(5 * SEC)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let (times, r) = attempt_times(&policy, |_| Err::<(), _>(ApiError::Unavailable));
    assert_eq!(times, [Duration::ZERO, SEC, 3 * SEC, 5 * SEC]);
    let err = r.unwrap_err();
    assert_eq!(err.reason(), GiveUp::DeadlineExceeded);
    assert_eq!((err.attempts(), err.elapsed()), (4, 5 * SEC));
}

#[test]
fn slow_attempts_count_against_the_deadline() {
    let clock = ManualClock::new();
    let policy = Retry::builder()
        .backoff(exp(SEC))
        .max_attempts(100)
        .max_elapsed(10 * SEC)
        .clock(clock.clone())
        .build()
        .unwrap();
    let (times, r) = attempt_times(&policy, |_| {
        clock.advance(4 * SEC); // each attempt takes 4 s
        Err::<(), _>(ApiError::Timeout)
    });
    // 0 ->(4 s work, 1 s wait) 5 ->(4 s work, wait clamped to 1 s) 10 -> 14.
    assert_eq!(times, [Duration::ZERO, 5 * SEC, 10 * SEC]);
    let err = r.unwrap_err();
    assert_eq!(err.reason(), GiveUp::DeadlineExceeded);
    assert_eq!(err.elapsed(), 14 * SEC);
}

#[test]
fn retry_after_hint_raises_the_delay_and_is_clamped_to_the_deadline() {
    let policy = Retry::builder()
        .backoff(exp(SEC))
        .max_attempts(10)
        .max_elapsed(60 * SEC)
        .honor_retry_after()
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let (times, r) = attempt_times(&policy, |n| match n {
        1 => Err(ApiError::Throttled(30 * SEC)), // 30 s instead of 1 s
        2 => Err(ApiError::Throttled(Duration::from_millis(10))), // backoff wins: 2 s
        3 => Err(ApiError::Throttled(100 * SEC)), // clamped: 28 s left
        _ => Err::<(), _>(ApiError::Unavailable),
    });
    assert_eq!(times, [Duration::ZERO, 30 * SEC, 32 * SEC, 60 * SEC]);
    assert_eq!(r.unwrap_err().reason(), GiveUp::DeadlineExceeded);

    // Without honor_retry_after the hint is ignored.
    let plain = Retry::builder()
        .backoff(exp(SEC))
        .max_attempts(2)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let (times, _) = attempt_times(&plain, |_| Err::<(), _>(ApiError::Throttled(30 * SEC)));
    assert_eq!(times, [Duration::ZERO, SEC]);
}

#[test]
fn retry_after_with_serves_foreign_error_types() {
    let clock = ManualClock::new();
    let policy = Retry::builder()
        .backoff(exp(SEC))
        .max_attempts(2)
        .retry_after_with(|e: &std::io::Error| {
            (e.kind() == std::io::ErrorKind::WouldBlock).then_some(Duration::from_secs(9))
        })
        .clock(clock.clone())
        .build()
        .unwrap();
    let r = policy.call(|| Err::<(), _>(std::io::Error::from(std::io::ErrorKind::WouldBlock)));
    assert_eq!(r.unwrap_err().elapsed(), 9 * SEC);
}

#[test]
fn notify_sees_each_retry_with_attempt_and_delay() {
    let seen = Arc::new(Mutex::new(vec![]));
    let log = seen.clone();
    let policy = Retry::builder()
        .backoff(exp(SEC))
        .max_attempts(4)
        .notify(move |e: &ApiError, attempt, delay| {
            log.lock().unwrap().push((e.clone(), attempt, delay))
        })
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let _ = policy.call(|| Err::<(), _>(ApiError::Unavailable));
    let u = ApiError::Unavailable;
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (u.clone(), 1, SEC),
            (u.clone(), 2, 2 * SEC),
            (u, 3, 4 * SEC)
        ]
    );
}

#[test]
fn budget_stops_retries_and_successes_refill_it() {
    let budget = Arc::new(
        RetryBudget::builder()
            .capacity(20)
            .retry_cost(5)
            .timeout_cost(10)
            .success_refund(1)
            .build()
            .unwrap(),
    );
    let policy = Retry::builder()
        .backoff(exp(SEC))
        .max_attempts(10)
        .budget(budget.clone())
        .timeout_when(|e: &ApiError| *e == ApiError::Timeout)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    // 20 tokens: one timeout retry (10) and two ordinary ones (5 + 5).
    let (times, r) = attempt_times(&policy, |n| {
        Err::<(), _>(if n == 1 {
            ApiError::Timeout
        } else {
            ApiError::Unavailable
        })
    });
    assert_eq!(times.len(), 4);
    let err = r.unwrap_err();
    assert_eq!((err.attempts(), err.reason()), (4, GiveUp::BudgetExhausted));
    assert!(err.to_string().contains("budget"));
    assert_eq!((budget.available(), budget.refusals()), (0, 1));
    // Empty budget: a failing call makes one attempt only...
    let (times, r) = attempt_times(&policy, |_| Err::<(), _>(ApiError::Unavailable));
    assert_eq!((times.len(), r.unwrap_err().attempts()), (1, 1));
    // ...and successes refill it until a retry is affordable again.
    for _ in 0..5 {
        policy.call(|| Ok::<_, ApiError>(())).unwrap();
    }
    assert_eq!(budget.available(), 5);
    let (times, _) = attempt_times(&policy, |_| Err::<(), _>(ApiError::Unavailable));
    assert_eq!(times.len(), 2);
}

#[test]
fn budget_is_shared_across_threads() {
    let budget = Arc::new(RetryBudget::new());
    let policy = Arc::new(
        Retry::builder()
            .backoff(Backoff::constant(Duration::from_millis(1)).build().unwrap())
            .max_attempts(1000)
            .budget(budget.clone())
            .clock(ManualClock::new())
            .seed(1)
            .build()
            .unwrap(),
    );
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let p = policy.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| {
                        p.call(|| Err::<(), _>(ApiError::Unavailable))
                            .unwrap_err()
                            .attempts()
                            - 1
                    })
                    .sum::<u32>()
            })
        })
        .collect();
    let retries: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    // 500 tokens at 5 each: exactly 100 retries across all threads.
    assert_eq!(retries, 100);
    assert_eq!(budget.available(), 0);
    assert_eq!(budget.refusals(), 40);
}

#[test]
fn jittered_delays_are_reproducible_from_the_seed() {
    let run = |seed| {
        let policy = Retry::builder()
            .backoff(
                Backoff::exponential(SEC)
                    .jitter(Jitter::Full)
                    .max_delay(8 * SEC)
                    .build()
                    .unwrap(),
            )
            .max_attempts(6)
            .clock(ManualClock::new())
            .seed(seed)
            .build()
            .unwrap();
        attempt_times(&policy, |_| Err::<(), _>(ApiError::Unavailable)).0
    };
    let a = run(3);
    assert_eq!(a, run(3));
    assert_ne!(a, run(4));
    for (i, w) in a.windows(2).enumerate() {
        assert!(w[1] - w[0] <= SEC * (1 << i).min(8));
    }
}

#[test]
fn async_form_uses_the_callers_sleep() {
    let clock = ManualClock::new();
    let policy = Retry::builder()
        .backoff(exp(SEC))
        .max_attempts(4)
        .clock(clock.clone())
        .build()
        .unwrap();
    // A `Sleeper` is `Fn`: record through a cell.
    let slept = std::cell::RefCell::new(vec![]);
    let mut attempts = 0;
    let r: Result<(), _> = block_on(policy.call_async(
        || {
            attempts += 1;
            async { Err(ApiError::Unavailable) }
        },
        |d| {
            slept.borrow_mut().push(d);
            clock.advance(d);
            async {}
        },
    ));
    let err = r.unwrap_err();
    assert_eq!(slept.into_inner(), [SEC, 2 * SEC, 4 * SEC]);
    assert_eq!((attempts, err.attempts(), err.elapsed()), (4, 4, 7 * SEC));

    let mut n = 0;
    let ok = block_on(policy.call_async(
        || {
            n += 1;
            let r = if n == 2 {
                Ok(n)
            } else {
                Err(ApiError::Unavailable)
            };
            async move { r }
        },
        |d| {
            clock.advance(d);
            std::future::ready(())
        },
    ));
    assert_eq!(ok.unwrap(), 2);
}

#[test]
fn builder_rejects_zero_attempts() {
    let r = Retry::<ApiError>::builder().max_attempts(0).build();
    assert_eq!(r.err(), Some(Error::ZeroMaxAttempts));
    assert!(Error::ZeroMaxAttempts.to_string().contains("at least 1"));
}

#[test]
fn one_attempt_means_no_retry() {
    let policy = Retry::builder()
        .max_attempts(1)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let err = policy
        .call(|| Err::<(), _>(ApiError::Unavailable))
        .unwrap_err();
    assert_eq!(
        (err.attempts(), err.reason()),
        (1, GiveUp::AttemptsExhausted)
    );
}

#[test]
fn auto_traits() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Retry<ApiError>>();
    assert_send_sync::<Retry<std::io::Error, ManualClock>>();
    assert_send_sync::<RetryBudget>();
    assert_send_sync::<RetryError<ApiError>>();
    assert_send_sync::<Backoff>();
    fn assert_send<T: Send>(_: &T) {}
    let policy = Retry::<ApiError>::builder().build().unwrap();
    let fut = policy.call_async(
        || async { Ok::<_, ApiError>(1) },
        |_| std::future::ready(()),
    );
    assert_send(&fut);
    // Debug is implemented for everything a user holds.
    assert!(format!("{policy:?}").contains("Retry"));
    assert!(format!("{:?}", Retry::<ApiError>::builder()).contains("RetryBuilder"));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated),
            (0.0f64..=1.0).prop_map(Jitter::Proportional),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the seed, jitter, hints and attempt durations: no
        /// attempt starts past the deadline, no wait exceeds the larger of
        /// the cap and the hint, and the attempt count matches the reason.
        #[test]
        fn never_past_the_deadline(
            seed in any::<u64>(),
            jitter in jitter(),
            base_ms in 1u64..2_000,
            cap_extra_ms in 0u64..10_000,
            deadline_ms in 0u64..30_000,
            max_attempts in 1u32..20,
            work_ms in 0u64..3_000,
            hints in proptest::collection::vec(proptest::option::of(0u64..20_000), 20),
        ) {
            let clock = ManualClock::new();
            let cap = Duration::from_millis(base_ms + cap_extra_ms);
            let deadline = Duration::from_millis(deadline_ms);
            let policy = Retry::builder()
                .backoff(
                    Backoff::exponential(Duration::from_millis(base_ms))
                        .max_delay(cap)
                        .jitter(jitter)
                        .build()
                        .unwrap(),
                )
                .max_attempts(max_attempts)
                .max_elapsed(deadline)
                .honor_retry_after()
                .clock(clock.clone())
                .seed(seed)
                .build()
                .unwrap();
            let mut starts = vec![];
            let mut ends = vec![];
            let r = policy.call(|| {
                starts.push(clock.now());
                clock.advance(Duration::from_millis(work_ms));
                ends.push(clock.now());
                Err::<(), _>(match hints[starts.len() - 1] {
                    Some(h) => ApiError::Throttled(Duration::from_millis(h)),
                    None => ApiError::Unavailable,
                })
            });
            let err = r.unwrap_err();
            prop_assert_eq!(err.attempts() as usize, starts.len());
            prop_assert!(starts.len() <= max_attempts as usize);
            for (i, &s) in starts.iter().enumerate() {
                prop_assert!(s <= deadline || i == 0, "attempt {} at {:?} past {:?}", i + 1, s, deadline);
            }
            for i in 1..starts.len() {
                let wait = starts[i] - ends[i - 1];
                let hint = hints[i - 1].map_or(Duration::ZERO, Duration::from_millis);
                prop_assert!(wait <= cap.max(hint), "wait {:?}", wait);
            }
            prop_assert_eq!(err.elapsed(), *ends.last().unwrap());
            match err.reason() {
                GiveUp::AttemptsExhausted => prop_assert_eq!(err.attempts(), max_attempts),
                GiveUp::DeadlineExceeded => prop_assert!(err.elapsed() >= deadline),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
