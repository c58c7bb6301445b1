//! Loom models of the keyed limiter: sweeps and re-quotas racing checks.
use super::*;
use crate::clock::ManualClock;
use crate::sync::{thread, Arc};

/// A sweep that removes a just-refilled bucket races three checks on
/// that key: whichever order, the key is admitted at most
/// `burst + elapsed / interval` in total, so removal lost no accounting.
#[test]
fn sweep_vs_check_loses_no_accounting() {
    loom::model(|| {
        let clock = ManualClock::new();
        let limiter: Arc<KeyedLimiter<u64, _, _>> = Arc::new(
            KeyedLimiter::builder()
                .rate(1e8) // 10 ns per token
                .burst(2)
                .shards(1)
                .clock(clock.clone())
                .build()
                .unwrap(),
        );
        // Empty the bucket at t = 0: TAT = 20.
        assert!(limiter.try_acquire(&7, 2).is_ok());
        let l = Arc::clone(&limiter);
        let checker = thread::spawn(move || (0..3).filter(|_| l.check(&7).is_ok()).count());
        clock.advance(Duration::from_nanos(20)); // full again at t = 20
        limiter.sweep();
        let admitted = checker.join().unwrap();
        // Bound at t = 20: 2 (burst) + 20 / 10 = 4, of which 2 spent at 0.
        assert!(admitted <= 2, "admitted {admitted}");
    });
}

/// Two threads insert the same new key concurrently: one entry results
/// and both admissions are charged to it.
#[test]
fn concurrent_first_insert_charges_one_bucket() {
    loom::model(|| {
        let limiter: Arc<KeyedLimiter<u64, _, _>> = Arc::new(
            KeyedLimiter::builder()
                .rate(1.0)
                .burst(1)
                .shards(1)
                .clock(ManualClock::new())
                .build()
                .unwrap(),
        );
        let l = Arc::clone(&limiter);
        let h = thread::spawn(move || usize::from(l.check(&1).is_ok()));
        let mine = usize::from(limiter.check(&1).is_ok());
        assert_eq!(mine + h.join().unwrap(), 1);
        assert_eq!(limiter.len(), 1);
    });
}

/// A re-quota (through `&self`) races two checks on one key, as in the
/// bucket's model: every interleaving ends as a sequential order does.
#[test]
fn requota_vs_checks_is_linearizable() {
    loom::model(|| {
        let clock = ManualClock::new();
        clock.set(Duration::from_secs(10));
        let limiter: Arc<KeyedLimiter<u64, _, _>> = Arc::new(
            KeyedLimiter::builder()
                .rate(1.0)
                .limit(2)
                .shards(1)
                .clock(clock)
                .build()
                .unwrap(),
        );
        let l = Arc::clone(&limiter);
        let h = thread::spawn(move || l.set_quota(2.0, 2).unwrap());
        let admitted = (0..2).filter(|_| limiter.check(&1).is_ok()).count();
        h.join().unwrap();
        assert_eq!(admitted, 2);
        assert_eq!(limiter.wait_time(&1, 1), Ok(Duration::from_millis(500)));
    });
}
