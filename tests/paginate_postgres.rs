#![cfg(all(not(loom), feature = "postgres"))]
//! `SqlPager` over a real PostgreSQL server, found through
//! `LATCHWORK_POSTGRES_URL` (`scripts/postgres up DIR` starts one and
//! prints it); each test prints `SKIPPED` and passes when it is unset.
//! Walks of a 1M-row table, a walk under concurrent writes from another
//! connection, mixed directions, ties, NULLs, refused cursors, and the
//! plan of a page at depth 900k.

use latchwork::paginate::{Dialect, Error, Nulls, Order, SqlError, SqlPager, SqlValue};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::OnceCell;
use tokio_postgres::{Client, NoTls};

const ROWS: i64 = 1_000_000;
/// 2026-01-01T00:00:00Z in microseconds since the epoch: `event.at` of id 0.
const T0: i64 = 1_767_225_600_000_000;

async fn connect() -> Option<Client> {
    let Ok(url) = std::env::var("LATCHWORK_POSTGRES_URL") else {
        // CI starts a server (.ci/run): there a missing URL is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but LATCHWORK_POSTGRES_URL is not: the PostgreSQL tests must not skip in CI"
        );
        println!("SKIPPED: LATCHWORK_POSTGRES_URL is not set (scripts/postgres up DIR prints one)");
        return None;
    };
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(client)
}

/// A connection, with the schema `lw_paginate` built once per run:
/// `event` (1M rows, four per second, every tenth score NULL, kinds a/b/c)
/// and its indexes.
async fn db() -> Option<Client> {
    static SETUP: OnceCell<()> = OnceCell::const_new();
    let client = connect().await?;
    SETUP
        .get_or_init(|| async {
            let t = Instant::now();
            client
                .batch_execute(&format!(
                    "SET client_min_messages = warning;
                     DROP SCHEMA IF EXISTS lw_paginate CASCADE;
                     CREATE SCHEMA lw_paginate;
                     CREATE TABLE lw_paginate.event (id bigint PRIMARY KEY,
                         at timestamptz NOT NULL, score int, kind text NOT NULL);
                     INSERT INTO lw_paginate.event
                       SELECT i, timestamptz '2026-01-01 00:00:00+00' + (i / 4) * interval '1 second',
                              CASE WHEN i % 10 = 0 THEN NULL ELSE (i * 7919) % 1000 END,
                              chr(97 + (i % 3)::int)
                       FROM generate_series(0::bigint, {last}) AS i;
                     CREATE INDEX event_at ON lw_paginate.event (at, id);
                     CREATE INDEX event_at_mixed ON lw_paginate.event (at DESC, id ASC);
                     CREATE INDEX event_kind_at ON lw_paginate.event (kind, at DESC, id ASC);
                     CREATE INDEX event_score ON lw_paginate.event (score, id);",
                    last = ROWS - 1
                ))
                .await
                .unwrap();
            // Not in the batch: VACUUM cannot run inside its implicit transaction.
            client
                .batch_execute("VACUUM ANALYZE lw_paginate.event")
                .await
                .unwrap();
            eprintln!("built lw_paginate.event (1M rows, 4 indexes) in {:?}", t.elapsed());
        })
        .await;
    Some(client)
}

fn by_at_id(order: Order) -> SqlPager {
    SqlPager::builder("lw_paginate.event")
        .columns(["id"])
        .sort("at", order)
        .tie_breaker("id", order)
        .signing_key(b"test key")
        .max_limit(10_000)
        .build()
        .unwrap()
}

struct Page {
    ids: Vec<i64>,
    next: Option<String>,
    prev: Option<String>,
}

async fn ids(pager: &SqlPager, client: &Client, cursor: Option<&str>, limit: usize) -> Page {
    let page = pager
        .page_postgres(client, cursor, limit, |r| r.try_get::<_, i64>(0))
        .await
        .unwrap();
    Page {
        ids: page.items,
        next: page.next_cursor,
        prev: page.prev_cursor,
    }
}

/// A page future is `Send` (spawnable, usable in an axum handler) when its
/// row closure is; the pager is `Send + Sync`.
#[test]
fn page_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SqlPager>();
    assert_send_sync::<SqlError>();
    let pager = by_at_id(Order::Ascending);
    let check = |client: &Client| {
        let fut = pager.page_postgres(client, None, 10, |r| r.try_get::<_, i64>(0));
        assert_send(&fut);
    };
    let _ = check;
}

