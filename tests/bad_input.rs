#![cfg(all(
    not(loom),
    feature = "cache",
    feature = "clock",
    feature = "config",
    feature = "event",
    feature = "freq",
    feature = "paginate",
    feature = "pipeline",
    feature = "queue",
    feature = "ratelimit",
    feature = "retry"
))]
//! The bad-input suite: every public constructor, builder setter and method
//! that takes a number, duration, size, cost, key or clock, called with
//! extreme values (0, 1, MAX, MAX-1, NaN, ±infinity, negative,
//! `Duration::ZERO`/`MAX`, empty and huge keys, a clock that goes back or
//! jumps forward by years). Each case must return a typed error whose
//! message names the parameter, or do the documented thing; none may
//! panic, allocate without bound or hang, and no limiter may admit more
//! than its limit afterwards.
//!
//! A failure that would take the process down (an abort, a stack
//! overflow, an out-of-memory kill) must be reported, not fatal, so every
//! case runs in a child process: `all_cases` re-executes this test binary
//! once per case with `BAD_INPUT_CASE=<name>`, under an 8 GiB address-space
//! limit and a timeout, and `one_case` (which does nothing without the
//! variable) runs that case in the child, counting its heap: a case that
//! holds more than 1 GiB at once fails. `BAD_INPUT_FILTER=<substring>`
//! runs only the matching cases.
//!
//! One `fn cases_<module>() -> Vec<Case>` per module; add a module by
//! writing its function and listing it in `cases`.

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
#[path = "common/jump_clock.rs"]
mod jump_clock;

use jump_clock::JumpClock;
use latchwork::clock::{duration_to_nanos, Clock, ManualClock, Monotonic};
use std::fmt::Display;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type Outcome = Result<(), String>;

