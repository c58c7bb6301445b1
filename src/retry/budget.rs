//! A shared, lock-free allowance of retries (AWS SDK retry quota, gRPC retry
//! throttling).
//!
//! The balance is one atomic word of tokens in `0..=capacity`. A retry
//! withdraws `retry_cost` (or `timeout_cost`) with a compare-and-swap that
//! fails instead of going below zero; a success deposits `success_refund`,
//! saturating at the capacity. While the downstream mostly fails, retries
//! drain the balance faster than successes refill it, and once it is below
//! the cost of a retry every client sharing the budget makes only first
//! attempts: load falls back to about the load without retries.
//!
//! Every change is a read-modify-write checked against the latest value in
//! the word's modification order, so no interleaving can leave the balance
//! below zero or above the capacity (the loom models below check it).
use super::Error;
use crate::sync::atomic::{AtomicU64, Ordering};
use crossbeam_utils::CachePadded;
use std::fmt;

/// Default capacity, as in the AWS SDKs' standard retry mode.
pub const DEFAULT_CAPACITY: u64 = 500;
/// Default tokens one retry costs.
pub const DEFAULT_RETRY_COST: u64 = 5;
/// Default tokens one retry after a timeout costs.
pub const DEFAULT_TIMEOUT_COST: u64 = 10;
/// Default tokens one success refunds.
pub const DEFAULT_SUCCESS_REFUND: u64 = 1;

/// A pool of retry tokens shared by `&self` across threads (typically in an
/// `Arc`, one per downstream service), lock-free.
///
/// ```
/// use latchwork::retry::RetryBudget;
///
/// let budget = RetryBudget::builder().capacity(10).retry_cost(5).build()?;
/// assert!(budget.try_spend_retry());
/// assert!(budget.try_spend_retry());
/// assert!(!budget.try_spend_retry()); // empty: retrying would add load
/// budget.record_success();
/// assert_eq!(budget.available(), 1);
/// assert_eq!(budget.refusals(), 1);
/// # Ok::<(), latchwork::retry::Error>(())
/// ```
pub struct RetryBudget {
    /// Tokens left, always in `0..=capacity`; written only by
    /// `fetch_update`, which checks the bound against the current value.
    tokens: CachePadded<AtomicU64>,
    /// Withdrawals refused for want of tokens (statistics only).
    refused: AtomicU64,
    capacity: u64,
    retry_cost: u64,
    timeout_cost: u64,
    success_refund: u64,
}

impl RetryBudget {
    /// A full budget with the default parameters (capacity 500, retry 5,
    /// timeout 10, success refund 1).
    pub fn new() -> Self {
        RetryBudget::with_params(
            DEFAULT_CAPACITY,
            DEFAULT_RETRY_COST,
            DEFAULT_TIMEOUT_COST,
            DEFAULT_SUCCESS_REFUND,
            DEFAULT_CAPACITY,
        )
    }

    /// A builder to set the capacity, costs and refund.
    pub fn builder() -> RetryBudgetBuilder {
        RetryBudgetBuilder {
            capacity: DEFAULT_CAPACITY,
            retry_cost: DEFAULT_RETRY_COST,
            timeout_cost: DEFAULT_TIMEOUT_COST,
            success_refund: DEFAULT_SUCCESS_REFUND,
            initial: None,
        }
    }

    fn with_params(capacity: u64, retry: u64, timeout: u64, refund: u64, initial: u64) -> Self {
        RetryBudget {
            tokens: CachePadded::new(AtomicU64::new(initial.min(capacity))),
            refused: AtomicU64::new(0),
            capacity,
            retry_cost: retry,
            timeout_cost: timeout,
            success_refund: refund,
        }
    }

    /// Withdraws `tokens` if the balance holds that many; returns whether
    /// it did. Never leaves the balance below zero.
    pub fn try_withdraw(&self, tokens: u64) -> bool {
        // Relaxed: the balance is a standalone counter that publishes no
        // other memory; the RMW total order alone makes each update see the
        // latest balance, which is all the bound check needs.
        let ok = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                t.checked_sub(tokens)
            })
            .is_ok();
        if !ok {
            // Relaxed: a statistic, read on its own.
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Deposits `tokens`, saturating at the capacity.
    pub fn deposit(&self, tokens: u64) {
        // Relaxed: as in `try_withdraw`. The closure never returns `None`;
        // skipping the write when the budget is already full saves a
        // contended store.
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                (t < self.capacity).then(|| t.saturating_add(tokens).min(self.capacity))
            });
    }

    /// Pays for one ordinary retry; `false` means "do not retry".
    pub fn try_spend_retry(&self) -> bool {
        self.try_withdraw(self.retry_cost)
    }

    /// Pays for one retry after a timeout (dearer: a timeout suggests the
    /// downstream is overloaded); `false` means "do not retry".
    pub fn try_spend_timeout(&self) -> bool {
        self.try_withdraw(self.timeout_cost)
    }

    /// Refunds `success_refund` tokens after a successful call.
    pub fn record_success(&self) {
        self.deposit(self.success_refund);
    }

    /// Tokens left now (a snapshot while other threads use the budget).
    pub fn available(&self) -> u64 {
        // Relaxed: a snapshot of a standalone counter.
        self.tokens.load(Ordering::Relaxed)
    }

    /// Withdrawals refused so far for want of tokens.
    pub fn refusals(&self) -> u64 {
        // Relaxed: a statistic.
        self.refused.load(Ordering::Relaxed)
    }

    /// The most tokens the budget holds.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Tokens one ordinary retry costs.
    pub fn retry_cost(&self) -> u64 {
        self.retry_cost
    }

    /// Tokens one retry after a timeout costs.
    pub fn timeout_cost(&self) -> u64 {
        self.timeout_cost
    }

    /// Tokens one success refunds.
    pub fn success_refund(&self) -> u64 {
        self.success_refund
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget::new()
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("available", &self.available())
            .field("capacity", &self.capacity)
            .field("retry_cost", &self.retry_cost)
            .field("timeout_cost", &self.timeout_cost)
            .field("success_refund", &self.success_refund)
            .field("refusals", &self.refusals())
            .finish()
    }
}

