//! UNION ALL of branches with different types: integer widths in a materialized view,
//! timestamp units in a continuous INSERT job.

mod common;

use std::sync::Arc;

use arrow::util::pretty::pretty_format_batches;
use sluice_planner::{Database, Session, StatementResult};

#[tokio::test]
async fn union_all_widens_integer_branches() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    let (results, error) = session
        .execute(
            "CREATE TABLE a (id INT PRIMARY KEY, v INT);
             CREATE TABLE b (id INT PRIMARY KEY, v INT);
             CREATE MATERIALIZED VIEW m AS SELECT v FROM a UNION ALL SELECT v * 100 FROM b;
             INSERT INTO a VALUES (1, 1);
             INSERT INTO b VALUES (1, 2);
             SELECT v FROM m ORDER BY v;",
        )
        .await;
    assert!(error.is_none(), "{error:?}");
    let StatementResult::Query { batches, .. } = results.last().unwrap() else {
        panic!("no rows")
    };
    let text = pretty_format_batches(batches).unwrap().to_string();
    assert!(
        text.contains("| 1   |") && text.contains("| 200 |"),
        "{text}"
    );
}

/// Regression (DataSQRL's unionWithTimestamp): a UNION of a `TIMESTAMP_LTZ(3)` column and a
/// nanosecond timestamp takes the nanosecond type only when the analyzer runs, after the
/// INSERT was matched to its target's millisecond column. The continuous job writing the
/// union into a keyed table casts to the target's types; its rows equal the batch query.
#[tokio::test]
async fn insert_job_casts_a_coerced_union_to_the_target_types() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    let (_, error) = session
        .execute(
            "CREATE TABLE orders (id BIGINT, `time` TIMESTAMP_LTZ(3), PRIMARY KEY (id) NOT ENFORCED);
             CREATE TABLE customers (id BIGINT, updated BIGINT, PRIMARY KEY (id) NOT ENFORCED);
             CREATE VIEW combined AS
               SELECT id, `time` AS rowtime FROM orders
               UNION ALL
               SELECT id, COALESCE(TO_TIMESTAMP_LTZ(updated, 0), TIMESTAMP '1970-01-01 00:00:00.000')
               FROM customers;
             CREATE TABLE combined_sink (
               id BIGINT NOT NULL, rowtime TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL,
               PRIMARY KEY (id, rowtime) NOT ENFORCED
             ) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://${HOST}', 'table-name' = 's');
             INSERT INTO combined_sink SELECT id, rowtime FROM combined;
             INSERT INTO orders VALUES (1, TIMESTAMP '2024-01-01 00:00:01.500');
             INSERT INTO customers VALUES (2, 60), (3, NULL);",
        )
        .await;
    assert!(error.is_none(), "{error:?}");
    let sink = common::query_rows(
        &mut session,
        "SELECT id, CAST(rowtime AS TIMESTAMP(3)) FROM combined_sink",
    )
    .await;
    let batch = common::query_rows(
        &mut session,
        "SELECT id, CAST(rowtime AS TIMESTAMP(3)) FROM combined",
    )
    .await;
    assert_eq!(sink, batch);
    assert_eq!(
        sink,
        [
            "1|2024-01-01T00:00:01.500",
            "2|1970-01-01T00:01:00",
            "3|1970-01-01T00:00:00"
        ]
    );
}
