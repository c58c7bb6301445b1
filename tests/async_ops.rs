#![cfg(all(
    feature = "async",
    not(loom),
    feature = "cache",
    feature = "clock",
    feature = "event",
    feature = "ratelimit",
    feature = "retry",
    feature = "ttl"
))]
//! The async forms, under two executors: tokio's multi-threaded runtime
//! and `futures::executor` (with OS threads for concurrency), to show they
//! need nothing from a runtime but a `Waker`. Cancellation is tested by
//! dropping futures at every poll (proptest over the cancellation points)
//! and with `tokio::select!` racing real timers.
//!
//! Time-based waits run on a `ManualClock` with a `ClockSleeper`, so they
//! are deterministic; only the tokio sleeper test uses real time.

use futures::StreamExt;
use latchwork::cache::Cache;
use latchwork::clock::{Clock, ManualClock};
use latchwork::event::broadcast::{
    channel, Builder, Lagged, Policy, RecvError, SendError, TrySendError,
};
use latchwork::ratelimit::{KeyedLimiter, SlidingWindowCounter, SlidingWindowLog, TokenBucket};
use latchwork::sleep::ClockSleeper;
use latchwork::ttl::Memoized;
use proptest::prelude::*;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs a runtime-agnostic scenario under both executors.
fn both<F, Fut>(scenario: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    tokio_rt().block_on(scenario());
    futures::executor::block_on(scenario());
}

/// Polls `fut` once with a no-op waker.
fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A sleeper that never wakes: a wait is cancelled while it sleeps.
fn never(_: Duration) -> std::future::Pending<()> {
    std::future::pending()
}

/// A one-shot gate many futures can wait on (runtime-free).
#[derive(Clone, Default)]
struct Gate(Arc<Mutex<(bool, Vec<Waker>)>>);

fn gate() -> (Gate, Gate) {
    let g = Gate::default();
    (g.clone(), g)
}

