//! Temporal joins (`FOR SYSTEM_TIME AS OF`): the maintained result equals its batch meaning,
//! recomputed from scratch by DataFusion over the same tables: every probe row joins the
//! versions with the greatest version time at or below its own time, once the watermark of
//! both inputs has passed it.

mod common;

use common::{query_rows as rows, run};

use std::sync::Arc;

use proptest::prelude::*;
use sluice_planner::{Database, Session};

/// `2024-01-01 01:00:00` plus `seconds` (which may be negative down to -3600).
fn timestamp(seconds: i64) -> String {
    let total = 3600 + seconds;
    format!(
        "2024-01-01 {:02}:{:02}:{:02}",
        total / 3600,
        total % 3600 / 60,
        total % 60
    )
}

const SCHEMA: &str = "
    CREATE TABLE rates (cur VARCHAR, rate BIGINT, ts TIMESTAMP(3),
                        WATERMARK FOR ts AS ts - INTERVAL '60' SECOND);
    CREATE TABLE orders (id BIGINT, cur VARCHAR, amount BIGINT, ts TIMESTAMP(3),
                         WATERMARK FOR ts AS ts - INTERVAL '60' SECOND);
    CREATE MATERIALIZED VIEW priced AS
      SELECT o.id, o.amount * r.rate AS price, r.rate
        FROM orders AS o
        JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur;
    CREATE MATERIALIZED VIEW priced_left AS
      SELECT o.id, r.rate
        FROM orders AS o
        LEFT JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON r.cur = o.cur AND r.rate > 10;";

/// The batch meaning of `priced` for the orders at or below `watermark`.
fn inner_oracle(watermark: &str, extra: &str) -> String {
    format!(
        "SELECT o.id, o.amount * r.rate AS price, r.rate
           FROM orders AS o JOIN rates AS r ON o.cur = r.cur {extra}
          WHERE r.ts <= o.ts AND o.ts <= TIMESTAMP '{watermark}'
            AND NOT EXISTS (SELECT 1 FROM rates AS r2
                             WHERE r2.cur = o.cur AND r2.ts <= o.ts AND r2.ts > r.ts)"
    )
}

