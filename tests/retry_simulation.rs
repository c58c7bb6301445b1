#![cfg(all(not(loom), feature = "clock", feature = "retry"))]
//! A simulation, not a benchmark: 1,000 callers of one downstream fail
//! together and retry. Each caller is a `Retry::call_async` future driven by
//! a tiny discrete-event executor on a shared `ManualClock`, so the real
//! policy and budget code runs and simulated time costs nothing.
//!
//! Scenario: the callers start within 10 ms of each other (a fleet restart,
//! a cache expiry); the server fails every request for the first 30 s. The policy: exponential
//! from 1 s, factor 2, cap 30 s, 6 attempts, 60 s deadline; the budget is
//! the default (500 tokens, 5 a retry, 1 back per success), shared by all.
//! Retry load is the number of retry attempts (not first attempts) the
//! server sees per 100 ms. Print the figures with
//! `cargo test --test retry_simulation -- --nocapture`.
use latchwork::clock::{Clock, ManualClock};
use latchwork::retry::{Backoff, Jitter, RandomSource, Retry, RetryBudget, SplitMix64};
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const CLIENTS: usize = 1_000;
const OUTAGE: Duration = Duration::from_secs(30);
const BUCKET_NANOS: u64 = 100_000_000;

#[derive(Debug, PartialEq)]
struct ServerDown;

/// Timers of the simulated executor: (wake time in ns, caller index).
struct Sim {
    clock: ManualClock,
    timers: RefCell<BinaryHeap<Reverse<(u64, usize)>>>,
    /// (time in ns, whether the attempt was a retry) for every attempt.
    attempts: RefCell<Vec<(u64, bool)>>,
}

struct Sleep {
    until: u64,
    clock: ManualClock,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.clock.now_nanos() >= self.until {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Sim {
    fn sleep(&self, id: usize, d: Duration) -> Sleep {
        let until = self.clock.now_nanos() + d.as_nanos() as u64;
        self.timers.borrow_mut().push(Reverse((until, id)));
        Sleep {
            until,
            clock: self.clock.clone(),
        }
    }
}

type Caller<'a> = Pin<Box<dyn Future<Output = bool> + 'a>>;

#[derive(Debug)]
struct Outcome {
    peak_retries: usize,
    total_retries: usize,
    peak_load: usize,
    succeeded: usize,
    budget_refusals: u64,
}

fn simulate(jitter: Jitter, with_budget: bool) -> Outcome {
    let sim = Sim {
        clock: ManualClock::new(),
        timers: RefCell::new(BinaryHeap::new()),
        attempts: RefCell::new(vec![]),
    };
    let budget = Arc::new(RetryBudget::new()); // 500 tokens, 5 a retry, 1 a success
    let mut builder = Retry::builder()
        .backoff(
            Backoff::exponential(Duration::from_secs(1))
                .factor(2.0)
                .max_delay(Duration::from_secs(30))
                .jitter(jitter)
                .build()
                .unwrap(),
        )
        .max_attempts(6)
        .max_elapsed(Duration::from_secs(60))
        .clock(sim.clock.clone())
        .seed(11);
    if with_budget {
        builder = builder.budget(budget.clone());
    }
    let policy = builder.build().unwrap();

    let mut starts = SplitMix64::new(2024);
    let mut callers: Vec<Option<Caller<'_>>> = (0..CLIENTS)
        .map(|id| {
            let start = Duration::from_nanos(starts.next_u64() % 10_000_000);
            let (sim, policy) = (&sim, &policy);
            let fut = async move {
                sim.sleep(id, start).await;
                let mut tries = 0;
                policy
                    .call_async(
                        || {
                            tries += 1;
                            let now = sim.clock.now_nanos();
                            sim.attempts.borrow_mut().push((now, tries > 1));
                            let r = if sim.clock.now() < OUTAGE {
                                Err(ServerDown)
                            } else {
                                Ok(())
                            };
                            std::future::ready(r)
                        },
                        |d| sim.sleep(id, d),
                    )
                    .await
                    .is_ok()
            };
            Some(Box::pin(fut) as Caller<'_>)
        })
        .collect();

    let mut cx = Context::from_waker(Waker::noop());
    let mut succeeded = 0;
    let mut poll = |id: usize, callers: &mut [Option<Caller<'_>>]| {
        if let Some(f) = callers[id].as_mut() {
            if let Poll::Ready(ok) = f.as_mut().poll(&mut cx) {
                succeeded += usize::from(ok);
                callers[id] = None;
            }
        }
    };
    for id in 0..CLIENTS {
        poll(id, &mut callers);
    }
    loop {
        let next = sim.timers.borrow_mut().pop();
        let Some(Reverse((at, id))) = next else { break };
        sim.clock.set(Duration::from_nanos(at));
        poll(id, &mut callers);
    }
    assert!(
        callers.iter().all(Option::is_none),
        "a caller never finished"
    );

    let attempts = sim.attempts.borrow();
    let buckets = |retries_only: bool| {
        let mut counts = std::collections::HashMap::<u64, usize>::new();
        for &(t, retry) in attempts.iter() {
            if retry || !retries_only {
                *counts.entry(t / BUCKET_NANOS).or_default() += 1;
            }
        }
        counts.values().copied().max().unwrap_or(0)
    };
    Outcome {
        peak_retries: buckets(true),
        total_retries: attempts.iter().filter(|a| a.1).count(),
        peak_load: buckets(false),
        succeeded,
        budget_refusals: budget.refusals(),
    }
}

#[test]
fn jitter_and_budget_flatten_the_retry_storm() {
    let naive = simulate(Jitter::None, false);
    let jitter_only = simulate(Jitter::Full, false);
    let budget_only = simulate(Jitter::None, true);
    let both = simulate(Jitter::Full, true);
    for (name, o) in [
        ("no jitter, no budget", &naive),
        ("full jitter only", &jitter_only),
        ("budget only", &budget_only),
        ("full jitter + budget", &both),
    ] {
        println!(
            "{name:<22} peak retries/100ms {:>4}  peak attempts/100ms {:>4}  retries {:>5}  succeeded {:>4}  budget refusals {:>4}",
            o.peak_retries, o.peak_load, o.total_retries, o.succeeded, o.budget_refusals
        );
    }
    // Without jitter every caller retries in the same 100 ms window.
    assert!(naive.peak_retries >= CLIENTS * 9 / 10, "{naive:?}");
    // Jitter spreads the retries; the budget bounds how many there are.
    assert!(
        jitter_only.peak_retries * 3 < naive.peak_retries,
        "{jitter_only:?}"
    );
    assert!(
        budget_only.total_retries * 5 < naive.total_retries,
        "{budget_only:?}"
    );
    assert!(both.peak_retries * 10 < naive.peak_retries, "{both:?}");
    // No call succeeds while the server is down, so nothing refills the
    // budget: 500 tokens at 5 a retry allow exactly 100 retries in all.
    assert_eq!(both.total_retries, 100, "{both:?}");
    assert_eq!(budget_only.total_retries, 100, "{budget_only:?}");
    assert!(both.budget_refusals > 0);
    // Without a budget everyone gets through once the server is back.
    assert_eq!(naive.succeeded, CLIENTS);
}