/// Builds a [`RetryBudget`]; see [`RetryBudget::builder`].
#[derive(Clone, Debug)]
pub struct RetryBudgetBuilder {
    capacity: u64,
    retry_cost: u64,
    timeout_cost: u64,
    success_refund: u64,
    initial: Option<u64>,
}

impl RetryBudgetBuilder {
    /// The most tokens the budget holds (default 500).
    pub fn capacity(mut self, capacity: u64) -> Self {
        self.capacity = capacity;
        self
    }

    /// Tokens one ordinary retry costs (default 5).
    pub fn retry_cost(mut self, cost: u64) -> Self {
        self.retry_cost = cost;
        self
    }

    /// Tokens one retry after a timeout costs (default 10).
    pub fn timeout_cost(mut self, cost: u64) -> Self {
        self.timeout_cost = cost;
        self
    }

    /// Tokens a success refunds (default 1).
    pub fn success_refund(mut self, refund: u64) -> Self {
        self.success_refund = refund;
        self
    }

    /// Tokens at the start (default: full; clamped to the capacity).
    pub fn initial(mut self, tokens: u64) -> Self {
        self.initial = Some(tokens);
        self
    }

    /// Validates the parameters.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`] for capacity 0; [`Error::CostAboveCapacity`]
    /// when a retry or timeout cost exceeds the capacity.
    pub fn build(self) -> Result<RetryBudget, Error> {
        if self.capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        for cost in [self.retry_cost, self.timeout_cost] {
            if cost > self.capacity {
                return Err(Error::CostAboveCapacity {
                    cost,
                    capacity: self.capacity,
                });
            }
        }
        Ok(RetryBudget::with_params(
            self.capacity,
            self.retry_cost,
            self.timeout_cost,
            self.success_refund,
            self.initial.unwrap_or(self.capacity),
        ))
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::{thread, Arc};

    fn budget(capacity: u64, initial: u64) -> Arc<RetryBudget> {
        Arc::new(RetryBudget::with_params(capacity, 5, 10, 3, initial))
    }

    /// Two spenders race for one retry's worth of tokens while a refill
    /// runs: exactly the affordable spends succeed, the balance never
    /// leaves `0..=capacity`, and the final balance is one a sequential
    /// order could produce.
    #[test]
    fn spend_spend_refill() {
        loom::model(|| {
            let b = budget(10, 5);
            let spenders: Vec<_> = (0..2)
                .map(|_| {
                    let b = b.clone();
                    thread::spawn(move || {
                        let ok = b.try_spend_retry();
                        let seen = b.available();
                        assert!(seen <= 10, "above capacity: {seen}");
                        ok
                    })
                })
                .collect();
            b.record_success();
            let seen = b.available();
            assert!(seen <= 10, "above capacity: {seen}");
            let wins = spenders
                .into_iter()
                .map(|h| h.join().unwrap_or(false))
                .filter(|&ok| ok)
                .count() as u64;
            // Start 5, +3 refill, -5 per win: 8 tokens afford one spend,
            // and whether a second one fits depends on nothing (13 > cap
            // never happens: 5 + 3 = 8 <= 10). So exactly one wins.
            assert_eq!(wins, 1);
            assert_eq!(b.available(), 3);
            assert_eq!(b.refusals(), 1);
        });
    }

    /// Refills racing a full budget saturate at the capacity; a timeout
    /// spend racing them never drives the balance below zero.
    #[test]
    fn refill_saturates_under_race() {
        loom::model(|| {
            let b = budget(10, 9);
            let refiller = {
                let b = b.clone();
                thread::spawn(move || {
                    b.record_success();
                    b.record_success();
                })
            };
            let spent = b.try_spend_timeout();
            assert!(b.available() <= 10);
            if refiller.join().is_err() {
                panic!("refiller panicked");
            }
            // 9 -> the spend of 10 succeeds only after at least one refill.
            // Sequential orders: spend first fails -> min(9+6,10) = 10;
            // after one refill (10) -> 0 + 3 = 3; after both (10) -> 0.
            let end = b.available();
            assert!(end <= 10);
            if spent {
                assert!(end == 3 || end == 0, "end {end}");
            } else {
                assert_eq!(end, 10);
            }
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn builder_rejects_useless_budgets() {
        assert_eq!(
            RetryBudget::builder().capacity(0).build().err(),
            Some(Error::ZeroCapacity)
        );
        assert_eq!(
            RetryBudget::builder()
                .capacity(8)
                .retry_cost(5)
                .build()
                .err(),
            Some(Error::CostAboveCapacity {
                cost: 10,
                capacity: 8
            })
        );
    }

    #[test]
    fn never_below_zero_nor_above_capacity() {
        let b = RetryBudget::builder()
            .capacity(12)
            .retry_cost(5)
            .timeout_cost(10)
            .initial(7)
            .build()
            .unwrap();
        assert!(!b.try_spend_timeout());
        assert!(b.try_spend_retry());
        assert!(!b.try_spend_retry());
        assert_eq!(b.available(), 2);
        b.deposit(100);
        assert_eq!(b.available(), 12);
        assert_eq!(b.refusals(), 2);
    }
}
