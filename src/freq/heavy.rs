use super::Error;
use crate::DefaultHashBuilder;
use hashbrown::HashMap;
use std::collections::BTreeSet;
use std::fmt;
use std::hash::{BuildHasher, Hash};

/// One reported item: its true count lies in `[count - error, count]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate<T> {
    /// The item.
    pub item: T,
    /// An upper bound on the item's true count.
    pub count: u64,
    /// How far below `count` the true count may be.
    pub error: u64,
}

impl<T> Estimate<T> {
    /// A lower bound on the item's true count.
    pub fn lower_bound(&self) -> u64 {
        self.count - self.error
    }
}

/// Heavy hitters of an unbounded stream in `capacity` counters: the
/// Misra-Gries summary (the deterministic twin of Space-Saving), kept with
/// a floor offset so every update is O(log k).
///
/// Guarantees, for a stream (or merged streams) of total weight `N`:
/// - every reported [`Estimate`] brackets the true count:
///   `count - error <= true <= count`, with `error <= N / (capacity + 1)`;
/// - every item whose true count exceeds `N / (capacity + 1)` (so in
///   particular every item above `N / capacity`) is reported;
/// - [`merge`](Self::merge) of summaries built on different workers keeps
///   both guarantees for the combined stream (Agarwal et al., "Mergeable
///   Summaries", 2012);
/// - memory is `capacity` counters whatever the stream.
///
/// How: counters hold `raw = estimate + floor`. A new item beyond capacity
/// forces a decrement of every counter by the smallest estimate; raising
/// `floor` does that in O(1), and the counters that reach the floor are
/// dropped from the front of an ordered set.
///
/// ```
/// use latchwork::freq::HeavyHitters;
///
/// let mut hh = HeavyHitters::new(2)?;
/// for word in "a b a c a d a b a".split(' ') {
///     hh.record(word);
/// }
/// let top = hh.top(1);
/// assert_eq!(top[0].item, "a");
/// assert!(top[0].lower_bound() <= 5 && 5 <= top[0].count);
/// # Ok::<(), latchwork::freq::Error>(())
/// ```
pub struct HeavyHitters<T, S = DefaultHashBuilder> {
    capacity: usize,
    raw: HashMap<T, u64, S>,
    by_raw: BTreeSet<(u64, T)>,
    floor: u64,
    total: u64,
}

/// The most counters a summary allocates room for when it is built.
const PRESIZE: usize = 1 << 16;

impl<T: Hash + Ord + Clone> HeavyHitters<T> {
    /// A summary of `capacity` counters. Room for up to 65 536 of them is
    /// allocated now, the rest as distinct items arrive, so a huge
    /// `capacity` costs memory only for the items actually recorded.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`] for 0.
    pub fn new(capacity: usize) -> Result<Self, Error> {
        Self::with_hasher(capacity, DefaultHashBuilder::default())
    }
}

impl<T: Hash + Ord + Clone, S: BuildHasher + Clone> HeavyHitters<T, S> {
    /// A summary with a caller-chosen hasher.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`] for 0.
    pub fn with_hasher(capacity: usize, hasher: S) -> Result<Self, Error> {
        if capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        Ok(HeavyHitters {
            capacity,
            // Pre-sized for at most `PRESIZE` counters: a huge `capacity`
            // is a bound, not a request for that much memory up front, so
            // the table grows with the distinct items actually seen.
            raw: HashMap::with_capacity_and_hasher(capacity.saturating_add(1).min(PRESIZE), hasher),
            by_raw: BTreeSet::new(),
            floor: 0,
            total: 0,
        })
    }

    /// Counts one occurrence of `item`.
    pub fn record(&mut self, item: T) {
        self.record_n(item, 1);
    }

    /// Counts `n` occurrences of `item` (saturating).
    pub fn record_n(&mut self, item: T, n: u64) {
        if n == 0 {
            return;
        }
        self.total = self.total.saturating_add(n);
        match self.raw.get_mut(&item) {
            Some(r) => {
                self.by_raw.remove(&(*r, item.clone()));
                *r = r.saturating_add(n);
                self.by_raw.insert((*r, item));
            }
            None => {
                let r = self.floor.saturating_add(n);
                self.raw.insert(item.clone(), r);
                self.by_raw.insert((r, item));
                if self.raw.len() > self.capacity {
                    // Decrement every counter by the smallest estimate.
                    if let Some((min, _)) = self.by_raw.first() {
                        self.floor = *min;
                    }
                    self.drop_at_floor();
                }
            }
        }
    }

    fn drop_at_floor(&mut self) {
        while let Some((r, _)) = self.by_raw.first() {
            if *r > self.floor {
                break;
            }
            if let Some((_, item)) = self.by_raw.pop_first() {
                self.raw.remove(&item);
            }
        }
    }

    /// Total weight recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The error every estimate carries; at most `total / (capacity + 1)`.
    pub fn error_bound(&self) -> u64 {
        self.floor
    }

    /// The number of counters.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The estimate for `item`, if it is monitored.
    pub fn estimate(&self, item: &T) -> Option<Estimate<T>> {
        self.raw.get(item).map(|&r| Estimate {
            item: item.clone(),
            count: r,
            error: self.floor,
        })
    }

    /// Up to `n` monitored items by estimated count, descending; ties by
    /// item, ascending.
    pub fn top(&self, n: usize) -> Vec<Estimate<T>> {
        let mut all: Vec<Estimate<T>> = self
            .by_raw
            .iter()
            .map(|(r, t)| Estimate {
                item: t.clone(),
                count: *r,
                error: self.floor,
            })
            .collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.item.cmp(&b.item)));
        all.truncate(n);
        all
    }

    /// Adds `other`'s summary: the result summarises both streams with the
    /// same guarantees (for their combined total).
    pub fn merge<S2: BuildHasher>(&mut self, other: &HeavyHitters<T, S2>) {
        // Work on estimates (raw - floor); errors add up.
        let mut est: HashMap<T, u64, S> = HashMap::with_hasher(self.raw.hasher().clone());
        for (t, r) in &self.raw {
            est.insert(t.clone(), r - self.floor);
        }
        for (t, r) in &other.raw {
            let e = est.entry(t.clone()).or_insert(0);
            *e = e.saturating_add(r - other.floor);
        }
        let mut error = self.floor.saturating_add(other.floor);
        if est.len() > self.capacity {
            // Subtract the (k+1)-th largest estimate from all; keep positives.
            let mut values: Vec<u64> = est.values().copied().collect();
            values.select_nth_unstable_by(self.capacity, |a, b| b.cmp(a));
            let cut = values[self.capacity];
            est.retain(|_, e| *e > cut);
            for e in est.values_mut() {
                *e -= cut;
            }
            error = error.saturating_add(cut);
        }
        self.floor = error;
        self.total = self.total.saturating_add(other.total);
        self.by_raw.clear();
        self.raw.clear();
        for (t, e) in est {
            let r = e.saturating_add(error);
            self.by_raw.insert((r, t.clone()));
            self.raw.insert(t, r);
        }
    }
}

impl<T, S> fmt::Debug for HeavyHitters<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeavyHitters")
            .field("capacity", &self.capacity)
            .field("monitored", &self.raw.len())
            .field("total", &self.total)
            .field("error_bound", &self.floor)
            .finish()
    }
}
