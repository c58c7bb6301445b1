//! The admission policy against a plain sequential reference: the same
//! W-TinyLFU rules on `VecDeque`s (window, probation, protected), with the
//! real [`Sketch`] (checked against its own reference in `sketch.rs`),
//! compared with a one-shard `Cache` decision by decision: every return
//! value and every removal with its cause, in order.
//!
//! The reference runs the real window shadows (`shadow.rs`, tested on
//! their own there) on the same requests, and moves entries between the
//! window and the main region as the segment does when their choice of
//! share changes.
//!
//! The reference also models the read buffer as the engine has it from one
//! thread: a hit is recorded (or skipped) on the state at the time of the
//! read, and recorded hits are replayed at the next write or once 32 are
//! pending.
use super::builder::sketch_per_entry;
use super::policy::sketch_for;
use super::shadow::{self, Shadows};
use super::sketch::Sketch;
use super::{Cache, Policy, RemovalCause};
use proptest::prelude::*;
use std::collections::hash_map::DefaultHasher;
use std::collections::VecDeque;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::sync::{Arc, Mutex};

type Hasher = BuildHasherDefault<DefaultHasher>;
type Events = Arc<Mutex<Vec<(u8, u32, RemovalCause)>>>;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Region {
    Window,
    Probation,
    Protected,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    key: u8,
    value: u32,
    stamp: u32,
    window_hit: bool,
}

struct Reference {
    cap: usize,
    window_cap: usize,
    main_cap: usize,
    protected_cap: usize,
    skip: u32,
    tick: u32,
    lists: [VecDeque<Entry>; 3],
    sketch: Sketch,
    pending: Vec<u8>,
    hasher: Hasher,
    events: Vec<(u8, u32, RemovalCause)>,
    shadows: Shadows,
    /// The share word the shadows published, and the one the lists follow.
    published: u64,
    word: u64,
}

fn list(r: Region) -> usize {
    match r {
        Region::Window => 0,
        Region::Probation => 1,
        Region::Protected => 2,
    }
}

impl Reference {
    fn new(cap: usize) -> Self {
        let word = shadow::to_word(shadow::VARIANTS[0]);
        let window_cap = shadow::window_of(cap as u64, word) as usize;
        let main_cap = cap - window_cap;
        let protected_cap = main_cap - main_cap / 5;
        Reference {
            shadows: Shadows::new(cap as u64),
            published: word,
            word,
            cap,
            window_cap,
            main_cap,
            protected_cap,
            skip: protected_cap.min(cap) as u32,
            tick: 0,
            lists: Default::default(),
            sketch: sketch_for(cap.min(1024), sketch_per_entry(cap as u64)),
            pending: vec![],
            hasher: Hasher::default(),
            events: vec![],
        }
    }

    fn h(&self, k: u8) -> u32 {
        self.hasher.hash_one(k) as u32
    }

    fn find(&self, k: u8) -> Option<(Region, usize)> {
        [Region::Window, Region::Probation, Region::Protected]
            .into_iter()
            .find_map(|r| {
                self.lists[list(r)]
                    .iter()
                    .position(|e| e.key == k)
                    .map(|i| (r, i))
            })
    }

    fn take(&mut self, r: Region, i: usize) -> Entry {
        self.lists[list(r)].remove(i).unwrap()
    }

    fn len(&self) -> usize {
        self.lists.iter().map(VecDeque::len).sum()
    }

    /// The engine's shadow replay of a `get` (after its lookup).
    fn shadow(&mut self, k: u8) {
        let hash = self.hasher.hash_one(k);
        if shadow::sampled(hash, self.shadows.threshold()) {
            self.shadows.record(hash);
            if let Some(v) = self.shadows.take_choice() {
                self.published = shadow::to_word(v);
            }
        }
    }

    fn get(&mut self, k: u8) -> Option<u32> {
        let Some((r, i)) = self.find(k) else {
            self.shadow(k);
            return None;
        };
        self.shadow(k);
        let e = self.lists[list(r)][i];
        if r != Region::Protected || self.tick.wrapping_sub(e.stamp) >= self.skip {
            self.pending.push(k);
            if self.pending.len() >= 32 {
                self.drain();
            }
        }
        Some(e.value)
    }

