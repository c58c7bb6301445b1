//! The FIFO behind each priority level.
//!
//! Normally crossbeam's lock-free `SegQueue`. crossbeam is not loom-aware
//! (it only reacts to `crossbeam_loom`), so under `--cfg loom` the level FIFO
//! is a shim `Mutex<VecDeque>`: the models then explore every interleaving
//! of this crate's own protocol (the occupancy bitmap, its clear/re-set
//! handshake and the park/wake handshake) around a linearizable FIFO, which
//! is the only property of `SegQueue` the protocol relies on.

#[cfg(not(loom))]
pub(crate) type Fifo<T> = crossbeam_queue::SegQueue<T>;

#[cfg(loom)]
pub(crate) struct Fifo<T>(crate::sync::Mutex<std::collections::VecDeque<T>>);

#[cfg(loom)]
impl<T> Fifo<T> {
    pub(crate) fn new() -> Self {
        Fifo(crate::sync::Mutex::new(std::collections::VecDeque::new()))
    }
    pub(crate) fn push(&self, item: T) {
        self.0.lock().push_back(item);
    }
    pub(crate) fn pop(&self) -> Option<T> {
        self.0.lock().pop_front()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.lock().is_empty()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.lock().len()
    }
}
