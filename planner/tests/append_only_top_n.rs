//! Top-N over append-only inputs (file sources, an inner join of two) keeps only N rows per
//! partition, and min/max only the extreme per group, and both still equal the batch query
//! over the same rows: random rows with ties and duplicates, ROW_NUMBER top-N and dedup,
//! ORDER BY .. LIMIT .. OFFSET, a top-1 over a join, min/max over a source and over a join,
//! count(DISTINCT) calls with FILTERs sharing one set per argument.
//! The oracle is the same query over plain tables holding the rows the files hold.

mod common;

use common::{query_rows as rows, run};

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sluice_planner::{Database, Session};

/// (view, query over `bids`/`auctions`; the oracle runs it over `bids_t`/`auctions_t`).
const VIEWS: &[(&str, &str)] = &[
    (
        "top2",
        "SELECT auction, bidder, price, rn FROM (
             SELECT auction, bidder, price,
                    ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, bidder) AS rn
             FROM bids) WHERE rn <= 2",
    ),
    (
        "first_bid",
        "SELECT auction, bidder, price FROM (
             SELECT auction, bidder, price,
                    ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY price, auction) AS rn
             FROM bids WHERE price > 1) WHERE rn = 1",
    ),
    (
        "best3",
        "SELECT auction, bidder, price FROM bids ORDER BY price DESC, auction, bidder LIMIT 3 OFFSET 1",
    ),
    (
        "winner",
        "SELECT id, seller, bidder, price FROM (
             SELECT a.id, a.seller, b.bidder, b.price,
                    ROW_NUMBER() OVER (PARTITION BY a.id ORDER BY b.price DESC, b.bidder, a.seller) AS rn
             FROM auctions a JOIN bids b ON a.id = b.auction) WHERE rn <= 1",
    ),
    (
        "extremes",
        "SELECT auction, max(price) AS hi, min(price) AS lo, max(bidder) AS top, count(*) AS n
         FROM bids WHERE bidder > 0 GROUP BY auction",
    ),
    (
        "seller_max",
        "SELECT a.seller, max(b.price) AS hi, min(b.bidder) AS lo
         FROM auctions a JOIN bids b ON a.id = b.auction GROUP BY a.seller",
    ),
    (
        "distinct_ranges",
        "SELECT auction % 3 AS bucket, count(DISTINCT bidder) AS bidders,
                count(DISTINCT bidder) FILTER (WHERE price < 5) AS cheap,
                count(DISTINCT bidder) FILTER (WHERE price >= 5) AS dear,
                count(DISTINCT auction) FILTER (WHERE price >= 2) AS auction_count,
                count(DISTINCT price) AS prices, count(*) AS n
         FROM bids GROUP BY auction % 3",
    ),
];

fn write_lines(path: &std::path::Path, lines: &[String]) {
    let mut file = std::fs::File::create(path).expect("create input");
    for line in lines {
        writeln!(file, "{line}").expect("write input");
    }
}

