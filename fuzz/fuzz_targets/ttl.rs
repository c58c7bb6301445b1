//! `TtlCache` (one shard, manual clock) against the sequential reference:
//! every `get`/`remove`/`contains` result, `len`, the `cleanup_expired`
//! counts and the expiry statistics.
#![no_main]

use arbitrary::Arbitrary;
use latchwork::clock::{Clock, ManualClock};
use latchwork::ttl::TtlCache;
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

#[path = "../../tests/common/ttl_reference.rs"]
mod ttl_reference;
use ttl_reference::{Reference, RES_MS};

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(u8, u32, u8),
    Get(u8),
    Remove(u8),
    Contains(u8),
    Advance(u8),
    Len,
    Cleanup,
    Clear,
}

#[derive(Arbitrary, Debug)]
struct Input {
    capacity: Option<u8>,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let clock = ManualClock::new();
    let cap = input.capacity.map(|c| c as usize);
    let mut b = TtlCache::builder()
        .resolution(Duration::from_millis(RES_MS))
        .shards(1)
        .clock(clock.clone());
    if let Some(c) = cap {
        b = b.capacity(c);
    }
    let Ok(cache) = b.build() else {
        assert_eq!(cap, Some(0), "only a zero capacity is refused");
        return;
    };
    let mut r = Reference::new(cap);
    for op in input.ops {
        let now = clock.now().as_millis() as u64;
        match op {
            Op::Insert(k, v, ttl) => {
                let res = cache.insert_with_ttl(k, v, Duration::from_millis(ttl as u64));
                if ttl == 0 {
                    assert!(res.is_err());
                } else {
                    r.insert(k, v, now + ttl as u64, now);
                }
            }
            Op::Get(k) => assert_eq!(cache.get(&k), r.get(k, now)),
            Op::Remove(k) => assert_eq!(cache.remove(&k), r.remove(k, now)),
            Op::Contains(k) => {
                assert_eq!(
                    cache.contains(&k),
                    r.pos(k).is_some_and(|i| r.entries[i].2 > now)
                )
            }
            Op::Advance(ms) => clock.advance(Duration::from_millis(ms as u64)),
            Op::Len => {
                let live = r.entries.iter().filter(|e| e.2 > now).count();
                assert_eq!(cache.len(), live);
                r.expire_exact(now);
            }
            Op::Cleanup => assert_eq!(cache.cleanup_expired(), r.expire_exact(now)),
            Op::Clear => {
                cache.clear();
                r.entries.clear();
            }
        }
        cache.check_invariants().unwrap();
    }
    let now = clock.now().as_millis() as u64;
    r.expire_exact(now);
    assert_eq!(cache.len(), r.entries.len());
    assert_eq!(cache.stats().expirations, r.expirations);
});
