#![cfg(all(not(loom), feature = "sqlite"))]
//! `SqlPager` over a real SQLite database (bundled, no server): walks of a
//! 1M-row table, a walk under concurrent writes from another connection,
//! mixed directions, ties, NULLs, refused cursors, and the query plan of a
//! page at depth 900k.

use latchwork::paginate::{Error, Nulls, Order, SqlError, SqlPager, SqlValue};
use rusqlite::{params, Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

const ROWS: i64 = 1_000_000;

/// A database file private to this run of the test binary. The folders
/// of earlier runs (whose process is gone) are removed first: the two
/// databases take about 100 MB.
fn db_path(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let tmp = std::env::temp_dir();
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("latchwork-sqlite-") {
                if !std::path::Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = tmp.join(format!("latchwork-sqlite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    });
    dir.join(name)
}

fn open(path: &PathBuf) -> Connection {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    )
    .unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    conn
}

/// `event`: 1M rows, four per timestamp (`at = id / 4`), every tenth score
/// NULL, kinds a/b/c; indexes for each sort the tests use.
fn events() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = db_path("events.db");
        let _ = std::fs::remove_file(&path);
        let t = Instant::now();
        let conn = open(&path);
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE event (id INTEGER PRIMARY KEY, at INTEGER NOT NULL,
                                 score INTEGER, kind TEXT NOT NULL);
             BEGIN;
             WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {last})
             INSERT INTO event (id, at, score, kind)
               SELECT i, i / 4, CASE WHEN i % 10 = 0 THEN NULL ELSE (i * 7919) % 1000 END,
                      char(97 + i % 3) FROM s;
             COMMIT;
             CREATE INDEX event_at ON event (at, id);
             CREATE INDEX event_at_mixed ON event (at DESC, id ASC);
             CREATE INDEX event_kind_at ON event (kind, at DESC, id ASC);
             CREATE INDEX event_score ON event (score, id);
             ANALYZE;",
            last = ROWS - 1
        ))
        .unwrap();
        eprintln!("built event (1M rows, 4 indexes) in {:?}", t.elapsed());
        path
    })
}

fn ids(pager: &SqlPager, conn: &Connection, cursor: Option<&str>, limit: usize) -> Page {
    let page = pager
        .page_sqlite(conn, cursor, limit, |r| r.get::<_, i64>(0))
        .unwrap();
    Page {
        ids: page.items,
        next: page.next_cursor,
        prev: page.prev_cursor,
    }
}

struct Page {
    ids: Vec<i64>,
    next: Option<String>,
    prev: Option<String>,
}

fn by_at_id(order: Order) -> SqlPager {
    SqlPager::builder("event")
        .columns(["id"])
        .sort("at", order)
        .tie_breaker("id", order)
        .signing_key(b"test key")
        .max_limit(10_000)
        .build()
        .unwrap()
}

