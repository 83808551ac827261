//! Event time: `WATERMARK FOR` on tables fed by INSERT, window table functions in Flink's
//! syntax, windows emitted once when the watermark passes their end, late rows dropped.

use std::sync::Arc;

use arrow::util::pretty::pretty_format_batches;
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

#[tokio::test]
async fn tumbling_windows_emit_when_the_watermark_passes() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE bids (`dateTime` TIMESTAMP(3), price INT,
                            WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND);
         CREATE MATERIALIZED VIEW totals AS
           SELECT window_start, window_end, SUM(price) AS total, COUNT(*) AS n
             FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
            GROUP BY window_start, window_end;
         INSERT INTO bids VALUES ('2024-01-01 00:00:01', 1), ('2024-01-01 00:00:09', 2);",
    )
    .await;
    // Watermark 00:00:08: the window [0, 10) is still open.
    let out = run(&mut session, "SELECT * FROM totals").await;
    assert!(!out[0].contains("2024"), "{}", out[0]);
    let explain = run(
        &mut session,
        "EXPLAIN CREATE MATERIALIZED VIEW x AS SELECT window_start, window_end, SUM(price)
           FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
          GROUP BY window_start, window_end",
    )
    .await;
    assert!(explain[0].contains("WindowAggregate"), "{}", explain[0]);
    // Watermark 00:00:11 closes [0, 10).
    run(
        &mut session,
        "INSERT INTO bids VALUES ('2024-01-01 00:00:12', 4)",
    )
    .await;
    let out = run(&mut session, "SELECT * FROM totals").await;
    assert!(
        out[0].contains("| 2024-01-01T00:00:00 | 2024-01-01T00:00:10 | 3     | 2 |"),
        "{}",
        out[0]
    );
    assert!(!out[0].contains("00:00:20"), "{}", out[0]);
    // A late row for the closed window is dropped; the result is final.
    run(
        &mut session,
        "INSERT INTO bids VALUES ('2024-01-01 00:00:05', 100)",
    )
    .await;
    let out = run(&mut session, "SELECT * FROM totals").await;
    assert!(out[0].contains("| 3     | 2 |"), "{}", out[0]);
    assert!(!out[0].contains("103"), "{}", out[0]);
    // HOP and CUMULATE in Flink syntax, with named arguments.
    run(
        &mut session,
        "CREATE MATERIALIZED VIEW hops AS
           SELECT window_start, window_end, SUM(price) AS total
             FROM TABLE(HOP(DATA => TABLE bids, TIMECOL => DESCRIPTOR(dateTime),
                            SLIDE => INTERVAL '5' SECOND, SIZE => INTERVAL '10' SECOND))
            GROUP BY window_start, window_end;
         INSERT INTO bids VALUES ('2024-01-01 00:00:30', 8);",
    )
    .await;
    let out = run(&mut session, "SELECT * FROM hops ORDER BY window_start").await;
    // A view created over a stored table starts from all of its rows (the late one too),
    // then the current watermark; the watermark 00:00:29 closes every window ending by then.
    assert!(
        out[0].contains("| 2024-01-01T00:00:05 | 2024-01-01T00:00:15 | 106   |"),
        "{}",
        out[0]
    );
    assert!(
        out[0].contains("| 2024-01-01T00:00:10 | 2024-01-01T00:00:20 | 4     |"),
        "{}",
        out[0]
    );
    assert!(!out[0].contains("00:00:25 |"), "{}", out[0]);
}

