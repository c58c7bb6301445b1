//! The sequential reference priority queue shared by the model tests, the
//! linearizability checker and the fuzz targets (which include this file by
//! path): a `BTreeMap` keyed by `(level, push sequence number)`, so the
//! first entry is the most urgent level's oldest item. Obviously correct.
#![allow(dead_code)]

use std::collections::BTreeMap;

/// Levels the queue under test has (`latchwork::queue::LEVELS`).
pub const LEVELS: u8 = 64;

/// The reference: items by `(level, seq)`.
#[derive(Clone, Debug, Default)]
pub struct Reference<T> {
    pub items: BTreeMap<(u8, u64), T>,
    pub next_seq: u64,
}

impl<T> Reference<T> {
    pub fn new() -> Self {
        Reference {
            items: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// `Err(())` for a level out of range, as the queue's `Level::new` does.
    pub fn push(&mut self, level: u8, item: T) -> Result<(), ()> {
        if level >= LEVELS {
            return Err(());
        }
        self.items.insert((level, self.next_seq), item);
        self.next_seq += 1;
        Ok(())
    }

    pub fn pop(&mut self) -> Option<(u8, T)> {
        self.items
            .pop_first()
            .map(|((level, _), item)| (level, item))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
