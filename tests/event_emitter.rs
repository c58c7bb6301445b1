#![cfg(all(not(loom), feature = "event"))]
//! Emitter: once under racing emitters, subscribe/unsubscribe while many
//! threads emit, failures, and an allocation count of the emit path.

use latchwork::event::{Emitter, Error, FailureReason};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[test]
fn emit_does_not_allocate() {
    let em = Emitter::<u64>::new();
    let sum = Arc::new(AtomicUsize::new(0));
    let mut subs = Vec::new();
    for (i, topic) in ["order.created", "order.*", "*", "order.created"]
        .into_iter()
        .enumerate()
    {
        let sum = sum.clone();
        subs.push(
            em.on_with_priority(topic, i as i32, move |v: &u64| {
                sum.fetch_add(*v as usize, Ordering::Relaxed);
            })
            .unwrap(),
        );
    }
    em.emit("order.created", &1); // warm up thread-locals (arc-swap's debt slot)
    let before = counting_alloc::thread_allocs();
    for _ in 0..1000 {
        assert_eq!(em.emit("order.created", &1).ran(), 4);
        assert_eq!(em.emit("nobody.listens", &1).ran(), 1);
    }
    assert_eq!(counting_alloc::thread_allocs(), before, "emit allocated");
    assert_eq!(sum.load(Ordering::Relaxed), 4 * 1001 + 1000);
}

#[test]
fn once_fires_exactly_once_under_racing_emits() {
    for _ in 0..50 {
        let em = Emitter::<()>::new();
        let fired = Arc::new(AtomicUsize::new(0));
        let f = fired.clone();
        em.once("t", move |_: &()| {
            f.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap()
        .detach();
        let start = Arc::new(Barrier::new(4));
        let ran: usize = (0..4)
            .map(|_| {
                let (em, start) = (em.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    (0..10).map(|_| em.emit("t", &()).ran()).sum::<usize>()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(fired.load(Ordering::SeqCst), 1);
        assert_eq!(ran, 1, "exactly one emit reports running it");
        assert_eq!(em.listener_count("t"), 0);
    }
}

#[test]
fn listeners_come_and_go_while_threads_emit() {
    let em = Emitter::<u64>::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    em.on_with_priority("tick", -1, move |_: &u64| {
        c.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap()
    .detach();
    let stop = Arc::new(AtomicUsize::new(0));
    let emitters: Vec<_> = (0..2)
        .map(|_| {
            let (em, stop) = (em.clone(), stop.clone());
            thread::spawn(move || {
                let mut n = 0;
                while stop.load(Ordering::Relaxed) == 0 {
                    let r = em.emit("tick", &n);
                    assert!(r.ran() >= 1 && r.is_ok());
                    n += 1;
                }
                n
            })
        })
        .collect();
    for i in 0..500 {
        let sub = em.on("tick", |_: &u64| ()).unwrap();
        let wild = em.on_with_priority("*", i % 3, |_: &u64| ()).unwrap();
        drop(sub);
        assert!(wild.off());
    }
    stop.store(1, Ordering::Relaxed);
    let emitted: u64 = emitters.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(calls.load(Ordering::Relaxed) as u64, emitted);
    assert_eq!(em.listener_count("tick"), 1);
}

#[test]
fn failures_are_reported_and_others_still_run() {
    let em = Emitter::<i32>::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let _ok = em
        .on_with_priority("x", 2, move |_: &i32| {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let bad = em
        .on_with_priority("x", 1, |v: &i32| -> Result<(), String> {
            Err(format!("bad value {v}"))
        })
        .unwrap();
    let boom = em
        .on_with_priority("x", 0, |_: &i32| -> () { panic!("boom") })
        .unwrap();
    let report = em.emit("x", &3);
    assert_eq!(report.ran(), 3);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    let f = report.failures();
    assert_eq!(f.len(), 2);
    assert_eq!((f[0].id, f[1].id), (boom.id(), bad.id()));
    assert_eq!(f[0].reason, FailureReason::Panicked("boom".into()));
    assert_eq!(f[1].reason, FailureReason::Returned("bad value 3".into()));
    assert!(f[1].to_string().contains("returned an error: bad value 3"));
}

#[test]
fn unsubscribing_from_inside_a_listener_does_not_deadlock() {
    let em = Emitter::<()>::new();
    let slot = Arc::new(std::sync::Mutex::new(None));
    let s = slot.clone();
    let sub = em
        .on("t", move |_: &()| {
            if let Some(sub) = s.lock().unwrap().take() {
                let _ = latchwork::event::Subscription::off(sub);
            }
        })
        .unwrap();
    *slot.lock().unwrap() = Some(sub);
    assert_eq!(em.emit("t", &()).ran(), 1, "this emit still runs it");
    assert_eq!(em.emit("t", &()).ran(), 0, "the next one does not");
}

#[test]
fn invalid_patterns_are_refused() {
    let em = Emitter::<()>::new();
    let err = em.on("order*", |_: &()| ()).unwrap_err();
    assert!(matches!(err, Error::InvalidTopic { .. }));
    assert!(err.to_string().contains("order*"));
    assert_eq!(em.off_all("a*b"), 0);
}

/// With feature `serde` an emit report round-trips through JSON in the
/// documented shape, so a service can log or ship it.
#[cfg(feature = "serde")]
#[test]
fn emit_report_serializes() {
    use latchwork::event::EmitReport;
    let em = Emitter::<u8>::new();
    let _ok = em.on("t", |_: &u8| ()).unwrap();
    let _bad = em
        .on_with_priority("t", -1, |_: &u8| -> Result<(), String> {
            Err("audit log offline".into())
        })
        .unwrap();
    let report = em.emit("t", &0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "ran": 2,
            "failures": [{
                "id": report.failures()[0].id.get(),
                "priority": -1,
                "reason": {"Returned": "audit log offline"}
            }]
        })
    );
    let back: EmitReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
    let empty: EmitReport = serde_json::from_str("{}").unwrap();
    assert_eq!(empty, EmitReport::default());
}