#[test]
fn walks_every_page_of_1m_rows_forward_and_back() {
    let conn = open(events());
    let pager = by_at_id(Order::Ascending);
    let t = Instant::now();
    let (mut seen, mut cursor, mut pages) = (Vec::with_capacity(ROWS as usize), None, 0);
    let mut last_prev = None;
    loop {
        let page = ids(&pager, &conn, cursor.as_deref(), 1_000);
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
    assert_eq!(pages, 1_000, "a full last page has no phantom next page");
    assert!(seen.iter().copied().eq(0..ROWS));

    // Back from the last page to the first through the previous cursors.
    let mut back: Vec<i64> = Vec::with_capacity(ROWS as usize);
    let mut cursor = last_prev;
    while let Some(c) = cursor {
        let page = ids(&pager, &conn, Some(&c), 1_000);
        assert!(page.next.is_some(), "a backward page always has a next");
        back.extend(page.ids.iter().rev());
        cursor = page.prev;
    }
    assert!(back.iter().copied().eq((0..ROWS - 1_000).rev()));
}

#[test]
fn page_at_depth_900k_is_an_index_seek_with_no_sort() {
    let conn = open(events());
    for (order, index) in [
        (Order::Ascending, "event_at"),
        (Order::Descending, "event_at"),
    ] {
        let pager = by_at_id(order);
        let depth = if order == Order::Ascending {
            900_000
        } else {
            ROWS - 900_001
        };
        let cursor = pager
            .cursor_after(&[SqlValue::Int(depth / 4), SqlValue::Int(depth)])
            .unwrap();
        let t = Instant::now();
        let page = ids(&pager, &conn, Some(&cursor), 50);
        eprintln!("{order:?} page of 50 at depth 900k: {:?}", t.elapsed());
        let step = if order == Order::Ascending { 1 } else { -1 };
        let want: Vec<i64> = (1..=50).map(|k| depth + k * step).collect();
        assert_eq!(page.ids, want);
        let plan = explain(&conn, &pager, &cursor);
        eprintln!("{plan}");
        assert!(
            plan.contains(&format!("USING COVERING INDEX {index}")),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
    // Mixed directions are served by the index that stores that order.
    let pager = SqlPager::builder("event")
        .columns(["id"])
        .sort("at", Order::Descending)
        .tie_breaker("id", Order::Ascending)
        .build()
        .unwrap();
    let cursor = pager
        .cursor_after(&[SqlValue::Int(25_000), SqlValue::Int(100_000)])
        .unwrap();
    let plan = explain(&conn, &pager, &cursor);
    eprintln!("{plan}");
    assert!(
        plan.contains("USING COVERING INDEX event_at_mixed"),
        "{plan}"
    );
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    // A nullable leading column seeks too, under either NULL rule: with
    // NULLs after the cursor's value the page is two index ranges (the
    // sort joins at most 2 * 51 rows, not the table).
    for nulls in [Nulls::Smallest, Nulls::Largest] {
        let pager = SqlPager::builder("event")
            .columns(["id"])
            .sort_nullable("score", Order::Ascending)
            .tie_breaker("id", Order::Ascending)
            .nulls(nulls)
            .build()
            .unwrap();
        let cursor = pager
            .cursor_after(&[SqlValue::Int(900), SqlValue::Int(123)])
            .unwrap();
        let plan = explain(&conn, &pager, &cursor);
        eprintln!("{plan}");
        assert!(
            plan.contains("SEARCH event USING COVERING INDEX event_score"),
            "{plan}"
        );
        assert!(!plan.contains("SCAN event"), "{plan}");
    }
}

/// `EXPLAIN QUERY PLAN` of the page `cursor` starts, its details joined.
fn explain(conn: &Connection, pager: &SqlPager, cursor: &str) -> String {
    let plan = pager
        .plan(latchwork::paginate::Dialect::Sqlite, Some(cursor), 50)
        .unwrap();
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", plan.sql))
        .unwrap();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(plan.params.iter()), |r| {
            r.get::<_, String>(3)
        })
        .unwrap();
    let details: Vec<String> = rows.map(Result::unwrap).collect();
    format!("{}\n  {}", plan.sql, details.join("\n  "))
}

#[test]
fn mixed_directions_with_a_filter_match_the_database_order() {
    let conn = open(events());
    let pager = SqlPager::builder("event")
        .columns(["id", "at"])
        .sort("at", Order::Descending)
        .tie_breaker("id", Order::Ascending)
        .filter("kind = ?1", ["b"])
        .max_limit(10_000)
        .build()
        .unwrap();
    let mut want = Vec::new();
    {
        let mut stmt = conn
            .prepare("SELECT id FROM event WHERE kind = 'b' ORDER BY at DESC, id ASC")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, i64>(0)).unwrap();
        want.extend(rows.map(Result::unwrap));
    }
    assert_eq!(want.len(), 333_333);
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let page = ids(&pager, &conn, cursor.as_deref(), 4_999);
        seen.extend(page.ids);
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, want);
    // Across timestamps `at` goes down; within one (some hold two rows of
    // kind b) ids go up.
    assert!(seen
        .windows(2)
        .all(|w| w[0] / 4 > w[1] / 4 || (w[0] / 4 == w[1] / 4 && w[0] < w[1])));
    assert!(seen.windows(2).any(|w| w[0] / 4 == w[1] / 4));
}

