//! Schemas: PostgreSQL's `CREATE SCHEMA` / `SET search_path` and Flink's `CREATE DATABASE` /
//! `USE`. Relations of the same name live apart in different schemas, views over them keep
//! updating, the system catalogs show them, and they survive a reopen of the data directory.

mod common;

use common::{eventually_rows, query_rows as rows, run};

use std::sync::Arc;

use sluice_planner::{Database, Session};
use sluice_storage::DurableOptions;

async fn fails(session: &mut Session, sql: &str) -> (String, &'static str) {
    let (_, error) = session.execute(sql).await;
    let error = error.unwrap_or_else(|| panic!("{sql}: expected an error"));
    (error.to_string(), error.sqlstate())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relations_of_one_name_live_apart_in_schemas() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE SCHEMA s;
         CREATE TABLE t (id INT PRIMARY KEY, v TEXT);
         CREATE TABLE s.t (id INT PRIMARY KEY, v TEXT);
         CREATE MATERIALIZED VIEW s.counts AS SELECT v, count(*) AS n FROM s.t GROUP BY v;
         CREATE VIEW s.both AS SELECT 'public' AS origin, id FROM public.t
             UNION ALL SELECT 's', id FROM s.t;
         INSERT INTO t VALUES (1, 'a');
         INSERT INTO s.t VALUES (1, 'x'), (2, 'x'), (3, 'y');
         UPDATE s.t SET v = 'y' WHERE id = 1;
         DELETE FROM s.t WHERE id = 2;",
    )
    .await;
    assert_eq!(rows(&mut session, "SELECT * FROM t").await, vec!["1|a"]);
    assert_eq!(
        rows(&mut session, "SELECT * FROM s.t").await,
        vec!["1|y", "3|y"]
    );
    // The maintained view equals its batch meaning.
    assert_eq!(
        rows(&mut session, "SELECT * FROM s.counts").await,
        rows(&mut session, "SELECT v, count(*) FROM s.t GROUP BY v").await
    );
    assert_eq!(
        rows(&mut session, "SELECT * FROM s.counts").await,
        vec!["y|2"]
    );
    assert_eq!(
        rows(&mut session, "SELECT * FROM s.both").await,
        vec!["public|1", "s|1", "s|3"]
    );
    // An unknown schema or relation in it is an error naming it.
    let (message, state) = fails(&mut session, "SELECT * FROM s.missing").await;
    assert_eq!(state, "42P01", "{message}");
    let (message, state) = fails(&mut session, "SELECT * FROM nowhere.t").await;
    assert!(message.contains("nowhere"), "{message}");
    assert_ne!(state, "XX000");
    let (message, state) = fails(&mut session, "CREATE SCHEMA s").await;
    assert_eq!(state, "42P06", "{message}");
    run(&mut session, "CREATE SCHEMA IF NOT EXISTS s").await;
    // A schema created after a savepoint cannot be rolled back to it (every statement
    // commits on its own): refused, not silently kept.
    for create in ["CREATE SCHEMA rolled", "CREATE DATABASE rolled2"] {
        run(&mut session, "BEGIN; SAVEPOINT a").await;
        run(&mut session, create).await;
        let (message, state) = fails(&mut session, "ROLLBACK TO SAVEPOINT a").await;
        assert_eq!(state, "0A000", "{message}");
        run(&mut session, "ROLLBACK").await;
    }

    // The catalogs: pg_namespace, pg_class's namespace, information_schema.
    assert_eq!(
        rows(
            &mut session,
            "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname IN ('s', 'public')"
        )
        .await,
        vec!["public", "s"]
    );
    assert_eq!(
        rows(
            &mut session,
            "SELECT n.nspname, c.relname, c.relkind FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname IN ('s', 'public') AND c.relkind IN ('r', 'v', 'm')"
        )
        .await,
        vec!["public|t|r", "s|both|v", "s|counts|m", "s|t|r"]
    );
    assert_eq!(
        rows(
            &mut session,
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE table_schema = 's'"
        )
        .await,
        // As in PostgreSQL, information_schema.tables lists no materialized views.
        vec!["s|both", "s|t"]
    );
    assert_eq!(
        rows(
            &mut session,
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 's'"
        )
        .await,
        vec!["s"]
    );
    assert_eq!(
        rows(&mut session, "SELECT 's.t'::regclass::oid = (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 's' AND c.relname = 't')").await,
        vec!["true"]
    );

    // DROP SCHEMA: refused while it holds relations, CASCADE drops them.
    let (message, state) = fails(&mut session, "DROP SCHEMA s").await;
    assert_eq!(state, "2BP01", "{message}");
    run(&mut session, "DROP SCHEMA s CASCADE").await;
    let (_, state) = fails(&mut session, "SELECT * FROM s.t").await;
    assert_ne!(state, "XX000");
    assert_eq!(rows(&mut session, "SELECT * FROM t").await, vec!["1|a"]);
    let (message, state) = fails(&mut session, "DROP SCHEMA s").await;
    assert_eq!(state, "3F000", "{message}");
    run(&mut session, "DROP SCHEMA IF EXISTS s").await;
    // The name is free again, empty.
    run(&mut session, "CREATE SCHEMA s; CREATE TABLE s.t (id INT)").await;
    assert!(rows(&mut session, "SELECT * FROM s.t").await.is_empty());
    // A public table whose quoted name looks qualified keeps its meaning: a schema of its
    // prefix is refused.
    run(
        &mut session,
        "CREATE TABLE \"q.t\" (x INT); INSERT INTO \"q.t\" VALUES (7)",
    )
    .await;
    assert_eq!(rows(&mut session, "SELECT * FROM \"q.t\"").await, vec!["7"]);
    let (message, state) = fails(&mut session, "CREATE SCHEMA q").await;
    assert_eq!(state, "42P07", "{message}");
    let (message, state) = fails(&mut session, "CREATE TABLE \"s.u\" (x INT)").await;
    assert_eq!(state, "42P17", "{message}");
    assert_eq!(rows(&mut session, "SELECT * FROM \"q.t\"").await, vec!["7"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_path_places_and_finds_unqualified_names() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE shared (x INT);
         INSERT INTO shared VALUES (1);
         CREATE SCHEMA app;
         SET search_path TO app;
         CREATE TABLE t (x INT);
         INSERT INTO t SELECT x + 1 FROM shared;
         CREATE MATERIALIZED VIEW total AS SELECT sum(x) AS s FROM t;
         INSERT INTO t VALUES (10);",
    )
    .await;
    // Unqualified: the current schema first, then public.
    assert_eq!(rows(&mut session, "SELECT * FROM t").await, vec!["10", "2"]);
    // The catalog functions follow the search path (psql's `\dt` lists what is visible).
    assert_eq!(
        rows(
            &mut session,
            "SELECT current_schema(), array_to_string(current_schemas(true), ',')"
        )
        .await,
        vec!["app|pg_catalog,app,public"]
    );
    assert_eq!(
        rows(
            &mut session,
            "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND pg_catalog.pg_table_is_visible(c.oid) \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        )
        .await,
        vec!["app|t", "public|shared"]
    );
    assert_eq!(
        rows(
            &mut session,
            "SELECT 't'::regclass::text, 'public.shared'::regclass::text"
        )
        .await,
        vec!["t|shared"]
    );
    assert_eq!(rows(&mut session, "SELECT * FROM shared").await, vec!["1"]);
    assert_eq!(rows(&mut session, "SELECT * FROM total").await, vec!["12"]);
    // A CTE named like a table of the schema is the CTE.
    assert_eq!(
        rows(&mut session, "WITH t AS (SELECT 5 AS x) SELECT x FROM t").await,
        vec!["5"]
    );
    // Another session (search path public) sees them qualified only.
    let mut other = Session::new(Arc::clone(&database));
    assert_eq!(
        rows(&mut other, "SELECT * FROM app.total").await,
        vec!["12"]
    );
    let (_, state) = fails(&mut other, "SELECT * FROM total").await;
    assert_eq!(state, "42P01");
    assert_eq!(
        rows(
            &mut other,
            "SELECT current_schema(), 'app.t'::regclass::text"
        )
        .await,
        vec!["public|app.t"]
    );
    // A prepared statement resolves names when prepared.
    session
        .prepare("SELECT x FROM t WHERE x > $1")
        .await
        .expect("prepares");
    run(
        &mut session,
        "SET search_path TO public; DROP MATERIALIZED VIEW app.total",
    )
    .await;
    let (_, state) = fails(&mut session, "SELECT * FROM t").await;
    assert_eq!(state, "42P01");
}

/// The shape of DataSQRL's `importScriptExternalTest` plan: two Flink databases each with
/// a table and a view of the same names, and views of the default database over both,
/// written to sinks by one statement set. The sinks equal the batch result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_databases_hold_tables_of_the_same_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (database, rows) in [("sources", "1|2|1|3"), ("mysources", "7|7|8")] {
        let path = dir.path().join(database);
        std::fs::create_dir_all(&path).expect("dir");
        let lines: Vec<String> = rows
            .split('|')
            .enumerate()
            .map(|(i, id)| format!("{{\"customerid\": {id}, \"lastUpdated\": {i}}}"))
            .collect();
        std::fs::write(path.join("customer.jsonl"), lines.join("\n") + "\n").expect("write");
    }
    let table = |database: &str| {
        format!(
            "CREATE DATABASE IF NOT EXISTS `{database}`;
             USE `{database}`;
             CREATE TABLE `Customer` (
               `customerid` BIGINT NOT NULL,
               `lastUpdated` BIGINT NOT NULL,
               `timestamp` AS COALESCE(`TO_TIMESTAMP_LTZ`(`lastUpdated`, 0), TIMESTAMP '1970-01-01 00:00:00.000'),
               PRIMARY KEY (`customerid`, `lastUpdated`) NOT ENFORCED,
               WATERMARK FOR `timestamp` AS `timestamp` - INTERVAL '0.001' SECOND
             ) WITH (
               'connector' = 'filesystem',
               'format' = 'flexible-json',
               'path' = 'file:{}'
             );
             CREATE VIEW `CustomerAggregate` AS
             SELECT `customerid`, COUNT(*) AS `num_updates` FROM `Customer` GROUP BY `customerid`;",
            dir.path().join(database).display()
        )
    };
    let script = format!(
        "{}
         USE CATALOG `default_catalog`;
         CREATE DATABASE IF NOT EXISTS `default_database`;
         USE `default_database`;
         {}
         USE CATALOG `default_catalog`;
         USE `default_database`;
         CREATE VIEW `CustomerAggregate1` AS
         SELECT `customerid`, `num_updates` * 1 AS `updates` FROM `sources`.`CustomerAggregate`;
         CREATE VIEW `CustomerAggregate2` AS
         SELECT `customerid`, `num_updates` * 2 AS `updates`
         FROM `default_catalog`.`mysources`.`CustomerAggregate`;
         CREATE TABLE `CustomerAggregate1_1` (
           `customerid` BIGINT NOT NULL, `updates` BIGINT NOT NULL,
           PRIMARY KEY (`customerid`) NOT ENFORCED
         ) WITH ('connector' = 'blackhole');
         CREATE TABLE `CustomerAggregate2_2` (
           `customerid` BIGINT NOT NULL, `updates` BIGINT NOT NULL,
           PRIMARY KEY (`customerid`) NOT ENFORCED
         ) WITH ('connector' = 'blackhole');
         CREATE MATERIALIZED VIEW both_counts AS
           SELECT 1 AS side, * FROM `CustomerAggregate1` UNION ALL
           SELECT 2, * FROM `CustomerAggregate2`;
         EXECUTE STATEMENT SET BEGIN
         INSERT INTO `default_catalog`.`default_database`.`CustomerAggregate1_1`
         SELECT * FROM `default_catalog`.`default_database`.`CustomerAggregate1`;
         INSERT INTO `default_catalog`.`default_database`.`CustomerAggregate2_2`
         SELECT * FROM `default_catalog`.`default_database`.`CustomerAggregate2`;
         END;",
        table("sources"),
        table("mysources")
    );
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(&mut session, &script).await;
    // sources: ids 1, 2, 1, 3 (counts x1); mysources: 7, 7, 8 (counts x2).
    eventually_rows(
        &mut session,
        "SELECT * FROM both_counts",
        &["1|1|2", "1|2|1", "1|3|1", "2|7|4", "2|8|2"],
    )
    .await;
    assert_eq!(
        rows(&mut session, "SELECT * FROM sources.customeraggregate").await,
        vec!["1|2", "2|1", "3|1"]
    );
    assert_eq!(
        rows(&mut session, "SELECT count(*) FROM mysources.customer").await,
        vec!["3"]
    );
    // USE of a database that does not exist, and of another catalog, are errors.
    let (message, state) = fails(&mut session, "USE `nowhere`").await;
    assert_eq!(state, "3F000", "{message}");
    let (message, state) = fails(&mut session, "USE CATALOG `iceberg`").await;
    assert_eq!(state, "0A000", "{message}");
    let (message, state) = fails(&mut session, "CREATE DATABASE `sources`").await;
    assert_eq!(state, "42P06", "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_and_their_relations_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = DurableOptions {
        sync_writes: false,
        ..Default::default()
    };
    {
        let database = Database::open(dir.path(), &options).await.expect("opens");
        let mut session = Session::new(Arc::clone(&database));
        run(
            &mut session,
            "CREATE SCHEMA s;
             CREATE TABLE t (x INT);
             INSERT INTO t VALUES (1);",
        )
        .await;
        run(&mut session, "SET search_path TO s").await;
        run(&mut session, "CREATE TABLE t (x INT)").await;
        run(&mut session, "INSERT INTO t VALUES (2), (3)").await;
        run(
            &mut session,
            "CREATE MATERIALIZED VIEW m AS SELECT count(*) AS n FROM t",
        )
        .await;
        run(&mut session, "USE default_database").await;
        run(&mut session, "CREATE SCHEMA gone; DROP SCHEMA gone").await;
        drop(session);
        database.close().await.expect("closes");
    }
    let database = Database::open(dir.path(), &options).await.expect("reopens");
    let mut session = Session::new(Arc::clone(&database));
    assert_eq!(rows(&mut session, "SELECT * FROM t").await, vec!["1"]);
    assert_eq!(
        rows(&mut session, "SELECT * FROM s.t").await,
        vec!["2", "3"]
    );
    assert_eq!(rows(&mut session, "SELECT * FROM s.m").await, vec!["2"]);
    run(&mut session, "INSERT INTO s.t VALUES (4)").await;
    assert_eq!(rows(&mut session, "SELECT * FROM s.m").await, vec!["3"]);
    assert!(rows(
        &mut session,
        "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = 'gone'"
    )
    .await
    .is_empty());
}

