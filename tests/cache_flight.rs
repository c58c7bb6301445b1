#![cfg(all(not(loom), feature = "cache", feature = "async"))]
//! Stress of the cache's single-flight loader under hostile user code: many
//! threads load the same few keys (blocking, fallible and async forms, and
//! async leaders dropped mid-load) while the loader, the weigher,
//! `V::clone`, the key's `Hash`, `Eq` and `Clone` and the eviction
//! listener panic at random points, loaders fail at random, and keys are
//! removed and the cache invalidated meanwhile.
//!
//! Asserts that no waiter sleeps forever (a watchdog fails the run instead
//! of hanging it), that every value returned belongs to its key, and that
//! once the chaos stops every key is loadable (and stored, where the
//! capacity holds them all).
//!
//! Seeded: `LATCHWORK_SEED=<u64>` picks the random choices (thread
//! interleavings still vary); a failure prints the seed.

use latchwork::cache::{Cache, Policy};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Once};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

const DEFAULT_SEED: u64 = 0x1a7c_f11e_5eed_0023;
const THREADS: u64 = 8;
const KEYS: u64 = 4;
const OPS: u64 = 2_000;
/// A run that takes longer has a waiter sleeping forever.
const WATCHDOG: Duration = Duration::from_secs(60);

fn seed() -> u64 {
    std::env::var("LATCHWORK_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The random panics: each hook draws from one seeded sequence.
#[derive(Debug)]
struct Chaos {
    seed: u64,
    on: AtomicBool,
    draws: AtomicU64,
}

impl Chaos {
    fn new(seed: u64) -> Arc<Self> {
        Arc::new(Chaos {
            seed,
            on: AtomicBool::new(true),
            draws: AtomicU64::new(0),
        })
    }

    /// Panics with probability `1 / one_in` while the chaos is on.
    fn maybe(&self, one_in: u64, site: &str) {
        // Relaxed: a switch and a draw counter; no data rides on them.
        if !self.on.load(Relaxed) {
            return;
        }
        let n = self.draws.fetch_add(1, Relaxed);
        if splitmix(self.seed ^ splitmix(n)) % one_in == 0 {
            panic!("{site} panicked (chaos)");
        }
    }
}

#[derive(Debug)]
struct Key {
    id: u64,
    chaos: Arc<Chaos>,
}

impl Clone for Key {
    fn clone(&self) -> Self {
        self.chaos.maybe(64, "K::clone");
        Key {
            id: self.id,
            chaos: self.chaos.clone(),
        }
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.chaos.maybe(64, "Hash");
        self.id.hash(h);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.chaos.maybe(64, "Eq");
        self.id == other.id
    }
}

impl Eq for Key {}

#[derive(Debug)]
struct Val {
    id: u64,
    chaos: Arc<Chaos>,
}

impl Clone for Val {
    fn clone(&self) -> Self {
        self.chaos.maybe(32, "V::clone");
        Val {
            id: self.id,
            chaos: self.chaos.clone(),
        }
    }
}

/// The chaos panics are expected: keep them off the test's output.
fn quiet_chaos_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !msg.contains("(chaos)") {
                default(info);
            }
        }));
    });
}

/// A future pending once (waking itself), so a leader is suspended mid-load.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// One worker: `OPS` random operations on the shared keys. Returns the
/// first wrong value seen.
fn worker(cache: &Cache<Key, Val>, chaos: &Arc<Chaos>, seed: u64, t: u64) -> Result<(), String> {
    let key = |id| Key {
        id,
        chaos: chaos.clone(),
    };
    let val = |id| Val {
        id,
        chaos: chaos.clone(),
    };
    for i in 0..OPS {
        let r = splitmix(seed ^ splitmix(t << 32 | i));
        let id = r % KEYS;
        let op = (r >> 8) % 16;
        let got = catch_unwind(AssertUnwindSafe(|| match op {
            0..=6 => Some(cache.get_or_insert_with(key(id), || {
                chaos.maybe(8, "loader");
                val(id)
            })),
            7..=9 => cache
                .try_get_or_insert_with(key(id), || {
                    chaos.maybe(8, "loader");
                    if (r >> 20) % 8 == 0 {
                        Err("load failed")
                    } else {
                        Ok(val(id))
                    }
                })
                .ok(),
            10..=12 => Some(futures::executor::block_on(cache.get_or_insert_async(
                key(id),
                async {
                    yield_once().await;
                    chaos.maybe(8, "loader");
                    val(id)
                },
            ))),
            13 => {
                // An async leader (or waiter) dropped after one poll.
                let mut fut = pin!(cache.get_or_insert_async(key(id), async {
                    yield_once().await;
                    val(id)
                }));
                match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                    Poll::Ready(v) => Some(v),
                    Poll::Pending => None,
                }
            }
            14 => cache.remove(&key(id)),
            _ => {
                if (r >> 20) % 16 == 0 {
                    cache.invalidate_all();
                } else {
                    cache.insert(key(id), val(id));
                }
                None
            }
        }));
        if let Ok(Some(v)) = got {
            if v.id != id {
                return Err(format!(
                    "thread {t} op {i}: key {id} gave key {}'s value",
                    v.id
                ));
            }
        }
    }
    Ok(())
}