/// A named input built when its case runs (so a 1 MiB key is made only in
/// the child that needs it).
type Lazy = (&'static str, fn() -> String);

/// A named clock step, applied between two bursts.
type ClockMove = (&'static str, fn(&JumpClock));

/// One bad-input case: a name (`module/what`) and its body.
struct Case {
    name: String,
    run: Box<dyn Fn() -> Outcome>,
}

fn case(name: impl Into<String>, run: impl Fn() -> Outcome + 'static) -> Case {
    Case {
        name: name.into(),
        run: Box::new(run),
    }
}

/// Every case, module by module.
fn cases() -> Vec<Case> {
    [
        cases_cache(),
        cases_cache_flight(),
        cases_ratelimit(),
        cases_queue(),
        cases_event(),
        cases_retry(),
        cases_pipeline(),
        cases_paginate(),
        cases_config(),
        cases_freq(),
        cases_clock(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

// ---- outcome helpers -------------------------------------------------------

/// `Err` whose message names `parameter`.
fn rejects<T, E: Display>(r: Result<T, E>, parameter: &str) -> Outcome {
    match r {
        Ok(_) => Err(format!("accepted; expected an error naming `{parameter}`")),
        Err(e) => names(&e, parameter),
    }
}

/// `Ok`.
fn accepts<T, E: Display>(r: Result<T, E>) -> Result<T, String> {
    r.map_err(|e| format!("refused: {e}"))
}

/// `Ok`, or an error that names `parameter`.
fn ok_or_names<T, E: Display>(r: Result<T, E>, parameter: &str) -> Outcome {
    match r {
        Ok(_) => Ok(()),
        Err(e) => names(&e, parameter),
    }
}

/// `Ok`, or an error that names one of `parameters` (a limit on their
/// combination).
fn ok_or_names_any<T, E: Display>(r: Result<T, E>, parameters: &[&str]) -> Outcome {
    match r {
        Ok(_) => Ok(()),
        Err(e) if parameters.iter().any(|p| names(&e, p).is_ok()) => Ok(()),
        Err(e) => Err(format!("error {e} names none of {parameters:?}")),
    }
}

fn names(e: &impl Display, parameter: &str) -> Outcome {
    let msg = e.to_string();
    if msg.to_lowercase().contains(&parameter.to_lowercase()) {
        Ok(())
    } else {
        Err(format!("error {msg:?} does not name `{parameter}`"))
    }
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

fn at_most(admitted: u64, limit: u64) -> Outcome {
    check(admitted <= limit, || {
        format!("admitted {admitted}, more than the limit {limit}")
    })
}

const YEAR: Duration = Duration::from_secs(365 * 86_400);
const SEC: Duration = Duration::from_secs(1);
const NS: u64 = 1_000_000_000;

/// The rates every rate-taking setter is called with.
const BAD_RATES: [f64; 8] = [
    0.0,
    -1.0,
    -0.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::MAX,
    1e-300,
];

/// Durations every duration-taking setter is called with.
const DURATIONS: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_nanos(1),
    Duration::from_nanos(u64::MAX),
    Duration::MAX,
];

/// The clock scenarios every time-based type is driven through: a name and
/// the step to apply between two bursts.
fn clock_moves() -> Vec<ClockMove> {
    vec![
        ("back 1 ns", |c| c.back(1)),
        ("back to 0", |c| c.set_nanos(0)),
        ("forward 10 years", |c| c.forward(10 * YEAR)),
        ("to u64::MAX", |c| c.set_nanos(u64::MAX)),
        ("forward 10 years then back", |c| {
            c.forward(10 * YEAR);
            c.back(duration_to_nanos(10 * YEAR));
        }),
    ]
}

// ---- cache -----------------------------------------------------------------

fn cases_cache() -> Vec<Case> {
    use latchwork::cache::{Cache, Policy};
    let mut v = Vec::new();
    for policy in [Policy::TinyLfu, Policy::Lru] {
        for cap in [0u64, 1, 2, u64::MAX - 1, u64::MAX] {
            for weighted in [false, true] {
                v.push(case(
                    format!("cache/{policy:?} max_capacity({cap}) weighted={weighted}"),
                    move || {
                        let mut b = Cache::<u64, u64>::builder()
                            .max_capacity(cap)
                            .policy(policy);
                        if weighted {
                            b = b.weigher(|_, v| *v as u32);
                        }
                        let r = b.build();
                        if cap == 0 {
                            return rejects(r, "max_capacity");
                        }
                        let c = match r {
                            Ok(c) => c,
                            Err(e) => return names(&e, "max_capacity"),
                        };
                        for k in 0..1_000u64 {
                            c.insert(k, k % 7);
                        }
                        check(c.weighted_size() <= cap, || {
                            format!("weighted size {} over {cap}", c.weighted_size())
                        })?;
                        c.check_invariants()
                    },
                ));
            }
        }
        for shards in [
            0usize,
            1,
            3,
            1 << 16,
            (1 << 16) + 1,
            usize::MAX - 1,
            usize::MAX,
        ] {
            v.push(case(
                format!("cache/{policy:?} shards({shards})"),
                move || {
                    let r = Cache::<u64, u64>::builder()
                        .max_capacity(1_000)
                        .policy(policy)
                        .shards(shards)
                        .build();
                    if shards == 0 || shards > 1 << 16 {
                        return rejects(r, "shards");
                    }
                    let c = accepts(r)?;
                    for k in 0..5_000 {
                        c.insert(k, k);
                        c.get(&(k / 2));
                    }
                    check(c.len() <= 1_000 && c.shard_count() <= 1_000 / 32, || {
                        format!("len {} shards {}", c.len(), c.shard_count())
                    })
                },
            ));
        }
    }
    for d in DURATIONS {
        for setter in ["time_to_live", "time_to_idle"] {
            v.push(case(format!("cache/{setter}({d:?})"), move || {
                let b = Cache::<u64, u64>::builder()
                    .max_capacity(100)
                    .clock(ManualClock::new());
                let b = if setter == "time_to_live" {
                    b.time_to_live(d)
                } else {
                    b.time_to_idle(d)
                };
                let r = b.build();
                if d.is_zero() {
                    return rejects(r, setter);
                }
                let c = accepts(r)?;
                c.insert(1, 1);
                let live = c.get(&1) == Some(1);
                check(
                    live == (d > Duration::from_nanos(1)) || d == Duration::from_nanos(1),
                    || format!("entry with {setter} {d:?} live: {live}"),
                )
            }));
        }
        v.push(case(format!("cache/insert_with_ttl({d:?})"), move || {
            let clock = ManualClock::new();
            let c = accepts(
                Cache::<u64, u64>::builder()
                    .max_capacity(10)
                    .clock(clock.clone())
                    .build(),
            )?;
            c.insert_with_ttl(1, 1, d);
            clock.advance(Duration::from_nanos(1));
            let want = d > Duration::from_nanos(1);
            check((c.get(&1) == Some(1)) == want, || {
                format!("live should be {want}")
            })?;
            clock.advance(100 * YEAR);
            c.run_pending_tasks();
            c.check_invariants()
        }));
    }
    for w in [0u32, 1, u32::MAX - 1, u32::MAX] {
        v.push(case(format!("cache/weigher returning {w}"), move || {
            let c = accepts(
                Cache::<u64, u64>::builder()
                    .max_capacity(1_000)
                    .weigher(move |_, _| w)
                    .build(),
            )?;
            let stored = c.insert(1, 1);
            check(stored == (u64::from(w.max(1)) <= 1_000), || {
                format!("weight {w}: stored {stored}")
            })?;
            check(c.weighted_size() <= 1_000, || "over capacity".into())
        }));
    }
    let keys: [Lazy; 2] = [("empty", String::new), ("1 MiB", || "k".repeat(1 << 20))];
    for (what, key) in keys {
        v.push(case(format!("cache/{what} key"), move || {
            let c = accepts(Cache::<String, u64>::builder().max_capacity(4).build())?;
            let k = key();
            c.insert(k.clone(), 1);
            check(c.get(&k) == Some(1), || "not found".into())?;
            check(c.remove(&k) == Some(1), || "not removed".into())
        }));
    }
    for (what, step) in clock_moves() {
        v.push(case(format!("cache/TTL over a clock {what}"), move || {
            let clock = JumpClock::at(100 * NS);
            let c = accepts(
                Cache::<u64, u64>::builder()
                    .max_capacity(100)
                    .time_to_live(SEC)
                    .clock(clock.clone())
                    .build(),
            )?;
            c.insert(1, 1);
            clock.forward(2 * SEC);
            check(c.get(&1).is_none(), || "expired entry returned".into())?;
            c.insert(2, 2);
            step(&clock);
            // Seen expired once, never live again; a step back is no time
            // passed, so the fresh entry stays live.
            check(c.get(&1).is_none(), || "expired entry came back".into())?;
            if clock.nanos() < 100 * NS + 3 * NS {
                check(c.get(&2) == Some(2), || {
                    "fresh entry lost on a step back".into()
                })?;
            }
            c.insert(3, 3);
            c.run_pending_tasks();
            c.check_invariants()
        }));
    }
    for first in ["read", "write"] {
        v.push(case(
            format!("cache/TTL after a jump a year ahead, corrected ({first} first)"),
            move || {
                // The crate's one policy (latchwork::clock): a step back is
                // no time passed, then time passes at the clock's pace. A
                // high-water mark kept this 10 s entry for a year.
                let clock = JumpClock::at(100 * NS);
                let c = accepts(
                    Cache::<u64, u64>::builder()
                        .max_capacity(100)
                        .time_to_live(10 * SEC)
                        .clock(clock.clone())
                        .build(),
                )?;
                clock.forward(YEAR);
                c.insert(1, 1);
                clock.back(duration_to_nanos(YEAR)); // corrected
                if first == "write" {
                    c.insert(2, 2);
                }
                check(c.get(&1) == Some(1), || {
                    "entry lost on the correction (no time passed)".into()
                })?;
                clock.forward(10 * SEC - Duration::from_millis(1));
                check(c.get(&1) == Some(1), || "expired early".into())?;
                clock.forward(Duration::from_millis(1));
                check(c.get(&1).is_none(), || {
                    "10 s entry live 10 s of clock pace after the correction".into()
                })?;
                c.insert(3, 3);
                c.run_pending_tasks();
                check(c.len() == 1, || format!("{} held, want 1", c.len()))?;
                c.check_invariants()
            },
        ));
    }
    for via in ["insert", "load"] {
        v.push(case(
            format!("cache/expired entry overwritten by {via} is reported Expired"),
            move || {
                use latchwork::cache::RemovalCause;
                use std::sync::{Arc, Mutex};
                let heard = Arc::new(Mutex::new(Vec::new()));
                let log = Arc::clone(&heard);
                let clock = ManualClock::new();
                let c = accepts(
                    Cache::<u64, u64>::builder()
                        .max_capacity(100)
                        .time_to_live(Duration::from_micros(100))
                        .eviction_listener(move |k, v, cause| {
                            log.lock().unwrap().push((*k, *v, cause));
                        })
                        .clock(clock.clone())
                        .build(),
                )?;
                c.insert(1, 10);
                // Expired within the wheel's 1 ms tick: no timer is due, so
                // the write itself finds the old value expired.
                clock.advance(Duration::from_micros(500));
                c.insert(2, 20);
                if via == "insert" {
                    c.insert(1, 11);
                } else {
                    c.get_or_insert_with(1, || 11);
                }
                c.insert(2, 21); // live: a plain replacement
                let heard = heard.lock().unwrap().clone();
                let want = [
                    (1, 10, RemovalCause::Expired),
                    (2, 20, RemovalCause::Replaced),
                ];
                check(heard == want, || format!("listener heard {heard:?}"))?;
                let s = c.stats();
                check((s.expirations, s.replacements) == (1, 1), || {
                    format!("stats {s:?}")
                })
            },
        ));
    }
    v.push(case(
        "cache/expired entry overwritten by a too-heavy insert is reported Expired",
        || {
            use latchwork::cache::RemovalCause;
            use std::sync::{Arc, Mutex};
            let heard = Arc::new(Mutex::new(Vec::new()));
            let log = Arc::clone(&heard);
            let clock = ManualClock::new();
            let c = accepts(
                Cache::<u64, u64>::builder()
                    .max_capacity(100)
                    .weigher(|_, v: &u64| if *v >= 1_000 { 1_000 } else { 1 })
                    .time_to_live(Duration::from_micros(100))
                    .eviction_listener(move |k, v, cause| {
                        log.lock().unwrap().push((*k, *v, cause));
                    })
                    .clock(clock.clone())
                    .build(),
            )?;
            c.insert(1, 10);
            clock.advance(Duration::from_micros(500));
            check(!c.insert(1, 1_000), || "a too-heavy value was held".into())?;
            let heard = heard.lock().unwrap().clone();
            let want = [
                (1, 10, RemovalCause::Expired),
                (1, 1_000, RemovalCause::Size),
            ];
            check(heard == want, || format!("listener heard {heard:?}"))?;
            check(c.stats().expirations == 1, || {
                format!("stats {:?}", c.stats())
            })
        },
    ));
    v
}

// ---- cache: single-flight loads under hostile user code ---------------------

/// The single-flight loader against user code that misbehaves inside it: a
/// weigher, `V::clone`, `Hash`, `Eq`, listener or loader that panics, a
/// loader that asks for its own key, a key whose `Eq` is never true or not
/// consistent. Each case runs under [`flight::within`], so a waiter that
/// sleeps forever fails the case at once.
fn cases_cache_flight() -> Vec<Case> {
    use flight::{abandoned_load, within, FKey, FVal, Fuse, EQ_FUSE, HASH_FUSE, VAL_FUSE};
    use latchwork::cache::Cache;
    let mut v = Vec::new();
    v.push(case(
        "cache/flight weigher panics while the load is stored",
        || {
            within(|| {
                static WEIGH: Fuse = Fuse::new();
                let c = Cache::builder()
                    .max_capacity(100)
                    .weigher(|_: &FKey, _: &FVal| {
                        WEIGH.blow("weigher");
                        1
                    })
                    .build()
                    .map_err(|e| e.to_string())?;
                abandoned_load(c, |_| WEIGH.arm(1), Some(true))
            })
        },
    ));
    for n in [1, 2, 3] {
        v.push(case(
            format!("cache/flight V::clone panics at clone #{n} of the load"),
            move || {
                within(move || {
                    let c = Cache::new(100).map_err(|e| e.to_string())?;
                    abandoned_load(c, move |_| VAL_FUSE.arm(n), (n < 3).then_some(true))
                })
            },
        ));
    }
    v.push(case(
        "cache/flight Hash panics at each call of a load",
        || {
            within(|| {
                for n in 1..=8 {
                    let c = Cache::new(100).map_err(|e| e.to_string())?;
                    abandoned_load(c, move |_| HASH_FUSE.arm(n), None)?;
                }
                Ok(())
            })
        },
    ));
    v.push(case(
        "cache/flight Eq panics at each call of a load",
        || {
            within(|| {
                for n in 1..=16 {
                    let c = Cache::new(100).map_err(|e| e.to_string())?;
                    abandoned_load(
                        c,
                        move |c| {
                            // Every key hashes alike and two entries are held:
                            // each lookup, store and flight search compares keys.
                            flight::SAME_HASH.store(true, std::sync::atomic::Ordering::SeqCst);
                            c.insert(FKey(1_000), FVal(0));
                            c.insert(FKey(1_001), FVal(0));
                            EQ_FUSE.arm(n)
                        },
                        None,
                    )?;
                }
                Ok(())
            })
        },
    ));
    v.push(case(
        "cache/flight listener panics on the load's eviction",
        || {
            within(|| {
                static LISTEN: Fuse = Fuse::new();
                let c = Cache::builder()
                    .max_capacity(1)
                    .policy(latchwork::cache::Policy::Lru)
                    .eviction_listener(|_: &FKey, _: &FVal, _| LISTEN.blow("listener"))
                    .build()
                    .map_err(|e| e.to_string())?;
                abandoned_load(
                    c,
                    |c| {
                        c.insert(FKey(1_000), FVal(0));
                        LISTEN.arm(1);
                    },
                    Some(false),
                )
            })
        },
    ));
    v.push(case("cache/flight loader panics with waiters", || {
        within(|| {
            let c = Cache::new(100).map_err(|e| e.to_string())?;
            abandoned_load(c, |_| flight::LOADER_FUSE.arm(1), Some(true))
        })
    }));
    v.push(case("cache/flight loader re-enters its own key", || {
        within(|| {
            use flight::reentered;
            let c = Cache::<u64, u64>::new(100).map_err(|e| e.to_string())?;
            reentered("blocking in blocking", || {
                c.get_or_insert_with(1, || c.get_or_insert_with(1, || 2) + 1)
            })?;
            reentered("try in try", || {
                c.try_get_or_insert_with(1, || c.try_get_or_insert_with(1, || Ok::<_, ()>(2)))
            })?;
            reentered("async in async", || {
                futures::executor::block_on(c.get_or_insert_async(1, async {
                    c.get_or_insert_async(1, async { 2 }).await + 1
                }))
            })?;
            reentered("blocking in async", || {
                futures::executor::block_on(
                    c.get_or_insert_async(1, async { c.get_or_insert_with(1, || 2) + 1 }),
                )
            })?;
            reentered("async in blocking", || {
                c.get_or_insert_with(1, || {
                    futures::executor::block_on(c.get_or_insert_async(1, async { 2 })) + 1
                })
            })?;
            check(c.get_or_insert_with(1, || 5) == 5, || {
                "key not loadable after re-entrance".into()
            })?;
            // Not re-entrance: two loads of one key joined in one task.
            let (a, b) = futures::executor::block_on(async {
                futures::join!(
                    c.get_or_insert_async(2, async {
                        flight::yield_once().await;
                        7
                    }),
                    c.get_or_insert_async(2, async { 8 }),
                )
            });
            check((a, b) == (7, 7), || format!("joined loads gave {a}, {b}"))
        })
    }));
    v.push(case("cache/flight key whose Eq is never true", || {
        within(|| {
            flight::eq_mode(flight::EqMode::Never);
            let c = Cache::new(64).map_err(|e| e.to_string())?;
            flight::no_flight_left_behind(&c, 100_000)
        })
    }));
    v.push(case("cache/flight key whose Eq is not consistent", || {
        within(|| {
            flight::eq_mode(flight::EqMode::Flaky);
            let c = std::sync::Arc::new(Cache::new(1_000).map_err(|e| e.to_string())?);
            flight::no_flight_left_behind(&c, 20_000)?;
            // Every load stored: its flight was still registered, whatever
            // `Eq` said (no invalidation ran).
            let st = c.stats();
            check(st.inserts == st.loads, || {
                format!("{} loads, {} stored", st.loads, st.inserts)
            })?;
            // Threads racing on few keys: nothing hangs, nothing leaks.
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let c = c.clone();
                    std::thread::spawn(move || {
                        for i in 0..5_000u64 {
                            let k = (i * 7 + t) % 16;
                            let got = c.get_or_insert_with(FKey(k), || k);
                            assert_eq!(got, k, "another key's value");
                            if i % 64 == 0 {
                                c.remove(&FKey(k));
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join()
                    .map_err(|_| "a loading thread panicked".to_string())?;
            }
            flight::no_flight_left_behind(&c, 20_000)
        })
    }));
    v
}

/// Hostile keys and values for [`cases_cache_flight`]; a case runs alone in
/// its child process, so their switches are statics.
mod flight {
    use super::{check, counting_alloc, Outcome};
    use latchwork::cache::Cache;
    use std::hash::{Hash, Hasher};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::Duration;

    /// How long a case may take before it counts as hung (well under the
    /// harness's child timeout, so the failure names the case's cause). A
    /// hang is forever; the longest case takes about a second alone, but
    /// the flight cases hand off between threads by yielding, and on a
    /// machine loaded several times over (a fuzz campaign beside the
    /// suite) one took more than 20 s: the margin is for that.
    const WATCHDOG: Duration = Duration::from_secs(150);

    /// Runs `f` on its own thread and fails if it is not done within
    /// [`WATCHDOG`]: a waiter sleeping forever fails the case instead of
    /// hanging it.
    pub fn within(f: impl FnOnce() -> Outcome + Send + 'static) -> Outcome {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(f))
                .unwrap_or_else(|p| Err(format!("panicked: {}", text(p.as_ref()))));
            let _ = tx.send(r);
        });
        rx.recv_timeout(WATCHDOG)
            .unwrap_or_else(|_| Err(format!("hung: not done within {WATCHDOG:?}")))
    }

    fn text(p: &(dyn std::any::Any + Send)) -> String {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    }

    /// Panics at the n-th [`blow`](Fuse::blow) after [`arm(n)`](Fuse::arm);
    /// 0 is disarmed.
    pub struct Fuse(AtomicU64);

    impl Fuse {
        pub const fn new() -> Self {
            Fuse(AtomicU64::new(0))
        }
        pub fn arm(&self, n: u64) {
            self.0.store(n, SeqCst);
        }
        pub fn blow(&self, what: &str) {
            if self.0.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)) == Ok(1) {
                panic!("{what} panicked (on purpose)");
            }
        }
    }

    pub static HASH_FUSE: Fuse = Fuse::new();
    pub static EQ_FUSE: Fuse = Fuse::new();
    pub static VAL_FUSE: Fuse = Fuse::new();
    pub static LOADER_FUSE: Fuse = Fuse::new();
    /// Every key hashes alike, so every lookup compares keys.
    pub static SAME_HASH: AtomicBool = AtomicBool::new(false);

    #[derive(Clone, Copy)]
    pub enum EqMode {
        Normal,
        Never,
        Flaky,
    }
    static EQ_MODE: AtomicU8 = AtomicU8::new(EqMode::Normal as u8);
    static EQ_CALLS: AtomicU64 = AtomicU64::new(0);

    pub fn eq_mode(mode: EqMode) {
        EQ_MODE.store(mode as u8, SeqCst);
    }

    /// A key whose `Hash` and `Eq` can panic ([`HASH_FUSE`], [`EQ_FUSE`])
    /// and whose `Eq` can be never true (a NaN) or true only every other
    /// time for equal keys ([`eq_mode`]).
    #[derive(Clone, Debug)]
    pub struct FKey(pub u64);

    impl Hash for FKey {
        fn hash<H: Hasher>(&self, h: &mut H) {
            HASH_FUSE.blow("Hash");
            if !SAME_HASH.load(SeqCst) {
                self.0.hash(h);
            }
        }
    }

    impl PartialEq for FKey {
        fn eq(&self, other: &Self) -> bool {
            EQ_FUSE.blow("Eq");
            match EQ_MODE.load(SeqCst) {
                m if m == EqMode::Never as u8 => false,
                m if m == EqMode::Flaky as u8 => {
                    self.0 == other.0 && EQ_CALLS.fetch_add(1, SeqCst) % 2 == 0
                }
                _ => self.0 == other.0,
            }
        }
    }

    impl Eq for FKey {}

    /// A value whose `Clone` can panic ([`VAL_FUSE`]).
    #[derive(Debug, PartialEq)]
    pub struct FVal(pub u64);

    impl Clone for FVal {
        fn clone(&self) -> Self {
            VAL_FUSE.blow("V::clone");
            FVal(self.0)
        }
    }

    const WAITERS: usize = 3;
    const ROUNDS: u64 = 8;

    /// Loads in rounds, each a leader and [`WAITERS`] threads asking for
    /// the same key while its loader runs, with `arm` setting a fuse just
    /// before the leader starts. Every call must return (value or panic);
    /// `leader_panics`, when known, is whether the leader's call must
    /// panic; waiters get their own value or the leader's. With every
    /// fuse spent, the key must then be loadable and stored.
    pub fn abandoned_load(
        c: Cache<FKey, FVal>,
        arm: impl Fn(&Cache<FKey, FVal>),
        leader_panics: Option<bool>,
    ) -> Outcome {
        let c = Arc::new(c);
        for r in 0..ROUNDS {
            let started = Arc::new(AtomicUsize::new(0));
            let leading = Arc::new(AtomicBool::new(false));
            arm(&c);
            let leader = {
                let (c, started, leading) = (c.clone(), started.clone(), leading.clone());
                std::thread::spawn(move || {
                    let r = catch_unwind(AssertUnwindSafe(|| {
                        c.get_or_insert_with(FKey(r), || {
                            leading.store(true, SeqCst);
                            while started.load(SeqCst) < WAITERS {
                                std::thread::yield_now();
                            }
                            // Let the waiters reach the flight and park.
                            for _ in 0..500 {
                                std::thread::yield_now();
                            }
                            LOADER_FUSE.blow("loader");
                            FVal(r)
                        })
                    }));
                    leading.store(true, SeqCst);
                    r.map(|v| v.0)
                })
            };
            while !leading.load(SeqCst) {
                std::thread::yield_now();
            }
            let waiters: Vec<_> = (0..WAITERS)
                .map(|_| {
                    let (c, started) = (c.clone(), started.clone());
                    std::thread::spawn(move || {
                        started.fetch_add(1, SeqCst);
                        catch_unwind(AssertUnwindSafe(|| {
                            c.get_or_insert_with(FKey(r), || FVal(r + 100)).0
                        }))
                    })
                })
                .collect();
            let led = leader.join().map_err(|_| "leader thread died")?;
            if let Some(want) = leader_panics {
                check(led.is_err() == want, || {
                    format!(
                        "round {r}: leader panicked: {}, expected {want}",
                        led.is_err()
                    )
                })?;
            }
            for w in waiters {
                if let Ok(got) = w.join().map_err(|_| "waiter thread died")? {
                    check(got == r || got == r + 100, || {
                        format!("round {r}: waiter got {got}")
                    })?;
                }
            }
            for f in [&HASH_FUSE, &EQ_FUSE, &VAL_FUSE, &LOADER_FUSE] {
                f.arm(0);
            }
            let got = c.get_or_insert_with(FKey(r), || FVal(r + 200)).0;
            check([r, r + 100, r + 200].contains(&got), || {
                format!("round {r}: key loads {got}")
            })?;
            check(c.get(&FKey(r)).is_some(), || {
                format!("round {r}: loaded key not stored")
            })?;
        }
        c.check_invariants()
    }

    /// Runs `f`, which must panic with the re-entrance message.
    pub fn reentered<T>(what: &str, f: impl FnOnce() -> T) -> Outcome {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(_) => Err(format!("{what}: re-entrant load returned")),
            Err(p) => {
                let msg = text(p.as_ref());
                check(msg.contains("re-entered"), || {
                    format!("{what}: panic {msg:?} does not say the loader re-entered")
                })
            }
        }
    }

    /// A future that is pending once (waking itself), then ready.
    pub async fn yield_once() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                std::task::Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await
    }

    /// `loads` loads of distinct keys, each returning its own value, leave
    /// the heap where it was: the flight table keeps nothing (the entries
    /// themselves stay within the cache's capacity, filled beforehand).
    pub fn no_flight_left_behind(c: &Cache<FKey, u64>, loads: u64) -> Outcome {
        let fill = c.max_capacity().unwrap_or(0).min(loads);
        for i in 0..fill {
            c.get_or_insert_with(FKey(u64::MAX - i), || i);
        }
        let before = counting_alloc::live();
        for i in 0..loads {
            let got = c.get_or_insert_with(FKey(i), || i);
            check(got == i, || format!("key {i} loaded {got}"))?;
        }
        let grown = counting_alloc::live() - before;
        check(grown < 4 << 20, || {
            format!("{loads} loads left {grown} bytes behind (in-flight records kept?)")
        })
    }
}

// ---- ratelimit -------------------------------------------------------------

fn cases_ratelimit() -> Vec<Case> {
    use latchwork::ratelimit::{KeyedLimiter, SlidingWindowCounter, SlidingWindowLog, TokenBucket};
    let mut v = Vec::new();

    for rate in BAD_RATES {
        v.push(case(
            format!("ratelimit/TokenBucket.rate({rate})"),
            move || rejects(TokenBucket::builder().rate(rate).burst(10).build(), "rate"),
        ));
        v.push(case(
            format!("ratelimit/KeyedLimiter.rate({rate})"),
            move || {
                rejects(
                    KeyedLimiter::<u64>::builder().rate(rate).burst(10).build(),
                    "rate",
                )
            },
        ));
    }
    for rate in [1e9, 1e9 + 1.0, f64::MIN_POSITIVE, 1e-10] {
        v.push(case(
            format!("ratelimit/TokenBucket.rate({rate:e})"),
            move || {
                // A slow rate times the burst may overflow: either may be named.
                ok_or_names_any(
                    TokenBucket::builder().rate(rate).burst(10).build(),
                    &["rate", "burst"],
                )
            },
        ));
    }
    for burst in [0, 1, u64::MAX - 1, u64::MAX] {
        v.push(case(
            format!("ratelimit/TokenBucket.burst({burst})"),
            move || {
                let r = TokenBucket::builder().rate(1.0).burst(burst).build();
                if burst == 0 || burst > u64::MAX / NS {
                    rejects(r, "burst")
                } else {
                    accepts(r).map(drop)
                }
            },
        ));
        v.push(case(
            format!("ratelimit/KeyedLimiter.burst({burst})"),
            move || {
                ok_or_names(
                    KeyedLimiter::<u64>::builder()
                        .rate(1.0)
                        .burst(burst)
                        .build(),
                    "burst",
                )
            },
        ));
    }
    v.push(case("ratelimit/TokenBucket missing rate", || {
        rejects(TokenBucket::builder().burst(1).build(), "rate")
    }));
    for cost in [0, 1, 10, 11, u64::MAX - 1, u64::MAX] {
        v.push(case(
            format!("ratelimit/TokenBucket.try_acquire({cost})"),
            move || {
                let b = accepts(
                    TokenBucket::builder()
                        .rate(1.0)
                        .burst(10)
                        .clock(ManualClock::new())
                        .build(),
                )?;
                let r = b.try_acquire(cost);
                if cost > 10 {
                    rejects(r, "cost")?;
                    rejects(b.wait_time(cost), "cost")?;
                    // Must return at once, not sleep forever.
                    rejects(b.acquire(cost), "cost")
                } else {
                    accepts(r).map(drop)
                }
            },
        ));
    }
    for (what, step) in clock_moves() {
        v.push(case(
            format!("ratelimit/TokenBucket clock {what}"),
            move || {
                let clock = JumpClock::at(100 * NS);
                let b = accepts(
                    TokenBucket::builder()
                        .rate(1.0)
                        .burst(3)
                        .clock(clock.clone())
                        .build(),
                )?;
                let mut admitted = 0;
                for _ in 0..5 {
                    admitted += b.check().is_ok() as u64;
                }
                step(&clock);
                let mut after = 0;
                for _ in 0..10 {
                    after += b.check().is_ok() as u64;
                    let _ = b.wait_time(1);
                    let _ = b.available();
                }
                at_most(admitted, 3)?;
                at_most(after, 3)
            },
        ));
    }

    for limit in [0, 1, u64::MAX - 1, u64::MAX] {
        v.push(case(
            format!("ratelimit/SlidingWindowLog.limit({limit})"),
            move || {
                let r = SlidingWindowLog::builder().limit(limit).window(SEC).build();
                if limit == 0 {
                    rejects(r, "limit")
                } else {
                    ok_or_names(r, "limit")
                }
            },
        ));
        v.push(case(
            format!("ratelimit/SlidingWindowCounter.limit({limit})"),
            move || {
                let r = SlidingWindowCounter::builder()
                    .limit(limit)
                    .window(SEC)
                    .build();
                if limit == 0 {
                    rejects(r, "limit")
                } else {
                    accepts(r).map(drop)
                }
            },
        ));
    }
    for window in DURATIONS {
        v.push(case(
            format!("ratelimit/SlidingWindowLog.window({window:?})"),
            move || {
                let r = SlidingWindowLog::builder()
                    .limit(3)
                    .window(window)
                    .clock(ManualClock::new())
                    .build();
                if window.is_zero() {
                    return rejects(r, "window");
                }
                let log = accepts(r)?;
                let admitted = (0..10).filter(|_| log.check().is_ok()).count() as u64;
                at_most(admitted, 3)
            },
        ));
        v.push(case(
            format!("ratelimit/SlidingWindowCounter.window({window:?})"),
            move || {
                let r = SlidingWindowCounter::builder()
                    .limit(3)
                    .window(window)
                    .clock(ManualClock::new())
                    .build();
                if window.is_zero() {
                    return rejects(r, "window");
                }
                let c = accepts(r)?;
                let admitted = (0..10).filter(|_| c.check().is_ok()).count() as u64;
                at_most(admitted, 3)
            },
        ));
    }
    for cost in [0u64, 1, 3, 4, 1 << 40, u64::MAX] {
        v.push(case(
            format!("ratelimit/SlidingWindowLog.try_acquire({cost})"),
            move || {
                // A huge limit with a huge cost: one entry, not one per unit.
                let log = accepts(
                    SlidingWindowLog::builder()
                        .limit(1 << 50)
                        .window(SEC)
                        .clock(ManualClock::new())
                        .build(),
                )?;
                let r = log.try_acquire(cost);
                if cost > 1 << 50 {
                    rejects(r, "cost")
                } else {
                    accepts(r)?;
                    log.check_invariants().map_err(str::to_owned)
                }
            },
        ));
        v.push(case(
            format!("ratelimit/SlidingWindowCounter.try_acquire({cost})"),
            move || {
                let c = accepts(
                    SlidingWindowCounter::builder()
                        .limit(u64::MAX)
                        .window(SEC)
                        .clock(ManualClock::new())
                        .build(),
                )?;
                accepts(c.try_acquire(cost))?;
                accepts(c.try_acquire(cost))
                    .or_else(|e| check(cost > u64::MAX / 2, || e.clone()))?;
                let _ = c.wait_time(u64::MAX);
                let _ = c.available();
                Ok(())
            },
        ));
    }
    for (what, step) in clock_moves() {
        v.push(case(
            format!("ratelimit/SlidingWindowLog clock {what}"),
            move || {
                let clock = JumpClock::at(100 * NS);
                let log = accepts(
                    SlidingWindowLog::builder()
                        .limit(3)
                        .window(SEC)
                        .clock(clock.clone())
                        .build(),
                )?;
                let before = (0..5).filter(|_| log.check().is_ok()).count() as u64;
                step(&clock);
                let after = (0..10).filter(|_| log.check().is_ok()).count() as u64;
                log.check_invariants().map_err(str::to_owned)?;
                at_most(before, 3)?;
                // A real forward jump empties the window; anything else may not.
                let forward = clock.nanos() >= 100 * NS + NS;
                at_most(before * (!forward as u64) + after, 3)
            },
        ));
        v.push(case(
            format!("ratelimit/SlidingWindowCounter clock {what}"),
            move || {
                let clock = JumpClock::at(100 * NS);
                let c = accepts(
                    SlidingWindowCounter::builder()
                        .limit(3)
                        .window(SEC)
                        .clock(clock.clone())
                        .build(),
                )?;
                let before = (0..5).filter(|_| c.check().is_ok()).count() as u64;
                step(&clock);
                let after = (0..10).filter(|_| c.check().is_ok()).count() as u64;
                let forward = clock.nanos() >= 100 * NS + 2 * NS;
                at_most(before * (!forward as u64) + after, 3)
            },
        ));
    }

    for max_keys in [0usize, 1, usize::MAX - 1, usize::MAX] {
        v.push(case(
            format!("ratelimit/KeyedLimiter.max_keys({max_keys})"),
            move || {
                let r = KeyedLimiter::<u64>::builder()
                    .rate(1.0)
                    .burst(1)
                    .max_keys(max_keys)
                    .clock(ManualClock::new())
                    .build();
                if max_keys == 0 {
                    return rejects(r, "max_keys");
                }
                let Ok(k) = r else {
                    return ok_or_names(r, "max_keys");
                };
                for key in 0..100 {
                    let _ = k.check(&key);
                }
                check(k.len() <= max_keys, || format!("{} keys kept", k.len()))?;
                k.check_invariants().map_err(str::to_owned)
            },
        ));
    }
    for shards in [0usize, 1, usize::MAX] {
        v.push(case(
            format!("ratelimit/KeyedLimiter.shards({shards})"),
            move || {
                ok_or_names(
                    KeyedLimiter::<u64>::builder()
                        .rate(1.0)
                        .burst(1)
                        .shards(shards)
                        .build(),
                    "shards",
                )
            },
        ));
    }
    let keys: [Lazy; 3] = [
        ("empty", String::new),
        ("1 MiB", || "k".repeat(1 << 20)),
        ("NUL", || "\0".to_owned()),
    ];
    for (name, key) in keys {
        v.push(case(
            format!("ratelimit/KeyedLimiter.check({name} key)"),
            move || {
                let key = key();
                let k = accepts(
                    KeyedLimiter::<String>::builder()
                        .rate(1.0)
                        .burst(2)
                        .clock(ManualClock::new())
                        .build(),
                )?;
                let admitted = (0..5).filter(|_| k.check(key.as_str()).is_ok()).count() as u64;
                at_most(admitted, 2)
            },
        ));
    }
    for (what, step) in clock_moves() {
        v.push(case(
            format!("ratelimit/KeyedLimiter clock {what}"),
            move || {
                let clock = JumpClock::at(100 * NS);
                let k = accepts(
                    KeyedLimiter::<u64>::builder()
                        .rate(1.0)
                        .burst(2)
                        .clock(clock.clone())
                        .build(),
                )?;
                let before = (0..5).filter(|_| k.check(&7).is_ok()).count() as u64;
                step(&clock);
                let after = (0..5).filter(|_| k.check(&7).is_ok()).count() as u64;
                let _ = k.sweep();
                at_most(before, 2)?;
                at_most(after, 2)
            },
        ));
    }

    // Issue 23: the end of time. A request that could fit only after the
    // clock's last reading (`u64::MAX` ns) is a typed error, never a zero or
    // unreachable retry-after that keeps `acquire` looping; one that fits
    // exactly at the last reading waits for it and is admitted.
    v.push(case(
        "ratelimit/SlidingWindowLog.acquire(1) with the clock at u64::MAX",
        || {
            let clock = ManualClock::new();
            clock.advance(Duration::MAX);
            let log = std::sync::Arc::new(accepts(
                SlidingWindowLog::builder()
                    .limit(1)
                    .window(SEC)
                    .clock(clock.clone())
                    .build(),
            )?);
            accepts(log.check())?;
            let l = log.clone();
            never_admitted(watchdog(move || l.acquire(1))?)?;
            never_admitted(log.try_acquire(1))?;
            never_admitted(log.wait_time(1))?;
            check(log.available() == 0, || "a unit came free".into())?;
            log.check_invariants().map_err(str::to_owned)
        },
    ));
    v.push(case(
        "ratelimit/SlidingWindowLog.acquire(1) waits for the last reading, no further",
        || {
            let clock = ManualClock::new();
            clock.set(Duration::from_nanos(u64::MAX - NS));
            let log = std::sync::Arc::new(accepts(
                SlidingWindowLog::builder()
                    .limit(2)
                    .window(SEC)
                    .clock(clock.clone())
                    .build(),
            )?);
            accepts(log.try_acquire(2))?;
            clock.advance(SEC / 2);
            // The two units leave at exactly u64::MAX: a real wait of 0.5 s.
            let wait = accepts(log.wait_time(1))?;
            check(wait == SEC / 2, || format!("wait_time {wait:?}"))?;
            let l = log.clone();
            accepts(watchdog(move || l.acquire(1))?)?;
            check(clock.now_nanos() == u64::MAX, || {
                "clock not at the end".into()
            })?;
            accepts(log.try_acquire(1))?;
            let l = log.clone();
            never_admitted(watchdog(move || l.acquire(1))?)?;
            log.check_invariants().map_err(str::to_owned)
        },
    ));
    for start in [0u64, 1] {
        v.push(case(
            format!("ratelimit/SlidingWindowLog window(Duration::MAX) acquire from {start} ns"),
            move || {
                let clock = ManualClock::new();
                clock.set(Duration::from_nanos(start));
                let log = std::sync::Arc::new(accepts(
                    SlidingWindowLog::builder()
                        .limit(1)
                        .window(Duration::MAX)
                        .clock(clock.clone())
                        .build(),
                )?);
                accepts(log.check())?;
                let l = log.clone();
                let r = watchdog(move || l.acquire(1))?;
                if start == 0 {
                    // Admitted at 0, it leaves at u64::MAX: wait for it.
                    accepts(r)?;
                    check(clock.now_nanos() == u64::MAX, || "did not wait".into())?;
                    let l = log.clone();
                    never_admitted(watchdog(move || l.acquire(1))?)
                } else {
                    never_admitted(r)
                }
            },
        ));
    }
    v.push(case(
        "ratelimit/SlidingWindowCounter.acquire(1) with the clock at u64::MAX",
        || {
            let clock = ManualClock::new();
            clock.advance(Duration::MAX);
            let c = std::sync::Arc::new(accepts(
                SlidingWindowCounter::builder()
                    .limit(1)
                    .window(SEC)
                    .clock(clock.clone())
                    .build(),
            )?);
            accepts(c.check())?;
            let c2 = c.clone();
            never_admitted(watchdog(move || c2.acquire(1))?)?;
            never_admitted(c.try_acquire(1))?;
            never_admitted(c.wait_time(1))
        },
    ));
    // The token buckets: a token that would refill only after the clock's
    // last reading is `EndOfTime` naming the refill `interval` (the TAT
    // cannot pass `u64::MAX`, so a full bucket at the very end admits
    // nothing); a token that refills by then is a real wait.
    v.push(case(
        "ratelimit/TokenBucket.acquire(1) with the clock at u64::MAX",
        || {
            let clock = ManualClock::new();
            clock.advance(Duration::MAX);
            let b = std::sync::Arc::new(accepts(
                TokenBucket::builder()
                    .rate(1.0)
                    .burst(1)
                    .clock(clock.clone())
                    .build(),
            )?);
            refill_never(b.check())?;
            refill_never(b.try_acquire(1))?;
            refill_never(b.check_info(1))?;
            refill_never(b.wait_time(1))?;
            let b2 = b.clone();
            refill_never(watchdog(move || b2.acquire(1))?)?;
            check(b.available() == 0, || "a token came free".into())
        },
    ));
    v.push(case(
        "ratelimit/TokenBucket.acquire(1) waits for the last refill, no further",
        || {
            let clock = ManualClock::new();
            clock.set(Duration::from_nanos(u64::MAX - 2 * NS));
            let b = std::sync::Arc::new(accepts(
                TokenBucket::builder()
                    .rate(1.0)
                    .burst(1)
                    .clock(clock.clone())
                    .build(),
            )?);
            accepts(b.check())?;
            // The next token refills at `u64::MAX - 1 s`: a real wait.
            let wait = accepts(b.wait_time(1))?;
            check(wait == SEC, || format!("wait_time {wait:?}"))?;
            let b2 = b.clone();
            accepts(watchdog(move || b2.acquire(1))?)?;
            check(clock.now_nanos() == u64::MAX - NS, || {
                format!("acquire slept to {} ns", clock.now_nanos())
            })?;
            // The one after would refill only after the end.
            refill_never(b.wait_time(1))?;
            refill_never(b.try_acquire(1))?;
            let b2 = b.clone();
            refill_never(watchdog(move || b2.acquire(1))?)?;
            check(clock.now_nanos() == u64::MAX - NS, || {
                "acquire slept towards a token that never comes".into()
            })
        },
    ));
    v.push(case(
        "ratelimit/KeyedLimiter.acquire(1) with the clock at u64::MAX",
        || {
            let clock = ManualClock::new();
            clock.advance(Duration::MAX);
            let k = std::sync::Arc::new(accepts(
                KeyedLimiter::<u64>::builder()
                    .rate(1.0)
                    .burst(1)
                    .clock(clock.clone())
                    .build(),
            )?);
            refill_never(k.check(&7))?;
            refill_never(k.try_acquire(&7, 1))?;
            refill_never(k.check_info(&7, 1))?;
            refill_never(k.wait_time(&7, 1))?;
            let k2 = k.clone();
            refill_never(watchdog(move || k2.acquire(&7, 1))?)?;
            check(k.available(&7) == 0, || "a token came free".into())?;
            check(!k.peek_info(&7).allowed, || "peek_info allows".into())?;
            check(k.is_empty(), || "a refused key was stored".into())?;
            k.check_invariants().map_err(str::to_owned)
        },
    ));
    v.push(case(
        "ratelimit/KeyedLimiter.acquire(1) waits for the last refill, no further",
        || {
            let clock = ManualClock::new();
            clock.set(Duration::from_nanos(u64::MAX - 2 * NS));
            let k = std::sync::Arc::new(accepts(
                KeyedLimiter::<u64>::builder()
                    .rate(1.0)
                    .burst(1)
                    .clock(clock.clone())
                    .build(),
            )?);
            accepts(k.check(&7))?;
            let wait = accepts(k.wait_time(&7, 1))?;
            check(wait == SEC, || format!("wait_time {wait:?}"))?;
            let k2 = k.clone();
            accepts(watchdog(move || k2.acquire(&7, 1))?)?;
            check(clock.now_nanos() == u64::MAX - NS, || {
                format!("acquire slept to {} ns", clock.now_nanos())
            })?;
            refill_never(k.wait_time(&7, 1))?;
            refill_never(k.check(&7))?;
            let k2 = k.clone();
            refill_never(watchdog(move || k2.acquire(&7, 1))?)?;
            // Another key still has its one token before the end.
            accepts(k.check(&8))?;
            refill_never(k.check(&8))?;
            k.check_invariants().map_err(str::to_owned)
        },
    ));
    // Issue 23: `limit x W` near 2^128 overflowed the weighted sum (a panic
    // in debug, a wrapped sum that admitted `u64::MAX` twice in release).
    // Each fixed window `[k W, (k + 1) W)` admits at most `limit`.
    for limit in [u64::MAX - 1, u64::MAX] {
        for window in [SEC, Duration::from_nanos(u64::MAX), Duration::MAX] {
            v.push(case(
                format!(
                    "ratelimit/SlidingWindowCounter limit({limit}) window({window:?}) per window"
                ),
                move || counter_per_window(limit, window),
            ));
        }
    }
    v
}

/// Runs `f` on a thread of its own and waits for it a bounded time: a call
/// that loops without progress (a zero retry-after on a clock that cannot
/// move) fails the case at once, rather than at the harness's timeout.
fn watchdog<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    const LIMIT: Duration = Duration::from_secs(10);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(LIMIT).map_err(|e| match e {
        std::sync::mpsc::RecvTimeoutError::Timeout => {
            format!("no answer within {LIMIT:?}: it loops without progress")
        }
        std::sync::mpsc::RecvTimeoutError::Disconnected => "it panicked".to_owned(),
    })
}

/// `Err(Error::EndOfTime)` naming the window: a request that can never be
/// admitted, refused rather than told to wait.
fn never_admitted<T: std::fmt::Debug>(r: Result<T, latchwork::ratelimit::Error>) -> Outcome {
    end_of_time(r, "window")
}

/// `Err(Error::EndOfTime)` naming the refill interval: a token bucket's
/// request whose tokens would refill only after the clock's last reading.
fn refill_never<T: std::fmt::Debug>(r: Result<T, latchwork::ratelimit::Error>) -> Outcome {
    end_of_time(r, "interval")
}

fn end_of_time<T: std::fmt::Debug>(
    r: Result<T, latchwork::ratelimit::Error>,
    parameter: &str,
) -> Outcome {
    match r {
        Err(e @ latchwork::ratelimit::Error::EndOfTime { .. }) => names(&e, parameter),
        other => Err(format!("expected EndOfTime, got {other:?}")),
    }
}

/// Drives a `SlidingWindowCounter` of `limit` per `window` through the
/// start, middle and end of its first windows and the clock's last
/// readings, taking the largest costs it admits: no panic, no zero
/// retry-after, and at most `limit` units in any fixed window.
fn counter_per_window(limit: u64, window: Duration) -> Outcome {
    use latchwork::ratelimit::{Error, SlidingWindowCounter};
    let w = duration_to_nanos(window);
    let clock = ManualClock::new();
    let c = accepts(
        SlidingWindowCounter::builder()
            .limit(limit)
            .window(window)
            .clock(clock.clone())
            .build(),
    )?;
    let mut at: Vec<u64> = [0, 1, w / 2, w - 1, w, w.saturating_add(w / 2)]
        .into_iter()
        .chain([u64::MAX - w / 2, u64::MAX - 1, u64::MAX])
        .collect();
    at.sort_unstable();
    at.dedup();
    // Units admitted per fixed window index (`now / W`).
    let mut admitted = std::collections::BTreeMap::<u64, u128>::new();
    for t in at {
        clock.set(Duration::from_nanos(t));
        for cost in [limit, 1, limit / 2, limit - 1, 1] {
            let ok = match c.try_acquire(cost) {
                Ok(()) => true,
                Err(Error::RateLimited { retry_after }) => {
                    check(!retry_after.is_zero(), || {
                        format!("denied {cost} at {t} with a zero retry-after")
                    })?;
                    false
                }
                Err(Error::EndOfTime { .. }) => false,
                Err(e) => return Err(format!("try_acquire({cost}) at {t}: {e}")),
            };
            if ok {
                *admitted.entry(t / w).or_default() += u128::from(cost);
            }
            let _ = c.wait_time(1);
            let _ = c.wait_time(limit);
        }
        // What `available` reports is admitted.
        let room = c.available();
        if room > 0 {
            accepts(c.try_acquire(room))
                .map_err(|e| format!("available() = {room} at {t}, then {e}"))?;
            *admitted.entry(t / w).or_default() += u128::from(room);
        }
    }
    check(admitted.get(&0) == Some(&u128::from(limit)), || {
        format!("the first window admitted {admitted:?}, not the whole limit {limit}")
    })?;
    for (k, n) in admitted {
        check(n <= u128::from(limit), || {
            format!("fixed window {k} admitted {n}, more than the limit {limit}")
        })?;
    }
    Ok(())
}

// ---- queue -----------------------------------------------------------------

fn cases_queue() -> Vec<Case> {
    use latchwork::queue::{Level, PriorityQueue, TaskQueue, MAX_WORKERS};
    let mut v = Vec::new();
    for level in [0u8, 63, 64, u8::MAX] {
        v.push(case(format!("queue/Level::new({level})"), move || {
            let r = Level::new(level);
            if level < 64 {
                accepts(r).map(drop)
            } else {
                rejects(r, "level")
            }
        }));
    }
    for timeout in DURATIONS {
        v.push(case(
            format!("queue/PriorityQueue.pop_timeout({timeout:?})"),
            move || {
                let q = PriorityQueue::new();
                q.push(Level::MOST_URGENT, 1u32).unwrap();
                check(q.pop_timeout(timeout).is_some(), || "item lost".into())?;
                if timeout <= Duration::from_nanos(1) {
                    check(q.pop_timeout(timeout).is_none(), || "phantom item".into())?;
                }
                Ok(())
            },
        ));
    }
    for workers in [0usize, MAX_WORKERS + 1, usize::MAX] {
        v.push(case(
            format!("queue/TaskQueue.workers({workers})"),
            move || {
                let r = TaskQueue::builder().workers(workers).build();
                if workers == 0 {
                    accepts(r).map(drop)
                } else {
                    rejects(r, "worker")
                }
            },
        ));
    }
    for at in DURATIONS {
        v.push(case(
            format!("queue/TaskQueue.submit_at({at:?})"),
            move || {
                let clock = ManualClock::new();
                let pool = accepts(TaskQueue::builder().workers(0).clock(clock.clone()).build())?;
                let h = pool.submit_at(at, Level::MOST_URGENT, || 7);
                let h2 = pool.submit_after(at, Level::MOST_URGENT, || 8);
                clock.advance(Duration::MAX); // the end of time: everything is due
                pool.run_pending();
                check(
                    h.join().ok() == Some(7) && h2.join().ok() == Some(8),
                    || "a task due by the end of time did not run".into(),
                )
            },
        ));
    }
    for (what, step) in clock_moves() {
        v.push(case(format!("queue/TaskQueue clock {what}"), move || {
            let clock = JumpClock::at(100 * NS);
            let pool = accepts(TaskQueue::builder().workers(0).clock(clock.clone()).build())?;
            let h = pool.submit_after(SEC, Level::MOST_URGENT, || 1);
            step(&clock);
            // The pool sees the step (a step it never reads is invisible),
            // then one second of the clock's own time passes.
            pool.poll_delayed();
            clock.forward(SEC);
            pool.poll_delayed();
            pool.run_pending();
            check(h.is_finished(), || {
                "a task 1 s out did not run 1 s later".into()
            })?;
            check(h.join().ok() == Some(1), || "wrong result".into())
        }));
    }
    v.push(case("queue/TaskQueue panicking task then shutdown", || {
        let pool = accepts(TaskQueue::new(2))?;
        let bad = pool.submit(Level::MOST_URGENT, || panic!("task bug"));
        let good = pool.submit(Level::LEAST_URGENT, || 1);
        pool.shutdown();
        let s = pool.stats();
        check(bad.join().is_err() && good.join().ok() == Some(1), || {
            "outcomes lost".into()
        })?;
        check(
            s.submitted == s.completed + s.panicked + s.cancelled,
            || format!("{s:?} does not add up"),
        )
    }));
    v
}

// ---- event -----------------------------------------------------------------

fn cases_event() -> Vec<Case> {
    use latchwork::event::broadcast::{
        channel, Builder, Policy, RecvTimeoutError, MAX_CAPACITY, MAX_RECEIVERS,
    };
    use latchwork::event::Emitter;
    let mut v = Vec::new();
    for cap in [
        0usize,
        1,
        MAX_CAPACITY,
        MAX_CAPACITY + 1,
        1 << 32,
        usize::MAX,
    ] {
        v.push(case(
            format!("event/broadcast::channel({cap})"),
            move || {
                let r = channel::<()>(cap, Policy::Overwrite);
                match cap {
                    0 | 1 => ok_or_names(r, "capacity"),
                    c if c <= MAX_CAPACITY => accepts(r).map(drop),
                    _ => rejects(r, "capacity"),
                }
            },
        ));
    }
    // Refused whatever the policy: `Overwrite` does not use the bound, but
    // max_receivers(0) there was once accepted silently.
    for (max, policy) in [0usize, 1, MAX_RECEIVERS, MAX_RECEIVERS + 1, usize::MAX]
        .into_iter()
        .flat_map(|m| [(m, Policy::Backpressure), (m, Policy::Overwrite)])
    {
        v.push(case(
            format!("event/broadcast.max_receivers({max}), {policy:?}"),
            move || {
                let r = Builder::new(2)
                    .policy(policy)
                    .max_receivers(max)
                    .build::<u8>();
                if (1..=MAX_RECEIVERS).contains(&max) {
                    accepts(r).map(drop)
                } else {
                    rejects(r, "max_receivers")
                }
            },
        ));
    }
    for timeout in DURATIONS {
        v.push(case(
            format!("event/Receiver.recv_timeout({timeout:?})"),
            move || {
                let (tx, mut rx) = accepts(channel::<String>(2, Policy::Overwrite))?;
                tx.send("x".into()).map_err(|e| e.to_string())?;
                check(rx.recv_timeout(timeout).is_ok(), || "message lost".into())?;
                if timeout <= Duration::from_nanos(1) {
                    check(
                        rx.recv_timeout(timeout) == Err(RecvTimeoutError::Timeout),
                        || "no timeout".into(),
                    )?;
                }
                drop(tx);
                check(
                    rx.recv_timeout(timeout) == Err(RecvTimeoutError::Closed),
                    || "not closed".into(),
                )
            },
        ));
    }
    let topics: [Lazy; 8] = [
        ("empty", String::new),
        ("lone dot", || ".".to_owned()),
        ("a*", || "a*".to_owned()),
        ("**", || "**".to_owned()),
        ("*.a", || "*.a".to_owned()),
        ("1 MiB", || "t".repeat(1 << 20)),
        ("100k segments", || vec!["a"; 100_000].join(".")),
        ("100k segments then *", || {
            vec!["a"; 100_000].join(".") + ".*"
        }),
    ];
    for (name, topic) in topics {
        v.push(case(format!("event/Emitter.on({name} topic)"), move || {
            let topic = topic();
            let e = Emitter::<u32>::new();
            let r = e.on(&topic, |_| ());
            let _ = e.emit(&topic, &1);
            let _ = e.listener_count(&topic);
            let _ = e.off_all(&topic);
            ok_or_names(r, "topic")
        }));
    }
    for priority in [i32::MIN, -1, 0, i32::MAX] {
        v.push(case(
            format!("event/Emitter.on_with_priority({priority})"),
            move || {
                let e = Emitter::<u32>::new();
                let _a = accepts(e.on_with_priority("t", priority, |_| ()))?;
                let _b = accepts(e.on_with_priority("t", 0, |_| ()))?;
                check(e.emit("t", &1).ran() == 2, || "listener skipped".into())
            },
        ));
    }
    v
}

// ---- retry -----------------------------------------------------------------

fn cases_retry() -> Vec<Case> {
    use latchwork::retry::{Backoff, Jitter, Retry, RetryBudget};
    let mut v = Vec::new();
    for d in DURATIONS {
        v.push(case(
            format!("retry/Backoff::exponential({d:?})"),
            move || {
                let Ok(b) = Backoff::exponential(d).build() else {
                    return ok_or_names(Backoff::exponential(d).build(), "base");
                };
                let _ = b.nominal(u32::MAX);
                let n = b.delays_seeded(1).take(200).count();
                check(n == 200, || "delays ended".into())
            },
        ));
        v.push(case(format!("retry/Backoff::constant({d:?})"), move || {
            ok_or_names(Backoff::constant(d).build(), "delay")
        }));
        v.push(case(
            format!("retry/Backoff::linear({d:?}).step(MAX)"),
            move || {
                let r = Backoff::linear(d).step(Duration::MAX).build();
                if let Ok(b) = &r {
                    let _ = b.nominal(u32::MAX);
                }
                ok_or_names(r, "base")
            },
        ));
        v.push(case(format!("retry/Backoff.max_delay({d:?})"), move || {
            let r = Backoff::exponential(Duration::from_millis(1))
                .max_delay(d)
                .build();
            if d < Duration::from_millis(1) {
                rejects(r, "max_delay")
            } else {
                accepts(r).map(drop)
            }
        }));
    }
    for f in [0.0, 0.5, 1.0, -1.0, f64::NAN, f64::INFINITY, f64::MAX] {
        v.push(case(format!("retry/Backoff.factor({f})"), move || {
            let r = Backoff::exponential(SEC).factor(f).build();
            if let Ok(b) = &r {
                let _ = b.nominal(u32::MAX);
                let _ = b.delays_seeded(3).take(100).count();
            }
            if (1.0..=f64::MAX).contains(&f) {
                accepts(r).map(drop)
            } else {
                rejects(r, "factor")
            }
        }));
    }
    for p in [0.0, 1.0, 1.5, -0.5, f64::NAN, f64::INFINITY] {
        v.push(case(
            format!("retry/Jitter::Proportional({p})"),
            move || {
                let r = Backoff::exponential(SEC)
                    .jitter(Jitter::Proportional(p))
                    .build();
                if let Ok(b) = &r {
                    let _ = b.delays_seeded(3).take(100).count();
                }
                ok_or_names(r, "jitter")
            },
        ));
    }
    for capacity in [0u64, 1, u64::MAX] {
        v.push(case(
            format!("retry/RetryBudget.capacity({capacity})"),
            move || {
                let r = RetryBudget::builder().capacity(capacity).build();
                if capacity == 0 {
                    return rejects(r, "capacity");
                }
                // A capacity below the default retry cost is refused, named.
                let Ok(b) = r else {
                    return ok_or_names(r, "capacity");
                };
                b.deposit(u64::MAX);
                b.deposit(u64::MAX);
                let _ = b.try_withdraw(u64::MAX);
                check(b.available() <= capacity, || "over capacity".into())
            },
        ));
    }
    for cost in [0u64, u64::MAX] {
        v.push(case(
            format!("retry/RetryBudget.retry_cost({cost})"),
            move || {
                ok_or_names(
                    RetryBudget::builder().capacity(10).retry_cost(cost).build(),
                    "cost",
                )
            },
        ));
        v.push(case(
            format!("retry/RetryBudget.initial({cost})"),
            move || {
                ok_or_names(
                    RetryBudget::builder().capacity(10).initial(cost).build(),
                    "initial",
                )
            },
        ));
    }
    for attempts in [0u32, 1, u32::MAX] {
        v.push(case(
            format!("retry/Retry.max_attempts({attempts})"),
            move || {
                let r = Retry::<&str, _>::builder()
                    .max_attempts(attempts)
                    .max_elapsed(Duration::from_secs(60))
                    .clock(ManualClock::new())
                    .seed(1)
                    .build();
                if attempts == 0 {
                    return rejects(r, "max_attempts");
                }
                let p = accepts(r)?;
                let err = p.call(|| Err::<(), _>("down")).err();
                check(err.is_some(), || "succeeded?".into())
            },
        ));
    }
    for limit in DURATIONS {
        v.push(case(
            format!("retry/Retry.max_elapsed({limit:?})"),
            move || {
                let clock = ManualClock::new();
                let p = accepts(
                    Retry::<&str, _>::builder()
                        .max_attempts(50)
                        .max_elapsed(limit)
                        .clock(clock.clone())
                        .seed(1)
                        .build(),
                )?;
                let err = p.call(|| Err::<(), _>("down")).err();
                check(err.is_some_and(|e| e.elapsed() <= limit), || {
                    "past the deadline".into()
                })
            },
        ));
    }
    for hint in DURATIONS {
        v.push(case(
            format!("retry/Retry-After hint {hint:?}"),
            move || {
                let clock = ManualClock::new();
                let p = accepts(
                    Retry::builder()
                        .backoff(accepts(Backoff::constant(SEC).max_delay(10 * SEC).build())?)
                        .max_attempts(3)
                        .retry_after_with(move |_: &&str| Some(hint))
                        .clock(clock.clone())
                        .seed(1)
                        .build(),
                )?;
                let err = p.call(|| Err::<(), _>("throttled")).err();
                check(err.is_some_and(|e| e.elapsed() <= 20 * SEC), || {
                    "a hint slept past the cap".into()
                })
            },
        ));
    }
    for (what, step) in clock_moves() {
        v.push(case(format!("retry/Retry clock {what}"), move || {
            let clock = JumpClock::at(100 * NS);
            let p = accepts(
                Retry::builder()
                    .backoff(accepts(Backoff::constant(SEC).build())?)
                    .max_attempts(1000)
                    .max_elapsed(10 * SEC)
                    .clock(clock.clone())
                    .seed(1)
                    .build(),
            )?;
            let mut calls = 0;
            let c2 = clock.clone();
            let _ = p.call(|| {
                calls += 1;
                if calls == 2 {
                    step(&c2);
                }
                Err::<(), _>("down")
            });
            check(calls <= 13, || {
                format!("{calls} attempts in a 10 s deadline")
            })
        }));
    }
    v
}

// ---- pipeline --------------------------------------------------------------

fn cases_pipeline() -> Vec<Case> {
    use latchwork::pipeline::{
        Batcher, ChunkExt, Pipeline, MAX_BATCH_SIZE, MAX_CAPACITY, MAX_REORDER_WINDOW, MAX_WORKERS,
    };
    let mut v = Vec::new();
    for n in [0usize, 1, usize::MAX - 1, usize::MAX] {
        v.push(case(format!("pipeline/chunked({n})"), move || {
            let r = (0..100u32).chunked(n);
            if n == 0 {
                return rejects(r, "chunk");
            }
            let total: usize = accepts(r)?.map(|c| c.len()).sum();
            check(total == 100, || format!("{total} items"))
        }));
    }
    for max_items in [0usize, 1, usize::MAX] {
        for wait in DURATIONS {
            v.push(case(
                format!("pipeline/Batcher::with_clock({max_items}, {wait:?})"),
                move || {
                    let clock = ManualClock::new();
                    let r = Batcher::with_clock(max_items, wait, clock.clone());
                    if max_items == 0 {
                        return rejects(r, "max_items");
                    }
                    if wait.is_zero() {
                        return rejects(r, "max_wait");
                    }
                    let mut b = accepts(r)?;
                    let mut out = 0;
                    for i in 0..10u32 {
                        out += b.push(i).map_or(0, |v| v.len());
                    }
                    let _ = b.time_left();
                    clock.advance(Duration::MAX);
                    out += b.poll().map_or(0, |v| v.len());
                    out += b.flush().map_or(0, |v| v.len());
                    check(out == 10, || format!("{out} of 10 items came out"))
                },
            ));
        }
    }
    for (what, step) in clock_moves() {
        v.push(case(format!("pipeline/Batcher clock {what}"), move || {
            let clock = JumpClock::at(100 * NS);
            let mut b = accepts(Batcher::with_clock(100, SEC, clock.clone()))?;
            b.push(1u8);
            step(&clock);
            // The batcher sees the step (due already if it went forward).
            let early = b.poll().is_some();
            clock.forward(SEC);
            check(early || b.poll().is_some(), || {
                "batch not due 1 s (clock time) later".into()
            })
        }));
    }
    let sizes = |max: usize| [0usize, 1, max, max + 1, usize::MAX];
    for c in sizes(MAX_CAPACITY) {
        v.push(case(
            format!("pipeline/Pipeline.capacity({c})"),
            move || {
                let r = Pipeline::source(0..10u32).capacity(c).start();
                run_or_reject(r, "capacity", (1..=MAX_CAPACITY).contains(&c))
            },
        ));
    }
    for c in sizes(MAX_BATCH_SIZE) {
        v.push(case(
            format!("pipeline/Pipeline.batch_size({c})"),
            move || {
                let r = Pipeline::source(0..10u32).batch_size(c).start();
                run_or_reject(r, "batch", (1..=MAX_BATCH_SIZE).contains(&c))
            },
        ));
    }
    for c in sizes(MAX_WORKERS) {
        v.push(case(
            format!("pipeline/Pipeline.map(workers {c})"),
            move || {
                // Spawning 1024 threads is a valid request but slow; check the
                // boundary with an empty source so they exit at once.
                let r = Pipeline::source(0..10u32).map("m", c, |x| x).start();
                run_or_reject(r, "workers", (1..=MAX_WORKERS).contains(&c))
            },
        ));
    }
    for c in sizes(MAX_REORDER_WINDOW) {
        v.push(case(
            format!("pipeline/Pipeline.reorder_window({c})"),
            move || {
                let r = Pipeline::source(0..10u32).reorder_window(c).start();
                run_or_reject(r, "reorder_window", (1..=MAX_REORDER_WINDOW).contains(&c))
            },
        ));
    }
    v
}

fn run_or_reject(
    r: Result<latchwork::pipeline::Running<u32>, latchwork::pipeline::Error>,
    parameter: &str,
    valid: bool,
) -> Outcome {
    if !valid {
        return rejects(r, parameter);
    }
    let n = accepts(r)?.count();
    check(n == 10, || format!("{n} of 10 records"))
}

// ---- paginate --------------------------------------------------------------

fn cases_paginate() -> Vec<Case> {
    use latchwork::paginate::{CursorCodec, KeysetPager, OffsetPager, Query, MAX_CURSOR_LEN};
    use std::collections::BTreeMap;
    let mut v = Vec::new();
    for max in [0usize, 1, usize::MAX] {
        v.push(case(
            format!("paginate/OffsetPager::new({max})"),
            move || {
                let r = OffsetPager::new(max);
                if max == 0 {
                    rejects(r, "page")
                } else {
                    accepts(r).map(drop)
                }
            },
        ));
    }
    for page in [0usize, 1, usize::MAX - 1, usize::MAX] {
        for size in [0usize, 1, usize::MAX] {
            v.push(case(
                format!("paginate/OffsetPager.page({page}, {size})"),
                move || {
                    let p = accepts(OffsetPager::new(usize::MAX))?;
                    let data: Vec<u32> = (0..10).collect();
                    let r = p.page_of_slice(&data, page, size);
                    let r2 = p.page_of_iter(0..10u32, page, size);
                    if page == 0 || size == 0 {
                        rejects(r, "page")?;
                        return rejects(r2, "page");
                    }
                    let (a, b) = (accepts(r)?, accepts(r2)?);
                    check(a.items.len() <= 10 && b.items.len() <= 10, || {
                        "too many".into()
                    })
                },
            ));
        }
    }
    for limit in [0usize, 1, usize::MAX] {
        v.push(case(
            format!("paginate/KeysetPager.page(limit {limit})"),
            move || {
                let pager = accepts(KeysetPager::builder().max_limit(usize::MAX).build())?;
                let index: BTreeMap<u64, u8> = (0..10).map(|k| (k, 0)).collect();
                let r = pager.page(&index, &Query::ascending(), None, limit);
                if limit == 0 {
                    return rejects(r, "page");
                }
                let page = accepts(r)?;
                check(page.items.len() == 10.min(limit), || "wrong page".into())
            },
        ));
    }
    v.push(case("paginate/KeysetPager.max_limit(0)", || {
        rejects(KeysetPager::builder().max_limit(0).build(), "page")
    }));
    let tokens: [Lazy; 6] = [
        ("empty", String::new),
        ("garbage", || "!!!".to_owned()),
        ("MAX_CURSOR_LEN", || "A".repeat(MAX_CURSOR_LEN)),
        ("MAX_CURSOR_LEN + 1", || "A".repeat(MAX_CURSOR_LEN + 1)),
        ("10 MiB", || "A".repeat(10 << 20)),
        ("non-ASCII", || "é".repeat(100)),
    ];
    for (name, token) in tokens {
        v.push(case(
            format!("paginate/CursorCodec.decode({name})"),
            move || {
                let token = token();
                for codec in [CursorCodec::unsigned(), accepts(CursorCodec::signed(b"k"))?] {
                    let r = codec.decode::<u64>(&Query::ascending(), &token);
                    rejects(r, "cursor")?;
                }
                Ok(())
            },
        ));
    }
    v.push(case("paginate/CursorCodec::signed(empty key)", || {
        ok_or_names(CursorCodec::signed(b""), "key")
    }));
    v.push(case("paginate/CursorCodec.encode(1 MiB key)", || {
        let codec = CursorCodec::unsigned();
        let r = codec.encode(&Query::ascending(), &"k".repeat(1 << 20));
        ok_or_names(r, "cursor")
    }));
    v
}

// ---- config ----------------------------------------------------------------

fn cases_config() -> Vec<Case> {
    use latchwork::config::{env_var_to_key, key_to_env_var, LayeredConfig, Value, MAX_DEPTH};
    let mut v = Vec::new();
    #[allow(clippy::type_complexity)]
    let keys: [(&str, fn() -> String, bool); 7] = [
        ("empty", String::new, false),
        ("dot", || ".".into(), false),
        ("a..b", || "a..b".into(), false),
        ("1 MiB", || "k".repeat(1 << 20), true),
        (
            "MAX_DEPTH segments",
            || vec!["a"; MAX_DEPTH].join("."),
            true,
        ),
        (
            "MAX_DEPTH + 1 segments",
            || vec!["a"; MAX_DEPTH + 1].join("."),
            false,
        ),
        ("100k segments", || vec!["a"; 100_000].join("."), false),
    ];
    for (name, key, valid) in keys {
        v.push(case(
            format!("config/LayeredConfig.set({name} key)"),
            move || {
                let key = key();
                let c = accepts(LayeredConfig::builder().build())?;
                let r = c.set(&key, 1);
                let _ = c.get(&key);
                let _ = c.unset(&key);
                if valid {
                    accepts(r).map(drop)
                } else {
                    rejects(r, "key")
                }
            },
        ));
        v.push(case(format!("config/set_default({name} key)"), move || {
            let r = LayeredConfig::builder().set_default(&key(), 1).build();
            if valid {
                accepts(r).map(drop)
            } else {
                rejects(r, "key")
            }
        }));
    }
    // Deeper than MAX_DEPTH, but not so deep that serde_json's own
    // (recursive) `Serialize` and `Drop` of the caller's value overflow:
    // that is the caller's to avoid, before the value reaches the crate.
    for depth in [MAX_DEPTH - 1, MAX_DEPTH, 1_000] {
        v.push(case(
            format!("config/set(value nested {depth} deep)"),
            move || {
                let mut value = Value::from(1);
                for _ in 0..depth {
                    let mut m = serde_json::Map::new();
                    m.insert("a".into(), value);
                    value = Value::Object(m);
                }
                let c = accepts(LayeredConfig::builder().build())?;
                let r = c.set("k", value);
                if depth < MAX_DEPTH {
                    accepts(r).map(drop)
                } else {
                    rejects(r, "k")
                }
            },
        ));
    }
    v.push(case("config/defaults(value nested 1000 deep)", || {
        let mut value = Value::from(1);
        for _ in 0..1_000 {
            value = Value::Array(vec![value]);
        }
        let mut m = serde_json::Map::new();
        m.insert("a".into(), value);
        let r = LayeredConfig::builder().defaults(&Value::Object(m)).build();
        rejects(r, "deep")
    }));
    #[allow(clippy::type_complexity)]
    let vars: [(&str, fn() -> String, bool); 3] = [
        ("prefix only", || "APP_".to_owned(), false),
        ("1 MiB", || format!("APP_{}", "K".repeat(1 << 20)), true),
        (
            "100k segments",
            || format!("APP_{}", vec!["A"; 100_000].join("__")),
            false,
        ),
    ];
    for (name, var, valid) in vars {
        v.push(case(format!("config/env_var_to_key({name})"), move || {
            let var = var();
            let r = env_var_to_key("APP_", &var);
            if valid {
                accepts(r).map(drop)
            } else {
                rejects(r, "segment")
            }
        }));
    }
    v.push(case("config/key_to_env_var(100k segments)", || {
        rejects(key_to_env_var("APP_", &vec!["a"; 100_000].join(".")), "key")
    }));
    v.push(case("config/Format::Toml.parse(100k-deep header)", || {
        let text = format!("[{}]\nx = 1\n", vec!["a"; 100_000].join("."));
        rejects(latchwork::config::Format::Toml.parse(&text), "toml")
    }));
    v.push(case("config/Format::Json.parse(100k-deep array)", || {
        let text = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        rejects(latchwork::config::Format::Json.parse(&text), "json")
    }));
    v
}

// ---- freq ------------------------------------------------------------------

fn cases_freq() -> Vec<Case> {
    use latchwork::freq::{FrequencyCounter, HeavyHitters};
    let mut v = Vec::new();
    for k in [0usize, 1, usize::MAX] {
        v.push(case(format!("freq/FrequencyCounter.top({k})"), move || {
            let c = FrequencyCounter::new();
            c.record_n("a", u64::MAX);
            c.record_n("a", u64::MAX);
            c.record_n("", 1);
            let top = c.top(k);
            check(top.len() <= k.min(2), || "too many".into())?;
            check(c.count(&"a") == u64::MAX, || {
                "count did not saturate".into()
            })
        }));
    }
    for m in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::MAX] {
        v.push(case(
            format!("freq/FrequencyCounter.anomalies({m})"),
            move || {
                let c = FrequencyCounter::new();
                c.record("a");
                let r = c.anomalies(m);
                if m.is_finite() && m >= 0.0 {
                    accepts(r).map(drop)
                } else {
                    rejects(r, "multiplier")
                }
            },
        ));
    }
    for cap in [0usize, 1, usize::MAX - 1, usize::MAX] {
        v.push(case(format!("freq/HeavyHitters::new({cap})"), move || {
            let r = HeavyHitters::<u64>::new(cap);
            if cap == 0 {
                return rejects(r, "capacity");
            }
            let mut h = accepts(r)?;
            for i in 0..1000 {
                h.record_n(i % 7, u64::MAX / 2);
            }
            let _ = h.top(usize::MAX);
            check(h.total() == u64::MAX, || "total did not saturate".into())
        }));
    }
    v
}

