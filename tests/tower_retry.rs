//! The retry layer: the policy's attempts, classifier, hints and shared
//! budget apply to a tower service exactly as to `Retry::call_async`, on a
//! manual clock (no test sleeps).
#![cfg(all(not(loom), feature = "tower"))]

use futures::executor::block_on;
use latchwork::clock::{Clock, ManualClock};
use latchwork::retry::{Backoff, GiveUp, Retry, RetryBudget};
use latchwork::tower::RetryLayer;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::{service_fn, Layer, ServiceExt};

#[derive(Clone, Debug, PartialEq)]
enum Failure {
    Unavailable,
    Forbidden,
    SlowDown(Duration),
}

fn sleeper(
    clock: &ManualClock,
    log: &Arc<Mutex<Vec<Duration>>>,
) -> impl Fn(Duration) -> std::future::Ready<()> + Clone {
    let (clock, log) = (clock.clone(), log.clone());
    move |d| {
        log.lock().unwrap().push(d);
        clock.advance(d);
        std::future::ready(())
    }
}

/// A service failing with `script[i]` on call `i`, then answering the
/// request.
fn scripted(
    script: Vec<Failure>,
    calls: Arc<AtomicU32>,
) -> impl tower::Service<
    u32,
    Response = u32,
    Error = Failure,
    Future = std::future::Ready<Result<u32, Failure>>,
> + Clone {
    service_fn(move |req: u32| {
        let n = calls.fetch_add(1, Ordering::Relaxed) as usize;
        std::future::ready(match script.get(n) {
            Some(f) => Err(f.clone()),
            None => Ok(req + 1),
        })
    })
}

fn policy(clock: &ManualClock, budget: Option<Arc<RetryBudget>>) -> Retry<Failure, ManualClock> {
    let mut b = Retry::builder()
        .backoff(
            Backoff::exponential(Duration::from_secs(1))
                .factor(2.0)
                .build()
                .unwrap(),
        )
        .max_attempts(4)
        .when(|e: &Failure| *e != Failure::Forbidden)
        .retry_after_with(|e: &Failure| match e {
            Failure::SlowDown(d) => Some(*d),
            _ => None,
        })
        .clock(clock.clone());
    if let Some(budget) = budget {
        b = b.budget(budget);
    }
    b.build().unwrap()
}

#[test]
fn retries_with_the_policys_backoff_then_succeeds() {
    let clock = ManualClock::new();
    let slept = Arc::new(Mutex::new(vec![]));
    let calls = Arc::new(AtomicU32::new(0));
    let svc = RetryLayer::new(policy(&clock, None), sleeper(&clock, &slept)).layer(scripted(
        vec![Failure::Unavailable, Failure::Unavailable],
        calls.clone(),
    ));
    assert_eq!(block_on(svc.oneshot(1)).unwrap(), 2);
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(
        *slept.lock().unwrap(),
        [Duration::from_secs(1), Duration::from_secs(2)]
    );
    assert_eq!(clock.now(), Duration::from_secs(3));
}

#[test]
fn a_non_retryable_error_returns_at_once_and_attempts_are_bounded() {
    let clock = ManualClock::new();
    let slept = Arc::new(Mutex::new(vec![]));
    let calls = Arc::new(AtomicU32::new(0));
    let svc = RetryLayer::new(policy(&clock, None), sleeper(&clock, &slept))
        .layer(scripted(vec![Failure::Forbidden], calls.clone()));
    let err = block_on(svc.oneshot(1)).unwrap_err();
    assert_eq!((err.attempts(), err.reason()), (1, GiveUp::NotRetryable));
    assert_eq!(err.last_error(), &Failure::Forbidden);

    let calls = Arc::new(AtomicU32::new(0));
    let svc = RetryLayer::new(policy(&clock, None), sleeper(&clock, &slept))
        .layer(scripted(vec![Failure::Unavailable; 10], calls.clone()));
    let err = block_on(svc.oneshot(1)).unwrap_err();
    assert_eq!(
        (err.attempts(), err.reason()),
        (4, GiveUp::AttemptsExhausted)
    );
    assert_eq!(calls.load(Ordering::Relaxed), 4);
}

#[test]
fn a_retry_after_hint_raises_the_delay() {
    let clock = ManualClock::new();
    let slept = Arc::new(Mutex::new(vec![]));
    let calls = Arc::new(AtomicU32::new(0));
    let svc = RetryLayer::new(policy(&clock, None), sleeper(&clock, &slept)).layer(scripted(
        vec![Failure::SlowDown(Duration::from_millis(1_500))],
        calls,
    ));
    assert_eq!(block_on(svc.oneshot(5)).unwrap(), 6);
    assert_eq!(*slept.lock().unwrap(), [Duration::from_millis(1_500)]);
}

#[test]
fn services_sharing_a_budget_stop_retrying_when_it_runs_out() {
    let clock = ManualClock::new();
    let slept = Arc::new(Mutex::new(vec![]));
    // Room for three retries in all, none refunded.
    let budget = Arc::new(
        RetryBudget::builder()
            .capacity(30)
            .initial(30)
            .retry_cost(10)
            .success_refund(0)
            .build()
            .unwrap(),
    );
    let policy = Arc::new(policy(&clock, Some(budget.clone())));
    let layer = RetryLayer::from_arc(policy, sleeper(&clock, &slept));
    let mut retries = 0;
    let mut budget_stops = 0;
    for _ in 0..4 {
        let calls = Arc::new(AtomicU32::new(0));
        let svc = layer
            .clone()
            .layer(scripted(vec![Failure::Unavailable; 10], calls.clone()));
        let err = block_on(svc.oneshot(0)).unwrap_err();
        retries += calls.load(Ordering::Relaxed) - 1;
        if err.reason() == GiveUp::BudgetExhausted {
            budget_stops += 1;
        }
    }
    assert_eq!(
        retries, 3,
        "the shared budget paid for exactly three retries"
    );
    assert_eq!(budget.available(), 0);
    assert!(budget_stops >= 3);
}

#[test]
fn the_layer_is_send_and_its_service_clone() {
    fn assert_send<T: Send>(_: &T) {}
    let clock = ManualClock::new();
    let slept = Arc::new(Mutex::new(vec![]));
    let svc = RetryLayer::new(policy(&clock, None), sleeper(&clock, &slept))
        .layer(scripted(vec![], Arc::new(AtomicU32::new(0))));
    let fut = svc.clone().oneshot(1);
    assert_send(&fut);
    assert_eq!(block_on(fut).unwrap(), 2);
}