/// The two file-source streams and the plain tables that hold the same rows (the oracle).
fn tables(bids: &std::path::Path, auctions: &std::path::Path) -> String {
    format!(
        "CREATE TABLE bids (auction INT, bidder INT, price BIGINT) WITH (
             'connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
         CREATE TABLE auctions (id INT, seller INT) WITH (
             'connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
         CREATE TABLE bids_t (auction INT, bidder INT, price BIGINT);
         CREATE TABLE auctions_t (id INT, seller INT);",
        bids.display(),
        auctions.display()
    )
}

async fn scenario(bids: Vec<(i32, i32, i64)>, auctions: Vec<(i32, i32)>, workers: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bids_file = dir.path().join("bids.json");
    let auctions_file = dir.path().join("auctions.json");
    write_lines(
        &bids_file,
        &bids
            .iter()
            .map(|(a, b, p)| format!(r#"{{"auction": {a}, "bidder": {b}, "price": {p}}}"#))
            .collect::<Vec<_>>(),
    );
    write_lines(
        &auctions_file,
        &auctions
            .iter()
            .map(|(id, seller)| format!(r#"{{"id": {id}, "seller": {seller}}}"#))
            .collect::<Vec<_>>(),
    );
    let database = Database::new();
    database.set_workers(workers).await;
    let mut session = Session::new(Arc::clone(&database));
    run(&mut session, &tables(&bids_file, &auctions_file)).await;
    for (a, b, p) in &bids {
        run(
            &mut session,
            &format!("INSERT INTO bids_t VALUES ({a}, {b}, {p})"),
        )
        .await;
    }
    for (id, seller) in &auctions {
        run(
            &mut session,
            &format!("INSERT INTO auctions_t VALUES ({id}, {seller})"),
        )
        .await;
    }
    for (name, query) in VIEWS {
        run(
            &mut session,
            &format!("CREATE MATERIALIZED VIEW {name} AS {query}"),
        )
        .await;
    }
    // Each view reads every line of its files once.
    let expected_rows: Vec<String> = VIEWS
        .iter()
        .map(|(name, query)| {
            let n = if query.contains("auctions") {
                bids.len() + auctions.len()
            } else {
                bids.len()
            };
            format!("{name}|{n}")
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let read = rows(
            &mut session,
            "SELECT name, source_rows FROM sluice_queries ORDER BY name",
        )
        .await;
        let mut want = expected_rows.clone();
        want.sort();
        if read == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sources stuck at {read:?}, expected {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for (name, query) in VIEWS {
        let oracle = query
            .replace("FROM bids", "FROM bids_t")
            .replace("JOIN bids", "JOIN bids_t")
            .replace("FROM auctions", "FROM auctions_t");
        assert_eq!(
            rows(&mut session, &format!("SELECT * FROM {name}")).await,
            rows(&mut session, &oracle).await,
            "view {name} differs from its batch result"
        );
    }
    // State: at most N rows per partition (plus the join's inputs for `winner`).
    let partitions = |key: fn(&(i32, i32, i64)) -> i32| {
        bids.iter()
            .map(key)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let state = |name: &str| format!("SELECT state_rows FROM sluice_queries WHERE name = '{name}'");
    let top2 = rows(&mut session, &state("top2")).await;
    assert!(
        top2[0].parse::<usize>().unwrap() <= 2 * partitions(|b| b.0),
        "top2 keeps {top2:?} rows"
    );
    let first = rows(&mut session, &state("first_bid")).await;
    assert!(
        first[0].parse::<usize>().unwrap() <= partitions(|b| b.1),
        "first_bid keeps {first:?} rows"
    );
    let best = rows(&mut session, &state("best3")).await;
    assert!(
        best[0].parse::<usize>().unwrap() <= 4,
        "best3 keeps {best:?} rows"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn append_only_top_n_equals_batch_query(
        bids in prop::collection::vec((0..5i32, 0..6i32, 0..8i64), 0..80),
        auctions in prop::collection::vec((0..6i32, 0..3i32), 0..8),
        workers in 1usize..3,
    ) {
        common::block_on(scenario(bids, auctions, workers));
    }
}

/// EXPLAIN says which top-N operators keep only their N rows: over a source stream, yes;
/// over a table that takes UPDATE and DELETE, no (a deleted winner must be replaced).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_the_bounded_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bids.json");
    write_lines(&file, &[]);
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(&mut session, &tables(&file, &file)).await;
    let explain = |table: &str| {
        format!(
            "EXPLAIN CREATE MATERIALIZED VIEW v AS SELECT auction, price FROM (
                 SELECT auction, price, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn
                 FROM {table} WHERE price > 0) WHERE rn <= 3"
        )
    };
    let stream = rows(&mut session, &explain("bids")).await.join("\n");
    assert!(
        stream.contains("append-only input: keeps 3 rows per partition"),
        "{stream}"
    );
    let table = rows(&mut session, &explain("bids_t")).await.join("\n");
    assert!(table.contains("TopN"), "{table}");
    assert!(!table.contains("append-only"), "{table}");

    // min/max over a stream keep the extreme alone; over a table, every value (a deleted
    // maximum must be replaced by the next one).
    let extremes = |table: &str| {
        format!("EXPLAIN CREATE MATERIALIZED VIEW v AS SELECT auction, max(price), min(bidder) FROM {table} GROUP BY auction")
    };
    let stream = rows(&mut session, &extremes("bids")).await.join("\n");
    assert_eq!(
        stream.matches("(append-only extreme)").count(),
        2,
        "{stream}"
    );
    let table = rows(&mut session, &extremes("bids_t")).await.join("\n");
    assert_eq!(table.matches("(ordered)").count(), 2, "{table}");
    assert!(!table.contains("append-only"), "{table}");

    // count(DISTINCT) calls of one argument over a stream share one set of values; over a
    // table each keeps its own multiset (a deleted value must be counted out).
    let distinct = |table: &str| {
        format!(
            "EXPLAIN CREATE MATERIALIZED VIEW v AS SELECT auction, count(DISTINCT bidder),
                 count(DISTINCT bidder) FILTER (WHERE price > 3) FROM {table} GROUP BY auction"
        )
    };
    let stream = rows(&mut session, &distinct("bids")).await.join("\n");
    assert_eq!(
        stream.matches("(shared distinct set)").count(),
        2,
        "{stream}"
    );
    let table = rows(&mut session, &distinct("bids_t")).await.join("\n");
    assert_eq!(table.matches("(distinct count)").count(), 2, "{table}");
}
