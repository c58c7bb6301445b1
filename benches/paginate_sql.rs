//! A page of 50 rows at depth 10k, 100k and 900k of a 1M-row table, keyset
//! (`SqlPager`, through the index on the sort key) against `LIMIT 50
//! OFFSET depth`, on SQLite (in memory, bundled) and on PostgreSQL (from
//! `LATCHWORK_POSTGRES_URL`; skipped with a message when unset).
//!
//! Both forms return the same rows (checked), both send their values as
//! parameters, and on PostgreSQL both are prepared per call (an unnamed
//! statement, as `Client::query` with SQL text does). Figures are the
//! median of many pages, in microseconds per page.
//!
//! `cargo bench --bench paginate_sql --features sqlite,postgres`
use latchwork::paginate::{Order, SqlPager, SqlValue};
use std::time::{Duration, Instant};

const ROWS: i64 = 1_000_000;
const LIMIT: usize = 50;
const DEPTHS: [i64; 3] = [10_000, 100_000, 900_000];

/// Four rows per `at`, so the tie-breaker matters; the row at position
/// `p` (0-based, in `(at, id)` order) is id `p`.
fn pager() -> SqlPager {
    SqlPager::builder("event")
        .columns(["id", "payload"])
        .sort("at", Order::Ascending)
        .tie_breaker("id", Order::Ascending)
        .signing_key(b"bench")
        .build()
        .unwrap()
}

/// The median time of `f` over enough runs to fill about `budget`.
fn median(budget: Duration, mut f: impl FnMut()) -> Duration {
    f(); // warm
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || (start.elapsed() < budget && times.len() < 2_000) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort_unstable();
    times[times.len() / 2]
}

struct Row {
    db: &'static str,
    depth: i64,
    keyset: Duration,
    offset: Duration,
}

fn sqlite(rows: &mut Vec<Row>) {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let t = Instant::now();
    conn.execute_batch(&format!(
        "CREATE TABLE event (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, payload TEXT NOT NULL);
         BEGIN;
         WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {last})
         INSERT INTO event SELECT i, i / 4, printf('payload %d', i) FROM s;
         COMMIT;
         CREATE INDEX event_at ON event (at, id);
         ANALYZE;",
        last = ROWS - 1
    ))
    .unwrap();
    eprintln!("sqlite: built 1M rows in {:?}", t.elapsed());
    let pager = pager();
    for depth in DEPTHS {
        let last = depth - 1; // the last row of the page before
        let cursor = pager
            .cursor_after(&[SqlValue::Int(last / 4), SqlValue::Int(last)])
            .unwrap();
        let keyset_page = || {
            pager
                .page_sqlite(&conn, Some(&cursor), LIMIT, |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .unwrap()
                .items
        };
        let offset_page = || {
            let mut stmt = conn
                .prepare_cached("SELECT id, payload FROM event ORDER BY at, id LIMIT ?1 OFFSET ?2")
                .unwrap();
            stmt.query_map([LIMIT as i64, depth], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
        };
        let page = keyset_page();
        assert_eq!(page, offset_page());
        assert_eq!(page[0].0, depth);
        let keyset = median(Duration::from_secs(1), || {
            std::hint::black_box(keyset_page());
        });
        let offset = median(Duration::from_secs(3), || {
            std::hint::black_box(offset_page());
        });
        rows.push(Row {
            db: "SQLite",
            depth,
            keyset,
            offset,
        });
    }
}

fn postgres(rows: &mut Vec<Row>, url: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let t = Instant::now();
        client
            .batch_execute(&format!(
                "SET client_min_messages = warning;
                 DROP SCHEMA IF EXISTS lw_bench CASCADE;
                 CREATE SCHEMA lw_bench;
                 CREATE TABLE lw_bench.event (id bigint PRIMARY KEY, at bigint NOT NULL,
                     payload text NOT NULL);
                 INSERT INTO lw_bench.event
                   SELECT i, i / 4, 'payload ' || i FROM generate_series(0::bigint, {last}) AS i;
                 CREATE INDEX event_at ON lw_bench.event (at, id);",
                last = ROWS - 1
            ))
            .await
            .unwrap();
        client
            .batch_execute("VACUUM ANALYZE lw_bench.event")
            .await
            .unwrap();
        eprintln!("postgres: built 1M rows in {:?}", t.elapsed());
        let pager = SqlPager::builder("lw_bench.event")
            .columns(["id", "payload"])
            .sort("at", Order::Ascending)
            .tie_breaker("id", Order::Ascending)
            .signing_key(b"bench")
            .build()
            .unwrap();
        for depth in DEPTHS {
            let last = depth - 1;
            let cursor = pager
                .cursor_after(&[SqlValue::Int(last / 4), SqlValue::Int(last)])
                .unwrap();
            let keyset_page = || async {
                pager
                    .page_postgres(&client, Some(&cursor), LIMIT, |r| {
                        Ok((r.try_get::<_, i64>(0)?, r.try_get::<_, String>(1)?))
                    })
                    .await
                    .unwrap()
                    .items
            };
            let offset_page = || async {
                client
                    .query(
                        "SELECT id, payload FROM lw_bench.event ORDER BY at, id LIMIT $1 OFFSET $2",
                        &[&(LIMIT as i64), &depth],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
                    .collect::<Vec<_>>()
            };
            let page = keyset_page().await;
            assert_eq!(page, offset_page().await);
            assert_eq!(page[0].0, depth);
            let keyset = median_async(Duration::from_secs(1), keyset_page).await;
            let offset = median_async(Duration::from_secs(3), offset_page).await;
            rows.push(Row {
                db: "PostgreSQL",
                depth,
                keyset,
                offset,
            });
        }
        client
            .batch_execute("DROP SCHEMA lw_bench CASCADE")
            .await
            .unwrap();
    });
}

async fn median_async<F, Fut, T>(budget: Duration, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    std::hint::black_box(f().await);
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || (start.elapsed() < budget && times.len() < 2_000) {
        let t = Instant::now();
        std::hint::black_box(f().await);
        times.push(t.elapsed());
    }
    times.sort_unstable();
    times[times.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let mut rows = Vec::new();
    sqlite(&mut rows);
    match std::env::var("LATCHWORK_POSTGRES_URL") {
        Ok(url) => postgres(&mut rows, &url),
        Err(_) => println!(
            "SKIPPED PostgreSQL: LATCHWORK_POSTGRES_URL is not set (scripts/postgres up DIR prints one)"
        ),
    }
    println!();
    println!("page of {LIMIT} rows at depth d of {ROWS} (median us per page)");
    println!("| database | depth | keyset | OFFSET | OFFSET / keyset |\n|---|---:|---:|---:|---:|");
    for r in &rows {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1}x |",
            r.db,
            r.depth,
            us(r.keyset),
            us(r.offset),
            us(r.offset) / us(r.keyset)
        );
    }
    for db in ["SQLite", "PostgreSQL"] {
        let of = |d: i64| rows.iter().find(|r| r.db == db && r.depth == d);
        if let (Some(shallow), Some(deep)) = (of(10_000), of(900_000)) {
            println!(
                "{db}: keyset at 900k / keyset at 10k = {:.2} (flat is 1.0); OFFSET / keyset at 900k = {:.0}x",
                deep.keyset.as_secs_f64() / shallow.keyset.as_secs_f64(),
                deep.offset.as_secs_f64() / deep.keyset.as_secs_f64()
            );
        }
    }
}
