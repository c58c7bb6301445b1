//! A clock a test sets freely, backwards included (`ManualClock` never goes
//! backwards), for the time-goes-backwards policy. Shared by the hardening
//! and bad-input tests (included by `#[path]`).
#![allow(dead_code)]

use latchwork::clock::Clock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Reads whatever the test last set; `sleep` advances it (saturating).
#[derive(Clone, Debug, Default)]
pub struct JumpClock(Arc<AtomicU64>);

impl JumpClock {
    pub fn at(nanos: u64) -> Self {
        JumpClock(Arc::new(AtomicU64::new(nanos)))
    }
    pub fn set_nanos(&self, nanos: u64) {
        self.0.store(nanos, Ordering::Relaxed);
    }
    pub fn nanos(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    pub fn back(&self, by: u64) {
        self.set_nanos(self.nanos().saturating_sub(by));
    }
    pub fn forward(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.set_nanos(self.nanos().saturating_add(by));
    }
}

impl Clock for JumpClock {
    fn now_nanos(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn sleep(&self, d: Duration) {
        self.forward(d);
    }
}
