//! Window table functions (TUMBLE, HOP, CUMULATE) in ad-hoc queries and materialized views.

mod common;

use std::sync::Arc;

use arrow::util::pretty::pretty_format_batches;
use common::eventually_rows;
use sluice_planner::{Database, Session, StatementResult};

async fn run(session: &mut Session, sql: &str) -> Vec<String> {
    let (results, error) = session.execute(sql).await;
    assert!(error.is_none(), "{sql}: {error:?}");
    results
        .into_iter()
        .filter_map(|r| match r {
            StatementResult::Query { batches, .. } => {
                Some(pretty_format_batches(&batches).unwrap().to_string())
            }
            _ => None,
        })
        .collect()
}

/// EXPLAIN of a materialized view over `select` shows a window aggregate that emits by the
/// wall clock (processing time).
async fn assert_emits_by_the_clock(session: &mut Session, select: &str) {
    let explain = run(
        session,
        &format!("EXPLAIN CREATE MATERIALIZED VIEW again AS {select}"),
    )
    .await;
    assert!(
        explain[0].contains("emit by the wall clock"),
        "{}",
        explain[0]
    );
}

#[tokio::test]
async fn tumble_hop_cumulate_without_watermark_are_updating_aggregates() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE bids (ts TIMESTAMP(3), price INT);
         INSERT INTO bids VALUES ('2024-01-01 00:00:01', 1), ('2024-01-01 00:00:09', 2),
                                 ('2024-01-01 00:00:12', 4);",
    )
    .await;
    let out = run(
        &mut session,
        "SELECT window_start, window_end, sum(price) AS total
           FROM sluice_tumble('bids', 'ts', INTERVAL '10' SECOND)
          GROUP BY window_start, window_end ORDER BY window_start",
    )
    .await;
    eprintln!("{}", out[0]);
    assert!(
        out[0].contains("| 2024-01-01T00:00:00 | 2024-01-01T00:00:10 | 3     |"),
        "{}",
        out[0]
    );
    let out = run(
        &mut session,
        "SELECT window_start, window_end, sum(price) AS total
           FROM sluice_hop('bids', 'ts', INTERVAL '5' SECOND, INTERVAL '10' SECOND)
          GROUP BY window_start, window_end ORDER BY window_start",
    )
    .await;
    eprintln!("{}", out[0]);
    let out = run(
        &mut session,
        "SELECT window_start, window_end, sum(price) AS total
           FROM sluice_cumulate('bids', 'ts', INTERVAL '5' SECOND, INTERVAL '10' SECOND)
          GROUP BY window_start, window_end ORDER BY window_start, window_end",
    )
    .await;
    eprintln!("{}", out[0]);
    run(
        &mut session,
        "CREATE MATERIALIZED VIEW hop AS SELECT window_start, window_end, sum(price) AS total
           FROM sluice_hop('bids', 'ts', INTERVAL '5' SECOND, INTERVAL '10' SECOND)
          GROUP BY window_start, window_end;
         INSERT INTO bids VALUES ('2024-01-01 00:00:14', 8);
         DELETE FROM bids WHERE price = 1;",
    )
    .await;
    let view = run(&mut session, "SELECT * FROM hop ORDER BY window_start").await;
    let batch = run(
        &mut session,
        "SELECT window_start, window_end, sum(price) AS total
           FROM sluice_hop('bids', 'ts', INTERVAL '5' SECOND, INTERVAL '10' SECOND)
          GROUP BY window_start, window_end ORDER BY window_start",
    )
    .await;
    assert_eq!(view, batch);
    eprintln!("{}", view[0]);
}

