//! Point lookups by key read one row through the key index, for tables (primary key) and
//! materialized views (the unique key of their result: GROUP BY columns, a deduplication's
//! PARTITION BY columns, a table's key passed through), and return what a scan would.

mod common;

use std::sync::Arc;

use sluice_planner::{Database, Session};

async fn run(session: &mut Session, sql: &str) {
    let (_, error) = session.execute(sql).await;
    assert!(error.is_none(), "{sql}: {error:?}");
}

async fn rows(session: &mut Session, sql: &str) -> Vec<String> {
    common::query_rows(session, sql).await
}

/// `sql` returns `expected`, read through `relation`'s key index (one more index lookup).
async fn check_lookup(
    database: &Arc<Database>,
    session: &mut Session,
    relation: &str,
    sql: &str,
    expected: &[&str],
) {
    let (_, before) = database.key_index(relation).await.expect("relation exists");
    assert_eq!(rows(session, sql).await, expected, "{sql}");
    let (_, after) = database.key_index(relation).await.expect("relation exists");
    assert_eq!(after, before + 1, "{sql}: not served by the key index");
}

#[tokio::test]
async fn lookups_by_key_use_the_index() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE accounts (id INT PRIMARY KEY, owner VARCHAR, balance BIGINT);
         INSERT INTO accounts SELECT CAST(value AS INT), 'o' || CAST(value % 10 AS VARCHAR),
                                     value * 2 FROM generate_series(1, 2000);
         CREATE TABLE events (id BIGINT, owner VARCHAR, ts BIGINT);
         INSERT INTO events SELECT value, 'o' || CAST(value % 10 AS VARCHAR), value % 7
                              FROM generate_series(1, 500);
         CREATE MATERIALIZED VIEW per_owner AS
           SELECT owner, COUNT(*) AS n, SUM(balance) AS total FROM accounts GROUP BY owner;
         CREATE MATERIALIZED VIEW rich AS
           SELECT id AS account, balance FROM accounts WHERE balance > 3000;
         CREATE MATERIALIZED VIEW latest AS
           SELECT owner, id, ts FROM (
             SELECT owner, id, ts, ROW_NUMBER() OVER (PARTITION BY owner ORDER BY id DESC) AS rn
               FROM events) AS t
            WHERE rn = 1;",
    )
    .await;
    assert_eq!(
        database.key_index("per_owner").await.map(|k| k.0),
        Some(vec!["owner".to_string()])
    );
    assert_eq!(
        database.key_index("rich").await.map(|k| k.0),
        Some(vec!["account".to_string()])
    );
    assert_eq!(
        database.key_index("latest").await.map(|k| k.0),
        Some(vec!["owner".to_string()])
    );
    check_lookup(
        &database,
        &mut session,
        "accounts",
        "SELECT owner, balance FROM accounts WHERE id = 42",
        &["o2|84"],
    )
    .await;
    check_lookup(
        &database,
        &mut session,
        "per_owner",
        "SELECT n, total FROM per_owner WHERE owner = 'o3'",
        &["200|399200"],
    )
    .await;
    check_lookup(
        &database,
        &mut session,
        "rich",
        "SELECT balance FROM rich WHERE account = 1999",
        &["3998"],
    )
    .await;
    check_lookup(
        &database,
        &mut session,
        "latest",
        "SELECT id, ts FROM latest WHERE owner = 'o4'",
        &["494|4"],
    )
    .await;
    // A lookup of a missing key, and one with an extra condition the filter still applies.
    check_lookup(
        &database,
        &mut session,
        "accounts",
        "SELECT * FROM accounts WHERE id = 999999",
        &[],
    )
    .await;
    check_lookup(
        &database,
        &mut session,
        "accounts",
        "SELECT id FROM accounts WHERE id = 7 AND balance > 100",
        &[],
    )
    .await;
    // Views keep updating through their index: updates move rows between keys.
    run(
        &mut session,
        "UPDATE accounts SET owner = 'o3', balance = 5000 WHERE id = 1;
         DELETE FROM accounts WHERE id = 1999;
         INSERT INTO events VALUES (1000, 'o4', 6), (1001, 'new', 1);",
    )
    .await;
    for (view, all) in [
        (
            "per_owner",
            "SELECT owner, COUNT(*), SUM(balance) FROM accounts GROUP BY owner",
        ),
        (
            "rich",
            "SELECT id, balance FROM accounts WHERE balance > 3000",
        ),
        (
            "latest",
            "SELECT e.owner, e.id, e.ts FROM events e
               JOIN (SELECT owner, max(id) AS id FROM events GROUP BY owner) m
                 ON e.owner = m.owner AND e.id = m.id",
        ),
    ] {
        assert_eq!(
            rows(&mut session, &format!("SELECT * FROM {view}")).await,
            rows(&mut session, all).await,
            "{view} equals its batch recomputation"
        );
    }
    check_lookup(
        &database,
        &mut session,
        "per_owner",
        "SELECT n, total FROM per_owner WHERE owner = 'o3'",
        &["201|404200"],
    )
    .await;
    check_lookup(
        &database,
        &mut session,
        "latest",
        "SELECT id, ts FROM latest WHERE owner = 'o4'",
        &["1000|6"],
    )
    .await;
}
