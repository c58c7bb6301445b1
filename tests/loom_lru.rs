#![cfg(loom)]
//! loom models of `ConcurrentLru` through its public API: a hit recorded in
//! the read buffer races an insert that drains the buffer and evicts, and a
//! reader's opportunistic drain races a writer. Every interleaving must keep
//! the shard invariants, the capacity, and the counters exact.

use latchwork::lru::ConcurrentLru;
use loom::sync::Arc;
use loom::thread;

#[test]
fn hit_races_insert_with_eviction() {
    loom::model(|| {
        let cache = Arc::new(
            ConcurrentLru::builder(2)
                .shards(1)
                .strict(true)
                .build()
                .unwrap(),
        );
        cache.insert(1u8, 10u8);
        cache.insert(2, 20);
        let reader = {
            let cache = cache.clone();
            thread::spawn(move || cache.get(&1))
        };
        // Evicts whichever of 1 and 2 is least recent at that moment.
        let evicted = cache.insert(3, 30);
        let got = reader.join().unwrap();
        // The reader saw 1 before its eviction, or missed after it.
        assert!(got == Some(10) || got.is_none());
        let (k, v) = evicted.expect("a full cache evicts");
        assert_eq!(v, k * 10);
        if got.is_none() {
            assert_eq!(k, 1, "the reader missed only because 1 was evicted");
        }
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.peek(&3), Some(30));
        cache.check_invariants().unwrap();
        let st = cache.stats();
        assert_eq!((st.hits + st.misses, st.inserts, st.evictions), (1, 3, 1));
    });
}

#[test]
fn two_readers_and_a_remove() {
    loom::model(|| {
        let cache = Arc::new(
            ConcurrentLru::builder(4)
                .shards(1)
                .strict(true)
                .build()
                .unwrap(),
        );
        for k in 0..3u8 {
            cache.insert(k, k);
        }
        let readers: Vec<_> = (0..2u8)
            .map(|t| {
                let cache = cache.clone();
                thread::spawn(move || cache.get(&t))
            })
            .collect();
        let removed = cache.remove(&0);
        let seen: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        assert_eq!(removed, Some(0));
        assert_eq!(seen[1], Some(1), "key 1 was never removed");
        assert!(seen[0] == Some(0) || seen[0].is_none());
        assert_eq!(cache.len(), 2);
        cache.check_invariants().unwrap();
    });
}
