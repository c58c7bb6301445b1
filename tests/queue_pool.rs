#![cfg(all(not(loom), feature = "clock", feature = "queue"))]
//! `TaskQueue`: priorities, panics, delayed tasks on a manual clock,
//! shutdown semantics and accounting.
use latchwork::clock::{Clock, ManualClock};
use latchwork::queue::{Error, Level, Priority, TaskError, TaskQueue, MAX_WORKERS};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

fn manual_pool(workers: usize) -> (TaskQueue<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    let pool = TaskQueue::builder()
        .workers(workers)
        .clock(clock.clone())
        .build()
        .unwrap();
    (pool, clock)
}

#[test]
fn workers_run_tasks_and_survive_panics() {
    let pool = TaskQueue::new(2).unwrap();
    let handles: Vec<_> = (0..100)
        .map(|i| {
            pool.submit(Priority::Medium, move || {
                if i % 10 == 3 {
                    panic!("task {i} broke");
                }
                i
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(v) => assert_eq!(v, i),
            Err(TaskError::Panicked(msg)) => {
                assert_eq!(i % 10, 3);
                assert_eq!(msg, format!("task {i} broke"));
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    // The workers are still alive after ten panics.
    assert_eq!(
        pool.submit(Priority::Low, || "still here").join(),
        Ok("still here")
    );
    pool.shutdown();
    let st = pool.stats();
    assert_eq!(
        (st.submitted, st.completed, st.panicked, st.cancelled),
        (101, 91, 10, 0)
    );
}

#[test]
fn run_pending_runs_by_priority_then_submission_order() {
    let pool = TaskQueue::new(0).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let job = |name: &'static str| {
        let log = log.clone();
        move || log.lock().unwrap().push(name)
    };
    pool.submit(Priority::Low, job("report-1"));
    pool.submit(Priority::Critical, job("alert-1"));
    pool.submit(Priority::Medium, job("email"));
    pool.submit(Priority::Low, job("report-2"));
    pool.submit(Priority::Critical, job("alert-2"));
    let failing = pool.submit(Priority::High, || -> () { panic!("bad input") });
    let reports = pool.run_pending();
    assert_eq!(
        *log.lock().unwrap(),
        ["alert-1", "alert-2", "email", "report-1", "report-2"]
    );
    let ids: Vec<u64> = reports.iter().map(|r| r.id.get()).collect();
    assert_eq!(ids, [1, 4, 5, 2, 0, 3]);
    assert_eq!(reports[2].level, Level::from(Priority::High));
    assert_eq!(
        reports[2].result,
        Err(TaskError::Panicked("bad input".into()))
    );
    assert_eq!(failing.join(), Err(TaskError::Panicked("bad input".into())));
    assert!(pool.run_pending().is_empty());
}

#[test]
fn delayed_tasks_wait_for_the_manual_clock() {
    let (pool, clock) = manual_pool(0);
    let a = pool.submit_after(Duration::from_secs(10), Priority::Low, || "a");
    let b = pool.submit_at(Duration::from_secs(5), Priority::Low, || "b");
    let c = pool.submit_after(Duration::from_secs(5), Priority::Critical, || "c");
    assert_eq!(pool.delayed_len(), 3);
    assert!(pool.run_pending().is_empty());
    clock.advance(Duration::from_secs(4));
    assert_eq!(pool.poll_delayed(), 0);
    clock.advance(Duration::from_secs(1));
    // b and c are due; c is more urgent.
    let ran: Vec<u64> = pool.run_pending().iter().map(|r| r.id.get()).collect();
    assert_eq!(ran, [2, 1]);
    assert_eq!((b.join(), c.join()), (Ok("b"), Ok("c")));
    assert!(!a.is_finished());
    clock.advance(Duration::from_secs(5));
    assert_eq!(pool.run_pending().len(), 1);
    assert_eq!(a.join(), Ok("a"));
}

#[test]
fn workers_pick_up_delayed_tasks_after_poll() {
    let (pool, clock) = manual_pool(2);
    let (tx, rx) = mpsc::channel();
    let h = pool.submit_after(Duration::from_millis(100), Priority::High, move || {
        tx.send(()).unwrap();
        7
    });
    assert!(rx.try_recv().is_err());
    clock.advance(Duration::from_millis(100));
    pool.poll_delayed();
    assert_eq!(h.join(), Ok(7));
    assert_eq!(clock.now(), Duration::from_millis(100));
}

#[test]
fn shutdown_finishes_ready_work_and_cancels_future_work() {
    let (pool, clock) = manual_pool(2);
    let ran = Arc::new(AtomicUsize::new(0));
    let ready: Vec<_> = (0..50)
        .map(|_| {
            let ran = ran.clone();
            pool.submit(Priority::Medium, move || ran.fetch_add(1, Ordering::SeqCst))
        })
        .collect();
    let due = pool.submit_at(Duration::from_secs(1), Priority::Low, || "due");
    let later = pool.submit_at(Duration::from_secs(9), Priority::Low, || "later");
    clock.advance(Duration::from_secs(1));
    pool.shutdown();
    assert_eq!(ran.load(Ordering::SeqCst), 50);
    for h in ready {
        assert!(h.join().is_ok());
    }
    assert_eq!(due.join(), Ok("due"));
    assert_eq!(later.join(), Err(TaskError::Cancelled));
    // Submissions after shutdown are refused, not lost.
    assert_eq!(
        pool.submit(Priority::Critical, || 1).join(),
        Err(TaskError::Cancelled)
    );
    pool.shutdown(); // idempotent
    let st = pool.stats();
    assert_eq!((st.submitted, st.completed, st.cancelled), (53, 51, 2));
}

#[test]
fn shutdown_with_no_workers_runs_the_queue_on_the_caller() {
    let pool = TaskQueue::new(0).unwrap();
    let h = pool.submit(Priority::Low, || 5);
    pool.shutdown();
    assert_eq!(h.join(), Ok(5));
}

#[test]
fn shutdown_now_cancels_queued_work() {
    let pool = TaskQueue::new(1).unwrap();
    // Block the only worker so that the rest stays queued.
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocker = pool.submit(Priority::Critical, move || {
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        "blocker"
    });
    started_rx.recv().unwrap();
    let queued: Vec<_> = (0..10)
        .map(|i| pool.submit(Priority::Low, move || i))
        .collect();
    let pool = Arc::new(pool);
    let stopper = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.shutdown_now())
    };
    // shutdown_now cancels the queue, then waits for the running task.
    for h in queued {
        assert_eq!(h.join(), Err(TaskError::Cancelled));
    }
    release_tx.send(()).unwrap();
    assert_eq!(stopper.join().unwrap(), 10);
    assert_eq!(blocker.join(), Ok("blocker"));
    let st = pool.stats();
    assert_eq!((st.submitted, st.completed, st.cancelled), (11, 1, 10));
}

#[test]
fn dropping_the_pool_cancels_what_it_never_ran() {
    let (pool, _clock) = manual_pool(0);
    let now = pool.submit(Priority::High, || 1);
    let later = pool.submit_after(Duration::from_secs(1), Priority::High, || 2);
    drop(pool);
    assert_eq!(now.join(), Err(TaskError::Cancelled));
    assert_eq!(later.join(), Err(TaskError::Cancelled));
}

#[test]
fn shutdown_from_inside_a_task_does_not_deadlock() {
    let pool = Arc::new(TaskQueue::new(2).unwrap());
    let inner = pool.clone();
    let h = pool.submit(Priority::Medium, move || {
        inner.shutdown();
        "done"
    });
    assert_eq!(h.join(), Ok("done"));
    assert_eq!(
        pool.submit(Priority::Medium, || ()).join(),
        Err(TaskError::Cancelled)
    );
}

#[test]
fn bad_configuration_is_a_typed_error() {
    let err = TaskQueue::new(MAX_WORKERS + 1).unwrap_err();
    assert_eq!(
        err,
        Error::TooManyWorkers {
            requested: MAX_WORKERS + 1,
            max: MAX_WORKERS
        }
    );
    assert!(err.to_string().contains("at most 1024"));
    assert!(matches!(
        Level::new(64),
        Err(Error::LevelOutOfRange {
            level: 64,
            levels: 64
        })
    ));
}

#[test]
fn debug_output_is_informative() {
    let pool = TaskQueue::new(0).unwrap();
    let h = pool.submit(Priority::Low, || ());
    let text = format!("{pool:?} {h:?}");
    assert!(text.contains("ready: 1"), "{text}");
    assert!(text.contains("finished: false"), "{text}");
}

#[test]
fn execute_runs_in_priority_order_counts_panics_and_cancels_after_shutdown() {
    let pool = TaskQueue::new(0).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let job = |name: &'static str| {
        let log = log.clone();
        move || log.lock().unwrap().push(name)
    };
    pool.execute(Priority::Low, job("report"));
    pool.execute(Priority::Critical, job("alert"));
    pool.execute(Priority::High, || panic!("detached and broken"));
    pool.execute(Priority::Critical, job("alert-2"));
    let reports = pool.run_pending();
    assert_eq!(*log.lock().unwrap(), ["alert", "alert-2", "report"]);
    assert_eq!(
        reports[2].result,
        Err(TaskError::Panicked("detached and broken".into())),
        "the panic reaches run_pending's report"
    );
    let stats = pool.stats();
    assert_eq!(
        (stats.submitted, stats.completed, stats.panicked),
        (4, 3, 1)
    );

    // With workers: every detached task runs exactly once before shutdown
    // returns, and one submitted after it is dropped unrun, counted.
    let pool = TaskQueue::new(2).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for i in 0..10_000u32 {
        let ran = ran.clone();
        pool.execute(Level::new((i % 64) as u8).unwrap(), move || {
            ran.fetch_add(1, Ordering::Relaxed);
        });
    }
    pool.shutdown();
    assert_eq!(ran.load(Ordering::Relaxed), 10_000);
    let late = ran.clone();
    pool.execute(Priority::Critical, move || {
        late.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(ran.load(Ordering::Relaxed), 10_000);
    let stats = pool.stats();
    assert_eq!((stats.completed, stats.cancelled), (10_000, 1));
}