#[derive(Debug, Clone)]
enum Event {
    Rate {
        cur: u8,
        rate: i64,
    },
    Order {
        cur: u8,
        amount: i64,
    },
    /// Delete the order `n` events back, if it is still waiting for the watermark.
    DeleteOrder {
        back: usize,
    },
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        2 => (0..3u8, 1..40i64).prop_map(|(cur, rate)| Event::Rate { cur, rate }),
        4 => (0..4u8, 1..9i64).prop_map(|(cur, amount)| Event::Order { cur, amount }),
        1 => (1..6usize).prop_map(|back| Event::DeleteOrder { back }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random rates and orders, their times increasing with bounded disorder (less than the
    /// watermark delay, so no row is late), inserted in statements of random size, with
    /// deletes of orders that still wait: after each statement the views equal the batch
    /// recomputation over the orders the watermark has passed. With `spill`, operators get a
    /// memory budget of 1 byte: every key's versions go to disk after each batch and are read
    /// back by the next probe or change of the key.
    #[test]
    fn temporal_joins_equal_their_batch_meaning(
        events in proptest::collection::vec((event(), -20..=20i64, 1..4usize), 1..50),
        spill in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            // The budget is process-wide and read when an operator is created (the other
            // tests of this binary are indifferent to it).
            sluice_storage::spill::configure(sluice_storage::SpillSettings {
                budget_bytes: spill.then_some(1),
                total_bytes: None,
                dir: None,
            });
            let database = Database::new();
            let mut session = Session::new(Arc::clone(&database));
            run(&mut session, SCHEMA).await;
            let mut max_time: [Option<i64>; 2] = [None, None];
            let mut orders: Vec<(i64, i64)> = Vec::new(); // (id, time) of live orders
            let mut index = 0;
            while index < events.len() {
                let (first, _, batch) = &events[index];
                let table = match first {
                    Event::Rate { .. } => 0,
                    Event::Order { .. } => 1,
                    Event::DeleteOrder { .. } => 2,
                };
                let mut values = Vec::new();
                let mut taken = 0;
                while taken < *batch && index < events.len() {
                    let (event, jitter, _) = &events[index];
                    let time = index as i64 * 5 + jitter;
                    match (event, table) {
                        (Event::Rate { cur, rate }, 0) => {
                            values.push(format!("('c{cur}', {rate}, '{}')", timestamp(time)));
                            max_time[0] = max_time[0].max(Some(time));
                        }
                        (Event::Order { cur, amount }, 1) => {
                            values.push(format!(
                                "({index}, 'c{cur}', {amount}, '{}')",
                                timestamp(time)
                            ));
                            orders.push((index as i64, time));
                            max_time[1] = max_time[1].max(Some(time));
                        }
                        (Event::DeleteOrder { back }, 2) => {
                            let joined = match (max_time[0], max_time[1]) {
                                (Some(r), Some(o)) => r.min(o) - 60,
                                _ => i64::MIN,
                            };
                            let pending = orders.len().checked_sub(*back).and_then(|i| {
                                (orders[i].1 > joined).then_some(i)
                            });
                            if let Some(i) = pending {
                                let (id, _) = orders.remove(i);
                                run(&mut session, &format!("DELETE FROM orders WHERE id = {id}"))
                                    .await;
                            }
                        }
                        _ => break,
                    }
                    index += 1;
                    taken += 1;
                }
                match table {
                    0 => run(&mut session, &format!("INSERT INTO rates VALUES {}", values.join(", "))).await,
                    1 => run(&mut session, &format!("INSERT INTO orders VALUES {}", values.join(", "))).await,
                    _ => {}
                }
                let watermark = match (max_time[0], max_time[1]) {
                    (Some(r), Some(o)) => timestamp(r.min(o) - 60),
                    _ => timestamp(-3600),
                };
                let expected = rows(&mut session, &inner_oracle(&watermark, "")).await;
                prop_assert_eq!(rows(&mut session, "SELECT * FROM priced").await, expected);
                let expected_left = rows(
                    &mut session,
                    &format!(
                        "WITH m AS ({}) SELECT o.id, m.rate FROM orders AS o LEFT JOIN m ON o.id = m.id
                          WHERE o.ts <= TIMESTAMP '{watermark}'",
                        // A condition on the versioned table alone filters the versions
                        // (the optimizer pushes it into the versioned input): the version
                        // is the newest one that satisfies it.
                        inner_oracle(&watermark, "AND r.rate > 10")
                            .replace("r2.cur = o.cur AND", "r2.cur = o.cur AND r2.rate > 10 AND")
                    ),
                )
                .await;
                prop_assert_eq!(rows(&mut session, "SELECT * FROM priced_left").await, expected_left);
            }
            if spill && max_time[0].is_some() {
                // Each currency with a rate has its versions on disk.
                let on_disk = rows(
                    &mut session,
                    "SELECT spilled_entries FROM sluice_queries WHERE name = 'priced'",
                )
                .await;
                let on_disk: u64 = on_disk[0].parse().expect("a count");
                prop_assert!(on_disk > 0, "nothing of the versions on disk");
                // The orders still waiting for the watermark wait on disk too (with a 1-byte
                // budget the queue keeps none in memory).
                let joined = match (max_time[0], max_time[1]) {
                    (Some(r), Some(o)) => r.min(o) - 60,
                    _ => i64::MIN,
                };
                let waiting = orders.iter().filter(|(_, time)| *time > joined).count() as u64;
                prop_assert!(
                    on_disk >= waiting,
                    "{on_disk} entries on disk, {waiting} orders waiting"
                );
            }
            Ok(())
        })?;
    }
}

/// The versioned relation is a keep-last deduplication (Flink's versioned view): each new
/// rate retracts the previous one from the view, but the join's history keeps the old
/// version for the orders between the two.
#[tokio::test]
async fn a_deduplicated_view_is_a_versioned_table() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE rate_log (cur VARCHAR, rate BIGINT, ts TIMESTAMP(3),
                                WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);
         CREATE TABLE orders (id BIGINT, cur VARCHAR, ts TIMESTAMP(3),
                              WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);
         CREATE VIEW latest_rate AS
           SELECT cur, rate, ts FROM (
             SELECT cur, rate, ts,
                    ROW_NUMBER() OVER (PARTITION BY cur ORDER BY ts DESC) AS rn
               FROM rate_log) AS t
            WHERE rn = 1;
         CREATE MATERIALIZED VIEW priced AS
           SELECT o.id, r.rate FROM orders AS o
             JOIN latest_rate FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur;",
    )
    .await;
    for (rate, second) in [(100, 0), (101, 10), (102, 20), (103, 30)] {
        run(
            &mut session,
            &format!(
                "INSERT INTO rate_log VALUES ('EUR', {rate}, '{}')",
                timestamp(second)
            ),
        )
        .await;
    }
    run(
        &mut session,
        &format!(
            "INSERT INTO orders VALUES (1, 'EUR', '{}'), (2, 'EUR', '{}'), (3, 'EUR', '{}'),
                                       (4, 'EUR', '{}')",
            timestamp(5),
            timestamp(15),
            timestamp(25),
            timestamp(40)
        ),
    )
    .await;
    // The watermark is 00:00:29 (rates): orders 1-3 are due, order 4 waits.
    assert_eq!(
        rows(&mut session, "SELECT * FROM priced").await,
        vec!["1|100", "2|101", "3|102"]
    );
    assert_eq!(
        rows(&mut session, "SELECT rate FROM latest_rate").await,
        vec!["103"]
    );
}