    fn peek(&self, k: u8) -> Option<u32> {
        self.find(k).map(|(r, i)| self.lists[list(r)][i].value)
    }

    fn drain(&mut self) {
        for k in std::mem::take(&mut self.pending) {
            self.on_hit(k);
        }
    }

    fn on_hit(&mut self, k: u8) {
        let Some((r, i)) = self.find(k) else { return };
        let h = self.h(k);
        self.sketch.increment(h);
        let mut e = self.take(r, i);
        match r {
            Region::Window => {
                e.window_hit = true;
                self.lists[0].push_back(e);
            }
            Region::Protected => {
                e.stamp = self.tick;
                self.lists[2].push_back(e);
            }
            Region::Probation => {
                self.tick = self.tick.wrapping_add(1);
                e.stamp = self.tick;
                self.lists[2].push_back(e);
                while self.lists[2].len() > self.protected_cap {
                    if self.lists[2].len() == 1 {
                        break;
                    }
                    let d = self.lists[2].pop_front().unwrap();
                    self.lists[1].push_back(d);
                }
            }
        }
    }

    fn insert(&mut self, k: u8, v: u32) {
        self.drain();
        if let Some((r, i)) = self.find(k) {
            let old = std::mem::replace(&mut self.lists[list(r)][i].value, v);
            self.events.push((k, old, RemovalCause::Replaced));
            self.on_hit(k);
        } else {
            let h = self.h(k);
            self.sketch.increment(h);
            self.lists[0].push_back(Entry {
                key: k,
                value: v,
                stamp: self.tick,
                window_hit: false,
            });
            self.tick = self.tick.wrapping_add(1);
        }
        self.evict(k);
    }

    /// The segment's `set_window`, on the lists.
    fn set_window(&mut self) {
        if self.published == self.word {
            return;
        }
        self.word = self.published;
        self.window_cap = shadow::window_of(self.cap as u64, self.word) as usize;
        self.main_cap = self.cap - self.window_cap;
        self.protected_cap = self.main_cap - self.main_cap / 5;
        self.skip = self.protected_cap.min(self.cap) as u32;
        while self.lists[0].len() > self.window_cap {
            let e = self.lists[0].pop_front().unwrap();
            self.lists[1].push_back(e);
        }
        while self.len() - self.lists[0].len() > self.main_cap {
            let Some(e) = self.lists[1]
                .pop_front()
                .or_else(|| self.lists[2].pop_front())
            else {
                break;
            };
            self.lists[0].push_front(e);
        }
        while self.lists[2].len() > self.protected_cap {
            let e = self.lists[2].pop_front().unwrap();
            self.lists[1].push_back(e);
        }
    }

    fn remove_key(&mut self, k: u8, cause: RemovalCause) {
        let (r, i) = self.find(k).unwrap();
        let e = self.take(r, i);
        self.events.push((e.key, e.value, cause));
    }

    fn evict(&mut self, keep: u8) {
        self.set_window();
        while self.lists[0].len() > self.window_cap {
            let c = self.lists[0].pop_front().unwrap();
            self.lists[1].push_back(c);
            while self.len() - self.lists[0].len() > self.main_cap {
                let victim = self.lists[1]
                    .front()
                    .filter(|v| v.key != c.key)
                    .or(self.lists[2].front())
                    .filter(|v| v.key != c.key)
                    .map(|v| v.key);
                let Some(v) = victim else { break };
                let (fc, fv) = (
                    self.sketch.frequency(self.h(c.key)),
                    self.sketch.frequency(self.h(v)),
                );
                if shadow::admits(fc, fv, c.window_hit, shadow::margin_of(self.word)) {
                    self.remove_key(v, RemovalCause::Size);
                } else {
                    self.remove_key(c.key, RemovalCause::Size);
                    break;
                }
            }
        }
        while self.len() > self.cap {
            let victim = [1, 2, 0]
                .into_iter()
                .filter_map(|l| self.lists[l].front().map(|e| e.key))
                .find(|&v| v != keep)
                .or((self.len() > 1).then_some(keep));
            let Some(v) = victim else { break };
            self.remove_key(v, RemovalCause::Size);
        }
    }