// ---- clock -----------------------------------------------------------------

fn cases_clock() -> Vec<Case> {
    let mut v = Vec::new();
    for d in DURATIONS {
        v.push(case(
            format!("clock/ManualClock.advance({d:?}) twice"),
            move || {
                let c = ManualClock::new();
                c.advance(d);
                c.advance(d);
                c.set(Duration::ZERO);
                c.sleep(d);
                let want = duration_to_nanos(d).saturating_mul(3);
                check(c.now_nanos() == want, || {
                    format!("{} != {want}", c.now_nanos())
                })
            },
        ));
    }
    for (what, step) in clock_moves() {
        v.push(case(
            format!("clock/Monotonic over a clock {what}"),
            move || {
                let raw = JumpClock::at(100 * NS);
                let c = Monotonic::new(raw.clone());
                let before = c.now_nanos();
                step(&raw);
                let after = c.now_nanos();
                check(after >= before, || {
                    format!("went back: {before} -> {after}")
                })
            },
        ));
    }
    v
}

// ---- the harness -----------------------------------------------------------

const CASE_VAR: &str = "BAD_INPUT_CASE";
const FILTER_VAR: &str = "BAD_INPUT_FILTER";
/// Address-space limit of a child, in KiB (8 GiB).
const CHILD_MEMORY_KIB: u64 = 8 << 20;
const CHILD_TIMEOUT: Duration = Duration::from_secs(180);
/// The most heap one case may hold at once (the largest valid request, a
/// broadcast ring of `MAX_CAPACITY` 16-byte slots, is 256 MiB).
const CASE_HEAP_LIMIT: isize = 1 << 30;