/// A window table function over a table of the current schema reads that table (not
/// `public`'s of the same name), in a query and in a maintained view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_functions_read_the_current_schemas_table() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE bids (ts TIMESTAMP(3), price INT);
         INSERT INTO bids VALUES ('2024-01-01 00:00:01', 100);
         CREATE SCHEMA auction;
         SET search_path TO auction;
         CREATE TABLE bids (ts TIMESTAMP(3), price INT);
         INSERT INTO bids VALUES ('2024-01-01 00:00:01', 1), ('2024-01-01 00:00:12', 4);
         CREATE MATERIALIZED VIEW totals AS
           SELECT window_start, sum(price) AS total
             FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
            GROUP BY window_start, window_end;
         INSERT INTO bids VALUES ('2024-01-01 00:00:09', 2);",
    )
    .await;
    let batch = "SELECT window_start, sum(price) \
                 FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
                 GROUP BY window_start, window_end";
    let expected = vec!["2024-01-01T00:00:00|3", "2024-01-01T00:00:10|4"];
    assert_eq!(rows(&mut session, batch).await, expected);
    assert_eq!(rows(&mut session, "SELECT * FROM totals").await, expected);
    let mut other = Session::new(Arc::clone(&database));
    assert_eq!(
        rows(&mut other, "SELECT * FROM auction.totals").await,
        expected
    );
    assert_eq!(
        rows(
            &mut other,
            "SELECT window_start, sum(price) \
             FROM TABLE(TUMBLE(TABLE auction.bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
             GROUP BY window_start, window_end"
        )
        .await,
        expected
    );
}

