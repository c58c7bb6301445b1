use super::error::{check_page_size, Error};

/// The maximum page size of [`OffsetPager::default`].
pub const DEFAULT_MAX_PAGE_SIZE: usize = 1_000;

/// A validated offset page request: `page` (1-indexed) of `page_size`
/// items, convertible to an `OFFSET`/`LIMIT` pair for a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageRequest {
    page: usize,
    page_size: usize,
}

impl PageRequest {
    /// The page number, from 1.
    pub fn page(&self) -> usize {
        self.page
    }

    /// Items per page.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Items before this page: `(page - 1) * page_size`, saturating.
    pub fn offset(&self) -> usize {
        (self.page - 1).saturating_mul(self.page_size)
    }

    /// Items on a full page: `page_size`.
    pub fn limit(&self) -> usize {
        self.page_size
    }
}

/// One offset page of a collection whose size is known.
///
/// A page past the end has no items; `has_prev` is still true for it
/// (there are earlier pages to go back to) and `has_next` false.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The items on this page, at most `page_size`.
    pub items: Vec<T>,
    /// This page's number, from 1.
    pub page: usize,
    /// Items per page.
    pub page_size: usize,
    /// Items in the whole collection.
    pub total: usize,
    /// Pages needed for `total` items: `ceil(total / page_size)`, 0 when
    /// the collection is empty.
    pub total_pages: usize,
    /// Whether a later page has items (`page < total_pages`).
    pub has_next: bool,
    /// Whether this is not the first page (`page > 1`).
    pub has_prev: bool,
}

impl<T> Page<T> {
    /// Assembles a page from the items a store returned for `request` and
    /// the collection's total size.
    pub fn new(items: Vec<T>, request: PageRequest, total: usize) -> Self {
        let total_pages = total.div_ceil(request.page_size);
        Page {
            items,
            page: request.page,
            page_size: request.page_size,
            total,
            total_pages,
            has_next: request.page < total_pages,
            has_prev: request.page > 1,
        }
    }

    /// The same page with each item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
            page_size: self.page_size,
            total: self.total,
            total_pages: self.total_pages,
            has_next: self.has_next,
            has_prev: self.has_prev,
        }
    }
}

/// Validates offset page requests against a maximum page size and cuts
/// pages from slices and iterators.
///
/// Offset pages are simple, but reaching page `k` costs `O(offset)` in
/// most stores, and rows inserted or deleted between requests shift every
/// later page (an item is skipped or shown twice). Use
/// [`KeysetPager`](super::KeysetPager) for deep or changing collections.
///
/// ```
/// use latchwork::paginate::{Error, OffsetPager};
///
/// let pager = OffsetPager::new(100)?;
/// let data: Vec<u32> = (1..=25).collect();
/// let page = pager.page_of_slice(&data, 3, 10)?;
/// assert_eq!(page.items, vec![21, 22, 23, 24, 25]);
/// assert_eq!((page.total_pages, page.has_next, page.has_prev), (3, false, true));
/// assert!(pager.page_of_slice(&data, 4, 10)?.items.is_empty()); // past the end
/// assert_eq!(pager.request(0, 10), Err(Error::ZeroPage));
/// assert!(matches!(pager.request(1, 101), Err(Error::PageSizeTooLarge { .. })));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetPager {
    max_page_size: usize,
}

impl Default for OffsetPager {
    /// A pager allowing pages of up to [`DEFAULT_MAX_PAGE_SIZE`] items.
    fn default() -> Self {
        OffsetPager {
            max_page_size: DEFAULT_MAX_PAGE_SIZE,
        }
    }
}

impl OffsetPager {
    /// A pager allowing pages of up to `max_page_size` items.
    pub fn new(max_page_size: usize) -> Result<Self, Error> {
        if max_page_size == 0 {
            return Err(Error::ZeroMaxPageSize);
        }
        Ok(OffsetPager { max_page_size })
    }

    /// The largest page size this pager accepts.
    pub fn max_page_size(&self) -> usize {
        self.max_page_size
    }

    /// Validates a request: `page` from 1, `page_size` from 1 to the
    /// maximum.
    pub fn request(&self, page: usize, page_size: usize) -> Result<PageRequest, Error> {
        if page == 0 {
            return Err(Error::ZeroPage);
        }
        check_page_size(page_size, self.max_page_size)?;
        Ok(PageRequest { page, page_size })
    }

    /// Page `page` of a slice, cloning its items.
    pub fn page_of_slice<T: Clone>(
        &self,
        items: &[T],
        page: usize,
        page_size: usize,
    ) -> Result<Page<T>, Error> {
        let request = self.request(page, page_size)?;
        let start = request.offset().min(items.len());
        let end = start.saturating_add(request.limit()).min(items.len());
        Ok(Page::new(items[start..end].to_vec(), request, items.len()))
    }

    /// Page `page` of an iterator without collecting it: skips
    /// `offset` items, takes up to `page_size`, and looks one item further
    /// to tell whether more follow. Costs `O(offset + page_size)` steps and
    /// `O(page_size)` memory; the total is not known.
    ///
    /// ```
    /// use latchwork::paginate::OffsetPager;
    ///
    /// let page = OffsetPager::default().page_of_iter((1..).map(|n| n * n), 2, 3)?;
    /// assert_eq!(page.items, vec![16, 25, 36]);
    /// assert!(page.has_more); // an infinite iterator always has more
    /// # Ok::<(), latchwork::paginate::Error>(())
    /// ```
    pub fn page_of_iter<I: IntoIterator>(
        &self,
        iter: I,
        page: usize,
        page_size: usize,
    ) -> Result<IterPage<I::Item>, Error> {
        let request = self.request(page, page_size)?;
        let mut iter = iter.into_iter().skip(request.offset());
        let items: Vec<I::Item> = iter.by_ref().take(request.limit()).collect();
        // Only a full page can have a successor; a short one proves the end.
        let has_more = items.len() == request.limit() && iter.next().is_some();
        Ok(IterPage {
            items,
            page: request.page,
            page_size: request.page_size,
            has_more,
        })
    }
}

/// A page cut from an iterator, whose total is unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IterPage<T> {
    /// The items on this page, at most `page_size`.
    pub items: Vec<T>,
    /// This page's number, from 1.
    pub page: usize,
    /// Items per page.
    pub page_size: usize,
    /// Whether at least one item follows this page (found by looking one
    /// item ahead, so a full last page says `false`).
    pub has_more: bool,
}
