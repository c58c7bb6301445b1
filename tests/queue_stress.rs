#![cfg(all(not(loom), feature = "queue"))]
//! Stress tests of `PriorityQueue` with many threads: every item popped
//! exactly once, FIFO per (producer, level), and parked poppers always woken.
use latchwork::queue::{Level, PriorityQueue};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

const PRODUCERS: usize = 3;
const CONSUMERS: usize = 3;
const PER_PRODUCER: usize = 20_000;

/// Item = producer << 32 | index; level = index % 4.
fn item(p: usize, i: usize) -> u64 {
    ((p as u64) << 32) | i as u64
}

#[test]
fn mpmc_exactly_once_and_fifo_per_producer_and_level() {
    mpmc(PriorityQueue::new());
}

/// The same with rings of 4 slots, so that levels keep spilling into their
/// overflow and draining back to the ring while producers and consumers
/// race.
#[test]
fn mpmc_exactly_once_and_fifo_through_the_overflow() {
    mpmc(PriorityQueue::with_ring_capacity(4).unwrap());
}

fn mpmc(q: PriorityQueue<u64>) {
    let q = Arc::new(q);
    let popped = Arc::new(AtomicUsize::new(0));
    let total = PRODUCERS * PER_PRODUCER;
    let barrier = Arc::new(Barrier::new(PRODUCERS + CONSUMERS));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (q, barrier) = (q.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..PER_PRODUCER {
                    q.push(Level::new((i % 4) as u8).unwrap(), item(p, i))
                        .unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let (q, barrier, popped) = (q.clone(), barrier.clone(), popped.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut got = Vec::new();
                while popped.load(Ordering::Relaxed) < total {
                    // Mix the non-blocking and the blocking forms.
                    let next = if got.len() % 2 == 0 {
                        q.try_pop()
                    } else {
                        q.pop_timeout(Duration::from_millis(1))
                    };
                    if let Some((level, v)) = next {
                        popped.fetch_add(1, Ordering::Relaxed);
                        got.push((level.get(), v));
                    }
                }
                got
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut seen = vec![vec![false; PER_PRODUCER]; PRODUCERS];
    for c in consumers {
        let got = c.join().unwrap();
        // One consumer's pops of one (producer, level) come out in push order.
        let mut last = [[None::<usize>; 4]; PRODUCERS];
        for (level, v) in got {
            let (p, i) = ((v >> 32) as usize, (v & 0xffff_ffff) as usize);
            assert_eq!(level as usize, i % 4, "item came out at another level");
            assert!(!seen[p][i], "item {p}/{i} popped twice");
            seen[p][i] = true;
            let slot = &mut last[p][i % 4];
            assert!(slot.is_none_or(|prev| prev < i), "FIFO broken for {p}/{i}");
            *slot = Some(i);
        }
    }
    assert!(seen.iter().flatten().all(|&s| s), "an item was lost");
    assert!(q.is_empty());
    q.check_invariants().unwrap();
}

#[test]
fn parked_poppers_are_woken_by_every_push() {
    // Consumers block in `pop()`; producers push slowly enough that the
    // consumers park between items. Any lost wake-up hangs the test.
    let q = Arc::new(PriorityQueue::new());
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let q = q.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                loop {
                    let (_, v) = q.pop().expect("never closed");
                    if v == u64::MAX {
                        return n;
                    }
                    n += 1;
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..2_000u64 {
                    q.push(Level::new((i % 3) as u8).unwrap(), i).unwrap();
                    if i % 64 == p {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    // Stop markers at the least urgent level, after everything else.
    for _ in 0..2 {
        q.push(Level::LEAST_URGENT, u64::MAX).unwrap();
    }
    let total: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(total, 4_000);
}

#[test]
fn pop_timeout_returns_none_when_empty_and_an_item_when_pushed() {
    let q = Arc::new(PriorityQueue::<u8>::new());
    assert_eq!(q.pop_timeout(Duration::ZERO), None);
    assert_eq!(q.pop_timeout(Duration::from_millis(2)), None);
    let pusher = {
        let q = q.clone();
        std::thread::spawn(move || q.push(Level::new(7).unwrap(), 42))
    };
    // Returns as soon as the push lands, long before the timeout.
    assert_eq!(
        q.pop_timeout(Duration::from_secs(60))
            .map(|(l, v)| (l.get(), v)),
        Some((7, 42))
    );
    pusher.join().unwrap().unwrap();
    assert!(q.is_empty());
}
