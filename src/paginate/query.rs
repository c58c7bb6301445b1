/// The direction a keyset walk goes through the key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Smallest key first.
    #[default]
    Ascending,
    /// Largest key first.
    Descending,
}

/// What a cursor is bound to: the sort order and a filter description.
///
/// A token issued for one query is refused for any other, so a client
/// cannot reuse a cursor after changing its sort or filter (which would
/// silently skip or repeat items). `filter` is the caller's canonical text
/// for the filter (for example `"status=open"`); it takes part in the
/// binding only, the predicate itself is passed to
/// [`KeysetPager::page_where`](super::KeysetPager::page_where).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Query {
    order: Order,
    filter: String,
}

impl Query {
    /// An unfiltered query in ascending key order.
    pub fn ascending() -> Self {
        Query {
            order: Order::Ascending,
            filter: String::new(),
        }
    }

    /// An unfiltered query in descending key order.
    pub fn descending() -> Self {
        Query {
            order: Order::Descending,
            filter: String::new(),
        }
    }

    /// The same query bound to a filter description.
    pub fn with_filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = filter.into();
        self
    }

    /// The sort order.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The filter description.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// The order as one byte, for hashing and signing.
    pub(crate) fn order_byte(&self) -> u8 {
        match self.order {
            Order::Ascending => b'a',
            Order::Descending => b'd',
        }
    }

    /// A stable 64-bit FNV-1a hash of the order and the filter: the same on
    /// every platform and build, so tokens outlive restarts.
    pub fn fingerprint(&self) -> u64 {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        std::iter::once(self.order_byte())
            .chain(self.filter.bytes())
            .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
    }
}
