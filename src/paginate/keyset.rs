use super::cursor::{CursorCodec, CursorKey};
use super::error::{check_page_size, Error};
use super::offset::DEFAULT_MAX_PAGE_SIZE;
use super::query::{Order, Query};
use crossbeam_skiplist::SkipMap;
use std::collections::BTreeMap;
use std::ops::Bound;

/// An ordered map that can start a walk at any key in `O(log n)`: the one
/// thing keyset pagination needs from a store.
///
/// Implemented for [`crossbeam_skiplist::SkipMap`] (readers and writers on
/// many threads at once) and [`BTreeMap`].
pub trait OrderedIndex<K, V> {
    /// Calls `visit` on the entries whose key is strictly after `after`
    /// (all entries when `None`) in `order`, until it returns `false` or
    /// the entries run out. Must seek to `after`, not scan up to it.
    fn visit_after(&self, after: Option<&K>, order: Order, visit: &mut dyn FnMut(&K, &V) -> bool);
}

fn bounds<K>(after: Option<&K>, order: Order) -> (Bound<&K>, Bound<&K>) {
    match (after, order) {
        (None, _) => (Bound::Unbounded, Bound::Unbounded),
        (Some(k), Order::Ascending) => (Bound::Excluded(k), Bound::Unbounded),
        (Some(k), Order::Descending) => (Bound::Unbounded, Bound::Excluded(k)),
    }
}

impl<K: Ord + Send + 'static, V: Send + 'static> OrderedIndex<K, V> for SkipMap<K, V> {
    fn visit_after(&self, after: Option<&K>, order: Order, visit: &mut dyn FnMut(&K, &V) -> bool) {
        let range = self.range::<K, _>(bounds(after, order));
        match order {
            Order::Ascending => {
                for e in range {
                    if !visit(e.key(), e.value()) {
                        break;
                    }
                }
            }
            Order::Descending => {
                for e in range.rev() {
                    if !visit(e.key(), e.value()) {
                        break;
                    }
                }
            }
        }
    }
}

impl<K: Ord, V> OrderedIndex<K, V> for BTreeMap<K, V> {
    fn visit_after(&self, after: Option<&K>, order: Order, visit: &mut dyn FnMut(&K, &V) -> bool) {
        let range = self.range::<K, _>(bounds(after, order));
        match order {
            Order::Ascending => {
                for (k, v) in range {
                    if !visit(k, v) {
                        break;
                    }
                }
            }
            Order::Descending => {
                for (k, v) in range.rev() {
                    if !visit(k, v) {
                        break;
                    }
                }
            }
        }
    }
}

/// One keyset page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeysetPage<K, V> {
    /// Up to `limit` entries, in the query's order.
    pub items: Vec<(K, V)>,
    /// Whether at least one matching entry followed this page when it was
    /// read (found by reading one entry ahead, so a full last page says
    /// `false`).
    pub has_more: bool,
    /// The token for the next page: present exactly when `has_more`.
    pub next_cursor: Option<String>,
}

/// Keyset (cursor) pagination over an [`OrderedIndex`].
///
/// A page is "the first `limit` entries strictly after the cursor's key":
/// one `O(log n)` seek plus `limit + 1` steps, whatever the depth. Because
/// the cursor is a key rather than a position, a walk over a collection
/// that changes underneath it returns every entry present for the whole
/// walk exactly once, in key order, and never repeats an entry: keys
/// returned only ever increase (or decrease, descending). Entries inserted
/// or deleted during the walk may or may not appear, each at most once.
///
/// ```
/// use crossbeam_skiplist::SkipMap;
/// use latchwork::paginate::{KeysetPager, Query};
///
/// let index = SkipMap::new();
/// for id in 1..=5u64 {
///     index.insert(id, format!("row {id}"));
/// }
/// let pager = KeysetPager::builder().signing_key(b"secret").build()?;
/// let query = Query::ascending();
/// let first = pager.page(&index, &query, None, 2)?;
/// assert_eq!(first.items.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 2]);
/// let second = pager.page(&index, &query, first.next_cursor.as_deref(), 3)?;
/// assert_eq!(second.items.len(), 3);
/// assert!(!second.has_more); // full last page: no phantom next page
/// assert!(pager.page(&index, &Query::descending(), first.next_cursor.as_deref(), 2).is_err());
/// # Ok::<(), latchwork::paginate::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct KeysetPager {
    codec: CursorCodec,
    max_limit: usize,
}

impl Default for KeysetPager {
    /// Unsigned tokens, pages of up to [`DEFAULT_MAX_PAGE_SIZE`] entries.
    fn default() -> Self {
        KeysetPager {
            codec: CursorCodec::unsigned(),
            max_limit: DEFAULT_MAX_PAGE_SIZE,
        }
    }
}

