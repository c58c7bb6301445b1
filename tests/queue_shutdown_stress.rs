#![cfg(all(not(loom), feature = "clock", feature = "queue"))]
//! Shutdown under load: thousands of tasks from several submitters, random
//! panics, delayed tasks, and a shutdown (graceful or immediate) in the
//! middle. Every handle must resolve, every task must run at most once, and
//! the stats must account for every submission.
use latchwork::clock::ManualClock;
use latchwork::queue::{Level, TaskError, TaskQueue};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

const SUBMITTERS: usize = 3;
const PER_SUBMITTER: usize = 2_000;

/// Keeps the thousands of deliberate panics out of the test output.
fn quiet_deliberate_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let deliberate = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|m| m.ends_with("on purpose"));
            if !deliberate {
                default(info);
            }
        }));
    });
}

fn run(seed: u64, graceful: bool) {
    quiet_deliberate_panics();
    let clock = ManualClock::new();
    let pool = Arc::new(
        TaskQueue::builder()
            .workers(3)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    // How many times each task ran.
    let runs: Arc<Vec<AtomicU8>> = Arc::new(
        (0..SUBMITTERS * PER_SUBMITTER)
            .map(|_| AtomicU8::new(0))
            .collect(),
    );
    let barrier = Arc::new(Barrier::new(SUBMITTERS + 1));
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|s| {
            let (pool, runs, barrier, clock) =
                (pool.clone(), runs.clone(), barrier.clone(), clock.clone());
            std::thread::spawn(move || {
                let mut rng = SmallRng::seed_from_u64(seed * 7 + s as u64);
                barrier.wait();
                let mut handles = Vec::with_capacity(PER_SUBMITTER);
                for i in 0..PER_SUBMITTER {
                    let id = s * PER_SUBMITTER + i;
                    let panics = rng.gen_ratio(1, 10);
                    let runs = runs.clone();
                    let task = move || {
                        runs[id].fetch_add(1, Ordering::SeqCst);
                        if panics {
                            panic!("task {id} failed on purpose");
                        }
                        id
                    };
                    let level = Level::new(rng.gen_range(0..8)).unwrap();
                    let h = if rng.gen_ratio(1, 8) {
                        pool.submit_after(Duration::from_millis(rng.gen_range(0..50)), level, task)
                    } else {
                        pool.submit(level, task)
                    };
                    handles.push((id, panics, h));
                    if i % 100 == 0 {
                        clock.advance(Duration::from_millis(5));
                        pool.poll_delayed();
                    }
                }
                handles
            })
        })
        .collect();
    barrier.wait();
    // Shut down while the submitters are still going.
    while pool.stats().submitted < (SUBMITTERS * PER_SUBMITTER / 2) as u64 {
        std::thread::yield_now();
    }
    if graceful {
        pool.shutdown();
    } else {
        pool.shutdown_now();
    }
    let (mut ran, mut cancelled, mut panicked) = (0u64, 0u64, 0u64);
    for s in submitters {
        for (id, panics, h) in s.join().unwrap() {
            let times = runs[id].load(Ordering::SeqCst);
            match h.join() {
                Ok(v) => {
                    assert_eq!((v, panics, times), (id, false, 1));
                    ran += 1;
                }
                Err(TaskError::Panicked(msg)) => {
                    assert!(panics && times == 1, "task {id}: {msg}");
                    assert_eq!(msg, format!("task {id} failed on purpose"));
                    panicked += 1;
                }
                Err(TaskError::Cancelled) => {
                    assert_eq!(times, 0, "task {id} ran but reports Cancelled");
                    cancelled += 1;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
    }
    let total = (SUBMITTERS * PER_SUBMITTER) as u64;
    assert_eq!(ran + cancelled + panicked, total);
    let st = pool.stats();
    assert_eq!(
        (st.submitted, st.completed, st.panicked, st.cancelled),
        (total, ran, panicked, cancelled)
    );
    assert!(runs.iter().all(|r| r.load(Ordering::SeqCst) <= 1));
}

#[test]
fn graceful_shutdown_mid_way_accounts_for_every_task() {
    for seed in 0..3 {
        run(seed, true);
    }
}

#[test]
fn immediate_shutdown_mid_way_accounts_for_every_task() {
    for seed in 10..13 {
        run(seed, false);
    }
}
