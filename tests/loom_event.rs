#![cfg(all(loom, feature = "event"))]
//! loom models of the event module: the broadcast ring's publish/consume
//! protocol (wrap-around, overwrite racing a read, lag accounting,
//! backpressure gating and parking, close), the once-listener claim, and a
//! subscription swap racing an emit.

// In a module named `loom_models` so that CI's `cargo test ... loom`
// filter selects these tests.
mod loom_models {
    use latchwork::event::broadcast::{Builder, Policy, RecvError, TryRecvError};
    use latchwork::event::Emitter;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    use loom::thread;

    /// Drains `rx` without blocking; returns (values, missed).
    fn drain(rx: &mut latchwork::event::broadcast::Receiver<u64>) -> (Vec<u64>, u64) {
        let (mut got, mut missed) = (Vec::new(), 0);
        loop {
            match rx.try_recv() {
                Ok(v) => got.push(v),
                Err(TryRecvError::Lagged(n)) => missed += n,
                Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => return (got, missed),
            }
        }
    }

    #[test]
    fn overwrite_read_races_wraparound_and_counts_lag() {
        loom::model(|| {
            let (tx, mut rx) = Builder::new(2).build::<u64>().unwrap();
            let producer = thread::spawn(move || {
                for v in 0..3 {
                    tx.send(v).unwrap();
                }
            });
            // Reads race the producer, including its overwrite of slot 0.
            let (mut got, mut missed) = drain(&mut rx);
            producer.join().unwrap();
            let (more, more_missed) = drain(&mut rx);
            got.extend(more);
            missed += more_missed;
            assert!(got.windows(2).all(|w| w[0] < w[1]), "order: {got:?}");
            assert_eq!(got.len() as u64 + missed, 3, "got {got:?} missed {missed}");
            assert_eq!(got.last(), Some(&2), "the newest is never lost");
            assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        });
    }

    #[test]
    fn overwrite_blocking_reader_races_the_lapping_writer() {
        loom::model(|| {
            let (tx, mut rx) = Builder::new(1).build::<u64>().unwrap();
            let producer = thread::spawn(move || {
                for v in 0..2 {
                    tx.send(v).unwrap();
                }
            });
            let (mut got, mut missed) = (Vec::new(), 0);
            loop {
                match rx.recv() {
                    Ok(v) => got.push(v),
                    Err(RecvError::Lagged(n)) => missed += n,
                    Err(RecvError::Closed) => break,
                }
            }
            producer.join().unwrap();
            assert!(got.windows(2).all(|w| w[0] < w[1]), "order: {got:?}");
            assert_eq!(got.len() as u64 + missed, 2, "got {got:?} missed {missed}");
            assert_eq!(got.last(), Some(&1), "the newest is never lost");
        });
    }

    #[test]
    fn backpressure_wraparound_parks_and_delivers_all() {
        loom::model(|| {
            let (tx, mut rx) = Builder::new(1)
                .policy(Policy::Backpressure)
                .build::<u64>()
                .unwrap();
            let producer = thread::spawn(move || {
                for v in 0..2 {
                    tx.send(v).unwrap();
                }
            });
            assert_eq!(rx.recv(), Ok(0));
            assert_eq!(rx.recv(), Ok(1));
            assert_eq!(rx.recv(), Err(RecvError::Closed));
            producer.join().unwrap();
        });
    }

    #[test]
    fn two_producers_one_slot_backpressure() {
        loom::model(|| {
            let (tx, mut rx) = Builder::new(1)
                .policy(Policy::Backpressure)
                .build::<u64>()
                .unwrap();
            let tx2 = tx.clone();
            let a = thread::spawn(move || tx.send(10));
            let b = thread::spawn(move || tx2.send(20));
            let mut got = vec![rx.recv().unwrap(), rx.recv().unwrap()];
            assert_eq!(rx.recv(), Err(RecvError::Closed));
            assert_eq!(a.join().unwrap(), Ok(1));
            assert_eq!(b.join().unwrap(), Ok(1));
            got.sort_unstable();
            assert_eq!(got, [10, 20]);
        });
    }

