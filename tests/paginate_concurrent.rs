#![cfg(all(not(loom), feature = "paginate"))]
//! Keyset walks over a `SkipMap` while writer threads insert and delete:
//! every entry present for the whole walk comes back exactly once, in key
//! order, and nothing comes back twice.

use crossbeam_channel::TryRecvError;
use crossbeam_skiplist::SkipMap;
use latchwork::paginate::{KeysetPager, Query};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const STABLE: u64 = 20_000; // even keys 0, 2, .., never touched by writers
const WALKS: usize = 12;

#[test]
fn concurrent_walks_are_stable() {
    let index: SkipMap<u64, u64> = SkipMap::new();
    for k in 0..STABLE {
        index.insert(2 * k, k);
    }
    // Volatile odd keys, some present at the start.
    for k in (1..2 * STABLE).step_by(4) {
        index.insert(k, k);
    }
    let pager = KeysetPager::builder().signing_key(b"walk").build().unwrap();
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let (index, stop_rx) = (&index, stop_rx.clone());
            s.spawn(move || {
                let mut rng = SmallRng::seed_from_u64(w);
                let mut ops = 0u64;
                while let Err(TryRecvError::Empty) = stop_rx.try_recv() {
                    let k = 2 * rng.gen_range(0..STABLE) + 1;
                    if rng.gen_bool(0.5) {
                        index.insert(k, k);
                    } else {
                        index.remove(&k);
                    }
                    ops += 1;
                }
                assert!(ops > 0);
            });
        }
        for (walk, descending) in (0..WALKS).map(|w| (w, w % 2 == 1)) {
            let query = if descending {
                Query::descending()
            } else {
                Query::ascending()
            };
            let limit = 7 + walk * 13;
            let mut cursor: Option<String> = None;
            let mut keys = Vec::new();
            loop {
                let page = pager
                    .page(&index, &query, cursor.as_deref(), limit)
                    .unwrap();
                keys.extend(page.items.iter().map(|(k, _)| *k));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            // Strictly monotonic: in order and never a duplicate.
            let ordered = keys
                .windows(2)
                .all(|w| if descending { w[0] > w[1] } else { w[0] < w[1] });
            assert!(ordered, "walk {walk}: keys out of order or repeated");
            let stable: Vec<u64> = keys.iter().copied().filter(|k| k % 2 == 0).collect();
            let mut expected: Vec<u64> = (0..STABLE).map(|k| 2 * k).collect();
            if descending {
                expected.reverse();
            }
            assert_eq!(stable, expected, "walk {walk}: a stable entry was missed");
        }
        drop(stop_tx);
    });
}
