//! Retry: a flaky downstream (10% transient errors, and an outage during
//! calls 800..1200) called 2,000 times by one service with exponential
//! backoff, full jitter and a shared retry budget. Runs on a manual clock,
//! so it takes no time.
use crate::heading;
use latchwork::clock::{Clock, ManualClock};
use latchwork::retry::{Backoff, GiveUp, Jitter, RandomSource, Retry, RetryBudget, SplitMix64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CALLS: u32 = 2_000;
const OUTAGE: std::ops::Range<u32> = 800..1200;

#[derive(Debug)]
enum Downstream {
    Transient,
    Down,
}

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    heading("retry: backoff, jitter and a retry budget against a flaky downstream");
    let clock = ManualClock::new();
    let budget = Arc::new(RetryBudget::new());
    // (retries, total retry delay in ms), filled in by the notify hook.
    let retry_log = Arc::new(Mutex::new((0u64, 0u64)));
    let log = retry_log.clone();
    let policy = Retry::builder()
        .backoff(
            Backoff::exponential(Duration::from_millis(200))
                .max_delay(Duration::from_secs(10))
                .jitter(Jitter::Full)
                .build()?,
        )
        .max_attempts(5)
        .max_elapsed(Duration::from_secs(15))
        .budget(budget.clone())
        .notify(move |_: &Downstream, _attempt, delay| {
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            log.0 += 1;
            log.1 += delay.as_millis() as u64;
        })
        .clock(clock.clone())
        .seed(1)
        .build()?;

    let mut rng = SplitMix64::new(99);
    let (mut ok, mut attempts_hist, mut gave_up) = (0u32, [0u32; 6], [0u32; 4]);
    let mut outage_budget_low = u64::MAX;
    // Attempts the downstream saw during the outage.
    let mut outage_attempts = 0u64;
    for call in 0..CALLS {
        let result = policy.call(|| {
            if OUTAGE.contains(&call) {
                outage_attempts += 1;
                Err(Downstream::Down)
            } else if rng.next_u64() % 10 == 0 {
                Err(Downstream::Transient)
            } else {
                Ok(())
            }
        });
        match result {
            Ok(()) => ok += 1,
            Err(e) => {
                attempts_hist[e.attempts().min(5) as usize] += 1;
                let i = match e.reason() {
                    GiveUp::AttemptsExhausted => 0,
                    GiveUp::DeadlineExceeded => 1,
                    GiveUp::BudgetExhausted => 2,
                    _ => 3,
                };
                gave_up[i] += 1;
            }
        }
        outage_budget_low = outage_budget_low.min(budget.available());
        clock.advance(Duration::from_millis(50)); // a call every 50 ms, or after the last
    }
    let (retries, slept_ms) = *retry_log.lock().unwrap_or_else(|e| e.into_inner());
    println!(
        "{CALLS} calls over {:.0} s of simulated time: {ok} succeeded, {} failed",
        clock.now().as_secs_f64(),
        CALLS - ok
    );
    println!(
        "retries {retries}, mean retry delay {:.0} ms (full jitter), budget refusals {}",
        slept_ms as f64 / retries.max(1) as f64,
        budget.refusals()
    );
    println!(
        "failed calls by reason: attempts exhausted {}, deadline {}, budget exhausted {}; by attempts made 1..5: {:?}",
        gave_up[0], gave_up[1], gave_up[2], &attempts_hist[1..]
    );
    println!(
        "budget: lowest {} of {} tokens, {} at the end; the outage alone would have cost {} retries without it",
        outage_budget_low,
        budget.capacity(),
        budget.available(),
        OUTAGE.len() * 4
    );

    // The anchor: the plain retry loop services write (5 attempts, no
    // budget) against the same downstream, measured now.
    let mut rng = SplitMix64::new(99);
    let mut plain_outage_attempts = 0u64;
    for call in 0..CALLS {
        for _attempt in 1..=5 {
            let result = if OUTAGE.contains(&call) {
                plain_outage_attempts += 1;
                Err(Downstream::Down)
            } else if rng.next_u64() % 10 == 0 {
                Err(Downstream::Transient)
            } else {
                Ok(())
            };
            if result.is_ok() {
                break;
            }
        }
    }
    assert_eq!(plain_outage_attempts, 5 * OUTAGE.len() as u64);
    let per_call = |attempts: u64| attempts as f64 / OUTAGE.len() as f64;
    println!(
        "outage amplification: {:.2} attempts per call = {:.2}x a plain 5-attempt retry loop measured now ({:.2} per call)",
        per_call(outage_attempts),
        outage_attempts as f64 / plain_outage_attempts as f64,
        per_call(plain_outage_attempts)
    );
    Ok(())
}
