use super::Error;
use crate::sync::{thread_stripe, Mutex};
use crate::DefaultHashBuilder;
use crossbeam_utils::CachePadded;
use hashbrown::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash};

/// One thread's counts.
struct Stripe<T, S> {
    counts: HashMap<T, u64, S>,
    total: u64,
}

type PaddedStripe<T, S> = CachePadded<Mutex<Stripe<T, S>>>;

/// A concurrent exact frequency counter.
///
/// Each thread records into a stripe of its own (chosen by a per-thread id
/// that no two live threads share), so recording never contends across
/// threads, whatever the items: the stripe's mutex is only ever taken by
/// its owner and by readers. Reads (`count`, `total`, `top`, ...) visit
/// every stripe and add up.
///
/// - **Consistency.** A read taken while other threads record sums the
///   stripes one after another: each stripe's part is exact at the moment
///   it is visited, so the result lies between the state when the read
///   began and when it ended, but it is not a single-instant snapshot.
///   When writers are quiet, every read is exact.
/// - **Overflow.** Counts and totals saturate at `u64::MAX` instead of
///   wrapping.
/// - **Memory.** An item recorded by several threads is stored once per
///   thread until [`compact`](Self::compact) folds the stripes together.
/// - **Ties.** [`top`](Self::top) orders by count, descending, then by the
///   item's `Ord`, ascending, so equal counts come out in a deterministic
///   order.
///
/// ```
/// use latchwork::freq::FrequencyCounter;
///
/// let hits = FrequencyCounter::new();
/// hits.record_batch(["/home", "/login", "/home", "/cart", "/home"]);
/// hits.record_n("/login", 2);
/// assert_eq!(hits.count(&"/home"), 3);
/// assert_eq!(hits.total(), 7);
/// let top = hits.top(2);
/// assert_eq!((top[0].0, top[0].1), ("/home", 3));
/// assert_eq!((top[1].0, top[1].1), ("/login", 3)); // a tie: broken by item order
/// # assert!((top[0].2 - 300.0 / 7.0).abs() < 1e-9);
/// ```
pub struct FrequencyCounter<T, S = DefaultHashBuilder> {
    stripes: Box<[PaddedStripe<T, S>]>,
    hasher: S,
}

impl<T: Hash + Eq> FrequencyCounter<T> {
    /// An empty counter with the default hasher.
    pub fn new() -> Self {
        Self::with_hasher(DefaultHashBuilder::default())
    }
}

impl<T: Hash + Eq> Default for FrequencyCounter<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Hash + Eq, S: BuildHasher + Clone> FrequencyCounter<T, S> {
    /// An empty counter with a caller-chosen hasher.
    pub fn with_hasher(hasher: S) -> Self {
        // The kernel's stripe rule: private stripes and one shared.
        let n = crate::sync::stripe_count();
        FrequencyCounter {
            stripes: (0..n)
                .map(|_| {
                    CachePadded::new(Mutex::new(Stripe {
                        counts: HashMap::with_hasher(hasher.clone()),
                        total: 0,
                    }))
                })
                .collect(),
            hasher,
        }
    }

    #[inline]
    fn my_stripe(&self) -> &Mutex<Stripe<T, S>> {
        &self.stripes[thread_stripe().min(self.stripes.len() - 1)]
    }

    /// Counts one occurrence of `item`.
    #[inline]
    pub fn record(&self, item: T) {
        self.record_n(item, 1);
    }

    /// Counts `n` occurrences of `item` (saturating).
    #[inline]
    pub fn record_n(&self, item: T, n: u64) {
        let mut stripe = self.my_stripe().lock();
        let c = stripe.counts.entry(item).or_insert(0);
        *c = c.saturating_add(n);
        stripe.total = stripe.total.saturating_add(n);
    }

    /// Counts every item of `items`, taking this thread's stripe once.
    pub fn record_batch(&self, items: impl IntoIterator<Item = T>) {
        let mut stripe = self.my_stripe().lock();
        let mut added = 0u64;
        for item in items {
            let c = stripe.counts.entry(item).or_insert(0);
            *c = c.saturating_add(1);
            added = added.saturating_add(1);
        }
        stripe.total = stripe.total.saturating_add(added);
    }

