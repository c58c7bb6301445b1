//! The traces of the `hit-ratio suite` (`WORKLOADS.md`), generated in one
//! place so that the example, a bench (`#[path = "../examples/hit_ratio/traces.rs"]`)
//! and the libCacheSim referee (which reads them from files) replay the very
//! same key streams.
//!
//! Every trace is a pure function of its [`Kind`], the capacity (only the
//! loop depends on it) and the request budget: fixed seeds, `SmallRng`,
//! `rand_distr::Zipf`. Keys are `u64`; the Zipf universe is `0..KEYS`, rank
//! `r` (1-based) maps to key `r - 1`, so key 0 is the hottest.
//!
//! | trace | definition (default budget `REQUESTS` = 1,000,000) |
//! |---|---|
//! | `zipf-0.7`, `zipf-0.99`, `zipf-1.2` | `REQUESTS` draws of Zipf(s) over 100,000 keys, seed `0x5EED` (`zipf-0.99` is the `zipf-cache` workload's thread-0 stream, first 1M keys) |
//! | `loop` | keys `0..1.5 * capacity` requested in order, cyclically, `REQUESTS` requests; one trace per capacity |
//! | `zipf-scan` | 10 phases of `REQUESTS / 10` Zipf(0.99) draws; after each of the first 9, a one-pass scan of `REQUESTS / 50` (20,000) keys never seen before (ids from 100,000 up, each scan its own), so 1,180,000 requests; a scan is twice the largest capacity and flushes an LRU |
//! | `one-hit` | 95,000 one-hit wonders (keys 5,000..100,000, each requested exactly once, ascending) shuffled 50/50 with 95,000 draws of Zipf(0.99) over a hot set of 5,000 keys (5% of the key space, keys 0..5,000): 190,000 requests, all within the 100,000 keys; truncated to the budget when it is smaller |
#![allow(dead_code)]

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_distr::{Distribution, Zipf};

/// Size of the key space.
pub const KEYS: u64 = 100_000;
/// Capacities of the suite: 0.1%, 1% and 10% of the key space.
pub const CAPACITIES: [usize; 3] = [100, 1_000, 10_000];
/// Default request budget of a trace (see the table in the module doc).
pub const REQUESTS: usize = 1_000_000;
/// Hot set of the `one-hit` trace (5% of the key space).
pub const ONE_HIT_HOT: u64 = 5_000;

/// What a trace is made of.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Zipf(s) over `KEYS` keys.
    Zipf(f64),
    /// A cyclic scan of 1.5x the capacity.
    Loop,
    /// Zipf(0.99) interrupted by one-pass scans of never-seen keys.
    ZipfScan,
    /// One-hit wonders mixed 50/50 with a Zipf(0.99) hot set.
    OneHit,
}

/// A named trace of the suite.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Name used in tables, file names and plots.
    pub name: &'static str,
    /// How it is generated.
    pub kind: Kind,
}

impl Spec {
    /// Whether the trace differs per capacity (then it is generated, and
    /// written, once per capacity).
    pub fn per_capacity(&self) -> bool {
        self.kind == Kind::Loop
    }

    /// File name of the trace, one key a line (`loop-1000.txt` for the loop).
    pub fn file_name(&self, capacity: usize) -> String {
        if self.per_capacity() {
            format!("{}-{capacity}.txt", self.name)
        } else {
            format!("{}.txt", self.name)
        }
    }

    /// The key stream for `capacity` within a budget of `requests`.
    pub fn generate(&self, capacity: usize, requests: usize) -> Vec<u64> {
        match self.kind {
            Kind::Zipf(s) => zipf(KEYS, s, requests, 0x5EED),
            Kind::Loop => looping(capacity, requests),
            Kind::ZipfScan => zipf_scan(requests),
            Kind::OneHit => one_hit(requests),
        }
    }
}

/// The suite, in table order.
pub const SUITE: [Spec; 6] = [
    Spec {
        name: "zipf-0.7",
        kind: Kind::Zipf(0.7),
    },
    Spec {
        name: "zipf-0.99",
        kind: Kind::Zipf(0.99),
    },
    Spec {
        name: "zipf-1.2",
        kind: Kind::Zipf(1.2),
    },
    Spec {
        name: "loop",
        kind: Kind::Loop,
    },
    Spec {
        name: "zipf-scan",
        kind: Kind::ZipfScan,
    },
    Spec {
        name: "one-hit",
        kind: Kind::OneHit,
    },
];

/// `len` draws of Zipf(s) over `0..n`, seeded (the same generator as the
/// benches' `zipf_stream`).
pub fn zipf(n: u64, s: f64, len: usize, seed: u64) -> Vec<u64> {
    let zipf = Zipf::new(n, s).expect("valid zipf parameters");
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..len).map(|_| zipf.sample(&mut rng) as u64 - 1).collect()
}

/// Keys `0..1.5 * capacity` in order, over and over, `len` requests.
fn looping(capacity: usize, len: usize) -> Vec<u64> {
    let span = (capacity as u64 * 3).div_ceil(2).max(1);
    (0..len as u64).map(|i| i % span).collect()
}

/// 10 Zipf(0.99) phases of `len / 10` with a scan of `len / 50` fresh keys
/// between consecutive phases.
fn zipf_scan(len: usize) -> Vec<u64> {
    const PHASES: usize = 10;
    let phase = len / PHASES;
    let scan = len / 50;
    let hot = zipf(KEYS, 0.99, phase * PHASES, 0x5CA7);
    let mut out = Vec::with_capacity(phase * PHASES + scan * (PHASES - 1));
    let mut fresh = KEYS;
    for (i, chunk) in hot.chunks(phase.max(1)).enumerate() {
        if i > 0 {
            out.extend(fresh..fresh + scan as u64);
            fresh += scan as u64;
        }
        out.extend_from_slice(chunk);
    }
    out
}

/// One-hit wonders (each of keys `ONE_HIT_HOT..KEYS` once) shuffled 50/50
/// with Zipf(0.99) draws over the hot set `0..ONE_HIT_HOT`.
fn one_hit(len: usize) -> Vec<u64> {
    let singles = (KEYS - ONE_HIT_HOT) as usize;
    let mut rng = SmallRng::seed_from_u64(0x0E11);
    // true: a hot request, false: the next one-hit wonder.
    let mut slots: Vec<bool> = (0..2 * singles).map(|i| i < singles).collect();
    slots.shuffle(&mut rng);
    let hot = zipf(ONE_HIT_HOT, 0.99, singles, 0x0E12);
    let (mut h, mut s) = (hot.into_iter(), ONE_HIT_HOT..KEYS);
    let mut out: Vec<u64> = slots
        .into_iter()
        .map(|is_hot| if is_hot { h.next() } else { s.next() }.expect("counted"))
        .collect();
    out.truncate(len);
    out
}
