//! Flink DDL and functions that DataSQRL's plans use, checked on their result rows:
//! `ALTER VIEW .. AS` (readers of the view see the new definition; a materialized view over
//! it equals the batch query), `CREATE TABLE .. LIKE` with its options, `SPLIT` and the
//! `MAP[..]` constructor.

mod common;

use common::run;

use std::sync::Arc;

use common::{eventually_rows, query_rows};
use sluice_planner::{Database, Session};

/// A table of orders, three of them, and the view DataSQRL's scripts then redefine.
const ORDERS: &str = "CREATE TABLE orders (id INT PRIMARY KEY, customer INT, amount INT);
     INSERT INTO orders VALUES (1, 10, 5), (2, 20, 7), (3, 10, -1);
     CREATE VIEW `Positive` AS SELECT `id`, `customer` FROM orders WHERE amount > 0;";

async fn error_of(session: &mut Session, sql: &str) -> String {
    let (_, error) = session.execute(sql).await;
    error
        .unwrap_or_else(|| panic!("{sql}: expected an error"))
        .to_string()
}

#[tokio::test]
async fn alter_view_redefines_the_view_for_its_readers() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(&mut session, ORDERS).await;
    run(
        &mut session,
        "CREATE VIEW by_customer AS SELECT customer, count(*) AS n FROM positive GROUP BY customer",
    )
    .await;
    assert_eq!(
        query_rows(&mut session, "SELECT * FROM by_customer").await,
        ["10|1", "20|1"]
    );
    // DataSQRL's form: backquoted name, new columns, a wider filter.
    run(
        &mut session,
        "ALTER VIEW `Positive`
         AS
         SELECT `id`, `customer`, `amount` * 2 AS `doubled` FROM orders WHERE `amount` > -5",
    )
    .await;
    assert_eq!(
        query_rows(&mut session, "SELECT * FROM positive").await,
        ["1|10|10", "2|20|14", "3|10|-2"]
    );
    assert_eq!(
        query_rows(&mut session, "SELECT * FROM by_customer").await,
        ["10|2", "20|1"]
    );
    assert_eq!(
        query_rows(
            &mut session,
            "SELECT definition LIKE '%doubled%' FROM pg_views WHERE viewname = 'positive'"
        )
        .await,
        ["true"]
    );

    // A definition a reader cannot use is refused and changes nothing.
    let error = error_of(&mut session, "ALTER VIEW positive AS SELECT id FROM orders").await;
    assert!(error.contains("by_customer"), "{error}");
    assert_eq!(
        query_rows(&mut session, "SELECT * FROM by_customer").await,
        ["10|2", "20|1"]
    );
    let error = error_of(
        &mut session,
        "ALTER VIEW positive AS SELECT customer AS id, customer, n AS doubled FROM by_customer",
    )
    .await;
    assert!(error.contains("cannot read itself"), "{error}");
    let error = error_of(&mut session, "ALTER VIEW orders AS SELECT 1").await;
    assert!(error.contains("not a view"), "{error}");
    let error = error_of(&mut session, "ALTER VIEW missing AS SELECT 1").await;
    assert!(error.contains("does not exist"), "{error}");
    let error = error_of(&mut session, "ALTER VIEW positive WITH (a = 1) AS SELECT 1").await;
    assert!(error.contains("not supported"), "{error}");
}

/// A continuous query over an altered view maintains the new definition: after inserts,
/// updates and deletes it equals the batch query.
#[tokio::test]
async fn materialized_view_over_an_altered_view_equals_the_batch_query() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(&mut session, ORDERS).await;
    run(
        &mut session,
        "ALTER VIEW positive AS SELECT id, customer, amount * 2 AS doubled FROM orders;
         CREATE MATERIALIZED VIEW totals AS
             SELECT customer, sum(doubled) AS total, count(*) AS n FROM positive GROUP BY customer;
         INSERT INTO orders VALUES (4, 20, 1), (5, 30, 2);
         DELETE FROM orders WHERE id = 1;
         UPDATE orders SET amount = 9 WHERE id = 3;",
    )
    .await;
    let incremental = query_rows(&mut session, "SELECT * FROM totals").await;
    let batch = query_rows(
        &mut session,
        "SELECT customer, sum(amount * 2), count(*) FROM orders GROUP BY customer",
    )
    .await;
    assert_eq!(incremental, batch);
    assert_eq!(incremental, ["10|18|1", "20|16|2", "30|4|1"]);
    // The running query compiled the current definition: the view cannot change under it.
    let error = error_of(
        &mut session,
        "ALTER VIEW positive AS SELECT id, customer, 0 AS doubled FROM orders",
    )
    .await;
    assert!(error.contains("totals"), "{error}");
}