    #[test]
    fn once_listener_claimed_exactly_once() {
        loom::model(|| {
            let em = Emitter::<()>::new();
            let fired = Arc::new(AtomicUsize::new(0));
            let f = fired.clone();
            em.once("t", move |_: &()| {
                f.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap()
            .detach();
            let em2 = em.clone();
            let other = thread::spawn(move || em2.emit("t", &()).ran());
            let mine = em.emit("t", &()).ran();
            let theirs = other.join().unwrap();
            assert_eq!(mine + theirs, 1);
            assert_eq!(fired.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn subscription_swap_during_emit_sees_whole_snapshots() {
        loom::model(|| {
            let em = Emitter::<()>::new();
            let old_runs = Arc::new(AtomicUsize::new(0));
            let o = old_runs.clone();
            let old = em
                .on("t", move |_: &()| {
                    o.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            let em2 = em.clone();
            let writer = thread::spawn(move || {
                let new = em2.on("t", |_: &()| ()).unwrap();
                drop(old);
                new.detach();
            });
            // Snapshots: {old}, {old, new}, {new}: never empty, never torn.
            let first = em.emit("t", &()).ran();
            let second = em.emit("t", &()).ran();
            assert!((1..=2).contains(&first) && (1..=2).contains(&second));
            writer.join().unwrap();
            assert_eq!(em.emit("t", &()).ran(), 1);
            // Once an emit has not run `old`, later ones do not either.
            assert!(old_runs.load(Ordering::SeqCst) <= 2);
        });
    }

    #[test]
    fn backpressure_receiver_registers_while_producer_gates() {
        loom::model(|| {
            let (tx, mut rx0) = Builder::new(1)
                .policy(Policy::Backpressure)
                .build::<u64>()
                .unwrap();
            let late_tx = tx.clone();
            let producer = thread::spawn(move || {
                for v in 0..2 {
                    tx.send(v).unwrap();
                }
            });
            let first = thread::spawn(move || {
                let mut got = Vec::new();
                while let Ok(v) = rx0.recv() {
                    got.push(v);
                }
                got
            });
            // Registers while the producer may be scanning the cursors.
            let mut late = late_tx.subscribe();
            drop(late_tx);
            let mut got = Vec::new();
            loop {
                match late.recv() {
                    Ok(v) => got.push(v),
                    Err(RecvError::Lagged(n)) => panic!("Backpressure lagged by {n}"),
                    Err(RecvError::Closed) => break,
                }
            }
            producer.join().unwrap();
            assert_eq!(first.join().unwrap(), [0, 1]);
            // A suffix of what was sent: nothing it should see was overwritten.
            assert!(
                got.is_empty() || got == [1] || got == [0, 1],
                "late got {got:?}"
            );
        });
    }

    /// Backpressure `subscribe` at `max_receivers` waits for a free
    /// registry entry: a receiver dropped on another thread wakes it (a
    /// lost wake-up deadlocks, which loom reports), and the new receiver
    /// is registered for the next message.
    #[test]
    fn backpressure_subscribe_waits_for_a_dropped_receiver() {
        loom::model(|| {
            let (tx, rx) = Builder::new(1)
                .policy(Policy::Backpressure)
                .max_receivers(1)
                .build::<u64>()
                .unwrap();
            let dropper = thread::spawn(move || drop(rx));
            let mut late = tx.subscribe();
            dropper.join().unwrap();
            assert_eq!(tx.receiver_count(), 1);
            assert_eq!(tx.send(5), Ok(1));
            assert_eq!(late.try_recv(), Ok(5));
        });
    }

    /// The async receive handshake: a task awaiting `recv_async` races a
    /// producer's publish and the close; it gets the message, then
    /// `Closed`, and is never left pending (a lost wake-up deadlocks
    /// `block_on`, which loom reports).
    #[test]
    fn loom_recv_async_wakeup_not_lost() {
        loom::model(|| {
            let (tx, mut rx) = Builder::new(2).build::<u64>().unwrap();
            let producer = thread::spawn(move || {
                tx.send(7).unwrap();
            });
            let first = loom::future::block_on(rx.recv_async());
            let second = loom::future::block_on(rx.recv_async());
            producer.join().unwrap();
            assert_eq!((first, second), (Ok(7), Err(RecvError::Closed)));
        });
    }

    /// Backpressure `send_async`: a task whose send waits for the only
    /// receiver (ring of one) is woken when a thread receives; nothing is
    /// lost or duplicated.
    #[test]
    fn loom_send_async_waits_for_receiver() {
        loom::model(|| {
            let (tx, mut rx) = Builder::new(1)
                .policy(Policy::Backpressure)
                .max_receivers(1)
                .build::<u64>()
                .unwrap();
            assert_eq!(tx.send(1), Ok(1));
            let consumer = thread::spawn(move || {
                let a = rx.recv();
                let b = rx.recv();
                (a, b)
            });
            assert_eq!(loom::future::block_on(tx.send_async(2)), Ok(1));
            drop(tx);
            let (a, b) = consumer.join().unwrap();
            assert_eq!((a, b), (Ok(1), Ok(2)));
        });
    }
}
