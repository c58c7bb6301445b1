//! The sequential reference LRU shared by the model tests and the fuzz
//! targets (which include this file by path): a deque ordered from least to
//! most recently used, with keys `u8` and values `u32`. Obviously correct,
//! O(n) per operation.
#![allow(dead_code)]

use std::collections::VecDeque;

/// The reference: a deque from least to most recently used.
#[derive(Debug)]
pub struct Reference {
    pub cap: usize,
    pub order: VecDeque<(u8, u32)>,
}

impl Reference {
    pub fn new(cap: usize) -> Self {
        Reference {
            cap,
            order: VecDeque::new(),
        }
    }
    pub fn pos(&self, k: u8) -> Option<usize> {
        self.order.iter().position(|(key, _)| *key == k)
    }
    pub fn get(&mut self, k: u8) -> Option<u32> {
        let i = self.pos(k)?;
        let e = self.order.remove(i)?;
        self.order.push_back(e);
        Some(e.1)
    }
    pub fn peek(&self, k: u8) -> Option<u32> {
        self.pos(k).map(|i| self.order[i].1)
    }
    pub fn put(&mut self, k: u8, v: u32) -> Option<(u8, u32)> {
        if let Some(i) = self.pos(k) {
            let old = self.order.remove(i);
            self.order.push_back((k, v));
            return old;
        }
        let evicted = if self.order.len() == self.cap {
            self.order.pop_front()
        } else {
            None
        };
        self.order.push_back((k, v));
        evicted
    }
    pub fn remove(&mut self, k: u8) -> Option<u32> {
        let i = self.pos(k)?;
        self.order.remove(i).map(|e| e.1)
    }
    pub fn resize(&mut self, cap: usize) -> usize {
        self.cap = cap;
        let mut n = 0;
        while self.order.len() > cap {
            self.order.pop_front();
            n += 1;
        }
        n
    }
    pub fn mru_first(&self) -> Vec<(u8, u32)> {
        self.order.iter().rev().copied().collect()
    }
}