#[tokio::test]
async fn walks_every_page_of_1m_rows_forward_and_back() {
    let Some(client) = db().await else { return };
    let pager = by_at_id(Order::Ascending);
    let t = Instant::now();
    let (mut seen, mut cursor, mut pages, mut last_prev) = (Vec::new(), None, 0, None);
    loop {
        let page = ids(&pager, &client, cursor.as_deref(), 1_000).await;
        seen.extend_from_slice(&page.ids);
        pages += 1;
        assert_eq!(page.prev.is_some(), pages > 1);
        last_prev = page.prev.or(last_prev);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    eprintln!("forward walk: {pages} pages in {:?}", t.elapsed());
    assert_eq!(pages, 1_000);
    assert!(seen.iter().copied().eq(0..ROWS));
    let (mut back, mut cursor) = (Vec::<i64>::new(), last_prev);
    while let Some(c) = cursor {
        let page = ids(&pager, &client, Some(&c), 1_000).await;
        assert!(page.next.is_some());
        back.extend(page.ids.iter().rev());
        cursor = page.prev;
    }
    assert!(back.iter().copied().eq((0..ROWS - 1_000).rev()));
}

/// `EXPLAIN` of the page `cursor` starts, with its parameters bound.
async fn explain(client: &Client, pager: &SqlPager, cursor: &str) -> String {
    let plan = pager.plan(Dialect::Postgres, Some(cursor), 50).unwrap();
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = plan
        .params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let rows = client
        .query(&format!("EXPLAIN {}", plan.sql), &params)
        .await
        .unwrap();
    let lines: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    format!("{}\n  {}", plan.sql, lines.join("\n  "))
}

#[tokio::test]
async fn page_at_depth_900k_is_an_index_scan_with_no_sort() {
    let Some(client) = db().await else { return };
    for order in [Order::Ascending, Order::Descending] {
        let pager = by_at_id(order);
        let depth = if order == Order::Ascending {
            900_000
        } else {
            ROWS - 900_001
        };
        let at = SqlValue::Timestamp(T0 + depth / 4 * 1_000_000);
        let cursor = pager.cursor_after(&[at, SqlValue::Int(depth)]).unwrap();
        let t = Instant::now();
        let page = ids(&pager, &client, Some(&cursor), 50).await;
        eprintln!("{order:?} page of 50 at depth 900k: {:?}", t.elapsed());
        let step = if order == Order::Ascending { 1 } else { -1 };
        assert_eq!(
            page.ids,
            (1..=50).map(|k| depth + k * step).collect::<Vec<_>>()
        );
        let plan = explain(&client, &pager, &cursor).await;
        eprintln!("{plan}");
        assert!(
            plan.contains("Index Only Scan") && plan.contains("using event_at on event"),
            "{plan}"
        );
        assert!(!plan.contains("Sort"), "{plan}");
    }
    let pager = SqlPager::builder("lw_paginate.event")
        .columns(["id"])
        .sort("at", Order::Descending)
        .tie_breaker("id", Order::Ascending)
        .build()
        .unwrap();
    let at = SqlValue::Timestamp(T0 + 25_000 * 1_000_000);
    let cursor = pager.cursor_after(&[at, SqlValue::Int(100_001)]).unwrap();
    let plan = explain(&client, &pager, &cursor).await;
    eprintln!("{plan}");
    assert!(
        plan.contains("Index Only Scan using event_at_mixed"),
        "{plan}"
    );
    assert!(!plan.contains("Sort"), "{plan}");
    // A nullable leading column, NULLs after the cursor's value: two index
    // ranges (non-NULL scores after it, then the NULLs), the sort joins at
    // most 2 * 51 rows, no scan of the table.
    let pager = SqlPager::builder("lw_paginate.event")
        .columns(["id"])
        .sort_nullable("score", Order::Ascending)
        .tie_breaker("id", Order::Ascending)
        .build()
        .unwrap();
    let cursor = pager
        .cursor_after(&[SqlValue::Int(900), SqlValue::Int(123)])
        .unwrap();
    let plan = explain(&client, &pager, &cursor).await;
    eprintln!("{plan}");
    assert!(plan.contains("Index Cond: (score IS NULL)"), "{plan}");
    assert!(plan.contains("Index Cond: (score >= 900)"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
}

#[tokio::test]
async fn mixed_directions_with_a_filter_match_the_database_order() {
    let Some(client) = db().await else { return };
    let pager = SqlPager::builder("lw_paginate.event")
        .columns(["id", "at"])
        .sort("at", Order::Descending)
        .tie_breaker("id", Order::Ascending)
        .filter("kind = $1", ["b"])
        .max_limit(10_000)
        .build()
        .unwrap();
    let want: Vec<i64> = client
        .query(
            "SELECT id FROM lw_paginate.event WHERE kind = 'b' ORDER BY at DESC, id ASC",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(want.len(), 333_333);
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let page = ids(&pager, &client, cursor.as_deref(), 4_999).await;
        seen.extend(page.ids);
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, want);
    assert!(seen.windows(2).any(|w| w[0] / 4 == w[1] / 4 && w[0] < w[1]));
}

#[tokio::test]
async fn equal_timestamps_are_split_by_the_tie_breaker() {
    let Some(client) = db().await else { return };
    client
        .batch_execute(
            "CREATE TABLE lw_paginate.post (id int PRIMARY KEY, created_at timestamptz NOT NULL);
             INSERT INTO lw_paginate.post
               SELECT i, timestamptz '2026-01-01 00:00:00+00' + (i / 20) * interval '1 minute'
               FROM generate_series(0, 99) AS i;
             CREATE INDEX post_created ON lw_paginate.post (created_at, id);",
        )
        .await
        .unwrap();
    let pager = SqlPager::builder("lw_paginate.post")
        .columns(["id"])
        .sort("created_at", Order::Ascending)
        .tie_breaker("id", Order::Ascending)
        .build()
        .unwrap();
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let page = pager
            .page_postgres(&client, cursor.as_deref(), 7, |r| r.try_get::<_, i32>(0))
            .await
            .unwrap();
        seen.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    let naive: i32 = client
        .query_one(
            "SELECT min(id) FROM lw_paginate.post
             WHERE created_at > (SELECT created_at FROM lw_paginate.post WHERE id = 6)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(naive, 20, "the naive predicate loses ids 7..20");
}

#[tokio::test]
async fn nullable_sort_column_follows_the_null_rule_both_ways() {
    let Some(client) = db().await else { return };
    client
        .batch_execute(
            "CREATE TABLE lw_paginate.item (id bigint PRIMARY KEY, score int);
             INSERT INTO lw_paginate.item
               SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 31) % 50 END
               FROM generate_series(0, 1999) AS i;
             CREATE INDEX item_score ON lw_paginate.item (score, id);",
        )
        .await
        .unwrap();
    for nulls in [Nulls::Largest, Nulls::Smallest] {
        for order in [Order::Ascending, Order::Descending] {
            let pager = SqlPager::builder("lw_paginate.item")
                .columns(["id"])
                .sort_nullable("score", order)
                .tie_breaker("id", order)
                .nulls(nulls)
                .build()
                .unwrap();
            // The reference: PostgreSQL's own ORDER BY with the rule spelled out.
            let (dir, first) = match (order, nulls) {
                (Order::Ascending, Nulls::Largest) => ("ASC", "LAST"),
                (Order::Ascending, Nulls::Smallest) => ("ASC", "FIRST"),
                (Order::Descending, Nulls::Largest) => ("DESC", "FIRST"),
                (Order::Descending, Nulls::Smallest) => ("DESC", "LAST"),
            };
            let want: Vec<i64> = client
                .query(
                    &format!(
                        "SELECT id FROM lw_paginate.item ORDER BY score {dir} NULLS {first}, id {dir}"
                    ),
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let (mut seen, mut cursor, mut last_prev) = (Vec::new(), None, None);
            loop {
                let page = ids(&pager, &client, cursor.as_deref(), 13).await;
                seen.extend(page.ids);
                last_prev = page.prev.or(last_prev);
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            assert_eq!(seen, want, "{order:?} {nulls:?}");
            let (mut back, mut cursor) = (Vec::<i64>::new(), last_prev);
            while let Some(c) = cursor {
                let page = ids(&pager, &client, Some(&c), 13).await;
                back.extend(page.ids.iter().rev());
                cursor = page.prev;
            }
            back.reverse();
            let tail = match want.len() % 13 {
                0 => 13,
                t => t,
            };
            assert_eq!(
                back,
                want[..want.len() - tail],
                "{order:?} {nulls:?} backward"
            );
        }
    }
}

#[tokio::test]
async fn foreign_tampered_and_truncated_cursors_are_refused() {
    let Some(client) = db().await else { return };
    let pager = by_at_id(Order::Ascending);
    let token = ids(&pager, &client, None, 10).await.next.unwrap();
    async fn refused(p: &SqlPager, client: &Client, t: &str) -> Error {
        match p
            .page_postgres(client, Some(t), 10, |r| r.try_get::<_, i64>(0))
            .await
        {
            Err(SqlError::Page(e)) => e,
            other => panic!("accepted: {:?}", other.map(|p| p.items)),
        }
    }
    let filtered = |v: &str| {
        SqlPager::builder("lw_paginate.event")
            .columns(["id"])
            .sort("at", Order::Ascending)
            .tie_breaker("id", Order::Ascending)
            .filter("kind = $1", [v])
            .signing_key(b"test key")
            .build()
            .unwrap()
    };
    let other_table = SqlPager::builder("lw_paginate.item")
        .columns(["id"])
        .sort("at", Order::Ascending)
        .tie_breaker("id", Order::Ascending)
        .signing_key(b"test key")
        .build()
        .unwrap();
    for other in [by_at_id(Order::Descending), other_table, filtered("a")] {
        assert_eq!(
            refused(&other, &client, &token).await,
            Error::CursorQueryMismatch
        );
    }
    let a_token = ids(&filtered("a"), &client, None, 10).await.next.unwrap();
    assert_eq!(
        refused(&filtered("b"), &client, &a_token).await,
        Error::CursorQueryMismatch
    );
    for i in 0..token.len() {
        let mut t = token.clone().into_bytes();
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        let e = refused(&pager, &client, std::str::from_utf8(&t).unwrap()).await;
        assert!(
            matches!(
                e,
                Error::BadCursorSignature
                    | Error::CursorQueryMismatch
                    | Error::MalformedCursor { .. }
                    | Error::UnsupportedCursorVersion { .. }
            ),
            "{e:?}"
        );
    }
    for cut in 0..token.len() {
        let e = refused(&pager, &client, &token[..cut]).await;
        assert!(
            matches!(e, Error::BadCursorSignature | Error::MalformedCursor { .. }),
            "{e:?}"
        );
    }
}

/// A second connection inserts, deletes and moves rows (updates the sort
/// key) while a walk pages through 1M rows: every row that stays put is
/// seen exactly once, and keys only ever increase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walk_under_concurrent_writes_sees_every_stable_row_once_in_order() {
    let Some(client) = db().await else { return };
    let t = Instant::now();
    client
        .batch_execute(&format!(
            "CREATE TABLE lw_paginate.walk (id bigint PRIMARY KEY, at int NOT NULL);
             INSERT INTO lw_paginate.walk
               SELECT i, ((i * 2654435761) % 100000)::int FROM generate_series(0::bigint, {last}) AS i;
             CREATE INDEX walk_at ON lw_paginate.walk (at, id);",
            last = ROWS - 1
        ))
        .await
        .unwrap();
    client
        .batch_execute("VACUUM ANALYZE lw_paginate.walk")
        .await
        .unwrap();
    eprintln!("built walk (1M rows) in {:?}", t.elapsed());
    let writer = connect().await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn({
        let (stop, writes) = (stop.clone(), writes.clone());
        async move {
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut next_id = 2 * ROWS;
            let insert = writer
                .prepare("INSERT INTO lw_paginate.walk VALUES ($1, $2)")
                .await
                .unwrap();
            let delete = writer
                .prepare("DELETE FROM lw_paginate.walk WHERE id = $1")
                .await
                .unwrap();
            let update = writer
                .prepare("UPDATE lw_paginate.walk SET at = $2 WHERE id = $1")
                .await
                .unwrap();
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let odd = (2 * (x % (ROWS as u64 / 2)) + 1) as i64;
                let at = ((x >> 20) % 100_000) as i32;
                match x % 3 {
                    0 => {
                        writer.execute(&insert, &[&next_id, &at]).await.unwrap();
                        next_id += 2;
                    }
                    1 => {
                        writer.execute(&delete, &[&odd]).await.unwrap();
                    }
                    _ => {
                        writer.execute(&update, &[&odd, &at]).await.unwrap();
                    }
                }
                writes.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let pager = SqlPager::builder("lw_paginate.walk")
        .columns(["id", "at"])
        .sort("at", Order::Ascending)
        .tie_breaker("id", Order::Ascending)
        .signing_key(b"walk")
        .build()
        .unwrap();
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let page = pager
            .page_postgres(&client, cursor.as_deref(), 1_000, |r| {
                Ok((r.try_get::<_, i64>(0)?, r.try_get::<_, i32>(1)?))
            })
            .await
            .unwrap();
        seen.extend(page.items);
        pages += 1;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    task.await.unwrap();
    let writes = writes.load(Ordering::Relaxed);
    eprintln!(
        "walked {} rows in {pages} pages while {writes} writes ran, {:?}",
        seen.len(),
        t.elapsed()
    );
    assert!(writes >= 1_000, "the writer barely ran: {writes}");
    let keys: Vec<(i32, i64)> = seen.iter().map(|&(id, at)| (at, id)).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys out of order");
    let mut stable: Vec<i64> = seen
        .iter()
        .map(|&(id, _)| id)
        .filter(|id| id % 2 == 0 && *id < ROWS)
        .collect();
    assert_eq!(
        stable.len(),
        ROWS as usize / 2,
        "every stable row exactly once"
    );
    stable.sort_unstable();
    stable.dedup();
    assert_eq!(stable.len(), ROWS as usize / 2);
}