impl KeysetPager {
    /// A builder: maximum limit and optional signing key.
    pub fn builder() -> KeysetPagerBuilder {
        KeysetPagerBuilder {
            signing_key: None,
            max_limit: DEFAULT_MAX_PAGE_SIZE,
        }
    }

    /// The codec that writes and reads this pager's tokens.
    pub fn codec(&self) -> &CursorCodec {
        &self.codec
    }

    /// The largest `limit` accepted.
    pub fn max_limit(&self) -> usize {
        self.max_limit
    }

    /// The page of `query` after `cursor` (the first page when `None`).
    pub fn page<K, V, I>(
        &self,
        index: &I,
        query: &Query,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<KeysetPage<K, V>, Error>
    where
        K: CursorKey + Clone,
        V: Clone,
        I: OrderedIndex<K, V> + ?Sized,
    {
        self.page_where(index, query, cursor, limit, |_, _| true)
    }

    /// As [`page`](Self::page), keeping only entries that satisfy `filter`.
    /// The filter should be the one `query` describes. Entries it rejects
    /// are stepped over, so the cost is `O(log n + entries examined)`.
    pub fn page_where<K, V, I>(
        &self,
        index: &I,
        query: &Query,
        cursor: Option<&str>,
        limit: usize,
        filter: impl Fn(&K, &V) -> bool,
    ) -> Result<KeysetPage<K, V>, Error>
    where
        K: CursorKey + Clone,
        V: Clone,
        I: OrderedIndex<K, V> + ?Sized,
    {
        check_page_size(limit, self.max_limit)?;
        let after = cursor
            .map(|token| self.codec.decode::<K>(query, token))
            .transpose()?;
        let mut items = Vec::with_capacity(limit.min(PRESIZE));
        let mut has_more = false;
        index.visit_after(after.as_ref(), query.order(), &mut |k, v| {
            if !filter(k, v) {
                return true;
            }
            if items.len() == limit {
                has_more = true; // the look-ahead entry: counted, not returned
                return false;
            }
            items.push((k.clone(), v.clone()));
            true
        });
        let next_cursor = match items.last() {
            Some((k, _)) if has_more => Some(self.codec.encode(query, k)?),
            _ => None,
        };
        Ok(KeysetPage {
            items,
            has_more,
            next_cursor,
        })
    }

    /// The raw form: up to `limit` entries strictly after `after`, and
    /// whether more follow, with no token involved.
    pub fn page_after<K, V, I>(
        &self,
        index: &I,
        order: Order,
        after: Option<&K>,
        limit: usize,
    ) -> Result<(Vec<(K, V)>, bool), Error>
    where
        K: Clone,
        V: Clone,
        I: OrderedIndex<K, V> + ?Sized,
    {
        check_page_size(limit, self.max_limit)?;
        let mut items = Vec::with_capacity(limit.min(PRESIZE));
        let mut has_more = false;
        index.visit_after(after, order, &mut |k, v| {
            if items.len() == limit {
                has_more = true;
                return false;
            }
            items.push((k.clone(), v.clone()));
            true
        });
        Ok((items, has_more))
    }
}

/// The most entries a page allocates room for before it is filled: a huge
/// `max_limit` and `limit` are bounds, not a request for that much memory
/// up front.
const PRESIZE: usize = 1024;

/// Builds a [`KeysetPager`].
#[derive(Debug)]
pub struct KeysetPagerBuilder {
    signing_key: Option<Vec<u8>>,
    max_limit: usize,
}

impl KeysetPagerBuilder {
    /// Signs every token with HMAC-SHA256 under `key` and refuses tokens
    /// that do not verify. Share the key among the servers of one API.
    pub fn signing_key(mut self, key: &[u8]) -> Self {
        self.signing_key = Some(key.to_vec());
        self
    }

    /// The largest `limit` a request may ask for (default
    /// [`DEFAULT_MAX_PAGE_SIZE`]).
    pub fn max_limit(mut self, max_limit: usize) -> Self {
        self.max_limit = max_limit;
        self
    }

    /// The pager, or why it cannot be built.
    pub fn build(self) -> Result<KeysetPager, Error> {
        if self.max_limit == 0 {
            return Err(Error::ZeroMaxPageSize);
        }
        let codec = match &self.signing_key {
            Some(key) => CursorCodec::signed(key)?,
            None => CursorCodec::unsigned(),
        };
        Ok(KeysetPager {
            codec,
            max_limit: self.max_limit,
        })
    }
}