/// `AS OF PROCTIME()`: each order joins the rate current when it arrives (a lookup join);
/// later rate changes leave joined orders as they are, deleting an order retracts its row.
#[tokio::test]
async fn processing_time_joins_the_current_version() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE rates (cur VARCHAR PRIMARY KEY, rate BIGINT);
         CREATE TABLE orders (id BIGINT, cur VARCHAR);
         CREATE MATERIALIZED VIEW priced AS
           SELECT o.id, r.rate FROM orders AS o
             LEFT JOIN rates FOR SYSTEM_TIME AS OF PROCTIME() AS r ON o.cur = r.cur;
         INSERT INTO rates VALUES ('EUR', 100);
         INSERT INTO orders VALUES (1, 'EUR'), (2, 'USD');
         UPDATE rates SET rate = 110 WHERE cur = 'EUR';
         INSERT INTO rates VALUES ('USD', 90);
         INSERT INTO orders VALUES (3, 'EUR'), (4, 'USD');",
    )
    .await;
    assert_eq!(
        rows(&mut session, "SELECT * FROM priced").await,
        vec!["1|100", "2|NULL", "3|110", "4|90"]
    );
    run(&mut session, "DELETE FROM orders WHERE id = 4").await;
    assert_eq!(
        rows(&mut session, "SELECT * FROM priced").await,
        vec!["1|100", "2|NULL", "3|110"]
    );
    // EXPLAIN names the operator and its mode.
    let plan = rows(
        &mut session,
        "EXPLAIN CREATE MATERIALIZED VIEW p2 AS SELECT o.id, r.rate FROM orders AS o
           JOIN rates FOR SYSTEM_TIME AS OF PROCTIME() AS r ON o.cur = r.cur",
    )
    .await
    .join("\n");
    assert!(
        plan.contains("TemporalJoin") && plan.contains("processing time"),
        "{plan}"
    );
}

/// Errors name the problem: an event-time join needs a versioned table with event time; a
/// temporal join needs an equality on the key; only INNER and LEFT joins.
#[tokio::test]
async fn temporal_join_errors() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE plain (cur VARCHAR, rate BIGINT);
         CREATE TABLE orders (id BIGINT, cur VARCHAR, ts TIMESTAMP(3),
                              WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);",
    )
    .await;
    for (sql, expected) in [
        (
            "CREATE MATERIALIZED VIEW v AS SELECT o.id FROM orders AS o
               JOIN plain FOR SYSTEM_TIME AS OF o.ts AS p ON o.cur = p.cur",
            "event-time attribute",
        ),
        (
            "CREATE MATERIALIZED VIEW v AS SELECT o.id FROM orders AS o
               JOIN plain FOR SYSTEM_TIME AS OF PROCTIME() AS p ON o.id > p.rate",
            "equality",
        ),
        (
            "CREATE MATERIALIZED VIEW v AS SELECT o.id FROM orders AS o
               RIGHT JOIN plain FOR SYSTEM_TIME AS OF PROCTIME() AS p ON o.cur = p.cur",
            "temporal join",
        ),
        (
            "CREATE MATERIALIZED VIEW v AS SELECT o.id FROM orders AS o
               JOIN plain FOR SYSTEM_TIME AS OF ON o.cur = p.cur",
            "FOR SYSTEM_TIME AS OF",
        ),
    ] {
        let (_, error) = session.execute(sql).await;
        let error = error.unwrap_or_else(|| panic!("{sql}: expected an error"));
        assert!(error.to_string().contains(expected), "{sql}: {error}");
    }
}
