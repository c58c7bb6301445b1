//! `LruCache` against the sequential reference: every return value, the
//! full recency order and the arena invariants after every operation.
#![no_main]

use arbitrary::Arbitrary;
use latchwork::lru::LruCache;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/lru_reference.rs"]
mod lru_reference;
use lru_reference::Reference;

#[derive(Arbitrary, Debug)]
enum Op {
    Get(u8),
    Peek(u8),
    Contains(u8),
    Put(u8, u32),
    Remove(u8),
    PopLru,
    PeekLru,
    Resize(u8),
    GetOrInsert(u8, u32),
    Clear,
}

#[derive(Arbitrary, Debug)]
struct Input {
    capacity: u8,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let cap = input.capacity as usize;
    let Ok(mut lru) = LruCache::new(cap) else {
        assert_eq!(cap, 0, "only zero capacity is refused");
        return;
    };
    let mut reference = Reference::new(cap);
    for op in input.ops {
        match op {
            Op::Get(k) => assert_eq!(lru.get(&k).copied(), reference.get(k)),
            Op::Peek(k) => assert_eq!(lru.peek(&k).copied(), reference.peek(k)),
            Op::Contains(k) => assert_eq!(lru.contains(&k), reference.peek(k).is_some()),
            Op::Put(k, v) => assert_eq!(lru.put(k, v), reference.put(k, v)),
            Op::Remove(k) => assert_eq!(lru.remove(&k), reference.remove(k)),
            Op::PopLru => assert_eq!(lru.pop_lru(), reference.order.pop_front()),
            Op::PeekLru => assert_eq!(
                lru.peek_lru().map(|(k, v)| (*k, *v)),
                reference.order.front().copied()
            ),
            Op::Resize(c) => match lru.resize(c as usize) {
                Ok(n) => assert_eq!(n, reference.resize(c as usize)),
                Err(_) => assert_eq!(c, 0),
            },
            Op::GetOrInsert(k, v) => {
                let want = match reference.get(k) {
                    Some(old) => old,
                    None => {
                        reference.put(k, v);
                        v
                    }
                };
                assert_eq!(*lru.get_or_insert_with(k, || v), want);
            }
            Op::Clear => {
                lru.clear();
                reference.order.clear();
            }
        }
        assert_eq!(lru.len(), reference.order.len());
        assert!(lru
            .iter()
            .map(|(k, v)| (*k, *v))
            .eq(reference.mru_first().into_iter()));
        lru.check_invariants().unwrap();
    }
});
