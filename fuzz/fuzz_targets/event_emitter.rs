//! `Emitter` against the sequential reference: pattern validation, ids,
//! call order of every emit, failures, `off`/`off_all` results and listener
//! counts.
#![no_main]

use arbitrary::Arbitrary;
use latchwork::event::{Emitter, Subscription};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, Mutex};

#[path = "../../tests/common/event_reference.rs"]
mod event_reference;
use event_reference::{pattern_valid, EmitterRef};

const PATTERNS: &[&str] = &["a", "a.b", "a.c", "b", "a.*", "a.b.*", "*", "a*", "", "*.a"];
const TOPICS: &[&str] = &["a", "a.b", "a.c", "b", "a.b.c", "a.", "*"];

#[derive(Arbitrary, Debug)]
enum Op {
    On {
        pattern: u8,
        priority: i8,
        once: bool,
        fails: bool,
    },
    Off(u8),
    Drop(u8),
    Detach(u8),
    OffAll(u8),
    Emit(u8),
    Count(u8),
}

fuzz_target!(|ops: Vec<Op>| {
    let em = Emitter::<u8>::new();
    let mut r = EmitterRef::default();
    let log = Arc::new(Mutex::new(Vec::<u64>::new()));
    let mut handles: Vec<(u64, Subscription)> = Vec::new();
    for op in ops {
        match op {
            Op::On {
                pattern,
                priority,
                once,
                fails,
            } => {
                let p = PATTERNS[pattern as usize % PATTERNS.len()];
                let prio = priority as i32;
                let id = Arc::new(Mutex::new(u64::MAX));
                let (log, cell) = (log.clone(), id.clone());
                let body = move || {
                    let id = *cell.lock().unwrap();
                    log.lock().unwrap().push(id);
                    if fails {
                        Err("fails")
                    } else {
                        Ok(())
                    }
                };
                let res = if once {
                    em.once_with_priority(p, prio, move |_: &u8| body())
                } else {
                    em.on_with_priority(p, prio, move |_: &u8| body())
                };
                assert_eq!(res.is_ok(), pattern_valid(p), "pattern {p:?}");
                if let Ok(sub) = res {
                    let rid = r.on(p, prio, once, fails);
                    assert_eq!(sub.id().get(), rid);
                    *id.lock().unwrap() = rid;
                    handles.push((rid, sub));
                }
            }
            Op::Off(i) if !handles.is_empty() => {
                let (id, sub) = handles.remove(i as usize % handles.len());
                assert_eq!(sub.off(), r.off(id));
            }
            Op::Drop(i) if !handles.is_empty() => {
                let (id, sub) = handles.remove(i as usize % handles.len());
                drop(sub);
                r.off(id);
            }
            Op::Detach(i) if !handles.is_empty() => {
                let (id, sub) = handles.remove(i as usize % handles.len());
                let sid = sub.detach();
                if id % 2 == 0 {
                    assert_eq!(em.off(sid), r.off(id));
                }
            }
            Op::OffAll(p) => {
                let p = PATTERNS[p as usize % PATTERNS.len()];
                assert_eq!(em.off_all(p), r.off_all(p));
            }
            Op::Emit(t) => {
                let topic = TOPICS[t as usize % TOPICS.len()];
                log.lock().unwrap().clear();
                let report = em.emit(topic, &0);
                let (ran, failed) = r.emit(topic);
                assert_eq!(*log.lock().unwrap(), ran);
                assert_eq!(report.ran(), ran.len());
                let got: Vec<u64> = report.failures().iter().map(|f| f.id.get()).collect();
                assert_eq!(got, failed);
            }
            Op::Count(t) => {
                let topic = TOPICS[t as usize % TOPICS.len()];
                assert_eq!(em.listener_count(topic), r.count(topic));
            }
            _ => {}
        }
    }
});
