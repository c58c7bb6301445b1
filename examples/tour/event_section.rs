//! Event channels: order events fanned out to log, email and inventory
//! listeners in priority order (with a once-listener and a failing one),
//! then a broadcast ring feeding several consumers.
use crate::{heading, timed};
use latchwork::event::broadcast::{Builder, Policy};
use latchwork::event::Emitter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// An order event as a service would emit it.
#[derive(Clone, Debug)]
struct Order {
    id: u64,
    sku: &'static str,
    qty: u32,
}

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    heading("event: order events (priority listeners, once, failures) and a broadcast ring");
    let events = Emitter::<Order>::new();
    let trail = Arc::new(Mutex::new(Vec::<String>::new()));
    let stock = Arc::new(AtomicU64::new(100));

    // Log first (priority 0), then inventory (10), then email (20): the
    // emitter runs them in that order whatever the subscription order.
    let t = trail.clone();
    let _email = events.on_with_priority("order.created", 20, move |o: &Order| {
        t.lock()
            .map_err(|e| e.to_string())?
            .push(format!("email: confirm order {}", o.id));
        Ok::<(), String>(())
    })?;
    let (t, s) = (trail.clone(), stock.clone());
    let _inventory = events.on_with_priority("order.created", 10, move |o: &Order| {
        let before = s.fetch_sub(o.qty as u64, Ordering::Relaxed);
        t.lock().map_err(|e| e.to_string())?.push(format!(
            "inventory: {} x{} ({} -> {} left)",
            o.sku,
            o.qty,
            before,
            before - o.qty as u64
        ));
        Ok::<(), String>(())
    })?;
    let t = trail.clone();
    let _log = events.on_with_priority("order.*", 0, move |o: &Order| {
        t.lock()
            .map_err(|e| e.to_string())?
            .push(format!("log: order.* saw order {}", o.id));
        Ok::<(), String>(())
    })?;
    // A once-listener: the first order of the day gets a welcome coupon.
    let t = trail.clone();
    let _first = events.once_with_priority("order.created", 30, move |o: &Order| {
        if let Ok(mut t) = t.lock() {
            t.push(format!("coupon: first order of the day is {}", o.id));
        }
    })?;
    // A listener that fails: the warehouse webhook is down.
    let webhook =
        events.on_with_priority("order.created", 15, |o: &Order| -> Result<(), String> {
            Err(format!("warehouse webhook timed out for order {}", o.id))
        })?;

    for (id, sku, qty) in [(1001, "mug", 2), (1002, "tea", 5)] {
        let report = events.emit("order.created", &Order { id, sku, qty });
        for line in trail.lock().map_err(|e| e.to_string())?.drain(..) {
            println!("  {line}");
        }
        println!(
            "  order {id}: {} listeners ran, {} failed",
            report.ran(),
            report.failures().len()
        );
        for f in report.failures() {
            let who = if f.id == webhook.id() { "webhook" } else { "?" };
            println!("    failure ({who}): {f}");
        }
    }
    webhook.off();
    println!(
        "  webhook unsubscribed: order.created now has {} listeners",
        events.listener_count("order.created")
    );

    // Broadcast: one producer, four consumers, every consumer sees every
    // price tick in the same order (Backpressure: nobody misses one).
    let ticks = 200_000u64;
    let (tx, rx) = Builder::new(1024)
        .policy(Policy::Backpressure)
        .build::<u64>()?;
    let mut rxs = vec![rx];
    for _ in 1..4 {
        rxs.push(tx.subscribe());
    }
    let (sums, secs) = timed(|| {
        let consumers: Vec<_> = rxs
            .into_iter()
            .map(|mut rx| {
                thread::spawn(move || {
                    let (mut n, mut sum) = (0u64, 0u64);
                    while let Ok(v) = rx.recv() {
                        n += 1;
                        sum = sum.wrapping_add(v);
                    }
                    (n, sum)
                })
            })
            .collect();
        for i in 0..ticks {
            tx.send(i)
                .expect("the consumers run until the channel closes");
        }
        drop(tx);
        consumers
            .into_iter()
            .map(|c| c.join().unwrap_or((0, 0)))
            .collect::<Vec<_>>()
    });
    let expected = ticks * (ticks - 1) / 2;
    let all = sums.iter().all(|&(n, s)| n == ticks && s == expected);
    assert!(all, "Backpressure: every consumer gets every tick");

    // The anchor (benches/event.rs): tokio's broadcast, same capacity, same
    // ticks, receivers on `blocking_recv`. It overwrites, so a receiver
    // counts what it took plus what it was told it missed.
    let (ttx, trx) = tokio::sync::broadcast::channel::<u64>(1024);
    let mut trxs = vec![trx];
    for _ in 1..4 {
        trxs.push(ttx.subscribe());
    }
    let (tokio_counts, tokio_secs) = timed(|| {
        use tokio::sync::broadcast::error::RecvError;
        let consumers: Vec<_> = trxs
            .into_iter()
            .map(|mut rx| {
                thread::spawn(move || {
                    let (mut got, mut lost) = (0u64, 0u64);
                    loop {
                        match rx.blocking_recv() {
                            Ok(v) => {
                                std::hint::black_box(v);
                                got += 1;
                            }
                            Err(RecvError::Lagged(k)) => lost += k,
                            Err(RecvError::Closed) => return (got, lost),
                        }
                    }
                })
            })
            .collect();
        for i in 0..ticks {
            let _ = ttx.send(i);
        }
        drop(ttx);
        consumers
            .into_iter()
            .map(|c| c.join().unwrap_or((0, 0)))
            .collect::<Vec<_>>()
    });
    assert!(
        tokio_counts.iter().all(|&(got, lost)| got + lost == ticks),
        "tokio: every tick taken or reported lost"
    );
    let tokio_lost: u64 = tokio_counts.iter().map(|&(_, lost)| lost).sum();
    println!(
        "  broadcast 1x4 (Backpressure, 1024 slots): {:.1} M msgs/s = {:.2}x tokio broadcast measured now \
         ({ticks} ticks to 4 consumers; ours delivered all of them, tokio's receivers lost {:.1}% to lag)",
        ticks as f64 / secs / 1e6,
        tokio_secs / secs,
        100.0 * tokio_lost as f64 / (4 * ticks) as f64
    );
    Ok(())
}