/// `ALTER VIEW` of a view in a schema (Flink's form, under `USE`) redefines it for the
/// views that read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_views_of_a_schema_rebind_their_readers() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE orders (id INT, amount INT);
         INSERT INTO orders VALUES (1, 5), (2, -3), (3, 8);
         CREATE DATABASE shop;
         USE shop;
         CREATE TABLE orders (id INT, amount INT);
         INSERT INTO orders VALUES (10, 1), (11, 2);
         CREATE VIEW positive AS SELECT id, amount FROM orders WHERE amount > 1;
         CREATE VIEW total AS SELECT count(*) AS n FROM positive;",
    )
    .await;
    assert_eq!(rows(&mut session, "SELECT * FROM total").await, vec!["1"]);
    run(
        &mut session,
        "ALTER VIEW `Positive` AS SELECT `id`, `amount` FROM `orders` WHERE `amount` > 0",
    )
    .await;
    assert_eq!(rows(&mut session, "SELECT * FROM total").await, vec!["2"]);
    let mut other = Session::new(Arc::clone(&database));
    assert_eq!(
        rows(&mut other, "SELECT * FROM shop.total").await,
        vec!["2"]
    );
    assert_eq!(
        rows(&mut other, "SELECT count(*) FROM orders").await,
        vec!["3"]
    );
}