#[tokio::test]
async fn proctime_only_feeds_processing_time_windows() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE bids (bidder BIGINT, price INT);
         CREATE VIEW timed AS SELECT *, PROCTIME() AS p_time FROM bids;
         CREATE MATERIALIZED VIEW per_window AS
           SELECT bidder, window_start, window_end, count(*) AS n
             FROM TABLE(TUMBLE(TABLE timed, DESCRIPTOR(p_time), INTERVAL '1' HOUR))
            GROUP BY bidder, window_start, window_end;
         INSERT INTO bids VALUES (1, 10), (1, 20), (2, 5);",
    )
    .await;
    // The window is open (its end is an hour away by the clock): nothing emitted yet.
    let out = run(&mut session, "SELECT count(*) AS windows FROM per_window").await;
    assert!(out[0].contains("| 0 "), "{}", out[0]);
    for sql in [
        "CREATE MATERIALIZED VIEW raw AS SELECT * FROM timed",
        "CREATE MATERIALIZED VIEW cast_time AS SELECT bidder, CAST(p_time AS VARCHAR) FROM timed",
        "CREATE MATERIALIZED VIEW grouped AS SELECT p_time, count(*) FROM timed GROUP BY p_time",
    ] {
        let (_, error) = session.execute(sql).await;
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("PROCTIME()"), "{sql}: {message}");
    }
}

/// Processing-time windows fire on the wall clock: rows written by DML are counted once
/// their window's end passes, without another row arriving to close the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_time_windows_fire_on_a_quiet_input() {
    let database = Database::new();
    database.set_workers(2).await;
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE dml (k INT);
         CREATE VIEW dml_timed AS SELECT k, PROCTIME() AS p FROM dml;
         CREATE MATERIALIZED VIEW per_second AS SELECT k, count(*) AS n
           FROM TABLE(TUMBLE(TABLE dml_timed, DESCRIPTOR(p), INTERVAL '1' SECOND))
          GROUP BY k, window_start, window_end;
         INSERT INTO dml VALUES (7), (7), (8);",
    )
    .await;
    assert_emits_by_the_clock(
        &mut session,
        "SELECT k, count(*) AS n
           FROM TABLE(TUMBLE(TABLE dml_timed, DESCRIPTOR(p), INTERVAL '1' SECOND))
          GROUP BY k, window_start, window_end",
    )
    .await;
    eventually_rows(
        &mut session,
        "SELECT k, sum(n) AS n FROM per_second GROUP BY k",
        &["7|2", "8|1"],
    )
    .await;
}

/// Sessions over `PROCTIME()` close by the wall clock once their input has been quiet for
/// the gap: a burst of inserts is one session per key, a later burst another; a deletion
/// fails the view (its input must only insert), as Flink refuses updating input there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_time_sessions_close_by_the_wall_clock() {
    let database = Database::new();
    database.set_workers(2).await;
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE clicks (k INT);
         CREATE VIEW clicks_timed AS SELECT k, PROCTIME() AS p FROM clicks;
         CREATE MATERIALIZED VIEW visits AS
           SELECT k, count(*) AS n, window_end - window_start AS span
           FROM TABLE(SESSION(TABLE clicks_timed PARTITION BY k, DESCRIPTOR(p), INTERVAL '1' SECOND))
          GROUP BY k, window_start, window_end;
         CREATE MATERIALIZED VIEW legacy AS
           SELECT k, count(*) AS n FROM clicks_timed GROUP BY k, SESSION(p, INTERVAL '1' SECOND);
         INSERT INTO clicks VALUES (7), (7), (8);",
    )
    .await;
    assert_emits_by_the_clock(
        &mut session,
        "SELECT k, count(*) AS n
           FROM TABLE(SESSION(TABLE clicks_timed PARTITION BY k, DESCRIPTOR(p), INTERVAL '1' SECOND))
          GROUP BY k, window_start, window_end",
    )
    .await;
    // Nothing is emitted while the sessions are open (the gap has not passed).
    let early = run(&mut session, "SELECT count(*) AS c FROM visits").await;
    assert!(early[0].contains("| 0 "), "{}", early[0]);
    // Both sessions close about a second after the burst, without further input.
    eventually_rows(&mut session, "SELECT k, n FROM visits", &["7|2", "8|1"]).await;
    eventually_rows(&mut session, "SELECT k, n FROM legacy", &["7|2", "8|1"]).await;
    let spans = run(&mut session, "SELECT span FROM visits").await;
    // A session lasts from its first arrival to its last arrival plus the gap.
    assert!(
        !spans[0].contains("0 days 0 hours 0 mins 0.000"),
        "{}",
        spans[0]
    );
    // A later burst is a new session.
    run(&mut session, "INSERT INTO clicks VALUES (7)").await;
    eventually_rows(
        &mut session,
        "SELECT k, count(*) AS sessions, sum(n) AS n FROM visits GROUP BY k",
        &["7|2|3", "8|1|1"],
    )
    .await;
    // A deletion cannot be placed in a processing-time session: the view fails, saying why.
    run(&mut session, "DELETE FROM clicks WHERE k = 8").await;
    eventually_rows(
        &mut session,
        "SELECT status LIKE 'failed%takes inserts only%' FROM sluice_queries WHERE name = 'visits'",
        &["true"],
    )
    .await;
}

