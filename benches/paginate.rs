//! One page of 50 at depth 900,000 of a 1,000,000-entry `SkipMap`:
//! keyset (token decode + seek + 51 steps + token encode) against an offset
//! page (`skip(900_000).take(50)`, what `OFFSET` does) and against a cursor
//! found by a linear scan from the start.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use crossbeam_skiplist::SkipMap;
use latchwork::paginate::{KeysetPager, OffsetPager, Query};
use std::time::Duration;

mod common;

const ITEMS: u64 = 1_000_000;
const DEPTH: u64 = 900_000;
const LIMIT: usize = 50;

fn bench_depth(c: &mut Criterion) {
    // Even keys, so a cursor names a key that exists but pages seek past it.
    let index: SkipMap<u64, u64> = SkipMap::new();
    for i in 0..ITEMS {
        index.insert(2 * i, i);
    }
    let query = Query::ascending();
    let pager = KeysetPager::builder()
        .signing_key(b"bench")
        .build()
        .unwrap();
    let cursor_key = 2 * (DEPTH - 1); // the last key of the page before
    let token = pager.codec().encode(&query, &cursor_key).unwrap();
    let offset_pager = OffsetPager::default();
    let page_no = (DEPTH as usize) / LIMIT + 1;

    // All three return the same page.
    let keyset = pager
        .page::<u64, u64, _>(&index, &query, Some(&token), LIMIT)
        .unwrap();
    let offset = offset_pager
        .page_of_iter(index.iter().map(|e| (*e.key(), *e.value())), page_no, LIMIT)
        .unwrap();
    assert_eq!(keyset.items, offset.items);
    assert_eq!(keyset.items[0].0, 2 * DEPTH);

    let mut g = c.benchmark_group("paginate/depth-900k-of-1M");
    g.throughput(Throughput::Elements(LIMIT as u64));
    g.sample_size(10).warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("keyset", |b| {
        b.iter(|| {
            let page = pager
                .page::<u64, u64, _>(&index, &query, Some(black_box(&token)), LIMIT)
                .unwrap();
            black_box(page)
        })
    });
    g.bench_function("offset", |b| {
        b.iter(|| {
            let page = offset_pager
                .page_of_iter(
                    index.iter().map(|e| (*e.key(), *e.value())),
                    black_box(page_no),
                    LIMIT,
                )
                .unwrap();
            black_box(page)
        })
    });
    g.bench_function("linear-scan", |b| {
        b.iter(|| {
            let after = pager
                .codec()
                .decode::<u64>(&query, black_box(&token))
                .unwrap();
            let page: Vec<(u64, u64)> = index
                .iter()
                .skip_while(|e| *e.key() <= after)
                .take(LIMIT + 1)
                .map(|e| (*e.key(), *e.value()))
                .collect();
            black_box(page)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::heavy_config();
    targets = bench_depth
}
criterion_main!(benches);
