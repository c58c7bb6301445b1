#![cfg(all(
    not(loom),
    feature = "clock",
    feature = "config",
    feature = "event",
    feature = "freq",
    feature = "pipeline",
    feature = "queue",
    feature = "ratelimit",
    feature = "retry"
))]
//! Regression tests for the hardening rows of issue 15: each test is one
//! input that used to panic, abort or misbehave, and what it does now.
//! Time is driven by `ManualClock` or the test's `JumpClock`; nothing sleeps.

#[path = "common/jump_clock.rs"]
mod jump_clock;

use jump_clock::JumpClock;
use latchwork::clock::ManualClock;
use latchwork::config::LayeredConfig;
use latchwork::event::broadcast::{
    channel, Builder, Policy, RecvTimeoutError, MAX_CAPACITY, MAX_RECEIVERS,
};
use latchwork::event::Error as EventError;
use latchwork::freq::FrequencyCounter;
use latchwork::pipeline::{ChunkExt, Error as PipelineError, Pipeline};
use latchwork::queue::{Level, TaskQueue};
use latchwork::ratelimit::{SlidingWindowCounter, SlidingWindowLog};
use latchwork::retry::{Backoff, Retry, RetryAfter};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

#[test]
fn broadcast_recv_timeout_duration_max_waits_like_recv() {
    let (tx, mut rx) = channel::<String>(2, Policy::Overwrite).unwrap();
    tx.send("a".to_owned()).unwrap();
    // Used to panic: overflow adding `Duration::MAX` to an `Instant`.
    assert_eq!(rx.recv_timeout(Duration::MAX).as_deref(), Ok("a"));
    drop(tx);
    assert_eq!(
        rx.recv_timeout(Duration::MAX),
        Err(RecvTimeoutError::Closed)
    );
}

#[test]
fn broadcast_max_receivers_usize_max_is_a_typed_error() {
    // Used to panic: capacity overflow allocating the cursor registry.
    let err = Builder::new(4)
        .policy(Policy::Backpressure)
        .max_receivers(usize::MAX)
        .build::<u8>()
        .unwrap_err();
    assert_eq!(
        err,
        EventError::MaxReceiversTooLarge {
            requested: usize::MAX,
            max: MAX_RECEIVERS
        }
    );
    assert!(err.to_string().contains("max_receivers"));
    // The maximum itself is accepted.
    let (_tx, _rx) = Builder::new(4)
        .policy(Policy::Backpressure)
        .max_receivers(MAX_RECEIVERS)
        .build::<u8>()
        .unwrap();
}

#[test]
fn broadcast_ring_of_2_pow_32_slots_is_a_typed_error() {
    for cap in [1usize << 32, MAX_CAPACITY + 1, usize::MAX] {
        assert!(
            matches!(
                channel::<u64>(cap, Policy::Overwrite),
                Err(EventError::CapacityTooLarge { requested }) if requested == cap
            ),
            "capacity {cap}"
        );
    }
}