#[tokio::test]
async fn create_table_like_copies_columns_keys_and_options() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE `Keyed` (`id` BIGINT NOT NULL, `name` STRING, PRIMARY KEY (`id`) NOT ENFORCED);
         CREATE TABLE `Copy` (`extra` INT) LIKE `Keyed`;
         CREATE TABLE `Unkeyed` LIKE `Keyed` (EXCLUDING CONSTRAINTS);
         INSERT INTO copy VALUES (1, 'a', 5), (2, NULL, 6);
         INSERT INTO unkeyed VALUES (1, 'a'), (1, 'b');",
    )
    .await;
    assert_eq!(
        query_rows(&mut session, "SELECT * FROM copy").await,
        ["1|a|5", "2|NULL|6"]
    );
    assert_eq!(
        query_rows(&mut session, "SELECT * FROM unkeyed").await,
        ["1|a", "1|b"]
    );
    assert_eq!(
        query_rows(
            &mut session,
            "SELECT table_name, column_name FROM information_schema.key_column_usage
             WHERE table_name IN ('keyed', 'copy', 'unkeyed')"
        )
        .await,
        ["copy|id", "keyed|id"]
    );
    let error = error_of(&mut session, "CREATE TABLE c2 (`id` INT) LIKE `Keyed`").await;
    assert!(error.contains("\"id\""), "{error}");
    let error = error_of(&mut session, "CREATE TABLE c3 (x INT) LIKE nowhere").await;
    assert!(error.contains("does not exist"), "{error}");
    run(&mut session, "CREATE VIEW v AS SELECT 1 AS x").await;
    let error = error_of(&mut session, "CREATE TABLE c4 (y INT) LIKE v").await;
    assert!(error.contains("column list"), "{error}");
    let error = error_of(
        &mut session,
        "CREATE TABLE c5 (PRIMARY KEY (`id`) NOT ENFORCED) LIKE `Keyed` (INCLUDING CONSTRAINTS)",
    )
    .await;
    assert!(error.contains("primary key"), "{error}");
}

/// DataSQRL's pattern: a schema table, and a source `LIKE` it adding a computed event time,
/// a watermark and connector options; a sink `LIKE` a schema adding only its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn like_adds_computed_columns_watermarks_and_keys_to_a_schema() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE `_Reading_schema` (`sensorid` BIGINT NOT NULL, `epoch` BIGINT NOT NULL);
         CREATE TABLE `Reading` (
           `ts` AS `TO_TIMESTAMP_LTZ`(`epoch`, 3),
           WATERMARK FOR `ts` AS `ts` - INTERVAL '0.001' SECOND
         ) WITH (
           'connector' = 'datagen', 'number-of-rows' = '4',
           'fields.sensorid.kind' = 'sequence', 'fields.sensorid.start' = '1',
           'fields.sensorid.end' = '4',
           'fields.epoch.min' = '2000', 'fields.epoch.max' = '2000'
         ) LIKE `_Reading_schema`;
         CREATE TEMPORARY TABLE `Sink__schema` (`sensorid` BIGINT NOT NULL, `seconds` BIGINT)
           WITH ('connector' = 'datagen');
         CREATE TABLE `Sink` (PRIMARY KEY (`sensorid`) NOT ENFORCED)
           WITH ('connector' = 'blackhole') LIKE `Sink__schema`;
         CREATE MATERIALIZED VIEW seen AS
           SELECT sensorid, epoch, ts = TO_TIMESTAMP_LTZ(epoch, 3) AS ts_ok FROM reading;",
    )
    .await;
    eventually_rows(
        &mut session,
        "SELECT * FROM seen",
        &["1|2000|true", "2|2000|true", "3|2000|true", "4|2000|true"],
    )
    .await;
    assert_eq!(
        query_rows(
            &mut session,
            "SELECT column_name FROM information_schema.key_column_usage WHERE table_name = 'sink'"
        )
        .await,
        ["sensorid"]
    );
}

#[tokio::test]
async fn split_and_map_constructors() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE people (name TEXT);
         INSERT INTO people VALUES ('one'), (' two'), ('two'), (NULL);",
    )
    .await;
    assert_eq!(
        query_rows(
            &mut session,
            "SELECT `name` FROM people WHERE `array_contains`(`split`('one, two', ','), `name`)"
        )
        .await,
        [" two", "one"]
    );
    assert_eq!(
        query_rows(
            &mut session,
            "SELECT cardinality(split(',x,,y', ',')), split(',x,,y', ',')[2],
                    split('ab', '')[2], split(NULL, ',') IS NULL"
        )
        .await,
        ["4|x|b|true"]
    );
    run(
        &mut session,
        "CREATE VIEW `Attrs` AS
         SELECT `user_id`, MAP['email', `email`, 'plan', `plan`] AS `attrs`
         FROM (VALUES ROW(1, 'a@x.com', 'free'), ROW(2, 'b@x.com', 'pro'))
           AS `val` (`user_id`, `email`, `plan`);",
    )
    .await;
    assert_eq!(
        query_rows(&mut session, "SELECT user_id, attrs['plan'] FROM attrs").await,
        ["1|free", "2|pro"]
    );
}