/// Window aggregates keep their window bounds (Flink's window properties): a GROUP BY on the
/// window bounds of a window aggregate's output is a window aggregate again (cascaded), and
/// a join on the windows of two such inputs is a window join that forgets a window once the
/// watermark passes its end. Results equal the batch query over the windows that closed.
#[tokio::test]
async fn cascaded_windows_and_window_joins_close_with_the_watermark() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    let per_key = |table: &str, value: &str| {
        format!(
            "SELECT window_start, window_end, k, sum({value}) AS s
               FROM TABLE(TUMBLE(TABLE {table}, DESCRIPTOR(ts), INTERVAL '10' SECOND))
              GROUP BY window_start, window_end, k"
        )
    };
    let joined = format!(
        "SELECT x.window_end, x.k, x.s AS sv, y.s AS sw FROM ({}) x JOIN ({}) y
           ON x.window_start = y.window_start AND x.window_end = y.window_end AND x.k = y.k",
        per_key("a", "v"),
        per_key("b", "w")
    );
    let cascaded = format!(
        "SELECT window_end, max(s) AS best, count(*) AS keys FROM ({}) t
          GROUP BY window_start, window_end",
        per_key("a", "v")
    );
    run(
        &mut session,
        &format!(
            "CREATE TABLE a (ts TIMESTAMP(3), k INT, v INT, WATERMARK FOR ts AS ts);
             CREATE TABLE b (ts TIMESTAMP(3), k INT, w INT, WATERMARK FOR ts AS ts);
             CREATE MATERIALIZED VIEW joined AS {joined};
             CREATE MATERIALIZED VIEW cascaded AS {cascaded};"
        ),
    )
    .await;
    let plan = run(
        &mut session,
        &format!("EXPLAIN CREATE MATERIALIZED VIEW j2 AS {joined}; EXPLAIN CREATE MATERIALIZED VIEW c2 AS {cascaded}"),
    )
    .await
    .join("\n");
    assert!(
        plan.contains("left rows expire at watermark")
            && plan.contains("right rows expire at watermark"),
        "{plan}"
    );
    assert_eq!(plan.matches("WindowAggregate").count(), 4, "{plan}");
    run(
        &mut session,
        "INSERT INTO a VALUES ('2024-01-01 00:00:01', 1, 10), ('2024-01-01 00:00:02', 2, 20),
                              ('2024-01-01 00:00:03', 1, 5), ('2024-01-01 00:00:12', 1, 7);
         INSERT INTO b VALUES ('2024-01-01 00:00:04', 1, 100), ('2024-01-01 00:00:05', 3, 300),
                              ('2024-01-01 00:00:14', 1, 70);",
    )
    .await;
    // Watermarks a: 00:00:12, b: 00:00:14: the windows ending at 00:00:10 closed.
    let closed = |select: &str, end: &str| {
        format!("SELECT * FROM ({select}) t WHERE window_end <= TIMESTAMP '2024-01-01 {end}' ORDER BY 1, 2")
    };
    let expect_10 = run(&mut session, &closed(&joined, "00:00:10")).await;
    assert!(
        expect_10[0].contains("| 15 ") && expect_10[0].contains("| 100 "),
        "{}",
        expect_10[0]
    );
    assert_eq!(
        run(&mut session, "SELECT * FROM joined ORDER BY 1, 2").await,
        expect_10
    );
    assert_eq!(
        run(&mut session, "SELECT * FROM cascaded ORDER BY 1, 2").await,
        run(&mut session, &closed(&cascaded, "00:00:10")).await
    );
    // Both watermarks pass 00:00:20: the second windows close; a row of the first window
    // now is late (dropped by the window aggregate, counted), the results stay those of the
    // batch query over the rows that were on time.
    run(
        &mut session,
        "INSERT INTO a VALUES ('2024-01-01 00:00:25', 9, 1);
         INSERT INTO b VALUES ('2024-01-01 00:00:26', 9, 1);
         INSERT INTO a VALUES ('2024-01-01 00:00:06', 1, 1000);",
    )
    .await;
    run(&mut session, "DELETE FROM a WHERE v = 1000").await;
    assert_eq!(
        run(&mut session, "SELECT * FROM joined ORDER BY 1, 2").await,
        run(&mut session, &closed(&joined, "00:00:20")).await
    );
    assert_eq!(
        run(&mut session, "SELECT * FROM cascaded ORDER BY 1, 2").await,
        run(&mut session, &closed(&cascaded, "00:00:20")).await
    );
    // State holds the open window ending at 00:00:30 only: one group in each window
    // aggregate (the join has not seen it yet); without the window join's expiry the join
    // would still hold the 6 aggregate rows of the closed windows. The late row's insertion
    // and deletion were both dropped.
    let state = run(
        &mut session,
        "SELECT state_rows, late_rows FROM sluice_queries WHERE name = 'joined'",
    )
    .await;
    assert!(
        state[0].contains("| 2          | 2         |"),
        "{}",
        state[0]
    );
}
