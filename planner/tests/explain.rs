//! `EXPLAIN CREATE MATERIALIZED VIEW` shows the incremental dataflow without creating it.

use std::sync::Arc;

use arrow::array::AsArray;
use sluice_planner::{Database, Session, StatementResult};

/// Run `sql` (its last statement an EXPLAIN) and return the dataflow's lines as text.
async fn explain(session: &mut Session, sql: &str) -> String {
    let (results, error) = session.execute(sql).await;
    assert!(error.is_none(), "{error:?}");
    let Some(StatementResult::Query { batches, .. }) = results.last() else {
        panic!("EXPLAIN returned no rows");
    };
    let lines: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    lines.join("\n")
}

#[tokio::test]
async fn explain_shows_operators_keys_and_state_kinds() {
    let database = Database::new();
    database.set_workers(3).await;
    let mut session = Session::new(Arc::clone(&database));
    let sql = "CREATE TABLE o (id INT PRIMARY KEY, c INT, amt INT);
               CREATE TABLE c (id INT PRIMARY KEY, city TEXT);
               EXPLAIN CREATE MATERIALIZED VIEW v AS
                 SELECT city, count(*) AS n, max(amt) AS top FROM o JOIN c ON o.c = c.id GROUP BY city";
    let text = explain(&mut session, sql).await;
    assert!(text.contains("GroupAggregate"), "{text}");
    assert!(
        text.contains("count(Int64(1)) (counter)") && text.contains("(ordered)"),
        "{text}"
    );
    assert!(text.contains("HashJoin: type: Inner"), "{text}");
    // Keyed operators run in one instance per worker; the scans feeding them in one.
    assert!(
        text.lines()
            .filter(|l| l.contains("GroupAggregate") || l.contains("HashJoin"))
            .all(|l| l.ends_with("[3 partitions, by key]")),
        "{text}"
    );
    assert!(
        text.lines()
            .filter(|l| l.contains("Scan:"))
            .all(|l| !l.contains("partitions")),
        "{text}"
    );
    assert!(
        text.contains("Scan: relation: o") && text.contains("Scan: relation: c"),
        "{text}"
    );
    // Nothing was created.
    let (_, error) = session.execute("SELECT * FROM v").await;
    assert_eq!(error.map(|e| e.sqlstate()), Some("42P01"));
}

#[tokio::test]
async fn explain_shows_a_repeated_sub_plan_built_once() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    let sql = "CREATE TABLE b (a INT, p INT);
               EXPLAIN CREATE MATERIALIZED VIEW v AS
                 SELECT x.a, x.n FROM (SELECT a, count(*) AS n FROM b GROUP BY a) x
                 JOIN (SELECT max(n) AS m FROM (SELECT a, count(*) AS n FROM b GROUP BY a) y) z
                 ON x.n = z.m";
    let text = explain(&mut session, sql).await;
    // The per-`a` count feeds both the join and the max: one operator, listed once in full.
    let counts: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("GroupAggregate: keys: [a@0]"))
        .collect();
    assert_eq!(counts.len(), 1, "{text}");
    assert!(counts[0].contains("[shared #"), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("GroupAggregate [shared #")
                && l.ends_with("shown above]"))
            .count(),
        1,
        "{text}"
    );
    assert_eq!(text.matches("Scan: relation: b").count(), 1, "{text}");
}