/// Runs the workers, then stops the chaos and loads every key.
fn run(name: &str, build: impl Fn(Arc<Chaos>) -> Cache<Key, Val>, stored: bool) {
    quiet_chaos_panics();
    let seed = seed();
    let fail = |why: String| -> ! {
        panic!("{name}: {why} (LATCHWORK_SEED={seed} reproduces the random choices)")
    };
    let chaos = Chaos::new(seed);
    let cache = Arc::new(build(chaos.clone()));
    let (done, finished) = std::sync::mpsc::channel();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (cache, chaos, done) = (cache.clone(), chaos.clone(), done.clone());
            thread::spawn(move || {
                let r = worker(&cache, &chaos, seed, t);
                let _ = done.send(());
                r
            })
        })
        .collect();
    // The watchdog: every worker reports when it ends; one that has not
    // within WATCHDOG is stuck (a worker that panics outside its caught
    // calls drops its sender unsent and is reported by `join` below).
    let deadline = Instant::now() + WATCHDOG;
    for ended in 0..THREADS {
        let left = deadline.saturating_duration_since(Instant::now());
        if finished.recv_timeout(left).is_err() && workers.iter().any(|w| !w.is_finished()) {
            fail(format!(
                "{} of {THREADS} threads still waiting after {WATCHDOG:?}",
                THREADS - ended
            ));
        }
    }
    for w in workers {
        match w.join() {
            Ok(Ok(())) => {}
            Ok(Err(why)) => fail(why),
            Err(_) => fail("a worker died outside its caught calls".into()),
        }
    }
    chaos.on.store(false, Relaxed);
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let (cache, chaos) = (cache.clone(), chaos.clone());
        thread::spawn(move || {
            for id in 0..KEYS {
                let key = Key {
                    id,
                    chaos: chaos.clone(),
                };
                let v = cache.get_or_insert_with(key.clone(), || Val {
                    id,
                    chaos: chaos.clone(),
                });
                let _ = tx.send((id, v.id, cache.get(&key).is_some()));
            }
        });
    }
    for id in 0..KEYS {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok((_, got, _)) if got != id => fail(format!("key {id} loaded key {got}'s value")),
            Ok((_, _, held)) if stored && !held => fail(format!("key {id} loaded, not stored")),
            Ok(_) => {}
            Err(_) => fail(format!("key {id} not loadable after the chaos (hung)")),
        }
    }
    if let Err(e) = cache.check_invariants() {
        fail(format!("invariants: {e}"));
    }
    let st = cache.stats();
    println!("{name}: seed {seed}, {st:?}");
    assert!(
        st.loads > 0 && st.load_errors > 0,
        "{name}: no chaos happened: {st:?}"
    );
}

#[test]
fn chaos_every_key_stays_loadable() {
    run(
        "chaos",
        |chaos| {
            Cache::builder()
                .max_capacity(1_000)
                .weigher(move |k: &Key, _: &Val| {
                    chaos.maybe(32, "weigher");
                    1 + (k.id % 3) as u32
                })
                .build()
                .unwrap()
        },
        true,
    );
}

#[test]
fn chaos_with_evictions_and_a_panicking_listener() {
    run(
        "chaos with evictions",
        |chaos| {
            let listener = chaos.clone();
            Cache::builder()
                .max_capacity(4)
                .policy(Policy::Lru)
                .weigher(move |k: &Key, _: &Val| {
                    chaos.maybe(32, "weigher");
                    1 + (k.id % 3) as u32
                })
                .eviction_listener(move |_: &Key, _: &Val, _| listener.maybe(4, "listener"))
                .build()
                .unwrap()
        },
        false,
    );
}