/// A `PROCTIME()` computed column of a connector table is a processing-time attribute, as
/// in Flink: a window over it emits by the wall clock (once per window), and since its value
/// is stored with the row, reading it elsewhere is allowed (unlike `PROCTIME()` in a view).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proctime_computed_column_drives_processing_time_windows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        &format!(
            "CREATE TABLE events (k INT, p AS PROCTIME()) WITH (
                 'connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                 'source.monitor-interval' = '50 ms');
             CREATE MATERIALIZED VIEW per_second AS SELECT k, count(*) AS n
               FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(p), INTERVAL '1' SECOND))
              GROUP BY k, window_start, window_end;
             CREATE MATERIALIZED VIEW arrivals AS SELECT k, p FROM events WHERE k > 7;",
            dir.path().display()
        ),
    )
    .await;
    assert_emits_by_the_clock(
        &mut session,
        "SELECT k, count(*) AS n
           FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(p), INTERVAL '1' SECOND))
          GROUP BY k, window_start, window_end",
    )
    .await;
    std::fs::write(
        dir.path().join("a.json"),
        "{\"k\": 7}\n{\"k\": 7}\n{\"k\": 8}\n",
    )
    .expect("write input");
    eventually_rows(
        &mut session,
        "SELECT k, sum(n) AS n FROM per_second GROUP BY k",
        &["7|2", "8|1"],
    )
    .await;
    let arrivals = run(
        &mut session,
        "SELECT count(*) AS c FROM arrivals WHERE p IS NOT NULL",
    )
    .await;
    assert!(arrivals[0].contains("| 1 "), "{}", arrivals[0]);
}

/// Window TVFs over a `WITH` query (Flink's `TUMBLE(TABLE cte, ..)`) or a query
/// (`TUMBLE(TABLE (SELECT ..), ..)`), in an ad-hoc query and in a maintained view, equal the
/// same windows over a view of that query; a CTE that shadows a table is the one read.
#[tokio::test]
async fn window_functions_over_with_queries() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE bids (ts TIMESTAMP(3), price INT, bidder INT);
         INSERT INTO bids VALUES ('2024-01-01 00:00:01', 1, 1), ('2024-01-01 00:00:09', 2, 1),
                                 ('2024-01-01 00:00:12', 4, 2), ('2024-01-01 00:00:31', 8, 1);
         CREATE VIEW big AS SELECT * FROM bids WHERE price > 1;",
    )
    .await;
    let shapes = [
        "TUMBLE(TABLE {t}, DESCRIPTOR(ts), INTERVAL '10' SECOND)",
        "HOP(TABLE {t}, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND)",
        "CUMULATE(TABLE {t}, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND)",
    ];
    for (index, shape) in shapes.iter().enumerate() {
        let query = |table: &str| {
            format!(
                "SELECT window_start, window_end, sum(price) AS total, count(*) AS n \
                 FROM TABLE({}) GROUP BY window_start, window_end",
                shape.replace("{t}", table)
            )
        };
        let over_view = common::query_rows(&mut session, &query("big")).await;
        assert!(!over_view.is_empty());
        let with = format!(
            "WITH bigger AS (SELECT * FROM bids WHERE price > 1) {}",
            query("bigger")
        );
        assert_eq!(
            common::query_rows(&mut session, &with).await,
            over_view,
            "{with}"
        );
        // A query as the table argument.
        let subquery = query("(SELECT * FROM bids WHERE price > 1)");
        assert_eq!(
            common::query_rows(&mut session, &subquery).await,
            over_view,
            "{subquery}"
        );
        // A CTE named like the table it filters.
        let shadowing = format!("WITH bids AS (SELECT * FROM big) {}", query("bids"));
        assert_eq!(
            common::query_rows(&mut session, &shadowing).await,
            over_view,
            "{shadowing}"
        );
        run(
            &mut session,
            &format!("CREATE MATERIALIZED VIEW w{index} AS {with}"),
        )
        .await;
        run(
            &mut session,
            "INSERT INTO bids VALUES ('2024-01-01 00:00:14', 16, 2)",
        )
        .await;
        let over_view = common::query_rows(&mut session, &query("big")).await;
        assert_eq!(
            common::query_rows(&mut session, &format!("SELECT * FROM w{index}")).await,
            over_view
        );
        run(&mut session, "DELETE FROM bids WHERE price = 16").await;
    }
    // SESSION over a WITH query.
    let session_query = |table: &str| {
        format!(
            "SELECT bidder, window_start, window_end, count(*) FROM TABLE(SESSION(TABLE {table} \
             PARTITION BY bidder, DESCRIPTOR(ts), INTERVAL '5' SECOND)) \
             GROUP BY bidder, window_start, window_end"
        )
    };
    let over_view = common::query_rows(&mut session, &session_query("big")).await;
    assert_eq!(
        common::query_rows(
            &mut session,
            &format!(
                "WITH b AS (SELECT * FROM bids WHERE price > 1) {}",
                session_query("b")
            )
        )
        .await,
        over_view
    );
    assert_eq!(
        common::query_rows(
            &mut session,
            &session_query("(SELECT * FROM bids WHERE price > 1)")
        )
        .await,
        over_view
    );
}