#[test]
fn equal_timestamps_are_split_by_the_tie_breaker() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE post (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL);
         CREATE INDEX post_created ON post (created_at, id);",
    )
    .unwrap();
    for id in 0..100 {
        // Twenty rows per timestamp: every page boundary falls inside a tie.
        conn.execute(
            "INSERT INTO post VALUES (?1, ?2)",
            params![id, 1_000 + id / 20],
        )
        .unwrap();
    }
    let pager = SqlPager::builder("post")
        .columns(["id", "created_at"])
        .sort("created_at", Order::Ascending)
        .tie_breaker("id", Order::Ascending)
        .build()
        .unwrap();
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let page = pager
            .page_sqlite(&conn, cursor.as_deref(), 7, |r| r.get::<_, i64>(0))
            .unwrap();
        seen.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, (0..100).collect::<Vec<_>>());

    // The classic bug for contrast: continuing with `created_at > last`
    // alone skips the rest of the tie (13 of the first 20 rows here).
    let last_at: i64 = conn
        .query_row("SELECT created_at FROM post WHERE id = 6", [], |r| r.get(0))
        .unwrap();
    let naive: i64 = conn
        .query_row(
            "SELECT min(id) FROM post WHERE created_at > ?1",
            [last_at],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(naive, 20, "the naive predicate loses ids 7..20");
}

/// A reference order for a nullable score and an id, per the rule.
fn reference(rows: &[(i64, Option<i64>)], order: Order, nulls: Nulls) -> Vec<i64> {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| {
        let by_score = match (a.1, b.1) {
            (Some(x), Some(y)) => x.cmp(&y),
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) if nulls == Nulls::Largest => std::cmp::Ordering::Greater,
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) if nulls == Nulls::Largest => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
        };
        let by_key = by_score.then(a.0.cmp(&b.0));
        if order == Order::Ascending {
            by_key
        } else {
            by_key.reverse()
        }
    });
    rows.into_iter().map(|r| r.0).collect()
}

#[test]
fn nullable_sort_column_follows_the_null_rule_both_ways() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE item (id INTEGER PRIMARY KEY, score INTEGER);
         CREATE INDEX item_score ON item (score, id);",
    )
    .unwrap();
    let mut rows = Vec::new();
    for id in 0..2_000i64 {
        let score = (id % 7 != 0).then_some((id * 31) % 50);
        conn.execute("INSERT INTO item VALUES (?1, ?2)", params![id, score])
            .unwrap();
        rows.push((id, score));
    }
    for nulls in [Nulls::Largest, Nulls::Smallest] {
        for order in [Order::Ascending, Order::Descending] {
            let pager = SqlPager::builder("item")
                .columns(["id"])
                .sort_nullable("score", order)
                .tie_breaker("id", order)
                .nulls(nulls)
                .build()
                .unwrap();
            let want = reference(&rows, order, nulls);
            let (mut seen, mut cursor, mut last_prev) = (Vec::new(), None, None);
            loop {
                let page = ids(&pager, &conn, cursor.as_deref(), 13);
                seen.extend(page.ids);
                last_prev = page.prev.or(last_prev);
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            assert_eq!(seen, want, "{order:?} {nulls:?}");
            // And backward, through the NULL/non-NULL boundary again.
            let (mut back, mut cursor) = (Vec::<i64>::new(), last_prev);
            while let Some(c) = cursor {
                let page = ids(&pager, &conn, Some(&c), 13);
                back.extend(page.ids.iter().rev());
                cursor = page.prev;
            }
            back.reverse();
            let tail = want.len() % 13;
            let tail = if tail == 0 { 13 } else { tail };
            assert_eq!(
                back,
                want[..want.len() - tail],
                "{order:?} {nulls:?} backward"
            );
        }
    }
}