/// In a child: runs the case named by `BAD_INPUT_CASE`. Without the
/// variable (a plain `cargo test`) it does nothing.
#[test]
fn one_case() {
    let Ok(name) = std::env::var(CASE_VAR) else {
        return;
    };
    let case = cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case named {name:?}"));
    counting_alloc::reset_peak();
    let before = counting_alloc::live();
    if let Err(why) = (case.run)() {
        panic!("BAD-INPUT-FAILURE: {why}");
    }
    let heap = counting_alloc::peak() - before;
    if heap > CASE_HEAP_LIMIT {
        panic!("BAD-INPUT-FAILURE: peak heap {heap} bytes, above {CASE_HEAP_LIMIT}");
    }
}

/// Runs every case in a child process and reports each failure: a wrong
/// outcome, a panic, a crash (abort, stack overflow, out of memory) or a
/// hang.
#[test]
fn all_cases() {
    if std::env::var_os(CASE_VAR).is_some() {
        return;
    }
    let filter = std::env::var(FILTER_VAR).unwrap_or_default();
    let exe = std::env::current_exe().unwrap();
    let names: Vec<String> = cases()
        .into_iter()
        .map(|c| c.name)
        .filter(|n| n.contains(&filter))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for n in &names {
        assert!(seen.insert(n), "duplicate case name {n:?}");
    }
    let started = Instant::now();
    let mut failures = Vec::new();
    for name in &names {
        if let Err(why) = run_child(&exe, name) {
            failures.push(format!("{name}: {why}"));
        }
    }
    let per_module = names.iter().fold(
        std::collections::BTreeMap::<&str, usize>::new(),
        |mut m, n| {
            *m.entry(n.split('/').next().unwrap_or("")).or_default() += 1;
            m
        },
    );
    println!(
        "bad-input suite: {} cases ({per_module:?}) in {:.1?}, {} failed",
        names.len(),
        started.elapsed(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}

/// Runs one case in a child with a memory limit and a timeout.
fn run_child(exe: &std::path::Path, name: &str) -> Outcome {
    // `ulimit -v` turns a runaway allocation into an allocation failure
    // (an abort the parent sees) instead of the machine's OOM killer.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {CHILD_MEMORY_KIB} 2>/dev/null; exec \"$0\" one_case --exact --nocapture --test-threads=1"
        ))
        .arg(exe)
        .env(CASE_VAR, name)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start the child: {e}"))?;
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("hung for more than {CHILD_TIMEOUT:?}"));
        }
        // The harness polls the child; no case waits on time.
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    let detail = text
        .lines()
        .find_map(|l| {
            l.split_once("BAD-INPUT-FAILURE: ")
                .map(|(_, w)| w.to_owned())
        })
        .or_else(|| {
            text.lines()
                .find(|l| {
                    l.contains("panicked at") || l.contains("overflow") || l.contains("memory")
                })
                .map(str::to_owned)
        })
        .unwrap_or_default();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return Err(format!("crashed with signal {sig} {detail}"));
        }
    }
    Err(format!("{status}: {detail}"))
}
