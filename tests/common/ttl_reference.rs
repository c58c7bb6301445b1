//! The sequential reference for `TtlCache` with one shard, shared by the
//! model tests and the fuzz target (which include this file by path):
//! entries from least to most recently used with their deadlines in
//! milliseconds, reclaimed exactly when the cache's timer wheel would.
#![allow(dead_code)]

/// The wheel tick the reference mimics: coarse, so entries expire mid-tick.
pub const RES_MS: u64 = 3;

/// Entries from least to most recently used, with their deadlines (ms).
pub struct Reference {
    pub entries: Vec<(u8, u32, u64)>,
    pub cap: Option<usize>,
    pub expirations: u64,
}

impl Reference {
    pub fn new(cap: Option<usize>) -> Self {
        Reference {
            entries: vec![],
            cap,
            expirations: 0,
        }
    }
    pub fn pos(&self, k: u8) -> Option<usize> {
        self.entries.iter().position(|e| e.0 == k)
    }
    fn drop_where(&mut self, f: impl Fn(&(u8, u32, u64)) -> bool) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| !f(e));
        let n = before - self.entries.len();
        self.expirations += n as u64;
        n
    }
    /// What every call does first: the wheel reclaims entries whose
    /// rounded-up tick has passed.
    pub fn advance(&mut self, now: u64) -> usize {
        self.drop_where(|e| e.2.div_ceil(RES_MS) <= now / RES_MS)
    }
    /// Everything expired goes; returns how many (the wheel's share too).
    pub fn expire_exact(&mut self, now: u64) -> usize {
        self.advance(now) + self.drop_where(|e| e.2 <= now)
    }
    pub fn get(&mut self, k: u8, now: u64) -> Option<u32> {
        self.advance(now);
        let i = self.pos(k)?;
        let e = self.entries.remove(i);
        if e.2 > now {
            self.entries.push(e);
            Some(e.1)
        } else {
            self.expirations += 1;
            None
        }
    }
    pub fn insert(&mut self, k: u8, v: u32, deadline: u64, now: u64) {
        self.advance(now);
        if let Some(i) = self.pos(k) {
            self.entries.remove(i);
        } else if self.cap.is_some_and(|c| self.entries.len() >= c) {
            self.expire_exact(now);
            if self.cap.is_some_and(|c| self.entries.len() >= c) {
                self.entries.remove(0);
            }
        }
        self.entries.push((k, v, deadline));
    }
    pub fn remove(&mut self, k: u8, now: u64) -> bool {
        self.advance(now);
        let Some(i) = self.pos(k) else { return false };
        let e = self.entries.remove(i);
        if e.2 <= now {
            self.expirations += 1;
        }
        e.2 > now
    }
}