#[test]
fn foreign_tampered_and_truncated_cursors_are_refused() {
    let conn = open(events());
    let pager = by_at_id(Order::Ascending);
    let token = ids(&pager, &conn, None, 10).next.unwrap();
    let refused =
        |p: &SqlPager, t: &str| match p.page_sqlite(&conn, Some(t), 10, |r| r.get::<_, i64>(0)) {
            Err(SqlError::Page(e)) => e,
            other => panic!("accepted: {:?}", other.map(|p| p.items)),
        };
    // `(at, id)` ascending over `table`, with these columns, key, filter.
    let asc = |table: &str, columns: &[&str], key: Option<&[u8]>, filter: Option<&str>| {
        let mut b = SqlPager::builder(table)
            .columns(columns)
            .sort("at", Order::Ascending)
            .tie_breaker("id", Order::Ascending);
        if let Some(k) = key {
            b = b.signing_key(k);
        }
        if let Some(v) = filter {
            b = b.filter("kind = ?1", [v]);
        }
        b.build().unwrap()
    };
    let key = Some(&b"test key"[..]);
    let mixed = SqlPager::builder("event")
        .columns(["id"])
        .sort("at", Order::Ascending)
        .tie_breaker("id", Order::Descending)
        .signing_key(b"test key")
        .build()
        .unwrap();
    let nullable = SqlPager::builder("event")
        .columns(["id"])
        .sort_nullable("at", Order::Ascending)
        .tie_breaker("id", Order::Ascending)
        .signing_key(b"test key")
        .build()
        .unwrap();
    // Another sort, table, column list, filter, filter value, null
    // declaration: all the typed query mismatch.
    let others = [
        by_at_id(Order::Descending),
        mixed,
        asc("event_copy", &["id"], key, None),
        asc("event", &["id", "kind"], key, None),
        asc("event", &["id"], key, Some("a")),
        nullable,
    ];
    for other in &others {
        assert_eq!(refused(other, &token), Error::CursorQueryMismatch);
    }
    let a_token = ids(&asc("event", &["id"], key, Some("a")), &conn, None, 10)
        .next
        .unwrap();
    let b_pager = asc("event", &["id"], key, Some("b"));
    assert_eq!(refused(&b_pager, &a_token), Error::CursorQueryMismatch);
    let a_pager = asc("event", &["id"], key, Some("a"));
    assert_eq!(ids(&a_pager, &conn, Some(&a_token), 10).ids.len(), 10);

    // Every single-character change of the token is refused.
    for i in 0..token.len() {
        let mut t = token.clone().into_bytes();
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(t).unwrap();
        let e = refused(&pager, &t);
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
    // Every truncation too.
    for cut in 0..token.len() {
        let e = refused(&pager, &token[..cut]);
        assert!(
            matches!(e, Error::BadCursorSignature | Error::MalformedCursor { .. }),
            "cut at {cut}: {e:?}"
        );
    }
    // Signed by another key, or unsigned: the signature check.
    let other_key = asc("event", &["id"], Some(b"other key"), None);
    let unsigned = asc("event", &["id"], None, None);
    assert_eq!(refused(&other_key, &token), Error::BadCursorSignature);
    let unsigned_token = ids(&unsigned, &conn, None, 10).next.unwrap();
    assert_eq!(refused(&pager, &unsigned_token), Error::BadCursorSignature);
    // A forged unsigned token with a NULL for a NOT NULL column.
    let forged = unsigned.cursor_after(&[SqlValue::Null, SqlValue::Int(1)]);
    assert!(matches!(forged, Err(Error::MalformedCursor { .. })));
    assert_eq!(
        refused(&pager, "!!"),
        Error::MalformedCursor {
            reason: "not base64url"
        }
    );
}

#[test]
fn pager_and_errors_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SqlPager>();
    assert_send_sync::<SqlError>();
    assert_send_sync::<latchwork::paginate::SqlPage<String>>();
    assert_send_sync::<latchwork::paginate::Plan>();
}

#[test]
fn specs_are_validated() {
    let no_tie = SqlPager::builder("t").sort("a", Order::Ascending).build();
    assert_eq!(no_tie.unwrap_err(), Error::MissingTieBreaker);
    for name in ["t; DROP TABLE t", "t\"", "1t", ""] {
        let e = SqlPager::builder(name)
            .tie_breaker("id", Order::Ascending)
            .build();
        assert!(
            matches!(e, Err(Error::InvalidIdentifier { .. })),
            "{name:?}"
        );
    }
    let e = SqlPager::builder("t")
        .columns(["id", "a) FROM secret --"])
        .tie_breaker("id", Order::Ascending)
        .build();
    assert!(matches!(e, Err(Error::InvalidIdentifier { .. })));
    let e = SqlPager::builder("t")
        .sort("id", Order::Ascending)
        .tie_breaker("id", Order::Ascending)
        .build();
    assert_eq!(
        e.unwrap_err(),
        Error::DuplicateSortColumn { name: "id".into() }
    );
    // Values never become SQL text: a hostile filter value is a parameter.
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'x'' OR 1=1 --');")
        .unwrap();
    let pager = SqlPager::builder("t")
        .columns(["id"])
        .tie_breaker("id", Order::Ascending)
        .filter("name = ?1", ["x' OR 1=1 --"])
        .build()
        .unwrap();
    let page = ids(&pager, &conn, None, 10);
    assert_eq!(page.ids, [1]);
    assert_eq!(
        pager
            .page_sqlite(&conn, None, 0, |r| r.get::<_, i64>(0))
            .unwrap_err()
            .to_string(),
        "page refused: page_size must be at least 1, got 0"
    );
}

