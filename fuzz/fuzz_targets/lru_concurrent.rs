//! `ConcurrentLru` against the sequential reference.
//!
//! - one shard, `strict(true)`, one thread: exactly the reference LRU;
//! - several shards, default mode, one thread: every value returned is the
//!   last one stored for its key, and the length stays within capacity;
//! - two threads on disjoint key halves with room for every key (so no
//!   eviction and a deterministic outcome): the final contents equal the
//!   union of the two threads' models.
#![no_main]

use arbitrary::Arbitrary;
use latchwork::lru::ConcurrentLru;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

#[path = "../../tests/common/lru_reference.rs"]
mod lru_reference;
use lru_reference::Reference;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Get(u8),
    Insert(u8, u32),
    Remove(u8),
    Clear,
}

#[derive(Arbitrary, Debug)]
enum Input {
    Strict {
        capacity: u8,
        ops: Vec<Op>,
    },
    Sharded {
        capacity: u8,
        shards: u8,
        ops: Vec<Op>,
    },
    TwoThreads {
        ops: [Vec<Op>; 2],
    },
}

fuzz_target!(|input: Input| match input {
    Input::Strict { capacity, ops } => {
        let Ok(cache) = ConcurrentLru::builder(capacity as usize)
            .shards(1)
            .strict(true)
            .build()
        else {
            assert_eq!(capacity, 0);
            return;
        };
        let mut reference = Reference::new(capacity as usize);
        for op in ops {
            match op {
                Op::Get(k) => assert_eq!(cache.get(&k), reference.get(k)),
                Op::Insert(k, v) => {
                    let evicted = reference.put(k, v).filter(|(old, _)| *old != k);
                    assert_eq!(cache.insert(k, v), evicted);
                }
                Op::Remove(k) => assert_eq!(cache.remove(&k), reference.remove(k)),
                Op::Clear => {
                    cache.clear();
                    reference.order.clear();
                }
            }
            assert_eq!(cache.len(), reference.order.len());
        }
        cache.check_invariants().unwrap();
    }
    Input::Sharded {
        capacity,
        shards,
        ops,
    } => {
        let Ok(cache) = ConcurrentLru::builder(capacity as usize)
            .shards(shards as usize)
            .build()
        else {
            assert!(capacity == 0 || shards == 0);
            return;
        };
        let mut last = HashMap::new();
        for op in ops {
            match op {
                Op::Get(k) => {
                    if let Some(v) = cache.get(&k) {
                        assert_eq!(Some(&v), last.get(&k));
                    }
                }
                Op::Insert(k, v) => {
                    if let Some((ek, ev)) = cache.insert(k, v) {
                        assert_ne!(ek, k);
                        assert_eq!(Some(&ev), last.get(&ek));
                    }
                    last.insert(k, v);
                }
                Op::Remove(k) => {
                    if let Some(v) = cache.remove(&k) {
                        assert_eq!(Some(&v), last.get(&k));
                    }
                }
                Op::Clear => cache.clear(),
            }
            assert!(cache.len() <= capacity as usize);
        }
        cache.check_invariants().unwrap();
    }
    Input::TwoThreads { ops } => {
        // 256 keys in all, so capacity 256 never evicts.
        let cache = ConcurrentLru::builder(256).shards(4).build().unwrap();
        let models: Vec<HashMap<u8, u32>> = std::thread::scope(|s| {
            let hs: Vec<_> = ops
                .iter()
                .enumerate()
                .map(|(t, ops)| {
                    let cache = &cache;
                    s.spawn(move || {
                        // Thread 0 owns even keys, thread 1 odd keys.
                        let own = |k: u8| (k & !1) | t as u8;
                        let mut model = HashMap::new();
                        for &op in ops {
                            match op {
                                Op::Get(k) => {
                                    assert_eq!(cache.get(&own(k)), model.get(&own(k)).copied())
                                }
                                Op::Insert(k, v) => {
                                    assert!(cache.insert(own(k), v).is_none());
                                    model.insert(own(k), v);
                                }
                                Op::Remove(k) => {
                                    assert_eq!(cache.remove(&own(k)), model.remove(&own(k)))
                                }
                                // A clear would cross into the other thread's keys.
                                Op::Clear => {}
                            }
                        }
                        model
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let expected: HashMap<u8, u32> = models.into_iter().flatten().collect();
        assert_eq!(cache.len(), expected.len());
        for (k, v) in expected {
            assert_eq!(cache.peek(&k), Some(v));
        }
        cache.check_invariants().unwrap();
    }
});
