#![cfg(all(not(loom), feature = "paginate"))]
//! Pagination against plain sequential references: keyset walks equal the
//! sorted set, offset pages tile the collection, iterator pages equal
//! `skip`/`take`, and cursor tokens are bound to their query and key.

use crossbeam_skiplist::SkipMap;
use latchwork::paginate::{
    CursorCodec, Error, KeysetPager, OffsetPager, Order, Query, DEFAULT_MAX_PAGE_SIZE,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn pagers_are_send_sync() {
    assert_send_sync::<OffsetPager>();
    assert_send_sync::<KeysetPager>();
    assert_send_sync::<CursorCodec>();
    assert_send_sync::<Query>();
}

/// Walks every page of `query`, checking `has_more`/`next_cursor` on the way.
fn walk<I: latchwork::paginate::OrderedIndex<u32, u32>>(
    pager: &KeysetPager,
    index: &I,
    query: &Query,
    limit: usize,
) -> Vec<u32> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = pager.page(index, query, cursor.as_deref(), limit).unwrap();
        assert!(page.items.len() <= limit);
        assert_eq!(page.has_more, page.next_cursor.is_some());
        if page.has_more {
            assert_eq!(page.items.len(), limit, "only a full page can have more");
        }
        out.extend(page.items.iter().map(|(k, v)| {
            assert_eq!(*v, k.wrapping_mul(3));
            *k
        }));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

proptest! {
    #[test]
    fn keyset_walk_equals_sorted_set(
        keys in prop::collection::btree_set(any::<u32>(), 0..300),
        limit in 1usize..40,
        signed in any::<bool>(),
        descending in any::<bool>(),
    ) {
        let skip: SkipMap<u32, u32> = SkipMap::new();
        let btree: BTreeMap<u32, u32> = BTreeMap::new();
        let mut btree = btree;
        for &k in &keys {
            skip.insert(k, k.wrapping_mul(3));
            btree.insert(k, k.wrapping_mul(3));
        }
        let mut b = KeysetPager::builder();
        if signed {
            b = b.signing_key(b"proptest key");
        }
        let pager = b.build().unwrap();
        let query = if descending { Query::descending() } else { Query::ascending() };
        let mut expected: Vec<u32> = keys.iter().copied().collect();
        if descending {
            expected.reverse();
        }
        prop_assert_eq!(&walk(&pager, &skip, &query, limit), &expected);
        prop_assert_eq!(&walk(&pager, &btree, &query, limit), &expected);
        // A full last page does not claim more.
        if !keys.is_empty() && keys.len() <= DEFAULT_MAX_PAGE_SIZE {
            let page = pager.page(&skip, &query, None, keys.len()).unwrap();
            prop_assert!(!page.has_more);
            prop_assert!(page.next_cursor.is_none());
        }
    }

    #[test]
    fn filtered_walk_equals_filtered_set(
        keys in prop::collection::btree_set(0u32..1000, 0..200),
        limit in 1usize..20,
    ) {
        let index: SkipMap<u32, u32> = keys.iter().map(|&k| (k, k.wrapping_mul(3))).collect();
        let pager = KeysetPager::default();
        let query = Query::ascending().with_filter("k % 3 == 0");
        let mut cursor: Option<String> = None;
        let mut got = Vec::new();
        loop {
            let page = pager
                .page_where(&index, &query, cursor.as_deref(), limit, |k, _| k % 3 == 0)
                .unwrap();
            got.extend(page.items.iter().map(|(k, _)| *k));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let expected: Vec<u32> = keys.iter().copied().filter(|k| k % 3 == 0).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn offset_pages_tile_the_collection(
        len in 0usize..500,
        page_size in 1usize..60,
    ) {
        let data: Vec<usize> = (0..len).collect();
        let pager = OffsetPager::new(100).unwrap();
        let mut seen = Vec::new();
        let mut page_no = 1;
        loop {
            let page = pager.page_of_slice(&data, page_no, page_size).unwrap();
            prop_assert_eq!(page.total, len);
            prop_assert_eq!(page.total_pages, len.div_ceil(page_size));
            prop_assert_eq!(page.has_prev, page_no > 1);
            prop_assert_eq!(page.has_next, page_no < page.total_pages);
            if page.items.is_empty() {
                prop_assert!(page_no > page.total_pages, "only pages past the end are empty");
                break;
            }
            if page.has_next {
                prop_assert_eq!(page.items.len(), page_size);
            }
            seen.extend(page.items);
            page_no += 1;
        }
        prop_assert_eq!(page_no, len.div_ceil(page_size) + 1);
        prop_assert_eq!(seen, data);
    }

    #[test]
    fn iterator_pages_equal_skip_take(
        len in 0usize..300,
        page in 1usize..30,
        page_size in 1usize..40,
    ) {
        let got = OffsetPager::default().page_of_iter(0..len, page, page_size).unwrap();
        let start = (page - 1) * page_size;
        let expected: Vec<usize> = (0..len).skip(start).take(page_size).collect();
        prop_assert_eq!(&got.items, &expected);
        prop_assert_eq!(got.has_more, start + page_size < len);
        prop_assert_eq!((got.page, got.page_size), (page, page_size));
    }

    #[test]
    fn tokens_round_trip_and_bind_to_their_query(
        key in any::<(u64, String)>(),
        filter_a in "[a-z=]{0,8}",
        filter_b in "[a-z=]{0,8}",
        signed in any::<bool>(),
    ) {
        let codec = if signed { CursorCodec::signed(b"k").unwrap() } else { CursorCodec::unsigned() };
        let a = Query::ascending().with_filter(filter_a.clone());
        let b = Query::descending().with_filter(filter_b.clone());
        let token = codec.encode(&a, &key).unwrap();
        prop_assert!(token.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        prop_assert_eq!(codec.decode::<(u64, String)>(&a, &token), Ok(key.clone()));
        prop_assert_eq!(codec.decode::<(u64, String)>(&b, &token), Err(Error::CursorQueryMismatch));
        if filter_a != filter_b {
            let a2 = Query::ascending().with_filter(filter_b);
            prop_assert_eq!(codec.decode::<(u64, String)>(&a2, &token), Err(Error::CursorQueryMismatch));
        }
    }
}

#[test]
fn offset_requests_are_validated() {
    let pager = OffsetPager::new(50).unwrap();
    assert_eq!(pager.request(0, 10), Err(Error::ZeroPage));
    assert_eq!(pager.request(1, 0), Err(Error::ZeroPageSize));
    assert_eq!(
        pager.request(1, 51),
        Err(Error::PageSizeTooLarge {
            requested: 51,
            max: 50
        })
    );
    assert_eq!(OffsetPager::new(0), Err(Error::ZeroMaxPageSize));
    let r = pager.request(3, 20).unwrap();
    assert_eq!((r.offset(), r.limit()), (40, 20));
    // Far past the end: an empty page, not an error, and no overflow.
    let page = pager.page_of_slice(&[1, 2, 3], usize::MAX, 50).unwrap();
    assert!(page.items.is_empty());
    assert_eq!(
        (page.total, page.total_pages, page.has_next, page.has_prev),
        (3, 1, false, true)
    );
    let empty = pager.page_of_slice::<u8>(&[], 1, 10).unwrap();
    assert_eq!(
        (empty.total_pages, empty.has_next, empty.has_prev),
        (0, false, false)
    );
    assert_eq!(pager.page_of_iter(0..10, 1, 0), Err(Error::ZeroPageSize));
}

#[test]
fn iterator_full_last_page_has_no_more() {
    let page = OffsetPager::default().page_of_iter(0..10, 2, 5).unwrap();
    assert_eq!(page.items, vec![5, 6, 7, 8, 9]);
    assert!(!page.has_more);
    // Lazy: works on an infinite iterator.
    let page = OffsetPager::default()
        .page_of_iter(0u64.., 1_000, 3)
        .unwrap();
    assert_eq!(page.items, vec![2_997, 2_998, 2_999]);
    assert!(page.has_more);
}

#[test]
fn keyset_limits_are_validated() {
    let index: SkipMap<u64, ()> = SkipMap::new();
    let pager = KeysetPager::builder().max_limit(10).build().unwrap();
    let q = Query::ascending();
    assert_eq!(
        pager.page::<u64, (), _>(&index, &q, None, 0).unwrap_err(),
        Error::ZeroPageSize
    );
    assert!(matches!(
        pager.page::<u64, (), _>(&index, &q, None, 11),
        Err(Error::PageSizeTooLarge {
            requested: 11,
            max: 10
        })
    ));
    assert_eq!(
        KeysetPager::builder().max_limit(0).build().unwrap_err(),
        Error::ZeroMaxPageSize
    );
    assert_eq!(
        KeysetPager::builder().signing_key(b"").build().unwrap_err(),
        Error::EmptySigningKey
    );
    let page = pager.page::<u64, (), _>(&index, &q, None, 5).unwrap();
    assert!(page.items.is_empty() && !page.has_more && page.next_cursor.is_none());
}

#[test]
fn bad_tokens_are_typed_errors() {
    let q = Query::ascending();
    let plain = CursorCodec::unsigned();
    let signed = CursorCodec::signed(b"server key").unwrap();
    let other_key = CursorCodec::signed(b"another key").unwrap();
    let malformed = |r: Result<u64, Error>| matches!(r, Err(Error::MalformedCursor { .. }));

    assert!(malformed(plain.decode(&q, "not base64!")));
    assert!(malformed(plain.decode(&q, "")));
    assert!(malformed(plain.decode(&q, "AQA")));
    assert!(malformed(plain.decode(&q, &"A".repeat(5_000))));
    // Version 2 header.
    let v2 = base64_url(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(
        plain.decode::<u64>(&q, &v2),
        Err(Error::UnsupportedCursorVersion { version: 2 })
    );
    // Key of the wrong width for u64.
    let token = plain.encode(&q, &7u32).unwrap();
    assert!(malformed(plain.decode::<u64>(&q, &token)));
    assert_eq!(plain.decode::<u32>(&q, &token), Ok(7));

    let token = signed.encode(&q, &42u64).unwrap();
    assert_eq!(signed.decode::<u64>(&q, &token), Ok(42));
    assert_eq!(
        other_key.decode::<u64>(&q, &token),
        Err(Error::BadCursorSignature)
    );
    assert_eq!(
        plain.decode::<u64>(&q, &token),
        Err(Error::BadCursorSignature)
    );
    assert_eq!(
        signed.decode::<u64>(&q, &plain.encode(&q, &42u64).unwrap()),
        Err(Error::BadCursorSignature)
    );
    // Flip every bit of every byte: each altered token is refused.
    let raw = decode_url(&token);
    for i in 0..raw.len() {
        for bit in 0..8 {
            let mut t = raw.clone();
            t[i] ^= 1 << bit;
            assert!(
                signed.decode::<u64>(&q, &base64_url(&t)).is_err(),
                "byte {i} bit {bit}"
            );
        }
    }
    // Unsigned tokens detect a changed query even though they can be forged.
    let d = Query::descending();
    assert_eq!(
        plain.decode::<u64>(&d, &plain.encode(&q, &1u64).unwrap()),
        Err(Error::CursorQueryMismatch)
    );
    assert_eq!(
        signed.decode::<u64>(&d, &token),
        Err(Error::CursorQueryMismatch)
    );
    for e in [
        Error::MalformedCursor { reason: "x" },
        Error::CursorQueryMismatch,
        Error::BadCursorSignature,
        Error::ZeroPage,
    ] {
        assert!(!e.to_string().is_empty());
    }
    assert!(format!("{signed:?}").contains("signed: true"));
    assert!(!format!("{signed:?}").contains("server key"));
}

#[test]
fn descending_walk_over_btreemap_and_raw_page_after() {
    let index: BTreeMap<u32, u32> = (0..10).map(|k| (k, k * 3)).collect();
    let pager = KeysetPager::default();
    let (items, more) = pager
        .page_after(&index, Order::Descending, Some(&5), 3)
        .unwrap();
    assert_eq!(items, vec![(4, 12), (3, 9), (2, 6)]);
    assert!(more);
    let (items, more) = pager
        .page_after(&index, Order::Ascending, Some(&6), 3)
        .unwrap();
    assert_eq!(items, vec![(7, 21), (8, 24), (9, 27)]);
    assert!(!more);
    // A cursor whose key was deleted still seeks to the right place.
    let q = Query::ascending();
    let token = pager.codec().encode(&q, &100u32).unwrap();
    let page = pager.page(&index, &q, Some(&token), 5).unwrap();
    assert!(page.items.is_empty());
    let set: BTreeSet<u32> = index.keys().copied().collect();
    assert_eq!(set.len(), 10);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

/// Found by the `paginate_cursor` fuzz target: a key long enough to make a
/// token past `MAX_CURSOR_LEN` used to encode to a token that `decode`
/// refused. Now `encode` refuses it, so every written token reads back.
#[test]
fn too_long_cursor_keys_are_refused_at_encode() {
    use latchwork::paginate::{CursorCodec, Error, Query, MAX_CURSOR_LEN};
    let q = Query::ascending();
    for codec in [CursorCodec::unsigned(), CursorCodec::signed(b"k").unwrap()] {
        let long = "x".repeat(MAX_CURSOR_LEN);
        assert!(matches!(
            codec.encode(&q, &long),
            Err(Error::CursorTooLong {
                max: MAX_CURSOR_LEN,
                ..
            })
        ));
        let short = "y".repeat(MAX_CURSOR_LEN / 2);
        let token = codec.encode(&q, &short).unwrap();
        assert_eq!(codec.decode::<String>(&q, &token).unwrap(), short);
    }
}