/// A thread-local whose `Drop` records into a `FrequencyCounter` after the
/// thread's stripe id is gone used to panic inside the TLS teardown (an
/// abort of the whole process).
#[test]
fn counting_from_a_thread_local_destructor_does_not_abort() {
    struct RecordsOnDrop(Arc<FrequencyCounter<&'static str>>);
    impl Drop for RecordsOnDrop {
        fn drop(&mut self) {
            self.0.record("late");
        }
    }
    thread_local! {
        static LATE: std::cell::RefCell<Option<RecordsOnDrop>> =
            const { std::cell::RefCell::new(None) };
    }
    let counter = Arc::new(FrequencyCounter::new());
    let c = Arc::clone(&counter);
    std::thread::spawn(move || {
        LATE.with(|l| *l.borrow_mut() = Some(RecordsOnDrop(Arc::clone(&c))));
        c.record("early");
    })
    .join()
    .unwrap();
    assert_eq!((counter.count(&"early"), counter.count(&"late")), (1, 1));
}

#[test]
fn sliding_window_log_keeps_its_log_when_the_clock_steps_back() {
    let clock = JumpClock::at(10 * 1_000_000_000);
    let log = SlidingWindowLog::builder()
        .limit(3)
        .window(SEC)
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut admitted = 0;
    for _ in 0..3 {
        admitted += log.check().is_ok() as u32;
    }
    // One nanosecond back: debug used to panic (subtract with overflow),
    // release forgot the whole log and admitted three more.
    clock.back(1);
    for _ in 0..3 {
        admitted += log.check().is_ok() as u32;
    }
    assert_eq!(admitted, 3);
    log.check_invariants().unwrap();
    // Time then passes again from the step back: 1 s later (by the clock's
    // own pace) the window is empty.
    clock.forward(SEC - Duration::from_nanos(1));
    assert!(log.check().is_err());
    clock.forward(Duration::from_nanos(1));
    assert!(log.check().is_ok());
}

#[test]
fn sliding_window_counter_keeps_its_counts_when_the_clock_steps_back() {
    let clock = JumpClock::at(10 * 1_000_000_000);
    let limiter = SlidingWindowCounter::builder()
        .limit(3)
        .window(SEC)
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut admitted = 0;
    for _ in 0..3 {
        admitted += limiter.check().is_ok() as u32;
    }
    // Back into the previous fixed window: the counts used to reset.
    clock.back(1);
    for _ in 0..3 {
        admitted += limiter.check().is_ok() as u32;
    }
    assert_eq!(admitted, 3);
}

#[test]
fn sliding_window_log_memory_is_bounded_by_requests_not_cost() {
    let clock = ManualClock::new();
    let log = SlidingWindowLog::builder()
        .limit(1 << 50)
        .window(SEC)
        .clock(clock.clone())
        .build()
        .unwrap();
    // Used to store one u64 per unit: 8 TiB, an abort.
    log.try_acquire(1 << 40).unwrap();
    log.try_acquire(1 << 40).unwrap();
    assert_eq!(log.available(), (1 << 50) - (2 << 40));
    log.check_invariants().unwrap();
    assert!(log.try_acquire(1 << 50).unwrap_err().is_rate_limited());
    assert_eq!(log.wait_time(1 << 50).unwrap(), SEC);
    clock.advance(SEC);
    log.try_acquire(1 << 50).unwrap();
    assert_eq!(log.available(), 0);
}

#[derive(Debug)]
struct Throttled(Duration);

impl RetryAfter for Throttled {
    fn retry_after(&self) -> Option<Duration> {
        Some(self.0)
    }
}

#[test]
fn retry_after_hint_of_days_is_capped_by_max_delay() {
    let clock = ManualClock::new();
    let policy = Retry::builder()
        .backoff(
            Backoff::exponential(SEC)
                .max_delay(10 * SEC)
                .build()
                .unwrap(),
        )
        .max_attempts(2)
        .honor_retry_after()
        .clock(clock.clone())
        .build()
        .unwrap();
    let days = Duration::from_secs(5 * 86_400);
    let err = policy.call(|| Err::<(), _>(Throttled(days))).unwrap_err();
    // Used to sleep five days; the default cap is the backoff's max_delay.
    assert_eq!(err.elapsed(), 10 * SEC);

    // A configured cap wins over the default, in both directions.
    let clock = ManualClock::new();
    let policy = Retry::builder()
        .backoff(Backoff::exponential(SEC).build().unwrap())
        .max_attempts(2)
        .honor_retry_after()
        .max_retry_after(Duration::from_secs(3600))
        .clock(clock.clone())
        .build()
        .unwrap();
    let err = policy.call(|| Err::<(), _>(Throttled(days))).unwrap_err();
    assert_eq!(err.elapsed(), Duration::from_secs(3600));
}

#[test]
fn retry_deadline_is_not_extended_by_a_clock_stepping_back() {
    let clock = JumpClock::at(100 * 1_000_000_000);
    let policy = Retry::builder()
        .backoff(Backoff::constant(SEC).build().unwrap())
        .max_attempts(100)
        .max_elapsed(5 * SEC)
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut calls = 0;
    let err = policy
        .call(|| {
            calls += 1;
            if calls == 3 {
                // Far back: elapsed must not shrink to zero.
                clock.back(50 * 1_000_000_000);
            }
            Err::<(), _>("down")
        })
        .unwrap_err();
    assert_eq!(err.reason(), latchwork::retry::GiveUp::DeadlineExceeded);
    // 6 without the step back; the step may cost at most the time since
    // the policy's last reading (1 s here), never the 50 s it stepped.
    assert!(
        calls <= 7,
        "{calls} attempts in a 5 s deadline of 1 s waits"
    );
}

#[test]
fn a_panicking_config_subscriber_does_not_silence_the_others() {
    let config = LayeredConfig::builder()
        .set_default("a", 1)
        .build()
        .unwrap();
    let heard = Arc::new(AtomicUsize::new(0));
    let h1 = Arc::clone(&heard);
    let _first = config.subscribe(move |_| {
        h1.fetch_add(1, Ordering::SeqCst);
    });
    let _bad = config.subscribe(|_| panic!("subscriber bug"));
    let h3 = Arc::clone(&heard);
    let _last = config.subscribe(move |_| {
        h3.fetch_add(1, Ordering::SeqCst);
    });
    let r = catch_unwind(AssertUnwindSafe(|| config.set("a", 2)));
    // The panic still reaches the writer, after every subscriber ran.
    assert!(r.is_err());
    assert_eq!(heard.load(Ordering::SeqCst), 2);
    // The change is applied, and the configuration keeps working.
    assert_eq!(config.get("a"), Some(2.into()));
    let _ = catch_unwind(AssertUnwindSafe(|| config.set("a", 3)));
    assert_eq!(heard.load(Ordering::SeqCst), 4);
}

#[test]
fn a_task_due_at_the_end_of_time_is_kept_and_runs_there() {
    let clock = ManualClock::new();
    let pool = TaskQueue::builder()
        .workers(0)
        .clock(clock.clone())
        .build()
        .unwrap();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let r = Arc::clone(&ran);
    let _h = pool.submit_at(Duration::MAX, Level::new(0).unwrap(), move || {
        r.lock().unwrap().push("end")
    });
    let r = Arc::clone(&ran);
    let _h = pool.submit_after(Duration::MAX, Level::new(0).unwrap(), move || {
        r.lock().unwrap().push("after")
    });
    assert_eq!(pool.delayed_len(), 2);
    clock.advance(Duration::from_secs(365 * 86_400 * 500));
    assert_eq!(pool.poll_delayed(), 0);
    clock.advance(Duration::MAX); // the clock's maximum reading
    assert_eq!(pool.poll_delayed(), 2);
    pool.run_pending();
    assert_eq!(ran.lock().unwrap().len(), 2);
}

#[test]
fn a_chunk_of_usize_max_does_not_preallocate() {
    let chunks: Vec<Vec<u32>> = (0..10).chunked(usize::MAX).unwrap().collect();
    assert_eq!(chunks, vec![(0..10).collect::<Vec<_>>()]);
}

#[test]
fn pipeline_sizes_beyond_their_maximum_are_typed_errors() {
    let err = Pipeline::source(0..3u32)
        .capacity(usize::MAX)
        .start()
        .unwrap_err();
    assert!(
        matches!(
            err,
            PipelineError::TooLarge {
                parameter: "capacity",
                ..
            }
        ),
        "{err:?}"
    );
    let err = Pipeline::source(0..3u32)
        .map("m", usize::MAX, |x| x)
        .start()
        .unwrap_err();
    assert!(
        matches!(
            err,
            PipelineError::TooLarge {
                parameter: "workers",
                ..
            }
        ),
        "{err:?}"
    );
    let err = Pipeline::source(0..3u32)
        .reorder_window(usize::MAX)
        .start()
        .unwrap_err();
    assert!(
        matches!(
            err,
            PipelineError::TooLarge {
                parameter: "reorder_window",
                ..
            }
        ),
        "{err:?}"
    );
}
