//! [`ChunkExt::chunked`]: fixed-size chunks of any iterator.
use super::error::Error;
use std::iter::FusedIterator;

/// The most items a chunk, batch or batcher reserves room for before it
/// holds them: a size of `usize::MAX` means "unbounded", not "allocate
/// that much now", so buffers above this grow as items arrive.
pub(crate) const PREALLOC_ITEMS: usize = 4096;

/// Adds [`chunked`](ChunkExt::chunked) to every iterator.
pub trait ChunkExt: Iterator + Sized {
    /// Groups the items into `Vec`s of `n`, the last one shorter if the
    /// items run out; lazily, holding one chunk at a time. A chunk reserves
    /// room for at most 4096 items up front and grows as items arrive, so
    /// `chunked(usize::MAX)` collects everything into one chunk without
    /// asking for `usize::MAX` slots.
    ///
    /// ```
    /// use latchwork::pipeline::{ChunkExt, Error};
    ///
    /// let chunks: Vec<Vec<u32>> = (1..=7).chunked(3)?.collect();
    /// assert_eq!(chunks, vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
    /// assert!(matches!((1..=7).chunked(0), Err(Error::ZeroChunkSize)));
    /// # Ok::<(), Error>(())
    /// ```
    fn chunked(self, n: usize) -> Result<Chunked<Self>, Error> {
        if n == 0 {
            return Err(Error::ZeroChunkSize);
        }
        Ok(Chunked { iter: self, n })
    }
}

impl<I: Iterator> ChunkExt for I {}

/// The iterator [`ChunkExt::chunked`] returns.
#[derive(Clone, Debug)]
pub struct Chunked<I> {
    iter: I,
    n: usize,
}

impl<I: Iterator> Iterator for Chunked<I> {
    type Item = Vec<I::Item>;

    fn next(&mut self) -> Option<Vec<I::Item>> {
        let first = self.iter.next()?;
        let mut chunk = Vec::with_capacity(self.n.min(PREALLOC_ITEMS));
        chunk.push(first);
        chunk.extend(self.iter.by_ref().take(self.n - 1));
        Some(chunk)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lo, hi) = self.iter.size_hint();
        (lo.div_ceil(self.n), hi.map(|h| h.div_ceil(self.n)))
    }
}

impl<I: FusedIterator> FusedIterator for Chunked<I> {}
