//! [`Iter`]: the walk from the most to the least recently used pair.
use super::{Entry, LruCache};
use std::fmt;
use std::hash::{BuildHasher, Hash};

/// Iterator over an [`LruCache`] from the most to the least recently used
/// pair; see [`LruCache::iter`].
pub struct Iter<'a, K, V> {
    pub(super) entries: &'a [Entry<K, V>],
    /// The slot of the next pair to yield.
    pub(super) at: u32,
    pub(super) left: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let e = self.entries.get(self.at as usize)?;
        self.left -= 1;
        self.at = e.prev;
        Some((&e.key, &e.value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

impl<K, V> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

impl<'a, K: Hash + Eq, V, S: BuildHasher> IntoIterator for &'a LruCache<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}
