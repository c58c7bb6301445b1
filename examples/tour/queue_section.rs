//! Priority job runner: a worker pool that runs alerts before reports,
//! keeps submission order within a priority, isolates panics, and runs
//! delayed jobs when their time comes.
use crate::{heading, threads, timed};
use latchwork::clock::ManualClock;
use latchwork::queue::{Level, Priority, PriorityQueue, TaskError, TaskQueue};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    heading("queue: priority job runner");

    // 1. Execution order, shown on the caller's thread (`run_pending`), with
    //    a manual clock so the delayed job's time is ours to choose.
    let clock = ManualClock::new();
    let jobs = TaskQueue::builder()
        .workers(0)
        .clock(clock.clone())
        .build()?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let job = |name: &'static str| {
        let log = Arc::clone(&log);
        move || log.lock().map(|mut l| l.push(name)).is_ok()
    };
    jobs.submit(Priority::Low, job("nightly report"));
    jobs.submit(Priority::Medium, job("send newsletter"));
    jobs.submit(Priority::Critical, job("page on-call: disk full"));
    jobs.submit(Priority::Low, job("rebuild search index"));
    jobs.submit_after(
        Duration::from_secs(30),
        Priority::High,
        job("retry payment"),
    );
    let broken = jobs.submit(Priority::High, || -> bool { panic!("malformed invoice") });
    jobs.submit(Priority::Critical, job("page on-call: latency"));
    clock.advance(Duration::from_secs(30)); // the delayed retry is now due

    // The deliberate panic would print a backtrace line; keep the tour tidy.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let reports = jobs.run_pending();
    std::panic::set_hook(hook);

    println!(
        "ran {} jobs in priority order (FIFO within a priority):",
        reports.len()
    );
    let names = log.lock().map(|l| l.clone()).unwrap_or_default();
    let mut names = names.iter();
    for r in &reports {
        let what = match &r.result {
            Ok(()) => names.next().copied().unwrap_or("?").to_string(),
            Err(e) => format!("FAILED, {e}"),
        };
        println!(
            "  {:>9}  {:<9} {what}",
            r.id.to_string(),
            format!("L{}", r.level.get())
        );
    }
    match broken.join() {
        Err(TaskError::Panicked(msg)) => println!("the panicking job's handle reports: {msg:?}"),
        other => println!("unexpected: {other:?}"),
    }
    println!("stats: {:?}", jobs.stats());

    // 2. The same pool shape with real workers: 20,000 small jobs over four
    //    priorities, one in a thousand panicking; none takes a worker down.
    let n = threads();
    let pool = TaskQueue::new(n)?;
    std::panic::set_hook(Box::new(|_| {}));
    let (sum, secs) = timed(|| {
        let handles: Vec<_> = (0..20_000u64)
            .map(|i| {
                let level = Level::new((i % 4) as u8 * 16).unwrap_or(Level::LEAST_URGENT);
                pool.submit(level, move || {
                    if i % 1000 == 999 {
                        panic!("job {i} failed");
                    }
                    i
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .sum::<u64>()
    });
    pool.shutdown();
    let _ = std::panic::take_hook();
    let st = pool.stats();
    println!(
        "TaskQueue {n:>2} workers: {} jobs in {:.1} ms ({:.2} M jobs/s), {} panicked, sum {sum}",
        st.submitted,
        secs * 1e3,
        st.submitted as f64 / secs / 1e6,
        st.panicked
    );

    // 3. The bare queue: strictly by level, FIFO within one.
    let q = PriorityQueue::new();
    for (p, what) in [
        (Priority::Low, "report"),
        (Priority::Critical, "alert"),
        (Priority::Low, "archive"),
        (Priority::High, "login"),
    ] {
        q.push(p, what).expect("the queue is open");
    }
    let order: Vec<_> = std::iter::from_fn(|| q.try_pop().map(|(_, w)| w)).collect();
    println!("PriorityQueue pops: {order:?}");

    // The figure: push/pop pairs per second on one thread (level = i mod 4,
    // 10,000 items held), beside a Mutex<BinaryHeap> measured now.
    const PAIRS: u64 = 1_000_000;
    let q = PriorityQueue::new();
    let heap = Mutex::new(std::collections::BinaryHeap::new());
    for i in 0..10_000u64 {
        q.push(Level::new((i % 4) as u8)?, i)
            .map_err(|_| "closed")?;
        heap.lock().map_err(|_| "poisoned")?.push((
            std::cmp::Reverse(i % 4),
            std::cmp::Reverse(i),
            i,
        ));
    }
    let two = Level::new(2)?;
    let (ours, secs) = timed(|| {
        let mut sum = 0u64;
        for i in 0..PAIRS {
            let _ = q.push(two, i); // open: never closed here
            sum = sum.wrapping_add(q.try_pop().map_or(0, |(_, v)| v));
        }
        sum
    });
    let (theirs, anchor_secs) = timed(|| {
        let mut sum = 0u64;
        for i in 0..PAIRS {
            let mut h = heap.lock().unwrap_or_else(|e| e.into_inner());
            h.push((std::cmp::Reverse(2), std::cmp::Reverse(i + 10_000), i));
            sum = sum.wrapping_add(h.pop().map_or(0, |(_, _, v)| v));
        }
        sum
    });
    std::hint::black_box((ours, theirs));
    println!(
        "PriorityQueue: {:.1} M push/pop pairs/s = {:.2}x a Mutex<BinaryHeap> measured now",
        PAIRS as f64 / secs / 1e6,
        anchor_secs / secs
    );
    Ok(())
}
