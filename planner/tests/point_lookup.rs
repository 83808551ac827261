//! Point lookups by key read one row through the key index, for tables (primary key) and
//! materialized views (the unique key of their result: GROUP BY columns, a deduplication's
//! PARTITION BY columns, a table's key passed through), and return what a scan would.

mod common;

use common::{query_rows as rows, run};

use std::sync::Arc;

use sluice_planner::{Database, Session};

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

/// The rows of a prepared statement's result with `parameters`.
async fn prepared_rows(
    session: &mut Session,
    prepared: &sluice_planner::PreparedStatement,
    parameters: Vec<datafusion::common::ScalarValue>,
) -> Vec<String> {
    let result = session
        .execute_prepared(
            prepared,
            Some(datafusion::common::ParamValues::from(parameters)),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: {error}", prepared.sql));
    let Some(sluice_planner::StatementResult::Query { batches, .. }) = result else {
        panic!("{}: no rows", prepared.sql);
    };
    common::sorted_rows(&batches, "|")
}

/// Prepared lookups by key (the fast path that skips planning per execution) return what the
/// same query returns unprepared, for present, missing and NULL keys, composite keys, key
/// columns in any order, and after the relation was dropped and re-created differently.
#[tokio::test]
async fn prepared_lookups_equal_the_general_path() {
    use datafusion::common::ScalarValue;
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE stock (shop INT, item VARCHAR, qty BIGINT, PRIMARY KEY (shop, item));
         INSERT INTO stock SELECT CAST(value % 5 AS INT), 'i' || CAST(value AS VARCHAR), value
                             FROM generate_series(1, 300);
         CREATE MATERIALIZED VIEW per_shop AS
           SELECT shop, SUM(qty) AS total, COUNT(*) AS items FROM stock GROUP BY shop;",
    )
    .await;
    let by_shop = session
        .prepare("SELECT items, total AS t FROM per_shop WHERE shop = $1")
        .await
        .expect("prepare");
    let by_item = session
        .prepare("SELECT qty FROM stock WHERE item = $2 AND shop = $1")
        .await
        .expect("prepare");
    assert!(by_shop.is_key_lookup() && by_item.is_key_lookup());
    let not_a_lookup = session
        .prepare("SELECT qty FROM stock WHERE shop = $1")
        .await
        .expect("prepare");
    assert!(
        !not_a_lookup.is_key_lookup(),
        "a prefix of the key is a scan"
    );
    for shop in [0, 3, 4, 9] {
        let (_, before) = database.key_index("per_shop").await.expect("view");
        assert_eq!(
            prepared_rows(&mut session, &by_shop, vec![ScalarValue::Int32(Some(shop))]).await,
            rows(
                &mut session,
                &format!("SELECT items, total FROM per_shop WHERE shop = {shop}")
            )
            .await
        );
        let (_, after) = database.key_index("per_shop").await.expect("view");
        assert!(after > before, "served by the key index");
    }
    for (shop, item) in [(1, "i1"), (2, "i1"), (0, "i300"), (0, "nope")] {
        assert_eq!(
            prepared_rows(
                &mut session,
                &by_item,
                vec![
                    ScalarValue::Int32(Some(shop)),
                    ScalarValue::Utf8(Some(item.to_string()))
                ]
            )
            .await,
            rows(
                &mut session,
                &format!("SELECT qty FROM stock WHERE shop = {shop} AND item = '{item}'")
            )
            .await
        );
    }
    assert!(
        prepared_rows(&mut session, &by_shop, vec![ScalarValue::Int32(None)])
            .await
            .is_empty(),
        "k = NULL matches nothing"
    );
    // Re-created without a key: the prepared lookup falls back to the general path.
    run(
        &mut session,
        "DROP MATERIALIZED VIEW per_shop;
         CREATE MATERIALIZED VIEW per_shop AS
           SELECT shop, qty AS total, 1 AS items FROM stock WHERE qty < 4;",
    )
    .await;
    assert_eq!(
        prepared_rows(&mut session, &by_shop, vec![ScalarValue::Int32(Some(1))]).await,
        vec!["1|1"]
    );
}
