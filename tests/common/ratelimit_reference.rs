//! Plain sequential reference models of the rate limiters, in integer
//! nanoseconds, written independently of the library's formulas. Shared by
//! the proptest model tests and (by `#[path]`) the fuzz targets.
#![allow(dead_code)]

/// A token bucket as a credit counter: credit in nanoseconds of refill time,
/// capped at `capacity * interval`, one per elapsed nanosecond; a token
/// costs `interval`. `interval = ceil(1e9 / rate)`.
#[derive(Debug, Clone)]
pub struct RefBucket {
    pub interval: u128,
    pub capacity: u64,
    credit: u128,
    last: u64,
}

impl RefBucket {
    pub fn new(interval: u64, capacity: u64) -> Self {
        let cap = u128::from(interval) * u128::from(capacity);
        RefBucket {
            interval: u128::from(interval),
            capacity,
            credit: cap,
            last: 0,
        }
    }

    /// Integer-rate constructor with the library's rounding rule.
    pub fn per_second(rate: u64, capacity: u64) -> Self {
        Self::new(1_000_000_000u64.div_ceil(rate), capacity)
    }

    fn refill(&mut self, now: u64) {
        let cap = self.interval * u128::from(self.capacity);
        self.credit = (self.credit + u128::from(now - self.last)).min(cap);
        self.last = now;
    }

    /// `Ok` or the wait in nanoseconds; `None` for a cost above capacity.
    pub fn acquire(&mut self, now: u64, cost: u64) -> Option<Result<(), u64>> {
        if cost > self.capacity {
            return None;
        }
        self.refill(now);
        let need = self.interval * u128::from(cost);
        Some(if need <= self.credit {
            self.credit -= need;
            Ok(())
        } else {
            Err((need - self.credit) as u64)
        })
    }

    pub fn available(&mut self, now: u64) -> u64 {
        self.refill(now);
        (self.credit / self.interval) as u64
    }
}

/// An exact sliding-window log kept naively: every admitted unit ever.
#[derive(Debug, Clone)]
pub struct RefLog {
    pub limit: u64,
    pub window: u64,
    stamps: Vec<u64>,
}

impl RefLog {
    pub fn new(limit: u64, window: u64) -> Self {
        RefLog {
            limit,
            window,
            stamps: Vec::new(),
        }
    }

    fn live_at(&self, t: u64) -> u64 {
        self.stamps
            .iter()
            .filter(|&&s| s <= t && t - s < self.window)
            .count() as u64
    }

    fn fits(&self, t: u64, cost: u64) -> bool {
        self.live_at(t) + cost <= self.limit
    }

    pub fn acquire(&mut self, now: u64, cost: u64) -> Option<Result<(), u64>> {
        if cost > self.limit {
            return None;
        }
        if cost == 0 || self.fits(now, cost) {
            self.stamps.extend(std::iter::repeat_n(now, cost as usize));
            return Some(Ok(()));
        }
        // Counts only fall at the instants a stamp leaves: try each.
        let mut leave: Vec<u64> = self
            .stamps
            .iter()
            .map(|&s| s + self.window)
            .filter(|&t| t > now)
            .collect();
        leave.sort_unstable();
        let t = leave
            .into_iter()
            .find(|&t| self.fits(t, cost))
            .expect("some instant empties the window");
        Some(Err(t - now))
    }

    pub fn available(&self, now: u64) -> u64 {
        self.limit - self.live_at(now)
    }
}

/// The sliding-window counter from its definition: sums of admitted cost per
/// aligned window, recomputed from the full history.
#[derive(Debug, Clone)]
pub struct RefCounter {
    pub limit: u64,
    pub window: u64,
    events: Vec<(u64, u64)>,
}

impl RefCounter {
    pub fn new(limit: u64, window: u64) -> Self {
        RefCounter {
            limit,
            window,
            events: Vec::new(),
        }
    }

    fn fits(&self, t: u64, cost: u64) -> bool {
        let w = self.window;
        let k = t / w;
        let sum = |idx: u64| -> u128 {
            self.events
                .iter()
                .filter(|(s, _)| *s / w == idx)
                .map(|(_, c)| u128::from(*c))
                .sum()
        };
        let curr = sum(k);
        let prev = if k == 0 { 0 } else { sum(k - 1) };
        let e = u128::from(t % w);
        let w = u128::from(w);
        prev * (w - e) + (curr + u128::from(cost)) * w <= u128::from(self.limit) * w
    }

    pub fn acquire(&mut self, now: u64, cost: u64) -> Option<Result<(), u64>> {
        if cost > self.limit {
            return None;
        }
        if cost == 0 {
            return Some(Ok(()));
        }
        if self.fits(now, cost) {
            self.events.push((now, cost));
            return Some(Ok(()));
        }
        // The weighted count never rises with time: binary search for the
        // first instant that fits (two windows on always suffice).
        let (mut lo, mut hi) = (now, now + 2 * self.window);
        assert!(self.fits(hi, cost));
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if self.fits(mid, cost) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(Err(hi - now))
    }

    pub fn available(&self, now: u64) -> u64 {
        (0..=self.limit)
            .rev()
            .find(|&c| self.fits(now, c))
            .unwrap_or(0)
    }
}