/// Flink's legacy group windows over a query (here a join): `GROUP BY TUMBLE(s.ts, ..)` and
/// `SESSION(..)` over `FROM (SELECT .. JOIN ..) AS s` equal the window TVFs over a view of the
/// join, ad hoc and maintained.
#[tokio::test]
async fn legacy_group_windows_over_a_join_query() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE bids (ts TIMESTAMP(3), price INT, bidder INT);
         CREATE TABLE people (id INT, name TEXT);
         INSERT INTO people VALUES (1, 'ann'), (2, 'bo');
         INSERT INTO bids VALUES ('2024-01-01 00:00:01', 1, 1), ('2024-01-01 00:00:09', 2, 1),
                                 ('2024-01-01 00:00:12', 4, 2), ('2024-01-01 00:00:31', 8, 3);
         CREATE VIEW named AS SELECT b.ts, b.price, p.name FROM bids b JOIN people p ON b.bidder = p.id;",
    )
    .await;
    let join = "(SELECT b.ts, b.price, p.name FROM bids b JOIN people p ON b.bidder = p.id) AS s";
    let legacy = format!(
        "SELECT s.name, TUMBLE_START(s.ts, INTERVAL '10' SECOND) AS ws, sum(s.price) AS total \
         FROM {join} GROUP BY s.name, TUMBLE(s.ts, INTERVAL '10' SECOND)"
    );
    let tvf = "SELECT name, window_start, sum(price) FROM TABLE(TUMBLE(TABLE named, \
               DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY name, window_start, window_end";
    let expected = common::query_rows(&mut session, tvf).await;
    assert_eq!(expected.len(), 2, "{expected:?}");
    assert_eq!(common::query_rows(&mut session, &legacy).await, expected);
    run(
        &mut session,
        &format!("CREATE MATERIALIZED VIEW legacy AS {legacy}"),
    )
    .await;
    run(
        &mut session,
        "INSERT INTO bids VALUES ('2024-01-01 00:00:05', 16, 2); DELETE FROM bids WHERE price = 1",
    )
    .await;
    let expected = common::query_rows(&mut session, tvf).await;
    assert_eq!(
        common::query_rows(&mut session, "SELECT * FROM legacy").await,
        expected
    );
    let legacy_session = format!(
        "SELECT s.name, SESSION_END(s.ts, INTERVAL '5' SECOND), count(*) \
         FROM {join} GROUP BY s.name, SESSION(s.ts, INTERVAL '5' SECOND)"
    );
    let session_tvf = "SELECT name, window_end, count(*) FROM TABLE(SESSION(TABLE named \
                       PARTITION BY name, DESCRIPTOR(ts), INTERVAL '5' SECOND)) \
                       GROUP BY name, window_start, window_end";
    assert_eq!(
        common::query_rows(&mut session, &legacy_session).await,
        common::query_rows(&mut session, session_tvf).await
    );
}