    fn remove(&mut self, k: u8) -> Option<u32> {
        self.drain();
        let v = self.peek(k)?;
        self.remove_key(k, RemovalCause::Explicit);
        Some(v)
    }

    fn invalidate_all(&mut self) {
        self.drain();
        for l in 0..3 {
            for e in std::mem::take(&mut self.lists[l]) {
                self.events.push((e.key, e.value, RemovalCause::Explicit));
            }
        }
        self.sketch.clear();
    }
}

#[derive(Clone, Debug)]
enum Op {
    Get(u8),
    Peek(u8),
    Contains(u8),
    Insert(u8, u32),
    Remove(u8),
    InvalidateAll,
}

fn op(keys: u8) -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..keys).prop_map(Op::Get),
        1 => (0..keys).prop_map(Op::Peek),
        1 => (0..keys).prop_map(Op::Contains),
        8 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        1 => (0..keys).prop_map(Op::Remove),
        1 => Just(Op::InvalidateAll),
    ]
}

fn cache(cap: usize, events: &Events) -> Cache<u8, u32, Hasher> {
    let events = events.clone();
    Cache::builder()
        .max_capacity(cap as u64)
        .policy(Policy::TinyLfu)
        .shards(1)
        .hasher(Hasher::default())
        .eviction_listener(move |k: &u8, v: &u32, c| events.lock().unwrap().push((*k, *v, c)))
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Decision by decision against the reference.
    #[test]
    fn tinylfu_one_shard_matches_reference(
        (cap, ops) in (1usize..40, 2u8..120).prop_flat_map(|(cap, keys)| {
            (Just(cap), prop::collection::vec(op(keys), 1..600))
        }),
    ) {
        let events: Events = Arc::default();
        let c = cache(cap, &events);
        let mut r = Reference::new(cap);
        for (n, o) in ops.into_iter().enumerate() {
            match o.clone() {
                Op::Get(k) => prop_assert_eq!(c.get(&k), r.get(k), "op {} get {}", n, k),
                Op::Peek(k) => prop_assert_eq!(c.peek(&k), r.peek(k)),
                Op::Contains(k) => prop_assert_eq!(c.contains(&k), r.peek(k).is_some()),
                Op::Insert(k, v) => {
                    c.insert(k, v);
                    r.insert(k, v);
                }
                Op::Remove(k) => prop_assert_eq!(c.remove(&k), r.remove(k)),
                Op::InvalidateAll => {
                    c.invalidate_all();
                    r.invalidate_all();
                }
            }
            let mut got = std::mem::take(&mut *events.lock().unwrap());
            let mut want = std::mem::take(&mut r.events);
            if matches!(o, Op::InvalidateAll) {
                // invalidate_all reports in slot order, not list order.
                got.sort_by_key(|e| e.0);
                want.sort_by_key(|e| e.0);
            }
            prop_assert_eq!(got, want, "removals after op {}", n);
            prop_assert_eq!(c.len(), r.len());
            if let Err(e) = c.check_invariants() {
                return Err(TestCaseError::fail(e));
            }
        }
    }
}

/// A skewed stream through a small cache: the model and the cache agree
/// over many thousands of decisions, halvings of the sketch included.
#[test]
fn tinylfu_long_skewed_run_matches_reference() {
    let cap = 24;
    let events: Events = Arc::default();
    let c = cache(cap, &events);
    let mut r = Reference::new(cap);
    let mut x = 0x9E37_79B9u32;
    for n in 0..60_000u32 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        // Skewed keys: small ones far more often.
        let k = ((x % 97) * (x % 97) / 97) as u8;
        if c.get(&k).is_none() {
            assert_eq!(r.get(k), None, "op {n}");
            c.insert(k, n);
            r.insert(k, n);
        } else {
            assert!(r.get(k).is_some(), "op {n}");
        }
        let got = std::mem::take(&mut *events.lock().unwrap());
        assert_eq!(got, std::mem::take(&mut r.events), "op {n}");
    }
    c.check_invariants().unwrap();
}
