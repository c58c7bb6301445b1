//! Memoization with a time to live: single-flight loads through the cache's
//! loader.
use crate::heading;
use latchwork::ttl::Memoized;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    heading("ttl: single-flight memoization");
    // Single-flight: 8 threads ask for the same missing key at once.
    let calls = Arc::new(AtomicUsize::new(0));
    let memo = {
        let calls = Arc::clone(&calls);
        Arc::new(
            Memoized::builder(move |user: &u32| {
                calls.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20)); // the "database"
                Ok::<_, String>(format!("profile of user {user}"))
            })
            .ttl(Duration::from_secs(60))
            .build()?,
        )
    };
    let start = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (memo, start) = (Arc::clone(&memo), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                memo.get(&42)
            })
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| "tour thread panicked")?
            .map_err(|e| e.to_string())?;
    }
    let ms = memo.stats();
    println!(
        "8 concurrent requests for one missing key: {} loader call(s), {} loads saved by single-flight",
        calls.load(Ordering::SeqCst),
        ms.misses - ms.loads
    );
    Ok(())
}