/// MAP columns: a Flink table with `MAP<..>` columns (also inside `ARRAY<..>` and `ROW<..>`)
/// stores maps built with `MAP[..]`; `m[key]` and `cardinality(m)` read them; a materialized
/// view grouping by a map value equals the batch query after a seeded sequence of inserts,
/// updates and deletes; MAP as a CAST target is refused with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_columns_store_maps_and_maintain_views() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE `Profiles` (
           `id` BIGINT NOT NULL,
           `attrs` MAP<STRING, INT>,
           `history` ARRAY<MAP<STRING, STRING>>,
           `limits` ROW<`per_day` MAP<INT, DOUBLE>>,
           PRIMARY KEY (`id`) NOT ENFORCED
         );",
    )
    .await;
    run(
        &mut session,
        "INSERT INTO profiles (id, attrs, history) VALUES
           (1, MAP['plan', 1, 'seats', 5], ARRAY[MAP['from', 'free', 'to', 'pro']]),
           (2, MAP['plan', 2], ARRAY[MAP['from', 'pro']]),
           (3, NULL, NULL);",
    )
    .await;
    assert_eq!(
        query_rows(
            &mut session,
            "SELECT id, attrs['plan'], attrs['seats'], cardinality(attrs), history[1]['to']
             FROM profiles"
        )
        .await,
        ["1|1|5|2|pro", "2|2|NULL|1|NULL", "3|NULL|NULL|NULL|NULL"]
    );
    let view = "SELECT attrs['plan'] AS plan, count(*) AS n, sum(attrs['seats']) AS seats \
                FROM profiles GROUP BY attrs['plan']";
    run(
        &mut session,
        &format!("CREATE MATERIALIZED VIEW by_plan AS {view}"),
    )
    .await;
    // A seeded sequence of inserts, updates and deletes; after each step the maintained
    // view equals the batch query over the table.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    for step in 0..40 {
        let id = 1 + next(8);
        let sql = match next(3) {
            0 => format!(
                "INSERT INTO profiles (id, attrs) VALUES ({}, MAP['plan', {}, 'seats', {}])",
                100 + step,
                next(3),
                next(10)
            ),
            1 => format!(
                "UPDATE profiles SET attrs = MAP['plan', {}, 'seats', {}] WHERE id = {id}",
                next(3),
                next(10)
            ),
            _ => format!(
                "DELETE FROM profiles WHERE id = {id} OR id = {}",
                100 + next(40)
            ),
        };
        run(&mut session, &sql).await;
        assert_eq!(
            query_rows(&mut session, "SELECT * FROM by_plan").await,
            query_rows(&mut session, view).await,
            "after step {step}: {sql}"
        );
    }
    let (_, error) = session
        .execute("SELECT CAST(attrs AS MAP<STRING, BIGINT>) FROM profiles")
        .await;
    let error = error.expect("MAP is not a CAST target").to_string();
    assert!(error.contains("MAP"), "{error}");
}

/// MULTISET columns: Flink's bag type is a map from each distinct element to its count
/// (Flink's own representation; the json format writes it as an object of counts). Read from
/// a JSON file, `m[x]` is x's count, and a view over the counts equals its batch query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiset_columns_hold_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("baskets.jsonl"),
        concat!(
            r#"{"id": 1, "items": {"apple": 2, "pear": 1}}"#,
            "\n",
            r#"{"id": 2, "items": {"pear": 3}}"#,
            "\n",
            r#"{"id": 3, "items": null}"#,
            "\n",
        ),
    )
    .expect("write");
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        &format!(
            "CREATE TABLE baskets (`id` BIGINT, `items` MULTISET<STRING>)
               WITH ('connector' = 'filesystem', 'format' = 'json', 'path' = '{}');
             CREATE MATERIALIZED VIEW pears AS
               SELECT sum(items['pear']) AS pears, count(*) AS baskets FROM baskets;",
            dir.path().display()
        ),
    )
    .await;
    eventually_rows(&mut session, "SELECT * FROM pears", &["4|3"]).await;
    assert_eq!(
        query_rows(
            &mut session,
            "SELECT id, items['apple'], items['pear'], cardinality(items) FROM baskets"
        )
        .await,
        ["1|2|1|2", "2|NULL|3|1", "3|NULL|NULL|NULL"]
    );
    let (_, error) = session
        .execute("SELECT CAST(items AS MULTISET<STRING>) FROM baskets")
        .await;
    let error = error.expect("MULTISET is not a CAST target").to_string();
    assert!(error.contains("MULTISET"), "{error}");
}

/// A Flink CREATE TABLE whose only Flink parts are column types PostgreSQL cannot spell
/// (`ROW<..>`, `ARRAY<..>`, `MAP<..>`, `MULTISET<..>`, no WITH or NOT ENFORCED key) creates
/// the table from its converted definition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_column_types_alone_create_the_table() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE `nested` (`id` BIGINT, `r` ROW<`x` INT>, `a` ARRAY<INT>,
                                `m` MAP<STRING, INT>, `b` MULTISET<STRING>);
         INSERT INTO nested (id, a, m, b) VALUES (1, ARRAY[1, 2], MAP['k', 3], MAP['e', 2]);",
    )
    .await;
    assert_eq!(
        query_rows(&mut session, "SELECT id, a[2], m['k'], b['e'] FROM nested").await,
        ["1|2|3|2"]
    );
}
