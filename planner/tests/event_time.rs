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