    /// Occurrences of `item` recorded so far.
    pub fn count(&self, item: &T) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.lock().counts.get(item).copied().unwrap_or(0))
            .fold(0, u64::saturating_add)
    }

    /// All occurrences recorded so far (saturating).
    pub fn total(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.lock().total)
            .fold(0, u64::saturating_add)
    }

    /// `count(item) / total()`, or 0.0 when nothing was recorded.
    pub fn frequency(&self, item: &T) -> f64 {
        match self.total() {
            0 => 0.0,
            total => self.count(item) as f64 / total as f64,
        }
    }

    /// Folds every stripe into one and returns the merged counts and total.
    fn merged(&self) -> (HashMap<T, u64, S>, u64)
    where
        T: Clone,
    {
        let mut all: HashMap<T, u64, S> = HashMap::with_hasher(self.hasher.clone());
        let mut total = 0u64;
        for s in self.stripes.iter() {
            let s = s.lock();
            total = total.saturating_add(s.total);
            for (k, c) in &s.counts {
                match all.get_mut(k) {
                    Some(e) => *e = e.saturating_add(*c),
                    None => {
                        all.insert(k.clone(), *c);
                    }
                }
            }
        }
        (all, total)
    }

    /// Number of distinct items recorded.
    pub fn distinct(&self) -> usize
    where
        T: Clone,
    {
        self.merged().0.len()
    }

    /// The `k` most frequent items as `(item, count, percent of total)`,
    /// by count descending, ties by item ascending.
    pub fn top(&self, k: usize) -> Vec<(T, u64, f64)>
    where
        T: Clone + Ord,
    {
        let (all, total) = self.merged();
        let mut items: Vec<(T, u64)> = all.into_iter().collect();
        let by_rank = |a: &(T, u64), b: &(T, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0));
        if k < items.len() {
            // Partition first: O(n + k log k) instead of sorting everything.
            items.select_nth_unstable_by(k, by_rank);
            items.truncate(k);
        }
        items.sort_unstable_by(by_rank);
        items
            .into_iter()
            .map(|(t, c)| (t, c, percent(c, total)))
            .collect()
    }

    /// Items whose count exceeds `multiplier` times the mean count per
    /// distinct item, ordered as [`top`](Self::top).
    ///
    /// # Errors
    /// [`Error::InvalidMultiplier`] for NaN, infinite or negative values.
    pub fn anomalies(&self, multiplier: f64) -> Result<Vec<(T, u64, f64)>, Error>
    where
        T: Clone + Ord,
    {
        if !multiplier.is_finite() || multiplier < 0.0 {
            return Err(Error::InvalidMultiplier { given: multiplier });
        }
        let (all, total) = self.merged();
        if all.is_empty() {
            return Ok(Vec::new());
        }
        let threshold = multiplier * (total as f64 / all.len() as f64);
        let mut out: Vec<(T, u64, f64)> = all
            .into_iter()
            .filter(|(_, c)| *c as f64 > threshold)
            .map(|(t, c)| (t, c, percent(c, total)))
            .collect();
        out.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }

    /// Adds every count of `other` (read as [`top`](Self::top) reads) into
    /// this thread's stripe.
    pub fn merge<S2: BuildHasher + Clone>(&self, other: &FrequencyCounter<T, S2>)
    where
        T: Clone,
    {
        let (theirs, total) = other.merged();
        let mut stripe = self.my_stripe().lock();
        for (k, c) in theirs {
            let e = stripe.counts.entry(k).or_insert(0);
            *e = e.saturating_add(c);
        }
        stripe.total = stripe.total.saturating_add(total);
    }

    /// Folds all stripes into this thread's, so each item is stored once.
    /// Holds every stripe's lock for the duration (taken in index order,
    /// and recorders hold one lock at a time, so this cannot deadlock), so
    /// no concurrent record is lost.
    pub fn compact(&self) {
        let mut guards: Vec<_> = self.stripes.iter().map(|s| s.lock()).collect();
        let mine = thread_stripe().min(guards.len() - 1);
        let mut all = std::mem::replace(
            &mut guards[mine].counts,
            HashMap::with_hasher(self.hasher.clone()),
        );
        let mut total = guards[mine].total;
        for (i, g) in guards.iter_mut().enumerate() {
            if i == mine {
                continue;
            }
            total = total.saturating_add(std::mem::take(&mut g.total));
            for (k, c) in g.counts.drain() {
                let e = all.entry(k).or_insert(0);
                *e = e.saturating_add(c);
            }
        }
        guards[mine].counts = all;
        guards[mine].total = total;
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for s in self.stripes.iter() {
            let mut s = s.lock();
            s.counts.clear();
            s.total = 0;
        }
    }
}

fn percent(count: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * count as f64 / total as f64
    }
}

impl<T, S> fmt::Debug for FrequencyCounter<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrequencyCounter")
            .field("stripes", &self.stripes.len())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::{thread, Arc};
    use std::collections::hash_map::DefaultHasher;
    use std::hash::BuildHasherDefault;

    /// Two threads record while a third reads: the read lies between the
    /// before and after states, and once quiet everything adds up.
    #[test]
    fn records_and_reads() {
        loom::model(|| {
            let c = Arc::new(FrequencyCounter::with_hasher(BuildHasherDefault::<
                DefaultHasher,
            >::default()));
            let hs: Vec<_> = (0..2u8)
                .map(|t| {
                    let c = c.clone();
                    thread::spawn(move || {
                        c.record(t);
                        c.record_n(9, 2);
                    })
                })
                .collect();
            let mid = c.total();
            assert!(mid <= 6);
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!((c.total(), c.count(&9), c.count(&0)), (6, 4, 1));
        });
    }
}