/// Another connection inserts, deletes and moves rows (updates their sort
/// key) while a walk pages through a 1M-row table: every row that stays
/// put is seen exactly once, and keys only ever increase.
#[test]
fn walk_under_concurrent_writes_sees_every_stable_row_once_in_order() {
    let path = db_path("walk.db");
    let _ = std::fs::remove_file(&path);
    let conn = open(&path);
    let t = Instant::now();
    // Even ids are stable; odd ids are the writer's to move or delete.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE walk (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);
         BEGIN;
         WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {last})
         INSERT INTO walk (id, at) SELECT i, (i * 2654435761) % 100000 FROM s;
         COMMIT;
         CREATE INDEX walk_at ON walk (at, id);",
        last = ROWS - 1
    ))
    .unwrap();
    eprintln!("built walk (1M rows) in {:?}", t.elapsed());
    let stop = AtomicBool::new(false);
    let writes = AtomicU64::new(0);
    let pager = SqlPager::builder("walk")
        .columns(["id"])
        .sort("at", Order::Ascending)
        .tie_breaker("id", Order::Ascending)
        .signing_key(b"walk")
        .build()
        .unwrap();
    let (seen, pages) = std::thread::scope(|s| {
        s.spawn(|| {
            let writer = open(&path);
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut next_id = 2 * ROWS;
            while !stop.load(Ordering::Relaxed) {
                let tx = writer.unchecked_transaction().unwrap();
                for _ in 0..50 {
                    // xorshift: a cheap deterministic stream of choices.
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let odd = (2 * (x % (ROWS as u64 / 2)) + 1) as i64;
                    let at = ((x >> 20) % 100_000) as i64;
                    match x % 3 {
                        0 => {
                            tx.execute("INSERT INTO walk VALUES (?1, ?2)", params![next_id, at])
                                .unwrap();
                            next_id += 2; // even but above the stable range
                        }
                        1 => {
                            tx.execute("DELETE FROM walk WHERE id = ?1", [odd]).unwrap();
                        }
                        _ => {
                            tx.execute("UPDATE walk SET at = ?2 WHERE id = ?1", params![odd, at])
                                .unwrap();
                        }
                    }
                }
                tx.commit().unwrap();
                writes.fetch_add(50, Ordering::Relaxed);
            }
        });
        let reader = open(&path);
        let (mut seen, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let page = pager
                .page_sqlite(&reader, cursor.as_deref(), 1_000, |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                })
                .unwrap();
            seen.extend(page.items);
            pages += 1;
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        stop.store(true, Ordering::Relaxed);
        (seen, pages)
    });
    let writes = writes.load(Ordering::Relaxed);
    eprintln!(
        "walked {} rows in {pages} pages while {writes} writes ran, {:?}",
        seen.len(),
        t.elapsed()
    );
    assert!(writes >= 1_000, "the writer barely ran: {writes}");
    // Keys (at, id) strictly increase: nothing repeats, nothing goes back.
    // (The key columns are the last two of each row: `at`, `id`.)
    let keys: Vec<(i64, i64)> = seen.iter().map(|&(id, at)| (at, id)).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys out of order");
    let stable: Vec<i64> = seen
        .iter()
        .map(|&(id, _)| id)
        .filter(|id| id % 2 == 0 && *id < ROWS)
        .collect();
    assert_eq!(
        stable.len(),
        ROWS as usize / 2,
        "every stable row exactly once"
    );
    let mut sorted = stable.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), stable.len());
}