impl Gate {
    fn open(&self) {
        let wakers = {
            let mut g = self.0.lock().unwrap();
            g.0 = true;
            std::mem::take(&mut g.1)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            let mut g = self.0.lock().unwrap();
            if g.0 {
                Poll::Ready(())
            } else {
                g.1.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let (tx, mut rx) = channel::<u64>(4, Policy::Backpressure).unwrap();
    assert_send(&tx.send_async(1));
    assert_send(&rx.recv_async());
    let cache: Cache<u64, u64> = Cache::new(4).unwrap();
    assert_send(&cache.get_or_insert_async(1, async { 1 }));
    let bucket = TokenBucket::new(10.0, 1).unwrap();
    let sleeper = |d: Duration| tokio::time::sleep(d);
    assert_send(&bucket.until_ready(1, &sleeper));
    let keyed: KeyedLimiter<u64> = KeyedLimiter::builder().rate(1.0).build().unwrap();
    assert_send(&keyed.until_key_ready(&1, 1, &sleeper));
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Lagged>();
    assert_send_sync::<TrySendError<u64>>();
    assert_send_sync::<ClockSleeper<ManualClock>>();
    assert_send_sync::<latchwork::event::broadcast::Receiver<u64>>();
    assert!(format!("{:?}", tx.send_async(2)).contains("SendFuture"));
    assert!(format!("{:?}", rx.recv_async()).contains("RecvFuture"));
}

mod broadcast {
    use super::*;

    #[test]
    fn recv_async_in_order_then_closed() {
        both(|| async {
            let (tx, mut rx) = channel::<u64>(8, Policy::Overwrite).unwrap();
            let producer = std::thread::spawn(move || {
                for i in 0..1_000 {
                    tx.send(i).unwrap();
                    if i % 7 == 0 {
                        std::thread::yield_now();
                    }
                }
            });
            let mut expected = 0;
            loop {
                match rx.recv_async().await {
                    Ok(v) => {
                        assert!(v >= expected);
                        expected = v + 1;
                    }
                    Err(RecvError::Lagged(n)) => expected += n,
                    Err(RecvError::Closed) => break,
                }
            }
            assert_eq!(expected, 1_000);
            producer.join().unwrap();
        });
    }

    #[test]
    fn stream_yields_lag_as_an_item() {
        both(|| async {
            let (tx, rx) = channel::<u64>(4, Policy::Overwrite).unwrap();
            for i in 0..6 {
                tx.send(i).unwrap();
            }
            drop(tx);
            let items: Vec<_> = rx.collect().await;
            assert_eq!(items, [Err(Lagged(2)), Ok(2), Ok(3), Ok(4), Ok(5)]);
        });
    }

    #[test]
    fn try_send_hands_the_value_back() {
        let (tx, rx) = Builder::new(1)
            .policy(Policy::Backpressure)
            .build::<String>()
            .unwrap();
        assert_eq!(tx.receiver_count(), 1);
        assert_eq!(tx.try_send("a".into()).ok(), Some(1));
        match tx.try_send("b".into()) {
            Err(TrySendError::Full(v)) => assert_eq!(v, "b"),
            other => panic!("{other:?}"),
        }
        drop(rx);
        assert_eq!(tx.receiver_count(), 0);
        let e = tx.try_send("c".into()).unwrap_err();
        assert!(matches!(e, TrySendError::NoReceivers(_)));
        assert!(e.to_string().contains("no receivers"));
        assert_eq!(e.into_inner(), "c");
    }

    /// With no receiver `send_async` completes with the value handed back,
    /// and so does a send waiting at the gate when the last receiver goes.
    #[test]
    fn send_async_without_receivers_hands_the_value_back() {
        both(|| async {
            let (tx, rx) = Builder::new(1)
                .policy(Policy::Backpressure)
                .build::<String>()
                .unwrap();
            assert_eq!(tx.send_async("a".into()).await, Ok(1));
            let mut waiting = pin!(tx.send_async("b".into()));
            assert!(poll_once(waiting.as_mut()).is_pending(), "the ring is full");
            drop(rx);
            match poll_once(waiting.as_mut()) {
                Poll::Ready(Err(SendError(v))) => assert_eq!(v, "b"),
                other => panic!("{other:?}"),
            }
            let sent = tx.sent();
            let e = tx.send_async("c".into()).await.unwrap_err();
            assert_eq!(e.into_inner(), "c");
            assert_eq!(tx.sent(), sent, "nothing was published");
        });
    }

    #[test]
    fn send_async_waits_for_the_slowest_receiver() {
        both(|| async {
            let (tx, mut rx) = Builder::new(2)
                .policy(Policy::Backpressure)
                .build::<u64>()
                .unwrap();
            let mut rx2 = rx.resubscribe();
            let consumer = std::thread::spawn(move || {
                let mut got = vec![];
                while let Ok(v) = rx2.recv() {
                    got.push(v);
                }
                got
            });
            let reader = async {
                let mut got = vec![];
                while let Ok(v) = rx.recv_async().await {
                    got.push(v);
                }
                got
            };
            let writer = async move {
                for i in 0..500 {
                    assert_eq!(tx.send_async(i).await, Ok(2));
                }
            };
            let (got, ()) = futures::join!(reader, writer);
            assert_eq!(got, (0..500).collect::<Vec<_>>());
            assert_eq!(consumer.join().unwrap(), (0..500).collect::<Vec<_>>());
        });
    }

    #[test]
    fn tokio_tasks_fan_out_one_by_four() {
        tokio_rt().block_on(async {
            let (tx, rx) = Builder::new(64)
                .policy(Policy::Backpressure)
                .build::<u64>()
                .unwrap();
            let mut tasks = vec![];
            for _ in 0..4 {
                let mut rx = rx.resubscribe();
                tasks.push(tokio::spawn(async move {
                    let mut sum = 0u64;
                    let mut n = 0u64;
                    while let Ok(v) = rx.recv_async().await {
                        sum += v;
                        n += 1;
                    }
                    (n, sum)
                }));
            }
            drop(rx);
            tokio::spawn(async move {
                for i in 0..20_000u64 {
                    assert_eq!(tx.send_async(i).await, Ok(4));
                }
            })
            .await
            .unwrap();
            for t in tasks {
                assert_eq!(t.await.unwrap(), (20_000, 20_000 * 19_999 / 2));
            }
        });
    }

    /// `select!` against a random short timer cancels receives at random
    /// points; the receiver still gets every message, in order.
    #[test]
    fn select_cancelled_recv_loses_nothing() {
        tokio_rt().block_on(async {
            let (tx, mut rx) = Builder::new(16)
                .policy(Policy::Backpressure)
                .build::<u64>()
                .unwrap();
            let producer = tokio::spawn(async move {
                for i in 0..3_000u64 {
                    tx.send_async(i).await.unwrap();
                    if i % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            });
            let mut got = vec![];
            let mut cancelled = 0;
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            loop {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let wait = Duration::from_micros(seed % 50);
                tokio::select! {
                    r = rx.recv_async() => match r {
                        Ok(v) => got.push(v),
                        Err(_) => break,
                    },
                    _ = tokio::time::sleep(wait) => cancelled += 1,
                }
            }
            producer.await.unwrap();
            assert_eq!(got, (0..3_000).collect::<Vec<_>>());
            let _ = cancelled;
        });
    }

    proptest! {
        /// Dropping `recv_async` / `send_async` futures at any poll loses
        /// no message and sends nothing extra: the receiver sees exactly
        /// the completed sends, in order.
        #[test]
        fn dropped_futures_lose_and_add_nothing(
            ops in proptest::collection::vec((0u8..4, 0usize..3), 1..60)
        ) {
            let (tx, mut rx) = Builder::new(2)
                .policy(Policy::Backpressure)
                .build::<u64>()
                .unwrap();
            let mut sent = vec![];
            let mut got = vec![];
            let mut next = 0u64;
            for (op, polls) in ops {
                match op {
                    // A send future polled `polls` times, then dropped if
                    // still pending.
                    0 | 1 => {
                        let mut f = pin!(tx.send_async(next));
                        let mut done = false;
                        for _ in 0..=polls {
                            if poll_once(f.as_mut()).is_ready() {
                                done = true;
                                break;
                            }
                        }
                        if done {
                            sent.push(next);
                        }
                        next += 1;
                    }
                    // A receive polled `polls` times, then dropped.
                    _ => {
                        let mut f = pin!(rx.recv_async());
                        for _ in 0..=polls {
                            if let Poll::Ready(r) = poll_once(f.as_mut()) {
                                got.push(r.unwrap());
                                break;
                            }
                        }
                    }
                }
            }
            drop(tx);
            while let Ok(v) = futures::executor::block_on(rx.recv_async()) {
                got.push(v);
            }
            prop_assert_eq!(got, sent);
        }
    }
}

mod cache {
    use super::*;

    #[test]
    fn one_load_for_concurrent_tasks() {
        both(|| async {
            let cache: Cache<u32, u32> = Cache::new(100).unwrap();
            let loads = AtomicUsize::new(0);
            let (tx, rx) = gate();
            let callers = (0..8).map(|_| {
                cache.get_or_insert_async(1, async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    rx.wait().await;
                    42
                })
            });
            let all = futures::future::join_all(callers);
            let release = async {
                tx.open();
            };
            let (values, ()) = futures::join!(all, release);
            assert_eq!(values, vec![42; 8]);
            assert_eq!(loads.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn tasks_on_many_workers_share_one_load() {
        tokio_rt().block_on(async {
            let cache: Arc<Cache<u32, u32>> = Arc::new(Cache::new(100).unwrap());
            let loads = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..32)
                .map(|_| {
                    let (cache, loads) = (cache.clone(), loads.clone());
                    tokio::spawn(async move {
                        cache
                            .get_or_insert_async(7, async {
                                loads.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                70
                            })
                            .await
                    })
                })
                .collect();
            // And a blocking caller on the same flight.
            let blocking = {
                let cache = cache.clone();
                std::thread::spawn(move || cache.get_or_insert_with(7, || 71))
            };
            for t in tasks {
                let v = t.await.unwrap();
                assert!(v == 70 || v == 71);
            }
            let b = blocking.join().unwrap();
            assert!(b == 70 || b == 71);
            assert_eq!(cache.peek(&7).map(|v| v == 70 || v == 71), Some(true));
        });
    }

    #[test]
    fn dropped_leader_hands_the_load_to_a_waiter() {
        both(|| async {
            let cache: Cache<u32, u32> = Cache::new(100).unwrap();
            let mut leader = Box::pin(cache.get_or_insert_async(1, std::future::pending()));
            assert!(poll_once(leader.as_mut()).is_pending());
            let mut waiter = Box::pin(cache.get_or_insert_async(1, async { 5 }));
            assert!(
                poll_once(waiter.as_mut()).is_pending(),
                "waits on the flight"
            );
            drop(leader); // cancelled mid-load
            assert_eq!(waiter.await, 5);
            assert_eq!(cache.peek(&1), Some(5));
            assert_eq!(cache.stats().load_errors, 1, "the abandoned load");
        });
    }

    #[test]
    fn select_cancelled_leaders_never_leave_a_key_stuck() {
        tokio_rt().block_on(async {
            let cache: Arc<Cache<u32, u32>> = Arc::new(Cache::new(100).unwrap());
            let loads = Arc::new(AtomicUsize::new(0));
            let mut tasks = vec![];
            for i in 0..16u64 {
                let (cache, loads) = (cache.clone(), loads.clone());
                tasks.push(tokio::spawn(async move {
                    loop {
                        let load = cache.get_or_insert_async(3, async {
                            loads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_micros(200)).await;
                            33
                        });
                        tokio::select! {
                            v = load => return v,
                            // Early tasks give up quickly, cancelling loads
                            // they lead and waits they hold.
                            _ = tokio::time::sleep(Duration::from_micros(20 * i)) => {}
                        }
                        if i >= 8 {
                            tokio::task::yield_now().await;
                        }
                    }
                }));
            }
            for t in tasks {
                assert_eq!(t.await.unwrap(), 33);
            }
            assert_eq!(cache.peek(&3), Some(33));
        });
    }

    #[test]
    fn error_reaches_every_waiter_and_is_not_cached() {
        both(|| async {
            let cache: Cache<u32, u32> = Cache::new(100).unwrap();
            let (tx, rx) = gate();
            let leader = cache.try_get_or_insert_async(1, async {
                rx.wait().await;
                Err::<u32, _>("down")
            });
            let waiter = cache.try_get_or_insert_async(1, async { Ok::<_, &str>(9) });
            let (a, b, ()) = futures::join!(leader, waiter, async { tx.open() });
            assert_eq!(*a.unwrap_err(), "down");
            // The waiter either shared the error or loaded after it.
            assert!(b.as_ref().map_err(|e| **e) == Err("down") || b == Ok(9));
            let again = cache.try_get_or_insert_async(1, async { Ok::<_, &str>(10) });
            assert!(again.await.is_ok());
        });
    }

    #[test]
    fn loader_future_may_borrow() {
        both(|| async {
            let cache: Cache<&str, usize> = Cache::new(10).unwrap();
            let local = String::from("not static");
            assert_eq!(
                cache.get_or_insert_async("k", async { local.len() }).await,
                10
            );
        });
    }

    proptest! {
        /// A leader dropped after any number of polls, with waiters
        /// dropped at any point too: the remaining caller always gets a
        /// value, and the key is never left stuck.
        #[test]
        fn cancellation_points(lead_polls in 0usize..4, waiter_polls in 0usize..3, drop_waiter in any::<bool>()) {
            let cache: Cache<u32, u32> = Cache::new(10).unwrap();
            let (tx, rx) = gate();
            let mut leader = Box::pin(cache.get_or_insert_async(1, async { rx.wait().await; 1 }));
            for _ in 0..lead_polls {
                let _ = poll_once(leader.as_mut());
            }
            let mut waiter = Box::pin(cache.get_or_insert_async(1, async { 2 }));
            let mut early = None;
            for _ in 0..waiter_polls {
                if let Poll::Ready(v) = poll_once(waiter.as_mut()) {
                    // The leader was never polled: the waiter led.
                    early = Some(v);
                    break;
                }
            }
            if let Some(v) = early {
                prop_assert_eq!(v, 2);
                drop(leader);
                prop_assert_eq!(cache.peek(&1), Some(2));
            } else if drop_waiter {
                drop(waiter);
                drop(leader);
                let v = futures::executor::block_on(cache.get_or_insert_async(1, async { 3 }));
                prop_assert_eq!(v, 3);
            } else {
                drop(leader);
                tx.open();
                let v = futures::executor::block_on(waiter);
                prop_assert!(v == 2 || v == 1);
            }
        }
    }
}

mod ratelimit {
    use super::*;

    fn bucket(clock: &ManualClock, rate: f64, burst: u64) -> TokenBucket<ManualClock> {
        TokenBucket::builder()
            .rate(rate)
            .burst(burst)
            .clock(clock.clone())
            .build()
            .unwrap()
    }

    #[test]
    fn until_ready_admits_exactly_at_the_rate() {
        both(|| async {
            let clock = ManualClock::new();
            let b = bucket(&clock, 100.0, 1);
            let sleeper = ClockSleeper::new(clock.clone());
            for _ in 0..101 {
                b.until_ready(1, &sleeper).await.unwrap();
            }
            // The first from the full bucket, then one per 10 ms.
            assert_eq!(clock.now(), Duration::from_secs(1));
            assert!(
                b.until_ready(2, &sleeper).await.is_err(),
                "cost above burst"
            );
        });
    }

    #[test]
    fn waiters_are_admitted_first_come_first_served() {
        both(|| async {
            let clock = ManualClock::new();
            let b = bucket(&clock, 10.0, 1);
            b.try_acquire(1).unwrap();
            let order = Mutex::new(vec![]);
            // Each sleeps on a sleeper that yields once, so the others are
            // polled (and queue) in between.
            let sleeper = |d: Duration| {
                let clock = clock.clone();
                async move {
                    YieldOnce(false).await;
                    clock.advance(d);
                }
            };
            let waiters = (0..6).map(|i| {
                let (b, order, sleeper) = (&b, &order, &sleeper);
                async move {
                    b.until_ready(1, sleeper).await.unwrap();
                    order.lock().unwrap().push(i);
                }
            });
            futures::future::join_all(waiters).await;
            assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
            assert_eq!(clock.now(), Duration::from_millis(600));
        });
    }

    #[test]
    fn cancelled_wait_consumes_nothing_and_hands_on() {
        both(|| async {
            let clock = ManualClock::new();
            let b = bucket(&clock, 1.0, 1);
            b.try_acquire(1).unwrap();
            // The head, cancelled while it sleeps.
            let mut head = Box::pin(b.until_ready(1, &never));
            assert!(poll_once(head.as_mut()).is_pending());
            // Queued behind it.
            let sleeper = ClockSleeper::new(clock.clone());
            let mut next = Box::pin(b.until_ready(1, &sleeper));
            assert!(poll_once(next.as_mut()).is_pending(), "not its turn");
            drop(head);
            assert_eq!(next.await, Ok(()));
            assert_eq!(clock.now(), Duration::from_secs(1), "one token, one refill");
            assert_eq!(b.available(), 0);
        });
    }

    #[test]
    fn window_limiters_and_keyed() {
        both(|| async {
            let clock = ManualClock::new();
            let sleeper = ClockSleeper::new(clock.clone());
            let log = SlidingWindowLog::builder()
                .limit(2)
                .window(Duration::from_secs(1))
                .clock(clock.clone())
                .build()
                .unwrap();
            for _ in 0..6 {
                log.until_ready(1, &sleeper).await.unwrap();
            }
            assert_eq!(clock.now(), Duration::from_secs(2));
            let counter = SlidingWindowCounter::builder()
                .limit(5)
                .window(Duration::from_secs(1))
                .clock(clock.clone())
                .build()
                .unwrap();
            for _ in 0..10 {
                counter.until_ready(1, &sleeper).await.unwrap();
            }
            assert!(clock.now() > Duration::from_secs(2));
            let keyed: KeyedLimiter<String, _, _> = KeyedLimiter::builder()
                .rate(10.0)
                .burst(1)
                .clock(clock.clone())
                .build()
                .unwrap();
            let start = clock.now();
            for _ in 0..11 {
                keyed.until_key_ready("a", 1, &sleeper).await.unwrap();
            }
            assert_eq!(clock.now() - start, Duration::from_secs(1));
            assert!(keyed.until_key_ready("b", 2, &sleeper).await.is_err());
        });
    }

    #[test]
    fn cancelled_keyed_wait_consumes_nothing() {
        let clock = ManualClock::new();
        let keyed: KeyedLimiter<u32, _, _> = KeyedLimiter::builder()
            .rate(1.0)
            .burst(2)
            .clock(clock.clone())
            .build()
            .unwrap();
        keyed.try_acquire(&1, 2).unwrap();
        let mut f = Box::pin(keyed.until_key_ready(&1, 1, &never));
        assert!(poll_once(f.as_mut()).is_pending());
        drop(f);
        clock.advance(Duration::from_secs(2));
        assert_eq!(keyed.available(&1), 2);
    }

    #[test]
    fn tokio_tasks_wait_on_the_real_clock() {
        tokio_rt().block_on(async {
            let b = Arc::new(TokenBucket::new(200.0, 1).unwrap());
            let start = std::time::Instant::now();
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let b = b.clone();
                    tokio::spawn(async move {
                        for _ in 0..5 {
                            b.until_ready(1, &|d: Duration| tokio::time::sleep(d))
                                .await
                                .unwrap();
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            // 40 admissions at 200/s from a bucket of one: at least 195 ms.
            assert!(start.elapsed() >= Duration::from_millis(190));
        });
    }

    /// Completes on its second poll (waking itself on the first).
    struct YieldOnce(bool);
    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    proptest! {
        /// Waiters cancelled at random polls: the survivors are admitted,
        /// and the tokens taken are exactly the survivors' (plus the first).
        #[test]
        fn cancelled_waits_take_nothing(cancel in proptest::collection::vec(proptest::option::of(0usize..3), 1..8)) {
            let clock = ManualClock::new();
            let b = bucket(&clock, 1.0, 1);
            b.try_acquire(1).unwrap();
            let mut survivors = 0u64;
            let mut pending = vec![];
            for c in &cancel {
                let mut f = Box::pin(b.until_ready(1, &never));
                match c {
                    Some(polls) => {
                        for _ in 0..*polls {
                            let _ = poll_once(f.as_mut());
                        }
                        drop(f);
                    }
                    None => {
                        let _ = poll_once(f.as_mut());
                        pending.push(f);
                        survivors += 1;
                    }
                }
            }
            drop(pending); // the survivors, stuck on `never`, give up too
            // Nothing was taken: a full refill later the bucket is full.
            clock.advance(Duration::from_secs(1));
            prop_assert_eq!(b.available(), 1);
            let sleeper = ClockSleeper::new(clock.clone());
            for _ in 0..survivors {
                futures::executor::block_on(b.until_ready(1, &sleeper)).unwrap();
            }
            prop_assert_eq!(clock.now(), Duration::from_secs(survivors.max(1)));
        }
    }
}

mod memo {
    use super::*;

    #[test]
    fn get_async_loads_once() {
        both(|| async {
            let loads = Arc::new(AtomicUsize::new(0));
            let l = loads.clone();
            let clock = ManualClock::new();
            let m = Memoized::builder_async(move |k: &u32| {
                l.fetch_add(1, Ordering::SeqCst);
                let k = *k;
                async move {
                    YieldNow::default().await;
                    Ok::<_, std::io::Error>(k * 3)
                }
            })
            .clock(clock.clone())
            .build()
            .unwrap();
            let calls = (0..5).map(|_| m.get_async(&4));
            for v in futures::future::join_all(calls).await {
                assert_eq!(v.unwrap(), 12);
            }
            assert_eq!(loads.load(Ordering::SeqCst), 1);
            assert_eq!(m.stats().loads, 1);
            clock.advance(Duration::from_secs(61));
            assert_eq!(m.get_async(&4).await.unwrap(), 12);
            assert_eq!(loads.load(Ordering::SeqCst), 2, "expired: loaded again");
        });
    }

    #[derive(Default)]
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if std::mem::replace(&mut self.0, true) {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

mod retry {
    use super::*;
    use latchwork::retry::Retry;

    #[test]
    fn call_async_sleeps_on_a_sleeper() {
        both(|| async {
            let clock = ManualClock::new();
            let policy = Retry::builder()
                .max_attempts(4)
                .clock(clock.clone())
                .build()
                .unwrap();
            let tries = AtomicUsize::new(0);
            let r = policy
                .call_async(
                    || {
                        let n = tries.fetch_add(1, Ordering::SeqCst);
                        async move {
                            if n < 2 {
                                Err("busy")
                            } else {
                                Ok(n)
                            }
                        }
                    },
                    ClockSleeper::new(clock.clone()),
                )
                .await;
            assert_eq!(r.unwrap(), 2);
            assert!(clock.now() > Duration::ZERO);
        });
    }
}
